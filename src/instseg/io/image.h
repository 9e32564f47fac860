// Image decoding as mmdetection's LoadImageFromFile (cv2 backend,
// color_type='color') followed by the data preprocessor's bgr_to_rgb.
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace instseg {

// Reads an image file into an HxWx3 uint8 RGB matrix. Grayscale images are
// replicated to 3 channels, alpha is dropped and 16-bit images are reduced to
// 8 bits, exactly as cv2.imdecode(..., IMREAD_COLOR) does (EXIF orientation is
// applied, like mmcv's 'color' flag). Throws instseg::Error naming the file
// when it is missing or cannot be decoded.
cv::Mat read_image_rgb(const std::string& path);

// The same for an encoded buffer; `name` is used in error messages.
//
// Guards: an image of more than max_image_pixels() pixels is refused before
// it is decoded ("<name>: image is 20000x20000 = 400000000 pixels, more than
// the limit ..."), like Pillow's decompression-bomb check; a JPEG (or PNG)
// whose data ends early is decoded as libjpeg does (rows made up) with a
// warning naming the file.
cv::Mat decode_image_rgb(const std::vector<uint8_t>& bytes, const std::string& name);

// The pixel limit: Pillow's (2 x MAX_IMAGE_PIXELS = 178956970 pixels, about
// 13400 x 13400) unless the environment variable INSTSEG_MAX_IMAGE_PIXELS
// sets another (0 = no limit) or set_max_image_pixels() was called.
constexpr int64_t kDefaultMaxImagePixels = 178956970;
int64_t max_image_pixels();
void set_max_image_pixels(int64_t pixels);  // 0: no limit

// Whether `path` is an image by its extension (.jpg .jpeg .png .bmp, any
// case): what a directory given to `instseg predict` or `instseg bench`
// contributes.
bool has_image_extension(const std::string& path);
// The regular files directly in `dir` with an image extension, sorted by
// name (possibly none). Throws instseg::Error naming `dir` when it is not a
// directory or cannot be listed.
std::vector<std::string> image_files_in(const std::string& dir);

}  // namespace instseg
