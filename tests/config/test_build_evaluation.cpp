// build_evaluation_set: the config's val/test dataloader + evaluator as the
// val and test loops use them (every image once, file order, no GT loaded).
#include "instseg/config/build_evaluation.h"
#include "instseg/config/config_tree.h"
#include "instseg/config/overrides.h"

#include "common/test_util.h"

#include <gtest/gtest.h>

#include <set>

namespace instseg {
namespace {

DataloaderSpec nuclei_val(const ConfigNode& cfg) { return dataloader_spec_from(cfg, "val_dataloader"); }

ConfigNode nuclei_config() {
  // The bundled nuclei set (data/nuclei, 15 val images); paths relative to the source tree.
  const std::string src = INSTSEG_SOURCE_DIR;
  return load_config_with_overrides(src + "/configs/solov2/solov2-light_r18_fpn_nuclei.yaml",
                                    {"val_dataloader.dataset.data_root=" + src + "/data/nuclei/",
                                     "val_evaluator.ann_file=" + src + "/data/nuclei/annotations/val.json"});
}

TEST(BuildEvaluation, EveryImageOnceInFileOrderWithoutGt) {
  const ConfigNode cfg = nuclei_config();
  CollateOptions collate;
  EvaluationSetOptions o;
  o.batch_size = 4;
  const EvaluationSet set = build_evaluation_set(nuclei_val(cfg), evaluator_spec_from(cfg, "val_evaluator"),
                                                 collate, o);
  ASSERT_EQ(set.dataset->size(), 15);
  EXPECT_EQ(set.gt_file, std::string(INSTSEG_SOURCE_DIR) + "/data/nuclei/annotations/val.json");
  EXPECT_EQ(set.source->batches_per_epoch(), 4);  // 4 + 4 + 4 + 3, nothing dropped
  std::vector<int64_t> ids;
  set.source->start_epoch(0);
  while (auto b = set.source->next()) {
    EXPECT_TRUE(b->gts.empty());  // the GT is the evaluator's ann_file
    for (const auto& m : b->metas) ids.push_back(m.image_id);
  }
  ASSERT_EQ(ids.size(), 15u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], static_cast<int64_t>(i) + 1) << "file order";
}

TEST(BuildEvaluation, RanksShareTheImages) {
  const ConfigNode cfg = nuclei_config();
  std::set<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    EvaluationSetOptions o;
    o.rank = rank;
    o.world_size = 2;
    const EvaluationSet set = build_evaluation_set(nuclei_val(cfg), evaluator_spec_from(cfg, "val_evaluator"),
                                                   CollateOptions{}, o);
    set.source->start_epoch(0);
    int64_t n = 0;
    while (auto b = set.source->next())
      for (const auto& m : b->metas) seen.insert(m.image_id), ++n;
    EXPECT_EQ(n, 8) << "rank " << rank << ": ceil(15 / 2), the sampler pads the last rank";
  }
  EXPECT_EQ(seen.size(), 15u);
}

}  // namespace
}  // namespace instseg
