// Where the build put engine_test_worker (engine_test_worker.cpp): the child
// process the multi-process and work-dir-lock tests spawn.
#pragma once
#include <string>

namespace instseg::test {

inline std::string engine_test_worker() { return std::string(INSTSEG_BINARY_DIR) + "/tests/engine/engine_test_worker"; }

}  // namespace instseg::test
