#include "instseg/engine/tfevents.h"

#include "instseg/core/check.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

namespace instseg {

namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// --- protobuf wire encoding (only what Event needs) ---
void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}
template <typename T>
void put_le(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86/ARM little endian, as TFRecord
  s.append(b, sizeof(T));
}
void put_bytes_field(std::string& s, int field, const std::string& bytes) {
  put_varint(s, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(s, bytes.size());
  s += bytes;
}

struct Cursor {
  const std::string& s;
  size_t pos;
  size_t end;
  bool done() const { return pos >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) fail("tfevents: truncated varint");
      uint8_t b = static_cast<uint8_t>(s[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("tfevents: varint too long");
  }
  template <typename T>
  T fixed() {
    if (end - pos < sizeof(T)) fail("tfevents: truncated fixed field");
    T v;
    std::memcpy(&v, s.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::pair<size_t, size_t> bytes() {
    uint64_t n = varint();
    if (n > end - pos) fail("tfevents: truncated length-delimited field");
    size_t b = pos;
    pos += n;
    return {b, b + n};
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: fixed<uint64_t>(); break;
      case 2: bytes(); break;
      case 5: fixed<uint32_t>(); break;
      default: fail("tfevents: unsupported wire type ", wire);
    }
  }
};

void parse_value(const std::string& s, size_t b, size_t e, TfEvent& ev) {
  Cursor c{s, b, e};
  std::string tag;
  float value = 0;
  bool has_value = false;
  while (!c.done()) {
    uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      auto r = c.bytes();
      tag.assign(s, r.first, r.second - r.first);
    } else if (field == 2 && wire == 5) {
      value = c.fixed<float>();
      has_value = true;
    } else {
      c.skip(wire);
    }
  }
  if (has_value) ev.scalars.emplace_back(tag, value);
}

void parse_summary(const std::string& s, size_t b, size_t e, TfEvent& ev) {
  Cursor c{s, b, e};
  while (!c.done()) {
    uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      auto r = c.bytes();
      parse_value(s, r.first, r.second, ev);
    } else {
      c.skip(wire);
    }
  }
}

TfEvent parse_event(const std::string& s) {
  TfEvent ev;
  Cursor c{s, 0, s.size()};
  while (!c.done()) {
    uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 1) {
      ev.wall_time = c.fixed<double>();
    } else if (field == 2 && wire == 0) {
      ev.step = static_cast<int64_t>(c.varint());
    } else if (field == 3 && wire == 2) {
      auto r = c.bytes();
      ev.file_version.assign(s, r.first, r.second - r.first);
    } else if (field == 5 && wire == 2) {
      auto r = c.bytes();
      parse_summary(s, r.first, r.second, ev);
    } else {
      c.skip(wire);
    }
  }
  return ev;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t crc = crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string encode_event(const TfEvent& ev) {
  std::string s;
  s.push_back(0x09);  // field 1, fixed64
  put_le<double>(s, ev.wall_time);
  s.push_back(0x10);  // field 2, varint
  put_varint(s, static_cast<uint64_t>(ev.step));
  if (!ev.file_version.empty()) put_bytes_field(s, 3, ev.file_version);
  if (!ev.scalars.empty()) {
    std::string summary;
    for (const auto& kv : ev.scalars) {
      std::string value;
      put_bytes_field(value, 1, kv.first);
      value.push_back(0x15);  // field 2, fixed32
      put_le<float>(value, kv.second);
      put_bytes_field(summary, 1, value);
    }
    put_bytes_field(s, 5, summary);
  }
  return s;
}

TfEventsWriter::TfEventsWriter(const std::string& dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) +
          "." + host + "." + std::to_string(getpid()) + ".0";
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) fail("tfevents: cannot create ", path_);
  TfEvent first;
  first.wall_time = now_seconds();
  first.file_version = "brain.Event:2";
  write_record(encode_event(first));
  flush();
}

TfEventsWriter::~TfEventsWriter() {
  if (file_) std::fclose(file_);
}

void TfEventsWriter::add_scalar(const std::string& tag, double value, int64_t step,
                                double wall_time) {
  add_scalars({{tag, value}}, step, wall_time);
}

void TfEventsWriter::add_scalars(const std::vector<std::pair<std::string, double>>& values,
                                 int64_t step, double wall_time) {
  TfEvent ev;
  ev.wall_time = wall_time >= 0 ? wall_time : now_seconds();
  ev.step = step;
  for (const auto& kv : values) ev.scalars.emplace_back(kv.first, static_cast<float>(kv.second));
  write_record(encode_event(ev));
}

void TfEventsWriter::write_record(const std::string& data) {
  std::string frame;
  const uint64_t len = data.size();
  put_le<uint64_t>(frame, len);
  put_le<uint32_t>(frame, masked_crc32c(&len, sizeof len));
  frame += data;
  put_le<uint32_t>(frame, masked_crc32c(data.data(), data.size()));
  if (std::fwrite(frame.data(), 1, frame.size(), file_) != frame.size())
    fail("tfevents: write failed: ", path_);
}

void TfEventsWriter::flush() {
  if (file_) std::fflush(file_);
}

std::vector<TfEvent> read_tfevents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("tfevents: cannot open ", path);
  std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<TfEvent> out;
  size_t pos = 0;
  while (pos < buf.size()) {
    if (buf.size() - pos < 12) fail(path, ": truncated record header at offset ", pos);
    uint64_t len;
    uint32_t len_crc;
    std::memcpy(&len, buf.data() + pos, 8);
    std::memcpy(&len_crc, buf.data() + pos + 8, 4);
    if (masked_crc32c(buf.data() + pos, 8) != len_crc)
      fail(path, ": length CRC mismatch at offset ", pos);
    if (buf.size() - pos - 12 < len + 4) fail(path, ": truncated record at offset ", pos);
    const char* data = buf.data() + pos + 12;
    uint32_t data_crc;
    std::memcpy(&data_crc, data + len, 4);
    if (masked_crc32c(data, len) != data_crc) fail(path, ": data CRC mismatch at offset ", pos);
    out.push_back(parse_event(std::string(data, len)));
    pos += 12 + len + 4;
  }
  return out;
}

}  // namespace instseg
