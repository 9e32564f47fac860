// LibTorch 1.13 (Debian) vs 2.x (pip wheel) differences, in one place.
// See ../shared/specs/conventions.md section 6. Code elsewhere uses these
// names instead of #if on versions.
#pragma once
#include <torch/version.h>

#include <optional>

#if TORCH_VERSION_MAJOR >= 2
#define INSTSEG_TORCH2 1
#else
#define INSTSEG_TORCH2 0
#endif

namespace instseg {

// c10::optional is its own class in 1.13 and an alias of std::optional in 2.x.
#if INSTSEG_TORCH2
template <typename T>
using optional = std::optional<T>;
inline constexpr auto nullopt = std::nullopt;
#else
}  // namespace instseg
#include <c10/util/Optional.h>
namespace instseg {
template <typename T>
using optional = c10::optional<T>;
inline constexpr auto nullopt = c10::nullopt;
#endif

}  // namespace instseg
