// Shared by the fuzz targets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace instseg::fuzz {

// Writes the input to a file under /dev/shm (one per process and suffix,
// reused, removed at exit) and returns its path: for readers that take a path.
std::string write_input_file(const uint8_t* data, size_t size, const std::string& suffix);

}  // namespace instseg::fuzz
