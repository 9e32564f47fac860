// jemalloc's compiled-in options, linked into instseg's executables only when
// they are built with -DINSTSEG_ALLOCATOR=jemalloc (cmake/InstsegAllocator.cmake).
// $MALLOC_CONF, read after this string, overrides any of them.
//
// dirty_decay_ms:-1, muzzy_decay_ms:-1 — never hand freed pages back to the OS.
// With jemalloc 5.3's defaults (10 s decay, plus an "oversize" arena that
// purges allocations above 8 MiB at once) LibTorch's activation buffers are
// purged while the model still runs and fault in again: 4.5 million minor
// faults against glibc's 0.9 million on the same predict, 0.12 million with
// these options (docs/performance.md, "Allocator"). The process keeps its
// peak resident size until it exits, which a CLI run does soon anyway.
extern "C" {
// The name is jemalloc's (Debian builds it without a symbol prefix).
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
