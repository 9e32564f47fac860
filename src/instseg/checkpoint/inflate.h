// Raw DEFLATE decoding (RFC 1951) for zip records that a zip tool compressed
// (torch.save itself stores records uncompressed), without zlib: the core
// libraries depend on LibTorch alone, and the light `instseg` executable on
// nothing. Written for hostile input: every read is bounds-checked against the
// input and against the exact output size the zip directory gives.
#pragma once
#include <cstdint>

namespace instseg {

// Decodes the raw deflate stream in[0, in_n) into exactly out_n bytes at out.
// Throws instseg::Error "deflated data does not inflate to the <out_n> bytes the
// central directory gives (<why>)" on invalid or truncated data, or when the
// stream gives fewer or more bytes.
void inflate_raw(const char* in, uint64_t in_n, char* out, uint64_t out_n);

}  // namespace instseg
