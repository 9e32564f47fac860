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
cv::Mat decode_image_rgb(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace instseg
