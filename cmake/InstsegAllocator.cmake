# The malloc linked into every instseg executable (CLI, tests, benchmarks).
#
# Why: LibTorch allocates each activation as one buffer of tens of MB. glibc
# serves buffers above its mmap threshold (at most 32 MiB) with mmap and
# unmaps them on free, so every new activation page-faults in again: one
# 5-image SOLOv2 predict made ~5 million minor faults and spent ~40 % of its
# CPU time in the kernel. tcmalloc keeps freed spans mapped and reuses them,
# and returns memory to the OS gradually (docs/performance.md, "Allocator",
# has the measurements of glibc, glibc tuned, jemalloc and tcmalloc).
#
# Only executables get it: the installed libraries never impose an allocator
# on an application (docs/performance.md says how an application gets the
# same effect). Opt out with -DINSTSEG_ALLOCATOR=system; sanitizer builds
# (-fsanitize in CMAKE_CXX_FLAGS) always use the system allocator, which the
# sanitizers replace themselves.
set(INSTSEG_ALLOCATOR "tcmalloc" CACHE STRING
    "malloc linked into instseg executables: jemalloc, tcmalloc or system")
set_property(CACHE INSTSEG_ALLOCATOR PROPERTY STRINGS tcmalloc jemalloc system)

set(_instseg_alloc "${INSTSEG_ALLOCATOR}")
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize" AND NOT _instseg_alloc STREQUAL "system")
  message(STATUS "instseg: sanitizer flags found, executables use the system allocator")
  set(_instseg_alloc system)
endif()
set(INSTSEG_ALLOCATOR_LIBRARY "")
if(_instseg_alloc STREQUAL "jemalloc")
  find_library(INSTSEG_JEMALLOC_LIBRARY NAMES jemalloc)
  if(INSTSEG_JEMALLOC_LIBRARY)
    set(INSTSEG_ALLOCATOR_LIBRARY ${INSTSEG_JEMALLOC_LIBRARY})
  endif()
elseif(_instseg_alloc STREQUAL "tcmalloc")
  find_library(INSTSEG_TCMALLOC_LIBRARY NAMES tcmalloc_minimal)
  if(INSTSEG_TCMALLOC_LIBRARY)
    set(INSTSEG_ALLOCATOR_LIBRARY ${INSTSEG_TCMALLOC_LIBRARY})
  endif()
elseif(NOT _instseg_alloc STREQUAL "system")
  message(FATAL_ERROR "INSTSEG_ALLOCATOR must be jemalloc, tcmalloc or system, got '${INSTSEG_ALLOCATOR}'")
endif()
if(NOT _instseg_alloc STREQUAL "system" AND NOT INSTSEG_ALLOCATOR_LIBRARY)
  message(WARNING "instseg: ${_instseg_alloc} not found (Debian: libgoogle-perftools-dev / libjemalloc-dev); "
                  "executables use the system allocator")
  set(_instseg_alloc system)
endif()
set(INSTSEG_ALLOCATOR_EFFECTIVE ${_instseg_alloc})
message(STATUS "instseg: executables' allocator: ${INSTSEG_ALLOCATOR_EFFECTIVE}")

# instseg_link_allocator(TARGET): link the chosen allocator into an executable.
# --no-as-needed keeps the library in DT_NEEDED although no symbol is
# referenced by name: the dynamic linker then resolves malloc/free to it for
# the whole process (LibTorch included), as LD_PRELOAD would.
function(instseg_link_allocator target)
  if(INSTSEG_ALLOCATOR_EFFECTIVE STREQUAL "system")
    return()
  endif()
  target_link_libraries(${target} PRIVATE "-Wl,--push-state,--no-as-needed" ${INSTSEG_ALLOCATOR_LIBRARY}
                                          "-Wl,--pop-state")
  if(INSTSEG_ALLOCATOR_EFFECTIVE STREQUAL "jemalloc")
    # jemalloc's compiled-in options (malloc_conf); $MALLOC_CONF still overrides them.
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src/instseg/core/jemalloc_conf.cpp)
  endif()
endfunction()
