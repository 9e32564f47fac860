#include "instseg/engine/tfevents.h"

#include "common/test_util.h"
#include "instseg/core/check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace instseg {

namespace fs = std::filesystem;

TEST(TfEvents, Crc32cKnownValues) {
  // RFC 3720 / the standard check value of CRC-32C.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  // masked = rotr15(crc) + 0xa282ead8
  uint32_t c = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(TfEvents, EventEncodingMatchesProtobufWireFormat) {
  // Event{wall_time: 1.0, step: 2, summary{value{tag: "a", simple_value: 0.5}}}
  TfEvent ev;
  ev.wall_time = 1.0;
  ev.step = 2;
  ev.scalars = {{"a", 0.5f}};
  const unsigned char expect[] = {0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,  // wall_time
                                  0x10, 0x02,                          // step
                                  0x2A, 0x0A,                          // summary, 10 bytes
                                  0x0A, 0x08,                          // value, 8 bytes
                                  0x0A, 0x01, 'a',                     // tag
                                  0x15, 0, 0, 0, 0x3F};                // simple_value 0.5f
  EXPECT_EQ(encode_event(ev), std::string(reinterpret_cast<const char*>(expect), sizeof expect));
  // Multi-byte varint step (300 = 0xAC 0x02) and the file_version string.
  TfEvent v;
  v.step = 300;
  v.file_version = "brain.Event:2";
  auto s = encode_event(v);
  EXPECT_EQ(s.substr(9, 3), std::string("\x10\xAC\x02", 3));
  EXPECT_EQ(s.substr(12, 2), std::string("\x1A\x0D", 2));
}

TEST(TfEvents, WriteReadRoundTrip) {
  auto dir = test::temp_dir("tfevents");
  std::string path;
  {
    TfEventsWriter w(dir);
    path = w.path();
    w.add_scalar("train/loss", 1.25, 10, 100.0);
    w.add_scalars({{"train/lr", 1e-4}, {"train/loss_cls", 0.75}}, 20, 101.0);
    w.add_scalar("val/segm_mAP", 0.348, 12345678901LL, 102.0);
  }
  EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
  auto events = read_tfevents(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].scalars.empty());
  EXPECT_EQ(events[1].step, 10);
  EXPECT_DOUBLE_EQ(events[1].wall_time, 100.0);
  ASSERT_EQ(events[1].scalars.size(), 1u);
  EXPECT_EQ(events[1].scalars[0].first, "train/loss");
  EXPECT_FLOAT_EQ(events[1].scalars[0].second, 1.25f);
  ASSERT_EQ(events[2].scalars.size(), 2u);
  EXPECT_EQ(events[2].scalars[1].first, "train/loss_cls");
  EXPECT_FLOAT_EQ(events[2].scalars[0].second, 1e-4f);
  EXPECT_EQ(events[3].step, 12345678901LL);
  EXPECT_FLOAT_EQ(events[3].scalars[0].second, 0.348f);

  // Frame layout of the first record: u64 length, masked CRC of the length.
  std::ifstream in(path, std::ios::binary);
  std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t len;
  uint32_t len_crc, data_crc;
  std::memcpy(&len, buf.data(), 8);
  std::memcpy(&len_crc, buf.data() + 8, 4);
  std::memcpy(&data_crc, buf.data() + 12 + len, 4);
  EXPECT_EQ(len_crc, masked_crc32c(buf.data(), 8));
  EXPECT_EQ(data_crc, masked_crc32c(buf.data() + 12, len));

  // Corrupting one data byte of the second record is detected.
  auto corrupt = [&](size_t offset, const std::string& name) {
    std::string bad = buf;
    bad[offset] ^= 0x01;
    std::string p = dir + "/" + name;
    std::ofstream(p, std::ios::binary) << bad;
    try {
      read_tfevents(p);
      ADD_FAILURE() << "corruption at " << offset << " not detected";
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const size_t second = 12 + len + 4;
  EXPECT_NE(corrupt(second + 12 + 3, "data").find("data CRC mismatch"), std::string::npos);
  EXPECT_NE(corrupt(second + 1, "len").find("length CRC mismatch"), std::string::npos);
  EXPECT_NE(corrupt(second + 12 + 30, "crc").find("CRC mismatch"), std::string::npos);
  // A truncated file is an error too.
  std::string p = dir + "/trunc";
  std::ofstream(p, std::ios::binary) << buf.substr(0, buf.size() - 2);
  EXPECT_THROW(read_tfevents(p), Error);
}

}  // namespace instseg
