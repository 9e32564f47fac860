#include "instseg/core/allocator.h"

#include <dlfcn.h>

namespace instseg {

std::string allocator_name() {
  // Each allocator exports a control entry point that glibc does not have;
  // dlsym(RTLD_DEFAULT) finds it when that allocator is loaded, whether it
  // was linked or preloaded. (Debian builds jemalloc without a symbol prefix.)
  if (dlsym(RTLD_DEFAULT, "mallctl") != nullptr) return "jemalloc";
  if (dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty") != nullptr) return "tcmalloc";
  return "glibc";
}

}  // namespace instseg
