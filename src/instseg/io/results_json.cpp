// Results JSON <-> CocoResult. Reading streams through nlohmann's SAX
// interface: a results file for COCO val (5000 images x 100 detections) is
// hundreds of MB, and a DOM of it would take several GB.
#include "instseg/io/results_json.h"

#include "instseg/core/check.h"
#include "instseg/eval/rle.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace instseg {
namespace {

using json = nlohmann::json;

// Where the parser is. One frame per open container.
enum class Ctx { top, list, result, bbox, seg_dict, seg_size, seg_counts, polys, poly, skip };

struct Frame {
  Ctx ctx;
  std::string key;
  size_t count = 0;
};

class ResultsSax : public nlohmann::json_sax<json> {
 public:
  ResultsSax(const std::string& path, std::istream& in, std::vector<CocoResult>& out)
      : path_(path), in_(in), out_(out) {
    stack_.push_back({Ctx::top, "", 0});
  }

  bool null() override { return scalar(false, 0, nullptr, "null"); }
  bool boolean(bool) override { return scalar(false, 0, nullptr, "a boolean"); }
  bool number_integer(number_integer_t v) override { return scalar(true, static_cast<double>(v), nullptr, ""); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(true, static_cast<double>(v), nullptr, ""); }
  bool number_float(number_float_t v, const string_t&) override { return scalar(true, v, nullptr, ""); }
  bool string(string_t& v) override { return scalar(false, 0, &v, "a string"); }
  bool binary(binary_t&) override { return scalar(false, 0, nullptr, "binary data"); }

  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    const auto p = what.find("parse error");
    if (p != std::string::npos) what = what.substr(p);
    const size_t complete = stack_.size() > 2 ? out_.size() - 1 : out_.size();
    fail(path_, ": byte ", position > 0 ? position - 1 : 0, ": invalid JSON (", what, ")",
         stack_.size() > 2 ? str_cat(" in results[", complete, "]") : "",
         complete ? str_cat(" after ", complete, " complete results") : "");
  }

 private:
  // "results[12].bbox[3]" etc. for messages: frames from the result object
  // down, each naming its current key (objects) or index (arrays).
  std::string where() const {
    if (stack_.size() <= 2) return str_cat("results[", out_.size(), "]");
    std::string s = str_cat("results[", out_.size() - 1, "]");
    for (size_t i = 2; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (f.ctx == Ctx::result || f.ctx == Ctx::seg_dict)
        s += "." + f.key;
      else
        s += str_cat("[", f.count, "]");
    }
    return s;
  }
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, ": ", where(), ": ", what, " (near byte ", static_cast<int64_t>(in_.tellg()), ")");
  }

  bool open(bool is_object) {
    Frame& f = stack_.back();
    Ctx next = Ctx::skip;
    switch (f.ctx) {
      case Ctx::top:
        if (is_object) bad("the results file must be a list of objects, got an object");
        next = Ctx::list;
        break;
      case Ctx::list:
        if (!is_object) bad("expected an object");
        out_.emplace_back();
        seen_image_ = seen_cat_ = seen_score_ = false;
        next = Ctx::result;
        break;
      case Ctx::result:
        if (f.key == "bbox") {
          if (is_object) bad("expected [x, y, w, h]");
          next = Ctx::bbox;
        } else if (f.key == "segmentation") {
          auto& seg = out_.back().segmentation;
          if (is_object) {
            seg.kind = CocoSegmentation::Kind::rle_compressed;
            seen_size_ = seen_counts_ = false;
            next = Ctx::seg_dict;
          } else {
            seg.kind = CocoSegmentation::Kind::polygons;
            next = Ctx::polys;
          }
        } else if (f.key == "image_id" || f.key == "category_id" || f.key == "score") {
          bad("expected a number");
        }
        break;
      case Ctx::seg_dict:
        if (f.key == "size") {
          if (is_object) bad("expected [height, width]");
          next = Ctx::seg_size;
        } else if (f.key == "counts") {
          if (is_object) bad("expected a string or a list of run lengths");
          out_.back().segmentation.kind = CocoSegmentation::Kind::rle_uncompressed;
          seen_counts_ = true;
          next = Ctx::seg_counts;
        }
        break;
      case Ctx::polys:
        if (is_object) bad("expected a polygon [x0, y0, x1, y1, ...]");
        out_.back().segmentation.polygons.emplace_back();
        next = Ctx::poly;
        break;
      case Ctx::skip:
        next = Ctx::skip;
        break;
      default:
        bad("expected a number");
    }
    stack_.push_back({next, "", 0});
    return true;
  }

  bool close() {
    const Frame f = stack_.back();
    stack_.pop_back();
    Frame& parent = stack_.back();
    switch (f.ctx) {
      case Ctx::result: {
        if (!seen_image_) bad_entry("no image_id");
        if (!seen_cat_) bad_entry("no category_id");
        if (!seen_score_) bad_entry("no score");
        break;
      }
      case Ctx::bbox:
        // loadRes treats "bbox": [] as no bbox.
        if (f.count != 4 && f.count != 0) bad_field("bbox", str_cat("expected 4 numbers, got ", f.count));
        out_.back().has_bbox = f.count == 4;
        break;
      case Ctx::seg_dict:
        if (!seen_size_) bad_field("segmentation", "RLE without \"size\"");
        if (!seen_counts_) bad_field("segmentation", "RLE without \"counts\"");
        break;
      case Ctx::seg_size:
        if (f.count != 2) bad_field("segmentation.size", str_cat("expected [height, width], got ", f.count, " values"));
        seen_size_ = true;
        break;
      case Ctx::poly:
        if (f.count < 6 || f.count % 2)
          bad_field("segmentation", str_cat("polygon ", parent.count, " has ", f.count,
                                            " coordinates (need an even number, at least 6)"));
        break;
      default:
        break;
    }
    ++parent.count;
    return true;
  }

  [[noreturn]] void bad_entry(const std::string& what) const {
    fail(path_, ": results[", out_.size() - 1, "]: ", what);
  }
  [[noreturn]] void bad_field(const std::string& field, const std::string& what) const {
    fail(path_, ": results[", out_.size() - 1, "].", field, ": ", what);
  }

  static bool integral(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15; }

  bool scalar(bool is_num, double v, const std::string* s, const char* type) {
    Frame& f = stack_.back();
    switch (f.ctx) {
      case Ctx::top:
        bad("the results file must be a list of objects");
      case Ctx::list:
        bad("expected an object");
      case Ctx::result: {
        CocoResult& r = out_.back();
        if (f.key == "image_id" || f.key == "category_id") {
          if (!is_num || !integral(v)) bad(is_num ? "expected an integer id" : str_cat("expected an integer, got ", type));
          if (f.key == "image_id") {
            r.image_id = static_cast<int64_t>(v);
            seen_image_ = true;
          } else {
            r.category_id = static_cast<int64_t>(v);
            seen_cat_ = true;
          }
        } else if (f.key == "score") {
          if (!is_num) bad(str_cat("expected a number, got ", type));
          r.score = v;
          seen_score_ = true;
        } else if (f.key == "bbox" || f.key == "segmentation") {
          bad(str_cat("expected a list or an object, got ", is_num ? "a number" : type));
        }
        break;
      }
      case Ctx::bbox:
        if (!is_num) bad(str_cat("expected a number, got ", type));
        if (f.count >= 4) bad("more than 4 numbers");
        out_.back().bbox[f.count] = v;
        break;
      case Ctx::seg_dict: {
        auto& seg = out_.back().segmentation;
        if (f.key == "counts") {
          if (!s) bad(str_cat("expected a string or a list of run lengths, got ", is_num ? "a number" : type));
          seg.counts = *s;
          seen_counts_ = true;
        } else if (f.key == "size") {
          bad("expected [height, width]");
        }
        break;
      }
      case Ctx::seg_size: {
        if (!is_num || !integral(v) || v < 0) bad("expected a non-negative integer");
        auto& seg = out_.back().segmentation;
        if (f.count == 0)
          seg.h = static_cast<int64_t>(v);
        else if (f.count == 1)
          seg.w = static_cast<int64_t>(v);
        else
          bad("expected [height, width]");
        break;
      }
      case Ctx::seg_counts:
        if (!is_num || !integral(v) || v < 0 || v > 4294967295.0) bad("expected a non-negative run length");
        out_.back().segmentation.ucounts.push_back(static_cast<uint32_t>(v));
        break;
      case Ctx::polys:
        bad("expected a polygon [x0, y0, x1, y1, ...]");
      case Ctx::poly:
        if (!is_num) bad(str_cat("expected a number, got ", type));
        out_.back().segmentation.polygons.back().push_back(v);
        break;
      case Ctx::skip:
        break;
    }
    ++f.count;
    return true;
  }

  const std::string& path_;
  std::istream& in_;
  std::vector<CocoResult>& out_;
  std::vector<Frame> stack_;
  bool seen_image_ = false, seen_cat_ = false, seen_score_ = false;
  bool seen_size_ = false, seen_counts_ = false;
};

void write_number(std::ostream& os, double v) {
  // nlohmann writes the shortest round-trip form, as Python's repr does.
  os << json(v).dump();
}

}  // namespace

std::vector<CocoResult> load_results_json(const std::string& path) {
  std::vector<char> buffer(size_t{1} << 20);
  std::ifstream in;
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  in.open(path, std::ios::binary);
  if (!in) fail(path, ": cannot open file");
  std::vector<CocoResult> out;
  ResultsSax sax(path, in, out);
  json::sax_parse(in, &sax, json::input_format_t::json, /*strict=*/true);
  return out;
}

namespace {

void write_result(std::ostream& os, const CocoResult& r) {
  os << "{\"image_id\": " << r.image_id << ", \"category_id\": " << r.category_id;
  if (r.has_bbox) {
    os << ", \"bbox\": [";
    for (int j = 0; j < 4; ++j) {
      if (j) os << ", ";
      write_number(os, r.bbox[j]);
    }
    os << "]";
  }
  os << ", \"score\": ";
  write_number(os, r.score);
  const CocoSegmentation& s = r.segmentation;
  switch (s.kind) {
    case CocoSegmentation::Kind::none:
      break;
    case CocoSegmentation::Kind::rle_compressed:
      os << ", \"segmentation\": {\"size\": [" << s.h << ", " << s.w << "], \"counts\": " << json(s.counts).dump()
         << "}";
      break;
    case CocoSegmentation::Kind::rle_uncompressed:
      os << ", \"segmentation\": {\"size\": [" << s.h << ", " << s.w << "], \"counts\": [";
      for (size_t j = 0; j < s.ucounts.size(); ++j) os << (j ? ", " : "") << s.ucounts[j];
      os << "]}";
      break;
    case CocoSegmentation::Kind::polygons:
      os << ", \"segmentation\": [";
      for (size_t p = 0; p < s.polygons.size(); ++p) {
        os << (p ? ", [" : "[");
        for (size_t j = 0; j < s.polygons[p].size(); ++j) {
          if (j) os << ", ";
          write_number(os, s.polygons[p][j]);
        }
        os << "]";
      }
      os << "]";
      break;
  }
  os << "}";
}

}  // namespace

std::string result_json(const CocoResult& r) {
  std::ostringstream os;
  write_result(os, r);
  return os.str();
}

void save_results_json(const std::string& path, const std::vector<CocoResult>& results) {
  std::ofstream os(path, std::ios::binary);
  if (!os) fail(path, ": cannot open for writing");
  os << "[";
  for (size_t i = 0; i < results.size(); ++i) {
    os << (i ? ",\n" : "\n");
    write_result(os, results[i]);
  }
  os << "\n]\n";
  if (!os) fail(path, ": write failed");
}

}  // namespace instseg
