// Which malloc this process runs on. instseg's executables link jemalloc (or
// tcmalloc) by default (cmake/InstsegAllocator.cmake, docs/performance.md);
// an application that links the libraries keeps its own. Looked up at run
// time, so the answer is also right under LD_PRELOAD.
#pragma once
#include <string>

namespace instseg {

// "jemalloc", "tcmalloc" or "glibc" (the system allocator).
std::string allocator_name();

}  // namespace instseg
