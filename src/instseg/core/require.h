// INSTSEG_REQUIRE(cond, parts...): INSTSEG_CHECK's twin for the libraries the
// light `instseg` executable links (instseg_util, instseg_eval,
// instseg_io_coco). Same call shape, but it throws instseg::Error through
// instseg::fail, so it references no libc10 symbol: INSTSEG_CHECK is
// TORCH_CHECK, and one use of it would pull LibTorch, and its ~0.75 s of
// static initialisation per process, into `instseg eval`.
#pragma once
// instseg::Error and fail(); check.h parses <c10/util/Exception.h> for
// INSTSEG_CHECK, which is a compile-time dependency only (nothing of it is
// called from here).
#include "instseg/core/check.h"

#define INSTSEG_REQUIRE(cond, ...)                \
  do {                                            \
    if (!(cond)) ::instseg::fail(__VA_ARGS__);    \
  } while (0)
