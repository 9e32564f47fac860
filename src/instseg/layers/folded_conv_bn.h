// A convolution followed by an eval-mode BatchNorm, run as one convolution
// whose weight and bias have the normalisation folded in (inference only):
//
//   BN(conv(x)) = s * (W * x + b - mean) + beta,  s = gamma / sqrt(var + eps)
//               = (s W) * x + (s (b - mean) + beta)
//
// It saves the BatchNorm's pass over the activation (a memory-bound read and
// write of every conv output: ~10 % of a ResNet's CPU time at 1333 x 800) and
// is what mmdetection's `--fuse-conv-bn` (mmcv fuse_conv_bn) does. The fold is
// computed in float64 and rounded once, so it differs from conv -> BN by float
// rounding only.
//
// The folded tensors are plain members, never registered: the module's state
// dict (what checkpoints save and load) is untouched. A fold remembers which
// tensors it was made from and their version counters, so any in-place change
// (an optimizer step, load_state_dict, a move to another device) makes it
// stale and conv_bn() falls back to the unfolded path. BatchNorm's training
// forward updates its running statistics inside the kernel without bumping
// their versions, so the fold also keeps a copy of them and compares values
// (2 x C floats per call: nothing next to the convolution).
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <array>
#include <cstdint>

namespace instseg {

class FoldedConvBn {
 public:
  // Folds `bn`'s running statistics and affine parameters into `conv`
  // (weight [O,I/g,kh,kw], optional bias [O]). A BatchNorm without running
  // statistics (track_running_stats false) always normalises with batch
  // statistics and cannot be folded, nor can a conv with a padding mode other
  // than zeros: then nothing is stored.
  void fold(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn);
  void clear();
  // Whether a fold of exactly these modules' current tensors exists.
  bool current(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn) const;
  const at::Tensor& weight() const { return weight_; }  // [O,I/g,kh,kw], conv's dtype and device
  const at::Tensor& bias() const { return bias_; }      // [O]
  // The folded convolution: x [N,I,H,W] -> [N,O,H',W'] (the conv's geometry).
  at::Tensor forward(const at::Tensor& x) const;

 private:
  struct Source {
    const void* impl = nullptr;  // the tensor (a parameter keeps its TensorImpl when moved: set_data)
    const void* data = nullptr;  // its storage (changes when moved to another device or dtype)
    int64_t version = -1;        // bumped by every in-place write
    bool operator==(const Source& o) const { return impl == o.impl && data == o.data && version == o.version; }
  };
  static Source source_of(const at::Tensor& t);
  static std::array<Source, 6> sources_of(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn);

  std::array<Source, 6> sources_{};
  at::Tensor weight_, bias_;
  at::Tensor running_mean_, running_var_;  // the statistics folded in
  std::array<int64_t, 2> stride_{}, padding_{}, dilation_{};
  int64_t groups_ = 1;
};

// bn(conv(x)), as one convolution when `fold` is current and `bn` is in eval
// mode (running statistics), else as the two modules. x: [N,I,H,W] -> [N,O,H',W'].
at::Tensor conv_bn(torch::nn::Conv2d conv, torch::nn::BatchNorm2d bn, const FoldedConvBn& fold, const at::Tensor& x);

}  // namespace instseg
