// The element types a torch.save file can hold, on our own enum so that the
// LibTorch-free reader (`instseg inspect` in the light `instseg` executable)
// can name them; checkpoint/tensor_value.h maps them to at::ScalarType.
#pragma once
#include <cstddef>
#include <string>

namespace instseg {

enum class DType {
  float32,
  float64,
  float16,
  bfloat16,
  boolean,
  uint8,
  int8,
  int16,
  int32,
  int64,
  complex64,
  complex128,
};

// Python's name: "float32", "bfloat16", "bool", "int64", ...
const char* dtype_name(DType t);
// Bytes per element.
size_t element_size(DType t);

// The dtype a torch storage class name stands for ("FloatStorage", "torch.HalfStorage",
// "BFloat16Storage", "UntypedStorage" = uint8, ...); throws instseg::Error on unknown names.
DType storage_dtype(const std::string& class_name);
// The reverse, for the writer: float32 -> "FloatStorage".
const char* storage_class_name(DType t);
// A torch dtype global ("torch.float32", "torch.half", ...), as _rebuild_tensor_v3 passes it;
// throws instseg::Error on unknown names.
DType torch_dtype(const std::string& dotted_name);

}  // namespace instseg
