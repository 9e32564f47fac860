#include "instseg/io/image_header.h"

#include "instseg/core/check.h"

#include <cstring>

namespace instseg {
namespace {

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
uint32_t le16(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t le24(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16); }
uint32_t le32(const uint8_t* p) { return le24(p) | (uint32_t{p[3]} << 24); }

void truncated(ImageHeader& h, std::string why) {
  h.truncated = true;
  h.problem = std::move(why);
}

// Chunks: length (4, BE), type (4), data, CRC (4); IHDR first, IEND last.
void probe_png(const uint8_t* d, size_t n, ImageHeader& h) {
  h.format = "png";
  if (n >= 24 && std::memcmp(d + 12, "IHDR", 4) == 0) {
    h.width = be32(d + 16);
    h.height = be32(d + 20);
  }
  size_t p = 8;
  while (true) {
    if (n - p < 12) return truncated(h, str_cat("the data ends at byte ", n, " inside a chunk header (no IEND chunk)"));
    const uint64_t len = be32(d + p);
    const bool iend = std::memcmp(d + p + 4, "IEND", 4) == 0;
    if (len > n - p - 12)
      return truncated(h, str_cat("the chunk at byte ", p, " needs ", len + 12, " bytes, ", n - p, " are left"));
    if (iend) return;
    p += 12 + static_cast<size_t>(len);
  }
}

// Markers: FF xx; SOFn carries the size; after SOS the entropy-coded data runs
// to the next marker that is not a stuffed 00 or a restart marker.
void probe_jpeg(const uint8_t* d, size_t n, ImageHeader& h) {
  h.format = "jpeg";
  size_t p = 2;
  while (true) {
    if (p >= n) return truncated(h, str_cat("the data ends at byte ", n, " before the end-of-image marker"));
    if (d[p] != 0xFF) return;  // not where a marker must be: a corrupt stream, libjpeg's problem to report
    while (p < n && d[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) return truncated(h, str_cat("the data ends at byte ", n, " before the end-of-image marker"));
    const uint8_t m = d[p++];
    if (m == 0xD9) return;                                    // EOI
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0x00) continue;  // no length
    if (n - p < 2) return truncated(h, str_cat("the data ends at byte ", n, " inside a segment header"));
    const size_t len = be16(d + p);
    if (len < 2) return;
    if (len > n - p) return truncated(h, str_cat("the segment at byte ", p - 2, " needs ", len, " bytes, ", n - p,
                                                 " are left (no end-of-image marker)"));
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && len >= 7 && h.width < 0) {
      h.height = be16(d + p + 3);
      h.width = be16(d + p + 5);
    }
    p += len;
    if (m != 0xDA) continue;
    // Entropy-coded data after SOS.
    while (true) {
      const void* ff = std::memchr(d + p, 0xFF, n - p);
      if (!ff) return truncated(h, str_cat("the compressed data ends at byte ", n, " without an end-of-image marker"));
      p = static_cast<size_t>(static_cast<const uint8_t*>(ff) - d);
      if (p + 1 >= n) return truncated(h, str_cat("the compressed data ends at byte ", n, " without an end-of-image marker"));
      const uint8_t next = d[p + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
        p += next == 0xFF ? 1 : 2;
        continue;
      }
      break;  // a marker: back to the segment loop
    }
  }
}

// "P1".."P6" then width and height as decimal text, '#' comments allowed.
void probe_pnm(const uint8_t* d, size_t n, ImageHeader& h) {
  h.format = "pnm";
  size_t p = 2;
  int64_t v[2] = {-1, -1};
  for (int k = 0; k < 2; ++k) {
    while (p < n && (d[p] == ' ' || d[p] == '\t' || d[p] == '\r' || d[p] == '\n' || d[p] == '#')) {
      if (d[p] == '#')
        while (p < n && d[p] != '\n') ++p;
      else
        ++p;
    }
    int64_t x = 0;
    size_t digits = 0;
    while (p < n && d[p] >= '0' && d[p] <= '9' && digits < 12) {
      x = x * 10 + (d[p++] - '0');
      ++digits;
    }
    if (digits == 0) return;
    v[k] = x;
  }
  h.width = v[0];
  h.height = v[1];
}

}  // namespace

ImageHeader probe_image_header(const uint8_t* d, size_t n) {
  ImageHeader h;
  if (d == nullptr) return h;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) {
    probe_png(d, n, h);
  } else if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
    probe_jpeg(d, n, h);
  } else if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    h.format = "bmp";
    const uint32_t hdr = le32(d + 14);
    if (hdr == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
      h.width = le16(d + 18);
      h.height = le16(d + 20);
    } else {
      const int32_t w = static_cast<int32_t>(le32(d + 18)), ht = static_cast<int32_t>(le32(d + 22));
      h.width = w < 0 ? -static_cast<int64_t>(w) : w;
      h.height = ht < 0 ? -static_cast<int64_t>(ht) : ht;  // negative: top-down rows
    }
  } else if (n >= 30 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
    h.format = "webp";
    if (std::memcmp(d + 12, "VP8X", 4) == 0) {
      h.width = int64_t{le24(d + 24)} + 1;
      h.height = int64_t{le24(d + 27)} + 1;
    } else if (std::memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2F) {
      const uint32_t b = le32(d + 21);
      h.width = int64_t{b & 0x3FFF} + 1;
      h.height = int64_t{(b >> 14) & 0x3FFF} + 1;
    } else if (std::memcmp(d + 12, "VP8 ", 4) == 0) {
      h.width = le16(d + 26) & 0x3FFF;
      h.height = le16(d + 28) & 0x3FFF;
    }
  } else if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6') {
    probe_pnm(d, n, h);
  }
  return h;
}

}  // namespace instseg
