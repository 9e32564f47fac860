// TensorBoard scalar event files, hand-encoded (no protobuf dependency).
//
// File layout: a sequence of TFRecord frames
//   u64 length | u32 masked_crc32c(length bytes) | data | u32 masked_crc32c(data)
// (little endian), masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8, CRC-32C
// (Castagnoli). Each data blob is a serialized tensorflow.Event:
//   wall_time = 1 (double), step = 2 (int64), file_version = 3 (string,
//   first record "brain.Event:2"), summary = 5 { value = 1 { tag = 1,
//   simple_value = 2 (float) } }.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace instseg {

// CRC-32C (Castagnoli), and TFRecord's masked form.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t masked_crc32c(const void* data, size_t n);

class TfEventsWriter {
 public:
  // Creates <dir>/events.out.tfevents.<unix time>.<host>.<pid>.0 and writes
  // the file_version record.
  explicit TfEventsWriter(const std::string& dir);
  ~TfEventsWriter();
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = -1);
  // Several scalars in one event (one record).
  void add_scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step,
                   double wall_time = -1);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

struct TfEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                            // only in the first record
  std::vector<std::pair<std::string, float>> scalars;  // summary simple_values
};

// Reads every record, checking both CRCs of each frame; throws instseg::Error
// naming the offset on a bad CRC, a truncated frame or a malformed proto.
std::vector<TfEvent> read_tfevents(const std::string& path);

// Serializes one Event (exposed for tests).
std::string encode_event(const TfEvent& ev);

}  // namespace instseg
