// The pipeline's random numbers. Every sample gets its own generator seeded
// from (loader seed, epoch, position), so the content of a batch does not
// depend on which worker thread produced it. Distributions are written out
// (not std::uniform_*_distribution) so sequences are the same with every
// standard library.
#pragma once
#include <cstdint>
#include <random>

namespace instseg {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform integer in [lo, hi] (inclusive), like np.random.randint(lo, hi + 1).
  int64_t randint(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    // Rejection sampling: no modulo bias.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do {
      x = gen_();
    } while (x >= limit);
    return lo + static_cast<int64_t>(x % span);
  }
  // Uniform double in [0, 1).
  double uniform() { return static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0); }

  // splitmix64 finaliser: decorrelates consecutive seeds.
  static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  std::mt19937_64 gen_;
};

}  // namespace instseg
