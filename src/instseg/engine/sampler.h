// mmengine's DefaultSampler index order, for data loaders to shard with.
//
// Each epoch shuffles with a generator seeded seed + epoch (torch.randperm on
// a CPU generator, so the order equals Python's for the same seed), pads by
// repeating the order up to a multiple of world_size, and gives rank r the
// indices r, r + world, r + 2 * world, ... Every rank sees the same number of
// samples; with world_size 1 and the same seed the concatenation over ranks is
// the single-process order.
#pragma once
#include <cstdint>
#include <vector>

namespace instseg {

struct SamplerOptions {
  bool shuffle = true;
  int64_t seed = 0;
  bool round_up = true;  // pad to a multiple of world_size (else drop the tail)
};

std::vector<int64_t> sampler_indices(int64_t dataset_size, int64_t epoch, int rank,
                                     int world_size, const SamplerOptions& options = {});

}  // namespace instseg
