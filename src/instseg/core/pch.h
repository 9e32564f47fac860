// Precompiled header: LibTorch's C++ frontend plus the standard headers used
// everywhere. Source files still include what they use; this only saves time.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>
