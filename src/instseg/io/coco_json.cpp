// COCO instances JSON -> CocoFile through nlohmann's SAX interface.
//
// The file is streamed (std::ifstream, 1 MiB buffer) into a state machine
// that keeps only the fields instseg uses, so the peak memory is the result
// structs, never a DOM of the whole file (a DOM of instances_train2017.json
// takes several GB). Unknown keys ("info", "licenses", "attributes", ...) are
// skipped at any depth.
#include "instseg/io/coco_json.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "instseg/core/check.h"

namespace instseg {
namespace {

using json = nlohmann::json;

// Where a value is going. One frame per open container.
enum class Ctx {
  root_value,  // before the top-level value
  root,        // top-level object
  images, image,
  annotations, annotation, bbox, seg_list, polygon, seg_dict, rle_size, rle_counts,
  categories, category,
  skip,  // an unknown container, ignored with all its children
};

struct Frame {
  Ctx ctx;
  std::string key;   // last key seen (objects)
  size_t count = 0;  // elements seen so far (arrays)
};

// A scalar JSON value as the SAX callbacks deliver it.
struct Scalar {
  enum class T { null, boolean, integer, floating, string } t;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  const std::string* s = nullptr;
  bool is_number() const { return t == T::integer || t == T::floating; }
  double number() const { return t == T::integer ? static_cast<double>(i) : d; }
  const char* type_name() const {
    switch (t) {
      case T::null: return "null";
      case T::boolean: return "a boolean";
      case T::integer: return "an integer";
      case T::floating: return "a number";
      case T::string: return "a string";
    }
    return "?";
  }
};

// Checks a compressed RLE string (pycocotools rleFrString layout: 6-bit
// groups offset by 48, bit 5 = continuation, bit 4 of the last group = sign,
// counts from index 3 on stored as a delta to counts[i-2]) without building
// the mask: returns "" when it decodes to non-negative runs summing to h*w,
// else what is wrong.
// h * w for an RLE "size" [h, w] (both >= 0), or "" and *hw set; else what is wrong.
// pycocotools keeps runs in 32-bit unsigned ints: bigger masks cannot be
// represented, and refusing them here keeps a hostile size from ever
// reaching an allocation.
std::string rle_pixels(int64_t h, int64_t w, int64_t* hw) {
  if (__builtin_mul_overflow(h, w, hw) || *hw > static_cast<int64_t>(UINT32_MAX))
    return str_cat("size ", h, "x", w, " is more than 2^32-1 pixels (pycocotools' limit)");
  return "";
}

std::string check_rle_string(const std::string& s, int64_t h, int64_t w) {
  int64_t hw = 0;
  if (std::string p = rle_pixels(h, w, &hw); !p.empty()) return p;
  std::vector<int64_t> cnts;
  size_t p = 0;
  int64_t total = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    const size_t start = p;
    while (more) {
      if (p >= s.size())
        return str_cat("truncated count starting at character ", start);
      const int c = static_cast<unsigned char>(s[p]) - 48;
      if (c < 0 || c >= 64)
        return str_cat("invalid character '", s[p], "' at position ", p);
      if (k >= 12) return str_cat("count at character ", start, " is too long");
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k));  // sign-extend
    }
    const size_t m = cnts.size();
    if (m > 2) x += cnts[m - 2];
    if (x < 0) return str_cat("negative run length at character ", start);
    if (x > static_cast<int64_t>(UINT32_MAX)) return str_cat("run length ", x, " at character ", start, " is more than 2^32-1");
    cnts.push_back(x);
    total += x;
    if (total > hw) return str_cat("runs sum to more than the size ", h, "x", w, " = ", hw, " (at character ", start, ")");
  }
  if (total != hw)
    return str_cat("runs sum to ", total, " but size is ", h, "x", w, " = ", hw);
  return "";
}

class CocoSax : public nlohmann::json_sax<json> {
 public:
  CocoSax(const std::string& path, std::istream& in, CocoFile& out)
      : path_(path), in_(in), out_(out) {
    stack_.push_back({Ctx::root_value, "", 0});
  }

  // --- scalars ---------------------------------------------------------
  bool null() override { return scalar(Scalar{Scalar::T::null}); }
  bool boolean(bool v) override {
    Scalar s{Scalar::T::boolean};
    s.b = v;
    return scalar(s);
  }
  bool number_integer(number_integer_t v) override {
    Scalar s{Scalar::T::integer};
    s.i = v;
    return scalar(s);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (v > static_cast<uint64_t>(INT64_MAX)) fail_here("integer ", v, " is out of range");
    Scalar s{Scalar::T::integer};
    s.i = static_cast<int64_t>(v);
    return scalar(s);
  }
  bool number_float(number_float_t v, const string_t&) override {
    Scalar s{Scalar::T::floating};
    s.d = v;
    return scalar(s);
  }
  bool string(string_t& v) override {
    Scalar s{Scalar::T::string};
    s.s = &v;
    return scalar(s);
  }
  bool binary(binary_t&) override { fail_here("unexpected binary value"); }

  // --- containers ------------------------------------------------------
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column 9: "
    const auto colon = what.find(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    // nlohmann counts characters read (1-based, EOF included): report the
    // 0-based offset of the offending character (= the size for a truncated file).
    fail(path_, ": byte ", position > 0 ? position - 1 : 0, ": invalid JSON (", what, ")",
         position_hint());
  }

 private:
  // --- error helpers ---------------------------------------------------
  int64_t offset() const {
    const auto pos = in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
    return static_cast<int64_t>(pos);
  }
  // "images[3]" / "annotations[17] (id 42).segmentation[0][5]" for messages.
  std::string field() const {
    std::string f;
    for (size_t d = 1; d < stack_.size(); ++d) {
      const Frame& fr = stack_[d];
      switch (fr.ctx) {
        case Ctx::root:
          f = fr.key;
          break;
        case Ctx::images:
        case Ctx::annotations:
        case Ctx::categories:
          f += str_cat("[", fr.count, "]");
          if (d + 1 < stack_.size()) f += id_suffix(stack_[d + 1].ctx);
          break;
        case Ctx::seg_list:
        case Ctx::bbox:
        case Ctx::polygon:
        case Ctx::rle_size:
        case Ctx::rle_counts:
          f += str_cat("[", fr.count, "]");
          break;
        case Ctx::image:
        case Ctx::annotation:
        case Ctx::category:
        case Ctx::seg_dict:
          f += "." + fr.key;
          break;
        default:
          return f;
      }
    }
    return f;
  }
  std::string id_suffix(Ctx c) const {
    if (c == Ctx::annotation && ann_has_id_) return str_cat(" (id ", ann_.id, ")");
    if (c == Ctx::image && img_has_id_) return str_cat(" (id ", img_.id, ")");
    if (c == Ctx::category && cat_has_id_) return str_cat(" (id ", cat_.id, ")");
    return "";
  }
  std::string position_hint() const {
    if (stack_.size() <= 1) return "";
    return " near " + field();
  }
  template <typename... A>
  [[noreturn]] void fail_here(const A&... a) const {
    fail(path_, ": byte ", offset(), ": ", field(), ": ", a...);
  }
  // Errors detected when an object closes name the object, not a key.
  template <typename... A>
  [[noreturn]] void fail_object(const std::string& what, const A&... a) const {
    fail(path_, ": byte ", offset(), ": ", what, ": ", a...);
  }

  int64_t as_int(const Scalar& v) const {
    if (v.t == Scalar::T::integer) return v.i;
    if (v.t == Scalar::T::floating && std::floor(v.d) == v.d && std::fabs(v.d) < 9.0e15)
      return static_cast<int64_t>(v.d);
    fail_here("expected an integer, got ", v.type_name());
  }
  double as_number(const Scalar& v) const {
    if (!v.is_number()) fail_here("expected a number, got ", v.type_name());
    return v.number();
  }
  const std::string& as_string(const Scalar& v) const {
    if (v.t != Scalar::T::string) fail_here("expected a string, got ", v.type_name());
    return *v.s;
  }

  // --- state machine -----------------------------------------------------
  bool scalar(const Scalar& v) {
    Frame& top = stack_.back();
    switch (top.ctx) {
      case Ctx::root_value:
        fail(path_, ": byte ", offset(), ": top-level value must be an object, got ", v.type_name());
      case Ctx::root:
        if (top.key == "images" || top.key == "annotations" || top.key == "categories")
          fail_here("expected an array, got ", v.type_name());
        break;
      case Ctx::images:
      case Ctx::annotations:
      case Ctx::categories:
        fail_here("expected an object, got ", v.type_name());
      case Ctx::image:
        if (top.key == "id") {
          img_.id = as_int(v);
          img_has_id_ = true;
        } else if (top.key == "file_name") {
          img_.file_name = as_string(v);
        } else if (top.key == "height") {
          img_.height = as_int(v);
        } else if (top.key == "width") {
          img_.width = as_int(v);
        }
        break;
      case Ctx::annotation:
        if (top.key == "id") {
          ann_.id = as_int(v);
          ann_has_id_ = true;
        } else if (top.key == "image_id") {
          ann_.image_id = as_int(v);
          ann_has_image_id_ = true;
        } else if (top.key == "category_id") {
          ann_.category_id = as_int(v);
          ann_has_category_ = true;
        } else if (top.key == "area") {
          ann_.area = as_number(v);
          ann_.has_area = true;
        } else if (top.key == "iscrowd") {
          const int64_t c = v.t == Scalar::T::boolean ? (v.b ? 1 : 0) : as_int(v);
          if (c != 0 && c != 1) fail_here("expected 0 or 1, got ", c);
          ann_.iscrowd = c == 1;
        } else if (top.key == "segmentation") {
          if (v.t != Scalar::T::null)
            fail_here("expected a list of polygons or an RLE object, got ", v.type_name());
        } else if (top.key == "bbox") {
          if (v.t != Scalar::T::null) fail_here("expected [x, y, w, h], got ", v.type_name());
        }
        break;
      case Ctx::bbox:
        if (top.count >= 4) fail_here("expected 4 numbers [x, y, w, h]");
        ann_.bbox[top.count] = as_number(v);
        break;
      case Ctx::seg_list:
        fail_here("expected a polygon (a list of coordinates), got ", v.type_name(),
                  " (segmentation must be a list of lists)");
      case Ctx::polygon:
        ann_.segmentation.polygons.back().push_back(as_number(v));
        break;
      case Ctx::seg_dict:
        if (top.key == "counts") {
          ann_.segmentation.counts = as_string(v);
          ann_.segmentation.kind = CocoSegmentation::Kind::rle_compressed;
          rle_has_counts_ = true;
        } else if (top.key == "size") {
          fail_here("expected [h, w], got ", v.type_name());
        }
        break;
      case Ctx::rle_size: {
        if (top.count >= 2) fail_here("expected [h, w]");
        const int64_t n = as_int(v);
        if (n < 0) fail_here("negative size ", n);
        (top.count == 0 ? ann_.segmentation.h : ann_.segmentation.w) = n;
        break;
      }
      case Ctx::rle_counts: {
        const int64_t n = as_int(v);
        if (n < 0 || n > UINT32_MAX) fail_here("run length ", n, " out of range");
        ann_.segmentation.ucounts.push_back(static_cast<uint32_t>(n));
        break;
      }
      case Ctx::category:
        if (top.key == "id") {
          cat_.id = as_int(v);
          cat_has_id_ = true;
        } else if (top.key == "name") {
          cat_.name = as_string(v);
        } else if (top.key == "supercategory") {
          if (v.t == Scalar::T::string) cat_.supercategory = *v.s;
        }
        break;
      case Ctx::skip:
        break;
    }
    ++top.count;
    return true;
  }

  bool open(bool is_object) {
    Frame& top = stack_.back();
    const char* got = is_object ? "an object" : "an array";
    Ctx next = Ctx::skip;
    switch (top.ctx) {
      case Ctx::root_value:
        if (!is_object) fail(path_, ": byte ", offset(), ": top-level value must be an object, got an array");
        next = Ctx::root;
        break;
      case Ctx::root:
        if (top.key == "images" || top.key == "annotations" || top.key == "categories") {
          if (is_object) fail_here("expected an array, got an object");
          next = top.key == "images" ? Ctx::images
                 : top.key == "annotations" ? Ctx::annotations : Ctx::categories;
          if (next == Ctx::images) seen_images_ = true;
        }
        break;
      case Ctx::images:
        if (!is_object) fail_here("expected an object, got ", got);
        img_ = CocoImage{};
        img_has_id_ = false;
        next = Ctx::image;
        break;
      case Ctx::annotations:
        if (!is_object) fail_here("expected an object, got ", got);
        ann_ = CocoAnnotation{};
        ann_has_id_ = ann_has_image_id_ = ann_has_category_ = false;
        next = Ctx::annotation;
        break;
      case Ctx::categories:
        if (!is_object) fail_here("expected an object, got ", got);
        cat_ = CocoCategory{};
        cat_has_id_ = false;
        next = Ctx::category;
        break;
      case Ctx::image:
      case Ctx::category:
        if (top.key == "id" || top.key == "file_name" || top.key == "height" ||
            top.key == "width" || top.key == "name")
          fail_here("expected a scalar, got ", got);
        break;
      case Ctx::annotation:
        if (top.key == "bbox") {
          if (is_object) fail_here("expected [x, y, w, h], got an object");
          next = Ctx::bbox;
        } else if (top.key == "segmentation") {
          if (is_object) {
            ann_.segmentation.kind = CocoSegmentation::Kind::rle_compressed;  // fixed at close
            rle_has_size_ = rle_has_counts_ = false;
            next = Ctx::seg_dict;
          } else {
            ann_.segmentation.kind = CocoSegmentation::Kind::polygons;
            next = Ctx::seg_list;
          }
        } else if (top.key == "id" || top.key == "image_id" || top.key == "category_id" ||
                   top.key == "area" || top.key == "iscrowd") {
          fail_here("expected a number, got ", got);
        }
        break;
      case Ctx::seg_list:
        if (is_object) fail_here("expected a polygon (a list of coordinates), got an object");
        ann_.segmentation.polygons.emplace_back();
        next = Ctx::polygon;
        break;
      case Ctx::seg_dict:
        if (top.key == "size") {
          if (is_object) fail_here("expected [h, w], got an object");
          rle_has_size_ = true;
          next = Ctx::rle_size;
        } else if (top.key == "counts") {
          if (is_object) fail_here("expected a string or a list of run lengths, got an object");
          ann_.segmentation.kind = CocoSegmentation::Kind::rle_uncompressed;
          rle_has_counts_ = true;
          next = Ctx::rle_counts;
        }
        break;
      case Ctx::bbox:
      case Ctx::polygon:
      case Ctx::rle_size:
      case Ctx::rle_counts:
        fail_here("expected a number, got ", got);
      case Ctx::skip:
        break;
    }
    stack_.push_back({next, "", 0});
    return true;
  }

  bool close() {
    const Frame fr = stack_.back();
    switch (fr.ctx) {
      case Ctx::root:
        if (!seen_images_) fail(path_, ": no \"images\" array (not a COCO instances file?)");
        break;
      case Ctx::image:
        if (!img_has_id_) fail_object(where(), "missing \"id\"");
        out_.images.push_back(std::move(img_));
        break;
      case Ctx::annotation:
        finish_annotation();
        break;
      case Ctx::category:
        if (!cat_has_id_) fail_object(where(), "missing \"id\"");
        out_.categories.push_back(std::move(cat_));
        break;
      case Ctx::bbox:
        if (fr.count != 4) fail_object(where() + ".bbox", "expected 4 numbers [x, y, w, h], got ", fr.count);
        ann_.has_bbox = true;
        break;
      case Ctx::polygon: {
        const size_t n = ann_.segmentation.polygons.back().size();
        if (n < 6 || n % 2 != 0)
          fail_object(str_cat(where(), ".segmentation[", ann_.segmentation.polygons.size() - 1, "]"),
                      "polygon has ", n, " coordinates (need an even number >= 6)");
        break;
      }
      case Ctx::rle_size:
        if (fr.count != 2) fail_object(where() + ".segmentation.size", "expected [h, w], got ", fr.count, " numbers");
        break;
      case Ctx::seg_dict:
        if (!rle_has_size_) fail_object(where() + ".segmentation", "RLE without \"size\"");
        if (!rle_has_counts_) fail_object(where() + ".segmentation", "RLE without \"counts\"");
        break;
      default:
        break;
    }
    stack_.pop_back();
    ++stack_.back().count;
    return true;
  }

  // "annotations[17] (id 42)" for the object being closed (or one of its children).
  std::string where() const {
    if (stack_.size() < 4) return "?";
    return str_cat(stack_[1].key, "[", stack_[2].count, "]", id_suffix(stack_[3].ctx));
  }

  void finish_annotation() {
    const std::string w = where();
    if (!ann_has_image_id_) fail_object(w, "missing \"image_id\"");
    if (!ann_has_category_) fail_object(w, "missing \"category_id\"");
    CocoSegmentation& seg = ann_.segmentation;
    if (!ann_has_id_) fail_object(w, "missing \"id\"");
    if (seg.kind == CocoSegmentation::Kind::rle_uncompressed) {
      int64_t hw = 0;
      if (std::string p = rle_pixels(seg.h, seg.w, &hw); !p.empty()) fail_object(w + ".segmentation.size", p);
      uint64_t total = 0;
      for (uint32_t c : seg.ucounts) total += c;
      if (total != static_cast<uint64_t>(hw))
        fail_object(w + ".segmentation.counts", "runs sum to ", total, " but size is ", seg.h, "x",
                    seg.w, " = ", hw);
    } else if (seg.kind == CocoSegmentation::Kind::rle_compressed) {
      const std::string problem = check_rle_string(seg.counts, seg.h, seg.w);
      if (!problem.empty()) fail_object(w + ".segmentation.counts", "bad RLE string: ", problem);
    }
    out_.annotations.push_back(std::move(ann_));
  }

  const std::string& path_;
  std::istream& in_;
  CocoFile& out_;
  std::vector<Frame> stack_;
  CocoImage img_;
  CocoAnnotation ann_;
  CocoCategory cat_;
  bool img_has_id_ = false, cat_has_id_ = false;
  bool ann_has_id_ = false, ann_has_image_id_ = false, ann_has_category_ = false;
  bool rle_has_size_ = false, rle_has_counts_ = false;
  bool seen_images_ = false;
};

// Polygon vertices must lie within the image extended by its own size on
// every side. Rasterising (pycocotools' rleFrPoly, ours too) walks every edge
// at 5x resolution, so one vertex at 1e7 costs GBs and seconds and one at 1e9
// overflows; no real annotation is that far outside its image.
void check_polygon_extent(const CocoFile& f, size_t i, const CocoImage& img) {
  const CocoAnnotation& a = f.annotations[i];
  const double w = static_cast<double>(img.width), h = static_cast<double>(img.height);
  for (size_t p = 0; p < a.segmentation.polygons.size(); ++p) {
    const auto& xy = a.segmentation.polygons[p];
    for (size_t k = 0; k + 1 < xy.size(); k += 2) {
      const double x = xy[k], y = xy[k + 1];
      if (x >= -w && x <= 2 * w && y >= -h && y <= 2 * h) continue;
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): segmentation[", p, "] vertex ", k / 2, " (", x, ", ", y,
           ") is far outside image ", img.id, " (", img.width, "x", img.height,
           "); vertices must lie within [-width, 2*width] x [-height, 2*height]");
    }
  }
}

// Cross-references that need the whole file: unique ids, known image and
// category ids, RLE sizes equal to their image's size, boxes with
// non-negative sizes, polygons near their image.
void index_and_check(CocoFile& f) {
  f.image_index.reserve(f.images.size());
  for (size_t i = 0; i < f.images.size(); ++i) {
    if (!f.image_index.emplace(f.images[i].id, i).second)
      fail(f.path, ": images[", i, "]: duplicate image id ", f.images[i].id);
  }
  for (size_t i = 0; i < f.categories.size(); ++i) {
    if (!f.category_index.emplace(f.categories[i].id, i).second)
      fail(f.path, ": categories[", i, "]: duplicate category id ", f.categories[i].id);
  }
  std::unordered_map<int64_t, size_t> ann_index;
  ann_index.reserve(f.annotations.size());
  for (size_t i = 0; i < f.annotations.size(); ++i) {
    const CocoAnnotation& a = f.annotations[i];
    // pycocotools indexes annotations by id: a duplicate silently replaces
    // the other in COCO.anns and the evaluation is wrong.
    if (const auto [dup, fresh] = ann_index.emplace(a.id, i); !fresh)
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): duplicate annotation id ", a.id, " (also annotations[",
           dup->second, "]); annotation ids must be unique");
    if (a.has_bbox && (a.bbox[2] < 0 || a.bbox[3] < 0))
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): bbox [", a.bbox[0], ", ", a.bbox[1], ", ", a.bbox[2], ", ",
           a.bbox[3], "] has a negative ", a.bbox[2] < 0 ? "width" : "height",
           " (COCO boxes are [x, y, width, height])");
    const auto it = f.image_index.find(a.image_id);
    if (it == f.image_index.end())
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): image_id ", a.image_id, " is not in images");
    if (!f.categories.empty() && !f.category_index.count(a.category_id))
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): category_id ", a.category_id,
           " is not in categories");
    const CocoImage& img = f.images[it->second];
    const CocoSegmentation& s = a.segmentation;
    const bool is_rle = s.kind == CocoSegmentation::Kind::rle_compressed ||
                        s.kind == CocoSegmentation::Kind::rle_uncompressed;
    if (is_rle && img.height > 0 && img.width > 0 && (s.h != img.height || s.w != img.width))
      fail(f.path, ": annotations[", i, "] (id ", a.id, "): segmentation.size [", s.h, ", ", s.w,
           "] differs from image ", img.id, " size [", img.height, ", ", img.width, "]");
    if (s.kind == CocoSegmentation::Kind::polygons && img.height > 0 && img.width > 0)
      check_polygon_extent(f, i, img);
  }
}

}  // namespace

CocoFile load_coco_json(const std::string& path) {
  // A large stream buffer: the SAX lexer pulls one character at a time.
  std::vector<char> buffer(size_t{1} << 20);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  in.open(path, std::ios::binary);
  if (!in) fail(path, ": cannot open file");
  CocoFile out;
  out.path = path;
  CocoSax sax(out.path, in, out);
  json::sax_parse(in, &sax, json::input_format_t::json, /*strict=*/true);
  index_and_check(out);
  return out;
}

}  // namespace instseg
