// Results JSON <-> CocoResult. Reading walks the file with io/json_reader.h's
// pull reader: a results file for COCO val (5000 images x 100 detections) is
// hundreds of MB, and a DOM of it would take several GB; the reader keeps
// only the fields of each entry, parsed straight into its CocoResult.
#include "instseg/io/results_json.h"

#include "instseg/core/check.h"
#include "instseg/core/huge_pages.h"
#include "instseg/io/json_reader.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace instseg {
namespace {

using json = nlohmann::json;
using Kind = JsonReader::Kind;

const char* type_name(Kind k) {
  switch (k) {
    case Kind::object: return "an object";
    case Kind::array: return "an array";
    case Kind::string: return "a string";
    case Kind::number: return "a number";
    case Kind::boolean: return "a boolean";
    case Kind::null: return "null";
  }
  return "?";
}

bool is_container(Kind k) { return k == Kind::object || k == Kind::array; }

bool integral(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15; }

bool key_is(const std::string& key, const char* name) {
  const size_t n = std::strlen(name);
  return key.size() == n && std::memcmp(key.data(), name, n) == 0;
}

// The results schema over the pull reader. Errors name the entry and the
// field ("results[12].bbox[3]: expected a number, got a string (near byte
// 4711)"); a scalar of the wrong type is read to its end first and a
// container of the wrong type is refused at its opening bracket, so a file
// that is both malformed JSON and off-schema gets the message the SAX reader
// gave before.
class ResultsReader {
 public:
  ResultsReader(JsonReader& in, std::vector<CocoResult>& out) : in_(in), out_(out) {
    in_.set_context([this]() {
      const size_t complete = in_entry_ ? out_.size() - 1 : out_.size();
      return str_cat(in_entry_ ? str_cat(" in results[", complete, "]") : "",
                     complete ? str_cat(" after ", complete, " complete results") : "");
    });
  }

  void read() {
    const Kind top = in_.peek();
    if (top != Kind::array) {
      const int64_t at = in_.offset();
      if (top == Kind::object) bad(at, "", "the results file must be a list of objects, got an object");
      in_.skip_value();
      bad(at, "", "the results file must be a list of objects");
    }
    // mmdet's entries with an RLE mask take 250-400 bytes; reserving for
    // 200-byte entries saves the vector's regrowth copies on such files
    // (smaller entries, e.g. boxes only, grow it as usual).
    out_.reserve(static_cast<size_t>(in_.file_size() / 200) + 1);
    advise_huge_pages(out_.data(), out_.capacity() * sizeof(CocoResult));
    in_.begin_array();
    while (in_.next_element()) {
      if (in_.peek() != Kind::object) {
        const int64_t at = in_.offset();
        if (!is_container(in_.peek())) in_.skip_value();
        bad(at, "", "expected an object");
      }
      out_.emplace_back();
      in_entry_ = true;
      read_entry(out_.back());
      in_entry_ = false;
    }
    in_.expect_end();
  }

 private:
  // "path: results[i]<field>: what (near byte N)" for the entry being read.
  [[noreturn]] void bad(int64_t at, const std::string& field, const std::string& what) const {
    fail(in_.path(), ": results[", in_entry_ ? out_.size() - 1 : out_.size(), "]", field, ": ", what, " (near byte ",
         at, ")");
  }
  // Problems found when a container closes (no byte: the whole value is at fault).
  [[noreturn]] void bad_field(const std::string& field, const std::string& what) const {
    fail(in_.path(), ": results[", out_.size() - 1, "]", field, ": ", what);
  }

  // The next value as a number: a container is refused at once, another
  // scalar after it was read; `what` is the message of both. `field()` names
  // the value (built only for a message); *value_at: where the value starts.
  template <typename Field>
  double number_or(const Field& field, const char* what, bool say_type, int64_t* value_at = nullptr) {
    const Kind k = in_.peek();
    const int64_t at = in_.offset();
    if (value_at) *value_at = at;
    if (k == Kind::number) return in_.read_number().value;
    if (is_container(k)) bad(at, field(), "expected a number");
    in_.skip_value();
    bad(at, field(), say_type ? str_cat(what, ", got ", type_name(k)) : std::string(what));
  }

  void read_entry(CocoResult& r) {
    bool seen_image = false, seen_cat = false, seen_score = false;
    in_.begin_object();
    while (in_.next_key(key_)) {
      if (key_is(key_, "image_id") || key_is(key_, "category_id")) {
        auto field = [&]() { return "." + key_; };
        int64_t at = 0;
        const double v = number_or(field, "expected an integer", true, &at);
        if (!integral(v)) bad(at, field(), "expected an integer id");
        if (key_[0] == 'i') {
          r.image_id = static_cast<int64_t>(v);
          seen_image = true;
        } else {
          r.category_id = static_cast<int64_t>(v);
          seen_cat = true;
        }
      } else if (key_is(key_, "score")) {
        r.score = number_or([]() { return std::string(".score"); }, "expected a number", true);
        seen_score = true;
      } else if (key_is(key_, "bbox")) {
        const Kind k = in_.peek();
        const int64_t at = in_.offset();
        if (k == Kind::object) bad(at, ".bbox", "expected [x, y, w, h]");
        if (k != Kind::array) {
          in_.skip_value();
          bad(at, ".bbox", str_cat("expected a list or an object, got ", type_name(k)));
        }
        read_bbox(r);
      } else if (key_is(key_, "segmentation")) {
        const Kind k = in_.peek();
        const int64_t at = in_.offset();
        if (k == Kind::object) {
          read_rle(r.segmentation);
        } else if (k == Kind::array) {
          read_polygons(r.segmentation);
        } else {
          in_.skip_value();
          bad(at, ".segmentation", str_cat("expected a list or an object, got ", type_name(k)));
        }
      } else {
        in_.skip_value();
      }
    }
    if (!seen_image) bad_field("", "no image_id");
    if (!seen_cat) bad_field("", "no category_id");
    if (!seen_score) bad_field("", "no score");
  }

  void read_bbox(CocoResult& r) {
    size_t n = 0;
    in_.begin_array();
    while (in_.next_element()) {
      auto field = [&]() { return str_cat(".bbox[", n, "]"); };
      int64_t at = 0;
      const double v = number_or(field, "expected a number", true, &at);
      if (n >= 4) bad(at, field(), "more than 4 numbers");
      r.bbox[n++] = v;
    }
    // loadRes treats "bbox": [] as no bbox.
    if (n != 4 && n != 0) bad_field(".bbox", str_cat("expected 4 numbers, got ", n));
    r.has_bbox = n == 4;
  }

  void read_rle(CocoSegmentation& seg) {
    seg.kind = CocoSegmentation::Kind::rle_compressed;
    bool seen_size = false, seen_counts = false;
    in_.begin_object();
    while (in_.next_key(seg_key_)) {
      const Kind k = in_.peek();
      const int64_t at = in_.offset();
      if (key_is(seg_key_, "size")) {
        if (k != Kind::array) {
          if (k != Kind::object) in_.skip_value();
          bad(at, ".segmentation.size", "expected [height, width]");
        }
        size_t n = 0;
        in_.begin_array();
        while (in_.next_element()) {
          auto field = [&]() { return str_cat(".segmentation.size[", n, "]"); };
          int64_t vat = 0;
          const double v = number_or(field, "expected a non-negative integer", false, &vat);
          if (!integral(v) || v < 0) bad(vat, field(), "expected a non-negative integer");
          if (n >= 2) bad(vat, field(), "expected [height, width]");
          (n == 0 ? seg.h : seg.w) = static_cast<int64_t>(v);
          ++n;
        }
        if (n != 2) bad_field(".segmentation.size", str_cat("expected [height, width], got ", n, " values"));
        seen_size = true;
      } else if (key_is(seg_key_, "counts")) {
        if (k == Kind::string) {
          in_.read_string(seg.counts);
        } else if (k == Kind::array) {
          seg.kind = CocoSegmentation::Kind::rle_uncompressed;
          in_.begin_array();
          while (in_.next_element()) {
            auto field = [&]() { return str_cat(".segmentation.counts[", seg.ucounts.size(), "]"); };
            int64_t vat = 0;
            const double v = number_or(field, "expected a non-negative run length", false, &vat);
            if (!integral(v) || v < 0 || v > 4294967295.0) bad(vat, field(), "expected a non-negative run length");
            seg.ucounts.push_back(static_cast<uint32_t>(v));
          }
        } else {
          if (k == Kind::object) bad(at, ".segmentation.counts", "expected a string or a list of run lengths");
          in_.skip_value();
          bad(at, ".segmentation.counts", str_cat("expected a string or a list of run lengths, got ", type_name(k)));
        }
        seen_counts = true;
      } else {
        in_.skip_value();
      }
    }
    if (!seen_size) bad_field(".segmentation", "RLE without \"size\"");
    if (!seen_counts) bad_field(".segmentation", "RLE without \"counts\"");
  }

  void read_polygons(CocoSegmentation& seg) {
    seg.kind = CocoSegmentation::Kind::polygons;
    size_t np = 0;
    in_.begin_array();
    while (in_.next_element()) {
      const Kind k = in_.peek();
      const int64_t at = in_.offset();
      if (k != Kind::array) {
        if (k != Kind::object) in_.skip_value();
        bad(at, str_cat(".segmentation[", np, "]"), "expected a polygon [x0, y0, x1, y1, ...]");
      }
      std::vector<double>& poly = seg.polygons.emplace_back();
      in_.begin_array();
      while (in_.next_element())
        poly.push_back(number_or([&]() { return str_cat(".segmentation[", np, "][", poly.size(), "]"); },
                                 "expected a number", true));
      if (poly.size() < 6 || poly.size() % 2)
        bad_field(".segmentation", str_cat("polygon ", np, " has ", poly.size(),
                                           " coordinates (need an even number, at least 6)"));
      ++np;
    }
  }

  JsonReader& in_;
  std::vector<CocoResult>& out_;
  std::string key_, seg_key_;
  bool in_entry_ = false;  // inside results[out_.size() - 1]
};

}  // namespace

std::vector<CocoResult> load_results_json(const std::string& path) {
  JsonReader in(path);
  std::vector<CocoResult> out;
  ResultsReader(in, out).read();
  return out;
}

namespace {

void write_number(std::ostream& os, double v) {
  // nlohmann writes the shortest round-trip form, as Python's repr does.
  os << json(v).dump();
}

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
