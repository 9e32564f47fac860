#include "instseg/io/loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "instseg/core/check.h"
#include "io/toy_dataset.h"

namespace instseg {
namespace {

std::shared_ptr<const CocoDataset> toy_set(int n, std::vector<TransformSpec> pipeline) {
  const std::string dir = test::make_toy_dataset(n);
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  o.pipeline = std::move(pipeline);
  return std::make_shared<const CocoDataset>(o);
}

TEST(Loader, SamplerMatchesTorchRandperm) {
  // torch.randperm(10, generator=torch.Generator().manual_seed(s)) in Python (torch 1.13).
  EXPECT_EQ(DataLoader::sampler_indices(10, true, 42, 0, 0, 1),
            (std::vector<int64_t>{2, 6, 1, 8, 4, 5, 0, 9, 3, 7}));
  EXPECT_EQ(DataLoader::sampler_indices(10, true, 42, 1, 0, 1),  // seed + epoch = 43
            (std::vector<int64_t>{8, 4, 9, 0, 5, 1, 6, 7, 2, 3}));
  EXPECT_EQ(DataLoader::sampler_indices(10, true, 0, 0, 1, 2),  // rank 1 of 2: odd positions
            (std::vector<int64_t>{1, 5, 9, 8, 2}));
  EXPECT_EQ(DataLoader::sampler_indices(5, false, 0, 0, 0, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, RanksAreDisjointAndCover) {
  for (int64_t n : {12, 13}) {
    std::vector<int64_t> all;
    std::vector<std::set<int64_t>> parts;
    for (int64_t r = 0; r < 3; ++r) {
      const auto idx = DataLoader::sampler_indices(n, true, 7, 3, r, 3);
      EXPECT_EQ(static_cast<int64_t>(idx.size()), (n + 2) / 3);
      all.insert(all.end(), idx.begin(), idx.end());
      parts.emplace_back(idx.begin(), idx.end());
    }
    const std::set<int64_t> uniq(all.begin(), all.end());
    EXPECT_EQ(static_cast<int64_t>(uniq.size()), n);  // covers
    // 12 = 3 * 4: disjoint; 13 -> 15 with 2 repeats (round_up padding).
    EXPECT_EQ(static_cast<int64_t>(all.size()) - n, n % 3 == 0 ? 0 : 3 - n % 3);
    if (n % 3 == 0) {
      for (int a = 0; a < 3; ++a)
        for (int b = a + 1; b < 3; ++b)
          for (int64_t x : parts[a]) EXPECT_FALSE(parts[b].count(x));
    }
  }
}

TEST(Loader, AspectRatioGrouping) {
  auto ds = toy_set(12, {});
  // (w, h) = (40 + 8 (i%5), 32 + 12 (i%3)): w < h for i = 2, 12 % ... computed here.
  std::vector<int64_t> idx(12);
  for (int i = 0; i < 12; ++i) idx[i] = i;
  const auto batches = DataLoader::batch_indices(idx, ds.get(), 2, false, true);
  size_t total = 0;
  for (const auto& b : batches) {
    total += b.size();
    if (b.size() == 2 && &b != &batches.back()) {
      const auto& i0 = ds->image_info(b[0]);
      const auto& i1 = ds->image_info(b[1]);
      EXPECT_EQ(i0.width < i0.height, i1.width < i1.height) << b[0] << " " << b[1];
    }
  }
  EXPECT_EQ(total, 12u);
  const auto dropped = DataLoader::batch_indices({0, 1, 2, 3, 4}, nullptr, 2, true, false);
  EXPECT_EQ(dropped, (std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}}));
}

std::vector<Batch> run_epoch(DataLoader& l, int64_t e) {
  l.set_epoch(e);
  std::vector<Batch> out;
  while (auto b = l.next()) out.push_back(std::move(*b));
  return out;
}

TEST(Loader, DeterministicAcrossWorkerCounts) {
  auto ds = toy_set(11, train_pipeline_multiscale({20, 24, 28, 32}, 64));
  LoaderOptions o;
  o.batch_size = 3;
  o.seed = 5;
  o.num_workers = 0;
  DataLoader serial(ds, o);
  o.num_workers = 3;
  o.prefetch = 1;
  DataLoader threaded(ds, o);
  for (int64_t e = 0; e < 2; ++e) {
    const auto a = run_epoch(serial, e);
    const auto b = run_epoch(threaded, e);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), 4u);  // 11 images, batches of 3, last one partial
    size_t n = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a[k].size(), b[k].size());
      n += a[k].size();
      ASSERT_TRUE(a[k].images.equal(b[k].images));
      EXPECT_EQ(a[k].images.size(2) % 32, 0);
      for (int64_t i = 0; i < a[k].size(); ++i) {
        EXPECT_EQ(a[k].metas[i].image_id, b[k].metas[i].image_id);
        EXPECT_EQ(a[k].metas[i].flip, b[k].metas[i].flip);
        EXPECT_TRUE(a[k].gts[i].masks.equal(b[k].gts[i].masks));
        EXPECT_TRUE(a[k].gts[i].bboxes.equal(b[k].gts[i].bboxes));
      }
    }
    EXPECT_EQ(n, 11u);
  }
  // Another epoch gives another order.
  const auto e0 = run_epoch(serial, 0), e1 = run_epoch(serial, 1);
  std::vector<int64_t> ids0, ids1;
  for (const auto& b : e0)
    for (const auto& m : b.metas) ids0.push_back(m.image_id);
  for (const auto& b : e1)
    for (const auto& m : b.metas) ids1.push_back(m.image_id);
  EXPECT_NE(ids0, ids1);
}

TEST(Loader, ShardsOfTwoRanks) {
  auto ds = toy_set(10, test_pipeline({64, 48}));
  std::multiset<int64_t> seen;
  for (int64_t r = 0; r < 2; ++r) {
    LoaderOptions o;
    o.batch_size = 2;
    o.num_workers = 2;
    o.rank = r;
    o.world_size = 2;
    o.seed = 1;
    DataLoader l(ds, o);
    const auto batches = run_epoch(l, 4);
    for (const auto& b : batches)
      for (const auto& m : b.metas) seen.insert(m.image_id);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 10u);  // disjoint + covering
}

TEST(Loader, WorkerErrorsReachTheCaller) {
  const std::string dir = test::make_toy_dataset(4);
  std::ofstream(dir + "/img/im2.png") << "garbage";
  CocoDatasetOptions o;
  o.ann_file = dir + "/ann.json";
  o.img_dir = dir + "/img";
  auto ds = std::make_shared<const CocoDataset>(o);
  LoaderOptions lo;
  lo.batch_size = 1;
  lo.shuffle = false;
  lo.aspect_ratio_grouping = false;
  lo.num_workers = 2;
  DataLoader l(ds, lo);
  l.set_epoch(0);
  EXPECT_TRUE(l.next().has_value());
  EXPECT_TRUE(l.next().has_value());
  EXPECT_THROW(l.next(), Error);
  EXPECT_TRUE(l.next().has_value());
  EXPECT_FALSE(l.next().has_value());
}

}  // namespace
}  // namespace instseg
