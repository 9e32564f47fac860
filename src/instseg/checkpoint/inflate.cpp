// RFC 1951 decoding, restated plainly: a bit reader, canonical Huffman codes
// decoded one bit at a time (deflated checkpoints are rare; the CRC pass and
// the copy dominate anyway), stored, fixed and dynamic blocks.
#include "instseg/checkpoint/inflate.h"

#include "instseg/core/require.h"

#include <string>

namespace instseg {
namespace {

// Thrown inside the decoder; inflate_raw turns it into the user-facing error.
struct Bad {
  const char* why;
};

class BitReader {
 public:
  BitReader(const unsigned char* p, uint64_t n) : p_(p), n_(n) {}
  // The next `need` (0..16) bits, least significant first (RFC 1951 3.1.1).
  uint32_t bits(int need) {
    while (count_ < need) {
      if (pos_ >= n_) throw Bad{"truncated deflate data"};
      buf_ |= static_cast<uint32_t>(p_[pos_++]) << count_;
      count_ += 8;
    }
    const uint32_t v = buf_ & ((1u << need) - 1u);
    buf_ >>= need;
    count_ -= need;
    return v;
  }
  // Drops the bits left of the current byte (fewer than 8: bits() never reads ahead further).
  void align() { buf_ = 0, count_ = 0; }
  uint64_t pos() const { return pos_; }
  void skip(uint64_t n) { pos_ += n; }
  uint64_t left() const { return n_ - pos_; }
  const unsigned char* here() const { return p_ + pos_; }

 private:
  const unsigned char* p_;
  uint64_t n_, pos_ = 0;
  uint32_t buf_ = 0;
  int count_ = 0;
};

constexpr int kMaxBits = 15;

// A canonical Huffman code: how many codes of each length, and the symbols in
// code order.
struct Huffman {
  uint16_t count[kMaxBits + 1] = {};
  uint16_t symbol[288] = {};
};

// Builds the code from code lengths; an over-subscribed set is invalid. An
// incomplete one is accepted (a lone distance code is legal): decoding an
// unassigned code then fails.
void build(Huffman& h, const uint8_t* lengths, int n) {
  for (int len = 0; len <= kMaxBits; ++len) h.count[len] = 0;
  for (int s = 0; s < n; ++s) ++h.count[lengths[s]];
  int left = 1;
  for (int len = 1; len <= kMaxBits; ++len) {
    left = (left << 1) - h.count[len];
    if (left < 0) throw Bad{"over-subscribed Huffman code"};
  }
  uint16_t offset[kMaxBits + 2] = {};
  for (int len = 1; len <= kMaxBits; ++len) offset[len + 1] = offset[len] + h.count[len];
  for (int s = 0; s < n; ++s)
    if (lengths[s] != 0) h.symbol[offset[lengths[s]]++] = static_cast<uint16_t>(s);
}

int decode(BitReader& in, const Huffman& h) {
  int code = 0, first = 0, index = 0;  // code of this length; first code of this length; its symbol index
  for (int len = 1; len <= kMaxBits; ++len) {
    code |= static_cast<int>(in.bits(1));
    const int count = h.count[len];
    if (code - first < count) return h.symbol[index + (code - first)];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  throw Bad{"invalid Huffman code"};
}

constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                    33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

class Inflater {
 public:
  Inflater(BitReader& in, unsigned char* out, uint64_t out_n) : in_(in), out_(out), out_n_(out_n) {}
  uint64_t produced() const { return pos_; }

  void run() {
    bool last = false;
    while (!last) {
      last = in_.bits(1) != 0;
      switch (in_.bits(2)) {
        case 0: stored(); break;
        case 1: fixed(); break;
        case 2: dynamic(); break;
        default: throw Bad{"invalid block type"};
      }
    }
  }

 private:
  void put(unsigned char c) {
    if (pos_ >= out_n_) throw Bad{"it gives more"};
    out_[pos_++] = c;
  }

  void stored() {
    in_.align();
    if (in_.left() < 4) throw Bad{"truncated deflate data"};
    const unsigned char* h = in_.here();
    const uint32_t len = h[0] | (h[1] << 8), nlen = h[2] | (h[3] << 8);
    if (len != (~nlen & 0xffffu)) throw Bad{"stored block length does not match its complement"};
    in_.skip(4);
    if (in_.left() < len) throw Bad{"truncated deflate data"};
    if (out_n_ - pos_ < len) throw Bad{"it gives more"};
    for (uint32_t i = 0; i < len; ++i) out_[pos_ + i] = in_.here()[i];
    pos_ += len;
    in_.skip(len);
  }

  void codes(const Huffman& lit, const Huffman& dist) {
    for (;;) {
      int sym = decode(in_, lit);
      if (sym < 256) {
        put(static_cast<unsigned char>(sym));
        continue;
      }
      if (sym == 256) return;
      sym -= 257;
      if (sym >= 29) throw Bad{"invalid length code"};
      const uint64_t len = kLengthBase[sym] + in_.bits(kLengthExtra[sym]);
      const int dsym = decode(in_, dist);
      if (dsym >= 30) throw Bad{"invalid distance code"};
      const uint64_t d = kDistBase[dsym] + in_.bits(kDistExtra[dsym]);
      if (d > pos_) throw Bad{"distance too far back"};
      if (out_n_ - pos_ < len) throw Bad{"it gives more"};
      for (uint64_t i = 0; i < len; ++i, ++pos_) out_[pos_] = out_[pos_ - d];  // may overlap: byte by byte
    }
  }

  void fixed() {
    static const Huffman* const tables = [] {
      static Huffman t[2];
      uint8_t len[288];
      for (int s = 0; s < 288; ++s) len[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
      build(t[0], len, 288);
      for (int s = 0; s < 30; ++s) len[s] = 5;
      build(t[1], len, 30);
      return t;
    }();
    codes(tables[0], tables[1]);
  }

  void dynamic() {
    static constexpr uint8_t kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    const int nlen = static_cast<int>(in_.bits(5)) + 257, ndist = static_cast<int>(in_.bits(5)) + 1;
    const int ncode = static_cast<int>(in_.bits(4)) + 4;
    if (nlen > 286 || ndist > 30) throw Bad{"too many length or distance codes"};
    uint8_t lengths[286 + 30] = {};
    for (int i = 0; i < ncode; ++i) lengths[kOrder[i]] = static_cast<uint8_t>(in_.bits(3));
    Huffman lencode;
    build(lencode, lengths, 19);
    int i = 0;
    while (i < nlen + ndist) {
      const int sym = decode(in_, lencode);
      if (sym < 16) {
        lengths[i++] = static_cast<uint8_t>(sym);
        continue;
      }
      uint8_t value = 0;
      int repeat;
      if (sym == 16) {
        if (i == 0) throw Bad{"repeat of a code length with none before it"};
        value = lengths[i - 1];
        repeat = 3 + static_cast<int>(in_.bits(2));
      } else if (sym == 17) {
        repeat = 3 + static_cast<int>(in_.bits(3));
      } else {
        repeat = 11 + static_cast<int>(in_.bits(7));
      }
      if (i + repeat > nlen + ndist) throw Bad{"code lengths run past their count"};
      while (repeat-- > 0) lengths[i++] = value;
    }
    if (lengths[256] == 0) throw Bad{"no end-of-block code"};
    Huffman lit, dist;
    build(lit, lengths, nlen);
    build(dist, lengths + nlen, ndist);
    codes(lit, dist);
  }

  BitReader& in_;
  unsigned char* out_;
  uint64_t out_n_, pos_ = 0;
};

}  // namespace

void inflate_raw(const char* in, uint64_t in_n, char* out, uint64_t out_n) {
  if (out_n == 0) return;  // nothing to produce (as miniz: an empty record is not inflated)
  BitReader bits(reinterpret_cast<const unsigned char*>(in), in_n);
  Inflater inflater(bits, reinterpret_cast<unsigned char*>(out), out_n);
  std::string why;
  try {
    inflater.run();
    if (inflater.produced() != out_n) why = "it gives " + std::to_string(inflater.produced()) + " bytes";
  } catch (const Bad& b) {
    why = b.why;
  }
  if (!why.empty())
    fail("deflated data does not inflate to the ", out_n, " bytes the central directory gives (", why, ")");
}

}  // namespace instseg
