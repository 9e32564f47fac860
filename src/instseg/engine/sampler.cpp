#include "instseg/engine/sampler.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace instseg {

std::vector<int64_t> sampler_indices(int64_t n, int64_t epoch, int rank, int world,
                                     const SamplerOptions& o) {
  INSTSEG_CHECK(n >= 0, "sampler: negative dataset size");
  INSTSEG_CHECK(world >= 1 && rank >= 0 && rank < world, "sampler: bad rank ", rank, " of ", world);
  std::vector<int64_t> order(static_cast<size_t>(n));
  if (o.shuffle && n > 0) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed + epoch));
    at::Tensor perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
    auto a = perm.accessor<int64_t, 1>();
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = a[i];
  } else {
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  }
  const int64_t total = o.round_up ? (n + world - 1) / world * world : n / world * world;
  std::vector<int64_t> out;
  for (int64_t i = rank; i < total; i += world)
    out.push_back(order[static_cast<size_t>(i % std::max<int64_t>(n, 1))]);
  return out;
}

}  // namespace instseg
