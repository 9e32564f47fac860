// A JSON array written item by item that is a complete, loadable file after
// every commit(): the items appended since the last commit are written after
// the committed ones, followed by the closing "\n]\n". A run killed (or
// failing) between two commits leaves every committed item in a file that
// json.load / pycocotools read; memory holds only the uncommitted items.
//
//   JsonArrayFile out("vis/results.json");     // "[\n]\n"
//   out.append(result_json(r)); ...            // one JSON value each
//   out.commit();                              // after each image
//
// The layout is save_results_json's: "[", "\n<item>", ",\n<item>", ..., "\n]\n".
// Write errors throw instseg::Error naming the file ("no space left on device
// writing <path>"); the items committed before stay readable.
#pragma once
#include <cstdint>
#include <string>

namespace instseg {

class JsonArrayFile {
 public:
  // Creates or truncates `path` and writes an empty array.
  explicit JsonArrayFile(std::string path);
  ~JsonArrayFile();
  JsonArrayFile(const JsonArrayFile&) = delete;
  JsonArrayFile& operator=(const JsonArrayFile&) = delete;

  // Queues one JSON value (not checked: the caller formats it).
  void append(const std::string& item);
  // Writes the queued items and the closing bracket. Throws on a write error.
  void commit();

  const std::string& path() const { return path_; }
  uint64_t committed() const { return committed_; }  // items in the file

 private:
  void write_at(uint64_t offset, const std::string& bytes);

  std::string path_;
  int fd_ = -1;
  uint64_t end_ = 1;        // offset just past the last committed item ("[" is 1 byte)
  uint64_t committed_ = 0;  // items committed
  uint64_t queued_ = 0;     // items appended (committed or not)
  std::string pending_;
};

}  // namespace instseg
