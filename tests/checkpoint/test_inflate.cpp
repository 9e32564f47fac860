// Raw DEFLATE decoding (checkpoint/inflate.h) and zip's CRC-32
// (checkpoint/zip_archive.h): streams from Python's zlib (the oracle; the
// commands are next to each case), hand-made ones for each error, and CRC-32
// against its check value and a bit-at-a-time restatement.
#include "instseg/checkpoint/inflate.h"
#include "instseg/checkpoint/zip_archive.h"
#include "instseg/core/require.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace instseg {
namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::string inflate(const std::string& in, uint64_t out_n) {
  std::string out(out_n, '\0');
  inflate_raw(in.data(), in.size(), &out[0], out_n);
  return out;
}

// The error's text, "" when none.
std::string inflate_error_of(const std::string& in, uint64_t out_n) {
  try {
    inflate(in, out_n);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_FIXED): a fixed-Huffman block with a back-reference.
const std::string kFixed = unhex("cb48cdc9c957c8402701");
const std::string kFixedText = "hello hello hello hello";

// The same with zlib.Z_DEFAULT_STRATEGY on this text x 3 (474 bytes): a dynamic-Huffman block.
const std::string kDynamicText =
    "RoIAlign samples each bin at a regular grid of points and averages them; "
    "the backward pass scatters the gradient back to the four neighbours of every sample. ";
const std::string kDynamic = unhex(
    "ed8e4b0ec2300c44af3227e002ac58b2ed0d268d9b44b44965bb206e4f1a7102d66cac91359f37b5fb6d2da9c2b8edab18847346281574"
    "102ae958a9485a22da82bd95ea06d6083e45997ac2b36cd7f322707ebca8113bcd6033dd4587a1173016a93e3cf0369e4b3b14554acaa1"
    "2b3b07a4b7bebf30174c7fba9fe93e");

TEST(Inflate, FixedHuffmanBlock) { EXPECT_EQ(inflate(kFixed, kFixedText.size()), kFixedText); }

TEST(Inflate, DynamicHuffmanBlock) {
  EXPECT_EQ(inflate(kDynamic, 3 * kDynamicText.size()), kDynamicText + kDynamicText + kDynamicText);
}

// A non-final stored block "ab" (BFINAL 0, BTYPE 00; LEN 2, NLEN ~2), then a final stored block "c".
TEST(Inflate, StoredBlocks) {
  const std::string s = unhex("000200fdff6162") + unhex("010100feff63");
  EXPECT_EQ(inflate(s, 3), "abc");
}

TEST(Inflate, EmptyOutputReadsNothing) { EXPECT_EQ(inflate("", 0), ""); }

TEST(Inflate, ErrorsNameTheProblem) {
  // The directory's size disagrees with the stream.
  EXPECT_NE(inflate_error_of(kFixed, kFixedText.size() - 1).find("(it gives more)"), std::string::npos);
  EXPECT_NE(inflate_error_of(kFixed, kFixedText.size() + 1).find("it gives 23 bytes"), std::string::npos);
  EXPECT_NE(inflate_error_of(kFixed, kFixedText.size() + 1).find("the 24 bytes the central directory gives"),
            std::string::npos);
  // Truncated streams, at every length.
  for (size_t n = 0; n < kDynamic.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_NE(inflate_error_of(kDynamic.substr(0, n), 3 * kDynamicText.size()), "");
  }
  EXPECT_NE(inflate_error_of(unhex("07"), 4).find("invalid block type"), std::string::npos);  // BTYPE 11
  EXPECT_NE(inflate_error_of(unhex("010200fdfe6162"), 2).find("complement"), std::string::npos);
  // Fixed block: literal 'a' (00110000+0x61 -> 8 bits 10010001), then length 3 (code 257: 0000001) at
  // distance 2 (code 1: 00001): only one byte precedes it.
  // Bits, first to last: 1 10 | 10010001 | 0000001 | 00001 | 0000000 (end of block)
  {
    std::vector<int> bits = {1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 7; ++i) bits.push_back(0);
    std::string s((bits.size() + 7) / 8, '\0');
    for (size_t i = 0; i < bits.size(); ++i) s[i / 8] = static_cast<char>(s[i / 8] | (bits[i] << (i % 8)));
    EXPECT_NE(inflate_error_of(s, 4).find("distance too far back"), std::string::npos);
    // The same stream with the distance code 0 (distance 1) is "aaaa".
    bits[18 + 4] = 0;  // code 00001 -> 00000
    std::string t((bits.size() + 7) / 8, '\0');
    for (size_t i = 0; i < bits.size(); ++i) t[i / 8] = static_cast<char>(t[i / 8] | (bits[i] << (i % 8)));
    EXPECT_EQ(inflate(t, 4), "aaaa");
  }
}

// Every single-byte corruption of the dynamic stream either inflates to 474
// bytes (the CRC-32 then tells) or is an error: no crash, no overrun (ASan in
// scripts/sanitize.sh, fuzz/fuzz_pth).
TEST(Inflate, CorruptedStreamsAreErrorsOrWrongBytes) {
  int errors = 0;
  for (size_t i = 0; i < kDynamic.size(); ++i) {
    for (int flip : {0x01, 0x10, 0xff}) {
      std::string s = kDynamic;
      s[i] = static_cast<char>(s[i] ^ flip);
      errors += inflate_error_of(s, 3 * kDynamicText.size()).empty() ? 0 : 1;
    }
  }
  EXPECT_GT(errors, 0);
}

uint32_t crc32_bitwise(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

TEST(Crc32, CheckValueAndEveryLengthAgainstTheBitwiseRule) {
  EXPECT_EQ(crc32_of("123456789", 9), 0xCBF43926u);  // CRC-32/ISO-HDLC's check value
  EXPECT_EQ(crc32_of("", 0), 0u);
  std::mt19937 rng(5);
  std::string s(100, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  for (size_t n = 0; n <= s.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(crc32_of(s.data(), n), crc32_bitwise(s.substr(0, n)));
  }
}

}  // namespace
}  // namespace instseg
