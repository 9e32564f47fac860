// LibTorch 1.13 (Debian bookworm) vs 2.x (Debian trixie's 2.6, pip wheels)
// differences, in one place. See ../shared/specs/conventions.md section 6.
// Code elsewhere uses these names instead of #if on versions; the autocast API
// difference is in core/autocast.cpp, c10d's in engine/distributed.cpp through
// the aliases below.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <torch/version.h>

#include <array>
#include <cstdint>
#include <optional>

#if TORCH_VERSION_MAJOR >= 2
#define INSTSEG_TORCH2 1
#else
#define INSTSEG_TORCH2 0
#endif

namespace c10d {
class Backend;
class ProcessGroup;
struct TCPStoreOptions;
}  // namespace c10d

namespace torch::nn {
class Conv2dImpl;
}

namespace instseg {

// c10::optional is its own class in 1.13 and an alias of std::optional in 2.x.
#if INSTSEG_TORCH2
template <typename T>
using optional = std::optional<T>;
inline constexpr auto nullopt = std::nullopt;
#else
}  // namespace instseg
#include <c10/util/Optional.h>
namespace instseg {
template <typename T>
using optional = c10::optional<T>;
inline constexpr auto nullopt = c10::nullopt;
#endif

// The all-pools entry of the CUDA caching allocator's per-pool statistics
// (DeviceStats::allocated_bytes[...]): StatType::AGGREGATE, 0 in every
// version, but the enum moved from c10::cuda::CUDACachingAllocator (1.13) to
// c10::CachingDeviceAllocator (later 2.x releases, trixie's 2.6 among them),
// so neither name compiles everywhere.
inline constexpr size_t kCudaStatAggregate = 0;

// c10d: LibTorch 2.x split ProcessGroup into a front end and per-device
// Backends; ProcessGroupGloo/NCCL derive from c10d::Backend there and from
// c10d::ProcessGroup in 1.13. Both expose the collectives we call.
#if INSTSEG_TORCH2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

// LibTorch 2.x's TCPStoreOptions::useLibUV (default true) picks the libuv
// store backend, which builds without libuv (Debian trixie's 2.6) refuse with
// a c10::Error; 1.13 has only the classic backend. Sets it to false and
// returns true where the option exists; returns false (nothing to change) on
// 1.13. Both backends speak the same protocol, so clients and servers mix.
bool tcpstore_use_classic_backend(c10d::TCPStoreOptions& options);

// at::conv2d, except that on LibTorch 2.x CPU convolutions that oneDNN
// miscomputes run on zero-padded channels: fp32 and bf16 ones whose input
// channels are above 16 and not a multiple of 16 (input and weight padded to
// the next multiple of 16), and bf16 ones (explicit, or fp32 under CPU
// autocast) whose output channels are not a multiple of 16 (weight and bias
// padded, the extra output channels sliced off).
//
// Why: LibTorch 2.6 (Debian trixie, oneDNN 3.7.2, AVX-512 with bf16, no AMX)
// computes them with channel-blocked layouts whose padding it does not zero
// ("src:f32:ap:blocked:aBcd16b" in ONEDNN_VERBOSE): the output is 5-10% off or
// NaN. Measured against float64 (1x1 to 7x7, maps 6x6 to 100x100): fp32 with
// 17..514 input channels; bf16 with 17, 24, 258 input channels (NaN for some)
// and with 1, 27 output channels for every input count (20-80 % off: a nuclei
// model's 1-class classifier, a DCN's 27-channel offset conv, SOLOv2's
// dynamic convolution of K kernels). Exact zeros change no sum, so the padded
// convolution is the convolution, at oneDNN's speed. 1.13 computes these
// exactly and is left alone; grouped convolutions are untouched.
at::Tensor conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                  c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                  int64_t groups);

// The channels instseg::conv2d adds: input channels (`in`) and output
// channels (`out`), 0 when the convolution runs as is.
struct Conv2dPadding {
  int64_t in = 0;
  int64_t out = 0;
};
Conv2dPadding conv2d_padding(const at::Tensor& input, const at::Tensor& weight, int64_t groups);

// Whether instseg::conv2d pads the channels of this convolution (for tests).
bool conv2d_pads_channels(const at::Tensor& input, const at::Tensor& weight, int64_t groups);

// A Conv2d's padding as {h, w} when it is explicit integer padding with zero
// fill (what conv2d's padding argument expresses); nullopt for "same"/"valid"
// or another padding mode. The options' variant type is c10::variant on 1.13
// and std::variant on 2.x.
std::optional<std::array<int64_t, 2>> conv2d_explicit_padding(const torch::nn::Conv2dImpl& conv);

}  // namespace instseg
