// PthArchive, the LibTorch-free reader behind `instseg inspect`: its tensor
// descriptions and storage table are what read_pth turns into at::Tensors, and
// it reads no weight bytes (so a corrupted weight shows only when loading).
#include "instseg/checkpoint/inspect.h"
#include "instseg/checkpoint/pth_archive.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/core/check.h"

#include "common/test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace instseg {
namespace {

std::string fixture(const std::string& name) { return test::data_path("checkpoint/" + name + ".pth"); }

// The tensor values under v (dicts, lists, tuples, opaque objects' state), by path.
void collect(const PyValue& v, const std::string& path, std::vector<std::pair<std::string, PyValue>>& out) {
  if (v.is_tensor()) {
    out.emplace_back(path, v);
  } else if (v.is_dict()) {
    for (const auto& kv : v.dict_items()) collect(kv.second, path + "/" + kv.first.repr(), out);
  } else if (v.is_list() || v.is_tuple()) {
    for (size_t i = 0; i < v.items().size(); ++i) collect(v.items()[i], path + "/" + std::to_string(i), out);
  } else if (v.is_opaque()) {
    collect(v.opaque_state(), path + "/state", out);
  }
}

const char* kCases[] = {"plain", "ordered", "single", "meta", "views", "dtypes", "mmdet"};

TEST(PthArchive, DescriptionsAreTheTensorsReadPthMakes) {
  for (const char* name : kCases) {
    for (const char* fmt : {"zip", "legacy"}) {
      const std::string path = fixture(std::string(name) + "_" + fmt);
      SCOPED_TRACE(path);
      const PthArchive archive(path);
      const PthFile file = read_pth(path);
      EXPECT_EQ(archive.file().format, fmt);
      EXPECT_EQ(archive.file().root.repr(64, 1u << 20), file.root.repr(64, 1u << 20));
      std::vector<std::pair<std::string, PyValue>> tensors, described;
      collect(file.root, "", tensors);
      collect(archive.file().root, "", described);
      ASSERT_FALSE(tensors.empty());
      ASSERT_EQ(tensors.size(), described.size());
      for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorDesc& d = described[i].second.tensor_desc();
        const at::Tensor& t = as_tensor(tensors[i].second);
        EXPECT_EQ(described[i].first, tensors[i].first);
        EXPECT_EQ(d.sizes, t.sizes().vec()) << tensors[i].first;
        EXPECT_EQ(d.strides, t.strides().vec()) << tensors[i].first;
        EXPECT_EQ(d.offset, t.storage_offset()) << tensors[i].first;
        EXPECT_EQ(scalar_type(d.dtype), t.scalar_type()) << tensors[i].first;
        EXPECT_EQ(archive.storages().at(d.storage_key).nbytes, t.storage().nbytes()) << tensors[i].first;
        // The archive's own tree has descriptions only.
        EXPECT_THROW(as_tensor(described[i].second), Error);
      }
    }
  }
}

TEST(PthArchive, StorageTable) {
  const PthArchive legacy(fixture("mmdet_legacy"));
  ASSERT_FALSE(legacy.storages().empty());
  for (const auto& kv : legacy.storages()) {
    EXPECT_EQ(kv.second.record, nullptr);
    EXPECT_NE(kv.second.file_offset, PthStorage::kNotInFile) << kv.first;
    EXPECT_EQ(kv.second.nbytes, static_cast<uint64_t>(kv.second.numel) * element_size(kv.second.dtype)) << kv.first;
  }
  const PthArchive zip(fixture("mmdet_zip"));
  EXPECT_EQ(zip.storages().size(), legacy.storages().size());
  for (const auto& kv : zip.storages()) {
    ASSERT_NE(kv.second.record, nullptr) << kv.first;
    EXPECT_EQ(kv.second.record->name, "mmdet_zip/data/" + kv.first);
    EXPECT_EQ(kv.second.nbytes, kv.second.record->uncomp_size);
  }
}

// mmdet_deflated.pth: mmdet_zip.pth re-zipped by Python's zipfile (records
// deflated, the version stored), which torch.load reads: so do we.
TEST(PthArchive, DeflatedRecordsReadLikeStoredOnes) {
  const PthFile stored = read_pth(fixture("mmdet_zip"));
  const PthFile deflated = read_pth(fixture("mmdet_deflated"));
  EXPECT_EQ(deflated.format, "zip");
  EXPECT_EQ(deflated.root.repr(64, 1u << 20), stored.root.repr(64, 1u << 20));
  const TensorDict a = load_state_dict(fixture("mmdet_zip")), b = load_state_dict(fixture("mmdet_deflated"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.items()[i].first, b.items()[i].first);
    EXPECT_TRUE(a.items()[i].second.equal(b.items()[i].second)) << a.items()[i].first;
  }
  CheckpointInfo x = inspect_checkpoint(fixture("mmdet_zip")), y = inspect_checkpoint(fixture("mmdet_deflated"));
  y.path = x.path;
  EXPECT_EQ(inspect_text(y), inspect_text(x));
}

// A flipped bit inside a weight: the listing reads no weight and shows the file;
// loading it fails on the record's CRC-32, naming the file and the record.
TEST(PthArchive, WeightBytesAreReadOnlyWhenLoading) {
  std::string bytes = test::read_bytes(fixture("mmdet_zip"));
  uint64_t at = 0;
  {
    const ZipArchive zip(bytes.data(), bytes.size());
    const ZipEntry* e = zip.find("mmdet_zip/data/0");
    ASSERT_NE(e, nullptr);
    at = zip.data_offset(*e) + 5;
  }
  bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
  const std::string path = test::temp_dir("ckpt_archive") + "/flipped.pth";
  test::write_bytes(path, bytes);
  EXPECT_EQ(inspect_checkpoint(path).tensors.size(), 8u);
  try {
    read_pth(path);
    FAIL() << "loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": zip record 'data/0' at byte ", 0), 0u) << what;
    EXPECT_NE(what.find("CRC-32 mismatch"), std::string::npos) << what;
  }
}

TEST(PthArchive, ErrorsNameTheFile) {
  try {
    inspect_checkpoint("/nonexistent/x.pth");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.pth: cannot open file");
  }
  const std::string dir = test::temp_dir("ckpt_archive_dir");
  try {
    PthArchive a(dir);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + ": cannot open file", 0), 0u) << e.what();
  }
  const std::string empty = dir + "/empty.pth";
  test::write_bytes(empty, "");
  try {
    PthArchive a(empty);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), empty + ": not a torch.save file (neither a zip archive nor a pickle) at byte 0");
  }
}

}  // namespace
}  // namespace instseg
