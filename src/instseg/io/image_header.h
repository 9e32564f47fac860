// What an encoded image says about itself before it is decoded: format,
// width x height (for the decompression-bomb guard in image.cpp) and whether
// the data ends early (libjpeg decodes a truncated JPEG "successfully", with
// the missing rows made up, and only prints a warning that names no file).
//
// Reads PNG, JPEG, BMP, WebP and PNM headers; other formats (TIFF, EXR,
// JPEG 2000, ...) give format "" and unknown size, and are guarded after
// decoding only. Never throws; malformed input gives what could be read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace instseg {

struct ImageHeader {
  std::string format;               // "png", "jpeg", "bmp", "webp", "pnm" or "" (not recognised)
  int64_t width = -1, height = -1;  // -1: unknown
  // The data ends before the format's end marker (JPEG EOI, PNG IEND) or
  // inside a segment: `problem` says where.
  bool truncated = false;
  std::string problem;
};

ImageHeader probe_image_header(const uint8_t* data, size_t size);

}  // namespace instseg
