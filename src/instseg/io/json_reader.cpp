// JSON pull reader over a chunked file buffer (see json_reader.h).
#include "instseg/io/json_reader.h"

#include "instseg/core/check.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace instseg {
namespace {

bool is_digit(int c) { return c >= '0' && c <= '9'; }

// The first character of [p, end) that ends the plain run of a string: '"',
// '\\', a control character or a non-ASCII byte (checked as UTF-8). RLE
// counts, which are most of a results file, are plain ASCII: 16 bytes per
// step.
const char* find_special(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare: bytes below 0x20 and bytes from 0x80 on (negative) both match.
    const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmplt_epi8(v, space));
    const int bits = _mm_movemask_epi8(m);
    if (bits) return p + __builtin_ctz(static_cast<unsigned>(bits));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
  }
  return end;
}

std::string describe(int c) {
  if (c < 0) return "end of input";
  if (c >= 0x20 && c < 0x7f) return str_cat("'", static_cast<char>(c), "'");
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(c));
  return str_cat("byte ", hex);
}

void append_utf8(uint32_t cp, std::string* out) {
  if (!out) return;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

JsonReader::JsonReader(const std::string& path, size_t chunk_bytes) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail(path, ": cannot open file");
  // Chunks go straight from read(2) into buf_: no second copy in stdio's buffer.
  std::setvbuf(file_, nullptr, _IONBF, 0);
  struct stat st;
  if (fstat(fileno(file_), &st) == 0 && S_ISREG(st.st_mode)) file_size_ = static_cast<int64_t>(st.st_size);
  buf_.resize(std::max<size_t>(chunk_bytes, 16));
  p_ = end_ = buf_.data();
  // A UTF-8 byte-order mark is skipped (nlohmann does the same); a partial one is an error.
  if (peek_char() == 0xEF) {
    for (const int b : {0xEF, 0xBB, 0xBF}) {
      if (peek_char() != b) syntax_error(offset(), "invalid byte-order mark; must be 0xEF 0xBB 0xBF if given");
      ++p_;
    }
  }
}

JsonReader::~JsonReader() {
  if (file_) std::fclose(file_);
}

bool JsonReader::refill() {
  if (eof_) return false;
  base_ += end_ - buf_.data();
  const size_t n = std::fread(buf_.data(), 1, buf_.size(), file_);
  p_ = buf_.data();
  end_ = p_ + n;
  if (n < buf_.size()) {
    if (std::ferror(file_)) fail(path_, ": read error at byte ", base_ + static_cast<int64_t>(n));
    if (n == 0) eof_ = true;
  }
  return n > 0;
}

void JsonReader::syntax_error(int64_t at, const std::string& what) const {
  fail(path_, ": byte ", at, ": invalid JSON (", what, ")", context_ ? context_() : std::string());
}

void JsonReader::unexpected(int c, const char* expected) const {
  syntax_error(offset(), str_cat("unexpected ", describe(c), "; expected ", expected));
}

int JsonReader::skip_ws() {
  for (;;) {
    for (; p_ < end_; ++p_) {
      const char c = *p_;
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return static_cast<unsigned char>(c);
    }
    if (!refill()) return -1;
  }
}

JsonReader::Kind JsonReader::peek() {
  const int c = skip_ws();
  switch (c) {
    case '{':
      return Kind::object;
    case '[':
      return Kind::array;
    case '"':
      return Kind::string;
    case 't':
    case 'f':
      return Kind::boolean;
    case 'n':
      return Kind::null;
    default:
      if (c == '-' || is_digit(c)) return Kind::number;
      unexpected(c, "a value");
  }
}

void JsonReader::begin_array() {
  const int c = skip_ws();
  if (c != '[') unexpected(c, "'['");
  ++p_;
  first_ = true;
}

bool JsonReader::next_element() {
  const int c = skip_ws();
  if (first_) {
    // Nested containers set first_ again; after any element it is false.
    first_ = false;
    if (c != ']') return true;
    ++p_;
    return false;
  }
  if (c == ',') {
    ++p_;
    return true;
  }
  if (c != ']') unexpected(c, "',' or ']'");
  ++p_;
  return false;
}

void JsonReader::begin_object() {
  const int c = skip_ws();
  if (c != '{') unexpected(c, "'{'");
  ++p_;
  first_ = true;
}

bool JsonReader::next_key(std::string& key) {
  int c = skip_ws();
  if (first_) {
    first_ = false;
    if (c == '}') {
      ++p_;
      return false;
    }
    if (c != '"') unexpected(c, "a key (a string) or '}'");
  } else {
    if (c == '}') {
      ++p_;
      return false;
    }
    if (c != ',') unexpected(c, "',' or '}'");
    ++p_;
    c = skip_ws();
    if (c != '"') unexpected(c, "a key (a string)");
  }
  key.clear();
  scan_string(&key);
  c = skip_ws();
  if (c != ':') unexpected(c, "':' after the key");
  ++p_;
  return true;
}

void JsonReader::read_string(std::string& out) {
  const int c = skip_ws();
  if (c != '"') unexpected(c, "a string");
  out.clear();
  scan_string(&out);
}

void JsonReader::scan_string(std::string* out) {
  ++p_;  // the opening quote
  for (;;) {
    const char* q = find_special(p_, end_);
    // The first append of a long run allocates exactly its length (no
    // geometric slack in the RLE strings the results keep).
    if (out && q != p_) out->append(p_, static_cast<size_t>(q - p_));
    p_ = q;
    if (p_ == end_) {
      if (!refill()) syntax_error(offset(), "unexpected end of input inside a string");
      continue;
    }
    const int c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      ++p_;
      return;
    }
    if (c == '\\') {
      read_escape(out);
    } else if (c < 0x20) {
      char hex[16];
      std::snprintf(hex, sizeof(hex), "%04X", static_cast<unsigned>(c));
      syntax_error(offset(), str_cat("control character U+", hex, " inside a string must be escaped"));
    } else {
      read_utf8(c, out);
    }
  }
}

void JsonReader::read_escape(std::string* out) {
  const int64_t at = offset();
  ++p_;  // the backslash
  auto next = [&]() {
    const int c = peek_char();
    if (c < 0) syntax_error(offset(), "unexpected end of input inside a string");
    ++p_;
    return c;
  };
  const int c = next();
  char plain = 0;
  switch (c) {
    case '"': plain = '"'; break;
    case '\\': plain = '\\'; break;
    case '/': plain = '/'; break;
    case 'b': plain = '\b'; break;
    case 'f': plain = '\f'; break;
    case 'n': plain = '\n'; break;
    case 'r': plain = '\r'; break;
    case 't': plain = '\t'; break;
    case 'u': break;
    default:
      syntax_error(at, str_cat("invalid escape \\", describe(c), " inside a string"));
  }
  if (c != 'u') {
    if (out) out->push_back(plain);
    return;
  }
  auto hex4 = [&](int64_t esc_at) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = next();
      v <<= 4;
      if (is_digit(h))
        v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<uint32_t>(h - 'A' + 10);
      else
        syntax_error(esc_at, "\\u must be followed by 4 hexadecimal digits");
    }
    return v;
  };
  uint32_t cp = hex4(at);
  if (cp >= 0xDC00 && cp <= 0xDFFF) syntax_error(at, "\\u escape of a low surrogate without a high surrogate before it");
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    const int64_t low_at = offset();
    if (next() != '\\' || next() != 'u')
      syntax_error(at, "\\u escape of a high surrogate must be followed by a \\u escape of a low surrogate");
    const uint32_t low = hex4(low_at);
    if (low < 0xDC00 || low > 0xDFFF)
      syntax_error(at, "\\u escape of a high surrogate must be followed by a \\u escape of a low surrogate");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  append_utf8(cp, out);
}

void JsonReader::read_utf8(int lead, std::string* out) {
  // RFC 3629's well-formed sequences (nlohmann accepts the same set).
  int n = 0;
  int lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 1;
  } else if (lead == 0xE0) {
    n = 2;
    lo = 0xA0;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    n = 2;
  } else if (lead == 0xED) {
    n = 2;
    hi = 0x9F;
  } else if (lead == 0xF0) {
    n = 3;
    lo = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    n = 3;
  } else if (lead == 0xF4) {
    n = 3;
    hi = 0x8F;
  } else {
    syntax_error(offset(), str_cat("ill-formed UTF-8 ", describe(lead), " inside a string"));
  }
  char bytes[4] = {static_cast<char>(lead), 0, 0, 0};
  ++p_;
  for (int k = 1; k <= n; ++k) {
    const int c = peek_char();
    if (c < 0) syntax_error(offset(), "unexpected end of input inside a string");
    if (c < lo || c > hi) syntax_error(offset(), str_cat("ill-formed UTF-8 ", describe(c), " inside a string"));
    bytes[k] = static_cast<char>(c);
    ++p_;
    lo = 0x80;
    hi = 0xBF;
  }
  if (out) out->append(bytes, static_cast<size_t>(n + 1));
}

JsonNumber JsonReader::read_number() {
  int c = skip_ws();
  const int64_t start = offset();
  number_.clear();
  auto take = [&]() {
    number_.push_back(static_cast<char>(c));
    ++p_;
    c = peek_char();
  };
  bool integral = true;
  const bool negative = c == '-';
  if (negative) take();
  if (c == '0') {
    take();
  } else if (c >= '1' && c <= '9') {
    while (is_digit(c)) take();
  } else {
    if (negative) syntax_error(offset(), str_cat("invalid number: expected a digit after '-', got ", describe(c)));
    unexpected(c, "a number");
  }
  if (c == '.') {
    integral = false;
    take();
    if (!is_digit(c)) syntax_error(offset(), str_cat("invalid number: expected a digit after '.', got ", describe(c)));
    while (is_digit(c)) take();
  }
  if (c == 'e' || c == 'E') {
    integral = false;
    take();
    if (c == '+' || c == '-') take();
    if (!is_digit(c)) syntax_error(offset(), str_cat("invalid number: expected a digit in the exponent, got ", describe(c)));
    while (is_digit(c)) take();
  }
  const char* b = number_.data();
  const char* e = b + number_.size();
  JsonNumber n;
  if (integral) {
    // Integer literals as nlohmann reads them (strtoll / strtoull); one
    // outside 64 bits falls through to the floating-point parse, as there.
    if (negative) {
      int64_t v = 0;
      if (std::from_chars(b, e, v).ec == std::errc()) {
        n.type = JsonNumber::Type::integer;
        n.i = v;
        n.value = static_cast<double>(v);
        return n;
      }
    } else {
      uint64_t v = 0;
      if (std::from_chars(b, e, v).ec == std::errc()) {
        if (v <= static_cast<uint64_t>(INT64_MAX)) {
          n.type = JsonNumber::Type::integer;
          n.i = static_cast<int64_t>(v);
        } else {
          n.type = JsonNumber::Type::unsigned_integer;
          n.u = v;
        }
        n.value = static_cast<double>(v);
        return n;
      }
    }
  }
  // Correctly rounded, as strtod. Too small for a double: strtod's +-0, as
  // nlohmann; too large: an error, as nlohmann's "number overflow".
  n.type = JsonNumber::Type::floating;
  const auto r = std::from_chars(b, e, n.value);
  if (r.ec == std::errc::result_out_of_range) n.value = std::strtod(number_.c_str(), nullptr);
  if (!std::isfinite(n.value)) syntax_error(start, str_cat("number overflow: ", number_, " is too large for a double"));
  return n;
}

void JsonReader::expect_literal(const char* word) {
  const int64_t at = offset();
  for (const char* w = word; *w; ++w) {
    if (peek_char() != static_cast<unsigned char>(*w)) syntax_error(at, str_cat("invalid literal; expected '", word, "'"));
    ++p_;
  }
}

bool JsonReader::read_boolean() {
  const int c = skip_ws();
  if (c == 't') {
    expect_literal("true");
    return true;
  }
  if (c != 'f') unexpected(c, "true or false");
  expect_literal("false");
  return false;
}

void JsonReader::read_null() {
  const int c = skip_ws();
  if (c != 'n') unexpected(c, "null");
  expect_literal("null");
}

void JsonReader::skip_value() {
  // Iterative, so that a deeply nested value cannot overflow the stack.
  skip_stack_.clear();
  for (;;) {
    switch (peek()) {
      case Kind::object:
        begin_object();
        skip_stack_.push_back('{');
        break;
      case Kind::array:
        begin_array();
        skip_stack_.push_back('[');
        break;
      case Kind::string:
        scan_string(nullptr);
        break;
      case Kind::number:
        read_number();
        break;
      case Kind::boolean:
        read_boolean();
        break;
      case Kind::null:
        read_null();
        break;
    }
    // Close finished containers up to the next value to skip.
    for (;;) {
      if (skip_stack_.empty()) return;
      if (skip_stack_.back() == '[' ? next_element() : next_key(skip_key_)) break;
      skip_stack_.pop_back();
    }
  }
}

void JsonReader::expect_end() {
  const int c = skip_ws();
  if (c >= 0) unexpected(c, "the end of the file after the top-level value");
}

}  // namespace instseg
