#include "instseg/checkpoint/dtype.h"

#include "instseg/core/require.h"

#include <unordered_map>

namespace instseg {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::boolean: return "bool";
    case DType::uint8: return "uint8";
    case DType::int8: return "int8";
    case DType::int16: return "int16";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::complex64: return "complex64";
    case DType::complex128: return "complex128";
  }
  return "?";
}

size_t element_size(DType t) {
  switch (t) {
    case DType::boolean:
    case DType::uint8:
    case DType::int8: return 1;
    case DType::float16:
    case DType::bfloat16:
    case DType::int16: return 2;
    case DType::float32:
    case DType::int32: return 4;
    case DType::float64:
    case DType::int64:
    case DType::complex64: return 8;
    case DType::complex128: return 16;
  }
  return 1;
}

DType storage_dtype(const std::string& class_name) {
  std::string n = class_name;
  if (n.rfind("torch.", 0) == 0) n = n.substr(6);
  static const std::unordered_map<std::string, DType> table = {
      {"FloatStorage", DType::float32},   {"DoubleStorage", DType::float64}, {"HalfStorage", DType::float16},
      {"BFloat16Storage", DType::bfloat16}, {"BoolStorage", DType::boolean}, {"ByteStorage", DType::uint8},
      {"CharStorage", DType::int8},       {"ShortStorage", DType::int16},    {"IntStorage", DType::int32},
      {"LongStorage", DType::int64},      {"ComplexFloatStorage", DType::complex64},
      {"ComplexDoubleStorage", DType::complex128}, {"UntypedStorage", DType::uint8}};
  auto it = table.find(n);
  if (it == table.end()) fail("unsupported storage type ", class_name);
  return it->second;
}

const char* storage_class_name(DType t) {
  switch (t) {
    case DType::float32: return "FloatStorage";
    case DType::float64: return "DoubleStorage";
    case DType::float16: return "HalfStorage";
    case DType::bfloat16: return "BFloat16Storage";
    case DType::boolean: return "BoolStorage";
    case DType::uint8: return "ByteStorage";
    case DType::int8: return "CharStorage";
    case DType::int16: return "ShortStorage";
    case DType::int32: return "IntStorage";
    case DType::int64: return "LongStorage";
    case DType::complex64: return "ComplexFloatStorage";
    case DType::complex128: return "ComplexDoubleStorage";
  }
  return "?";
}

DType torch_dtype(const std::string& dotted_name) {
  static const std::unordered_map<std::string, DType> table = {
      {"torch.float32", DType::float32},   {"torch.float", DType::float32},    {"torch.float64", DType::float64},
      {"torch.double", DType::float64},    {"torch.float16", DType::float16},  {"torch.half", DType::float16},
      {"torch.bfloat16", DType::bfloat16}, {"torch.bool", DType::boolean},     {"torch.uint8", DType::uint8},
      {"torch.int8", DType::int8},         {"torch.int16", DType::int16},      {"torch.short", DType::int16},
      {"torch.int32", DType::int32},       {"torch.int", DType::int32},        {"torch.int64", DType::int64},
      {"torch.long", DType::int64},        {"torch.complex64", DType::complex64},
      {"torch.complex128", DType::complex128}};
  auto it = table.find(dotted_name);
  if (it == table.end()) fail("unsupported tensor dtype ", dotted_name);
  return it->second;
}

}  // namespace instseg
