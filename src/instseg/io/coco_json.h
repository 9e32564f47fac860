// COCO instances JSON (GT files) as plain structs. Parsed with nlohmann's SAX
// interface so the 448 MB instances_train2017.json never becomes a DOM.
//
// Interface shared by the dataset, the evaluator and `instseg eval`; keep it stable.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace instseg {

struct CocoSegmentation {
  enum class Kind { none, polygons, rle_compressed, rle_uncompressed };
  Kind kind = Kind::none;
  std::vector<std::vector<double>> polygons;  // kind == polygons: [[x0,y0,x1,y1,...], ...]
  std::string counts;                          // kind == rle_compressed
  std::vector<uint32_t> ucounts;               // kind == rle_uncompressed
  int64_t h = 0, w = 0;                        // RLE "size" [h, w]
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  double bbox[4] = {0, 0, 0, 0};  // [x, y, w, h]
  double area = 0;
  bool iscrowd = false;
  bool has_bbox = false, has_area = false;
  CocoSegmentation segmentation;
};

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int64_t height = 0, width = 0;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

struct CocoFile {
  std::string path;
  std::vector<CocoImage> images;            // file order
  std::vector<CocoAnnotation> annotations;  // file order
  std::vector<CocoCategory> categories;     // file order
  std::unordered_map<int64_t, size_t> image_index;     // image id -> index in images
  std::unordered_map<int64_t, size_t> category_index;  // category id -> index in categories
};

// Reads a COCO instances file. Throws instseg::Error naming the file and the
// byte offset / field of the first problem (truncated JSON, wrong types,
// polygons with fewer than 6 coordinates, RLE size mismatch, ...). Annotations
// that pycocotools would mis-evaluate or that cannot be rasterised are errors
// naming the annotation: a missing or duplicate id, a bbox with a negative
// width or height, an RLE of more than 2^32-1 pixels, a polygon vertex
// outside [-width, 2*width] x [-height, 2*height] of its image.
CocoFile load_coco_json(const std::string& path);

}  // namespace instseg
