#include "instseg/queryinst/embedding_rpn_head.h"

#include "instseg/core/check.h"
#include "instseg/structures/boxes.h"

#include <ATen/ATen.h>

namespace instseg {

EmbeddingRPNHeadImpl::EmbeddingRPNHeadImpl(const EmbeddingRPNHeadOptions& options)
    : options_(options) {
  INSTSEG_CHECK(options_.num_proposals > 0 && options_.proposal_feature_channel > 0,
                "EmbeddingRPNHead: num_proposals and proposal_feature_channel must be > 0");
  init_proposal_bboxes =
      register_module("init_proposal_bboxes", torch::nn::Embedding(options_.num_proposals, 4));
  init_proposal_features = register_module(
      "init_proposal_features",
      torch::nn::Embedding(options_.num_proposals, options_.proposal_feature_channel));
  reset_parameters();
}

void EmbeddingRPNHeadImpl::reset_parameters() {
  torch::NoGradGuard ng;
  init_proposal_bboxes->weight.narrow(1, 0, 2).fill_(0.5);
  init_proposal_bboxes->weight.narrow(1, 2, 2).fill_(1.0);
}

Proposals EmbeddingRPNHeadImpl::forward(const std::vector<std::pair<int64_t, int64_t>>& img_hw) {
  INSTSEG_CHECK(!img_hw.empty(), "EmbeddingRPNHead: no images");
  const auto& w = init_proposal_bboxes->weight;
  std::vector<double> whwh;
  for (const auto& hw : img_hw) {
    whwh.insert(whwh.end(), {static_cast<double>(hw.second), static_cast<double>(hw.first),
                             static_cast<double>(hw.second), static_cast<double>(hw.first)});
  }
  Proposals p;
  const int64_t b = static_cast<int64_t>(img_hw.size());
  p.imgs_whwh = at::tensor(whwh, at::kDouble).to(w.device(), w.scalar_type()).view({b, 1, 4});
  p.bboxes = box_cxcywh_to_xyxy(w.clone()).unsqueeze(0) * p.imgs_whwh;
  auto f = init_proposal_features->weight.clone();
  p.features = f.unsqueeze(0).expand({b, f.size(0), f.size(1)});
  return p;
}

}  // namespace instseg
