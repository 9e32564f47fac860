// A pull reader of JSON text from a file, read in fixed-size chunks: the
// caller walks the document value by value (peek, begin_array / next_element,
// begin_object / next_key, read_string, read_number, skip_value) and keeps
// only what it needs, so a file of hundreds of MB never becomes a DOM and the
// memory is the chunk buffer plus what the caller stores.
//
// Why not nlohmann's SAX parser (io/coco_json.cpp still uses it): it pulls one
// character at a time through std::istream, builds a std::string for every
// key, and its callbacks only see one event at a time, so a schema reader on
// top of it keeps its own stack of frames and compares key strings per value.
// `instseg eval` spent ~140 ms of CPU in it on a 15 MB results file (50 000
// detections); this reader does the same work in a fraction of that
// (docs/performance.md, "Start-up").
//
// The grammar is RFC 8259's, checked as strictly as nlohmann's parser (which
// the results reader used before): no comments, no trailing commas, no
// leading zeros, strings with escaped control characters and well-formed
// UTF-8 only (\u escapes with paired surrogates), a UTF-8 byte-order mark
// allowed at the start, nothing but whitespace after the top-level value.
// Numbers become the doubles nlohmann gives (see JsonNumber).
//
// Errors throw instseg::Error "<path>: byte <offset>: invalid JSON (<what>)"
// followed by the caller's context (set_context), where <offset> is the
// 0-based offset of the offending character (the file size when it ends too
// early). Schema errors are the caller's: offset() says where the value it
// complains about starts.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace instseg {

// A JSON number as nlohmann reads it: an integer literal (no fraction, no
// exponent) that fits int64 is `integer`, a non-negative one that fits only
// uint64 is `unsigned_integer`; anything else is `floating` (strtod's
// correctly rounded double; +-0 below the smallest double; beyond the largest
// one a syntax error, as nlohmann's "number overflow"). `value` is the number
// as a double in every case (integers converted as static_cast<double> does).
struct JsonNumber {
  enum class Type { integer, unsigned_integer, floating };
  Type type = Type::integer;
  int64_t i = 0;   // type == integer
  uint64_t u = 0;  // type == unsigned_integer
  double value = 0;
};

class JsonReader {
 public:
  // Opens `path` (throws "<path>: cannot open file").
  explicit JsonReader(const std::string& path, size_t chunk_bytes = size_t{256} << 10);
  ~JsonReader();
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  const std::string& path() const { return path_; }
  // The file's size in bytes when it could be determined (else 0).
  int64_t file_size() const { return file_size_; }
  // Appended to every syntax error message (e.g. " in results[12]").
  void set_context(std::function<std::string()> context) { context_ = std::move(context); }

  enum class Kind { object, array, string, number, boolean, null };
  // Skips whitespace and names the next value by its first character; throws
  // at the end of the file or at a character that cannot start a value.
  Kind peek();
  // The 0-based byte offset of the next unread character.
  int64_t offset() const { return base_ + (p_ - buf_.data()); }

  // '[' ... ']': after begin_array(), next_element() is true when a value
  // follows (read it, or skip_value()) and false at the closing ']'.
  void begin_array();
  bool next_element();
  // '{' ... '}': next_key() reads a key and its ':' (true; the value follows)
  // or the closing '}' (false).
  void begin_object();
  bool next_key(std::string& key);

  // Scalars; each throws a syntax error naming what it found otherwise.
  void read_string(std::string& out);  // unescaped, UTF-8
  JsonNumber read_number();
  bool read_boolean();
  void read_null();
  // Any value, nested containers included (checked as strictly).
  void skip_value();
  // Only whitespace may follow the top-level value.
  void expect_end();

  [[noreturn]] void syntax_error(int64_t at, const std::string& what) const;

 private:
  bool refill();
  // The next character (-1 at the end of the file), without consuming it.
  int peek_char() {
    if (p_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(*p_);
  }
  int skip_ws();  // skips whitespace, returns peek_char()
  void expect_literal(const char* word);
  void scan_string(std::string* out);  // out == nullptr: validate only
  void read_escape(std::string* out);
  void read_utf8(int lead, std::string* out);
  [[noreturn]] void unexpected(int c, const char* expected) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t file_size_ = 0;
  std::vector<char> buf_;
  const char* p_ = nullptr;    // next unread character
  const char* end_ = nullptr;  // end of the valid part of buf_
  int64_t base_ = 0;           // file offset of buf_[0]
  bool eof_ = false;
  bool first_ = false;  // just after '[' or '{': a closing bracket may follow directly
  std::string number_;  // scratch: the characters of one number
  std::string skip_key_, skip_stack_;
  std::function<std::string()> context_;
};

}  // namespace instseg
