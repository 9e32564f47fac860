#include "instseg/solov2/candidate_calibration.h"

#include "instseg/core/check.h"
#include "instseg/solov2/solov2.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace instseg {

double candidate_logit_shift(const std::vector<at::Tensor>& cls_preds, int64_t target, double score_thr,
                             int64_t* applied) {
  INSTSEG_CHECK(target >= 0, "SOLOv2 candidate calibration: the target count must be >= 0, got ", target);
  std::vector<at::Tensor> kept;
  for (const auto& c : cls_preds) {
    at::Tensor s = c.slice(0, 0, 1).select(1, 0).unsqueeze(1).to(at::kFloat);  // [1,1,S,S] logits of class 0
    // The post-processing's 2x2 point NMS (a max commutes with a shift).
    at::Tensor lm = at::max_pool2d(s, {2, 2}, {1, 1}, {1, 1}).slice(2, 0, -1).slice(3, 0, -1);
    kept.push_back(s.masked_select(lm.eq(s)));
  }
  at::Tensor v = std::get<0>(at::cat(kept).sort(0, /*descending=*/true));
  const int64_t n = v.size(0);
  target = std::min(target, n);
  if (applied) *applied = target;
  // Put score_thr between the target-th and the (target+1)-th largest logit.
  const double hi = target > 0 ? v[target - 1].item<double>() : v[0].item<double>() + 1.0;
  const double lo = target < n ? v[target].item<double>() : hi - 1.0;
  const double thr_logit = std::log(score_thr / (1.0 - score_thr));
  return thr_logit - 0.5 * (hi + lo);
}

double calibrate_solov2_candidates(SOLOv2Impl& m, const at::Tensor& images, int64_t target) {
  INSTSEG_CHECK(target >= 0, "SOLOv2 candidate calibration: the target count must be >= 0, got ", target);
  INSTSEG_CHECK(images.dim() == 4 && images.size(0) >= 1,
                "SOLOv2 candidate calibration: expected a [N,3,H,W] batch, got ", images.sizes());
  torch::NoGradGuard ng;
  auto& head = *m.mask_head;
  const auto& o = head.options();
  // Spread class 0's logits over the grid; the other classes keep the 0.01 prior.
  head.conv_cls->weight[0].mul_(20.0);
  const SOLOv2HeadOutputs out = head.forward(m.extract_feat(images.slice(0, 0, 1)));
  const double shift = candidate_logit_shift(out.cls_preds, target, o.test_cfg.score_thr);
  head.conv_cls->bias[0].add_(shift);
  return shift;
}

}  // namespace instseg
