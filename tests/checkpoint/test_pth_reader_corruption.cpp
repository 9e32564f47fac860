// Truncated and bit-flipped checkpoints give instseg::Error naming the file
// (and, where the format allows, the byte offset), never a crash; the
// LibTorch-free listing (`instseg inspect`) refuses them with the same error,
// except a corrupted weight, which only loading reads. Run this binary under
// ASan as well (see the area's report: build with -fsanitize=address).
#include "instseg/checkpoint/inspect.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/core/check.h"

#include "common/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

namespace instseg {
namespace {

// "ok", or the instseg::Error text; any other exception fails the test.
std::string try_read(const std::string& path) {
  try {
    PthFile f = read_pth(path);
    // Touch every tensor so that a bad view would show up under ASan.
    std::string s = f.root.repr(64, 1u << 20);
    (void)s;
    return "ok";
  } catch (const Error& e) {
    return e.what();
  }
}

// The same for the listing: "ok", or the instseg::Error text.
std::string try_inspect(const std::string& path) {
  try {
    const CheckpointInfo info = inspect_checkpoint(path);
    (void)inspect_json(info);
    return "ok";
  } catch (const Error& e) {
    return e.what();
  }
}

// The listing fails as loading does, or lists a file whose only fault is in a
// weight's bytes (a zip storage record's CRC-32 or deflate stream, which only
// loading reads; legacy files have no checksum).
void expect_listing_agrees(const std::string& path, const std::string& loaded) {
  const std::string listed = try_inspect(path);
  if (listed == "ok" && loaded != "ok")
    EXPECT_NE(loaded.find(path + ": zip record 'data/"), std::string::npos) << "listed but not loaded: " << loaded;
  else
    EXPECT_EQ(listed, loaded);
}

class Corruption : public ::testing::TestWithParam<std::string> {};

// Every strict prefix of the file must fail with an error naming the file.
TEST_P(Corruption, EveryTruncationIsAnError) {
  const std::string fmt = GetParam();
  std::string dir = test::temp_dir("ckpt_trunc");
  for (const char* name : {"ordered", "meta", "views", "dtypes", "mmdet"}) {
    std::string bytes = test::read_bytes(test::data_path(std::string("checkpoint/") + name + "_" + fmt + ".pth"));
    ASSERT_GT(bytes.size(), 100u);
    std::string path = dir + "/" + name + ".pth";
    // All lengths near both ends, ~200 through the middle (keeps the test to seconds).
    size_t step = std::max<size_t>(1, bytes.size() / 200);
    int checked = 0;
    for (size_t len = 0; len < bytes.size(); len += (len < 64 || len + 64 > bytes.size()) ? 1 : step) {
      test::write_bytes(path, bytes.substr(0, len));
      std::string r = try_read(path);
      ASSERT_NE(r, "ok") << name << " truncated to " << len << " bytes loaded";
      EXPECT_EQ(r.rfind(path + ": ", 0), 0u) << r;
      EXPECT_NE(r.find("at byte "), std::string::npos) << r;
      EXPECT_EQ(try_inspect(path), r);
      ++checked;
    }
    EXPECT_GT(checked, 100);
  }
}

// Flipping one bit anywhere must load or fail cleanly. Flips in the pickle structure must fail
// (for legacy files many flips only change a value and still load: no checksums there).
TEST_P(Corruption, BitFlipsNeverCrash) {
  const std::string fmt = GetParam();
  std::string dir = test::temp_dir("ckpt_flip");
  int errors = 0, loads = 0;
  for (const char* name : {"meta", "views", "mmdet"}) {
    std::string bytes = test::read_bytes(test::data_path(std::string("checkpoint/") + name + "_" + fmt + ".pth"));
    std::string path = dir + "/" + name + ".pth";
    // ~400 positions per file, every byte of the first 256 (headers, start of the pickle).
    size_t step = std::max<size_t>(1, bytes.size() / 400);
    for (size_t pos = 0; pos < bytes.size(); pos += pos < 256 ? 1 : step) {
      std::string flipped = bytes;
      flipped[pos] = static_cast<char>(flipped[pos] ^ (1 << (pos % 8)));
      test::write_bytes(path, flipped);
      std::string r = try_read(path);
      expect_listing_agrees(path, r);
      if (r == "ok") {
        ++loads;
      } else {
        ++errors;
        EXPECT_EQ(r.rfind(path + ": ", 0), 0u) << r;
      }
    }
    // The first byte decides the format: flipping it is always an error.
    std::string flipped = bytes;
    flipped[0] = static_cast<char>(flipped[0] ^ 0x40);
    test::write_bytes(path, flipped);
    EXPECT_NE(try_read(path), "ok") << name;
  }
  EXPECT_GT(errors, 100) << "loads " << loads;
  std::cout << "[ " << fmt << " ] bit flips: " << errors << " errors, " << loads << " loads\n";
}

INSTANTIATE_TEST_SUITE_P(Formats, Corruption, ::testing::Values("zip", "legacy"));

// Byte offset of the central directory entry of `name` (after "PK\1\2").
size_t central_entry(const std::string& zip, const std::string& name) {
  size_t at = 0;
  while ((at = zip.find(std::string("PK\x01\x02", 4), at)) != std::string::npos) {
    const size_t n = static_cast<uint8_t>(zip[at + 28]) | static_cast<uint8_t>(zip[at + 29]) << 8;
    if (zip.compare(at + 46, n, name) == 0) return at;
    ++at;
  }
  ADD_FAILURE() << "no central directory entry " << name;
  return 0;
}

// Zip files that LibTorch's miniz opens but misreads, found by fuzz_pth when
// LibTorch's PyTorchStreamReader read our zip files: we refuse them, so that
// the files we read are the ones torch.load reads the same way.
TEST(CorruptionZip, RecordsMinizWouldMisreadAreRefused) {
  const std::string bytes = test::read_bytes(test::data_path("checkpoint/plain_zip.pth"));
  const std::string dir = test::temp_dir("ckpt_miniz");
  const std::string path = dir + "/f.pth";
  ASSERT_EQ(try_read(test::data_path("checkpoint/plain_zip.pth")), "ok");
  auto expect_refused = [&](const std::string& b, const std::string& what, const char* why) {
    test::write_bytes(path, b);
    const std::string r = try_read(path);
    EXPECT_EQ(r.rfind(path + ": ", 0), 0u) << why << ": " << r;
    EXPECT_NE(r.find(what), std::string::npos) << why << ": " << r;
    EXPECT_EQ(try_inspect(path), r) << why;
  };
  const size_t ver = central_entry(bytes, "plain_zip/version");
  const size_t pkl = central_entry(bytes, "plain_zip/data.pkl");
  {  // DOS directory attribute: miniz "extracts" nothing and LibTorch parses uninitialised memory.
    std::string b = bytes;
    b[ver + 38] = static_cast<char>(b[ver + 38] | 0x10);
    expect_refused(b, "marked as a directory", "version as a directory");
    b = bytes;
    b[pkl + 38] = static_cast<char>(b[pkl + 38] | 0x10);
    expect_refused(b, "marked as a directory", "data.pkl as a directory");
  }
  {  // The version number itself.
    std::string b = bytes;
    const size_t local = static_cast<uint8_t>(b[ver + 42]) | static_cast<uint8_t>(b[ver + 43]) << 8;
    const size_t data = local + 30 + (static_cast<uint8_t>(b[local + 26]) | static_cast<uint8_t>(b[local + 27]) << 8) +
                        (static_cast<uint8_t>(b[local + 28]) | static_cast<uint8_t>(b[local + 29]) << 8);
    b[data] = 'x';
    expect_refused(b, "holds no version number", "version 'x'");
    b[data] = '9';
    b[data + 1] = '9';
    expect_refused(b, "unsupported torch.save file format version 99", "version 99");
  }
  {  // Encrypted, compressed, duplicated (case-insensitively) records.
    std::string b = bytes;
    b[ver + 8] = static_cast<char>(b[ver + 8] | 1);
    expect_refused(b, "encrypted", "encrypted version");
    b = bytes;
    b[ver + 10] = 8;
    expect_refused(b, "compressed", "deflated version");
    b = bytes;
    const size_t d1 = central_entry(bytes, "plain_zip/data/1");
    b.replace(d1 + 46, 16, "plain_zip/DATA/0");
    expect_refused(b, "two records named", "duplicate names");
  }
  {  // The zip64 end-of-central-directory record (torch.save writes one) wins over the 32-bit one, as in miniz.
    std::string b = bytes;
    const size_t z64 = b.rfind(std::string("PK\x06\x06", 4));
    ASSERT_NE(z64, std::string::npos);
    b[z64 + 24] = 0;  // records on this disk: 0, total still 4
    expect_refused(b, "multi-disk", "zip64 entry counts disagree");
    b[z64 + 32] = 0;  // and the total: no records at all
    expect_refused(b, "lists no records", "zip64 says empty");
  }
}

}  // namespace
}  // namespace instseg
