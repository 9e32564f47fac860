#include "instseg/checkpoint/tensor_value.h"

#include "instseg/core/check.h"

#include <ATen/ATen.h>

namespace instseg {

std::optional<DType> dtype_of(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DType::float32;
    case at::kDouble: return DType::float64;
    case at::kHalf: return DType::float16;
    case at::kBFloat16: return DType::bfloat16;
    case at::kBool: return DType::boolean;
    case at::kByte: return DType::uint8;
    case at::kChar: return DType::int8;
    case at::kShort: return DType::int16;
    case at::kInt: return DType::int32;
    case at::kLong: return DType::int64;
    case at::kComplexFloat: return DType::complex64;
    case at::kComplexDouble: return DType::complex128;
    default: return std::nullopt;
  }
}

at::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::float32: return at::kFloat;
    case DType::float64: return at::kDouble;
    case DType::float16: return at::kHalf;
    case DType::bfloat16: return at::kBFloat16;
    case DType::boolean: return at::kBool;
    case DType::uint8: return at::kByte;
    case DType::int8: return at::kChar;
    case DType::int16: return at::kShort;
    case DType::int32: return at::kInt;
    case DType::int64: return at::kLong;
    case DType::complex64: return at::kComplexFloat;
    case DType::complex128: return at::kComplexDouble;
  }
  return at::kByte;
}

std::string dtype_name(at::ScalarType t) {
  if (const auto d = dtype_of(t)) return dtype_name(*d);
  return std::string(c10::toString(t));
}

PyValue tensor_value(const at::Tensor& t) {
  const auto d = dtype_of(t.scalar_type());
  if (!d) fail("cannot hold tensors of dtype ", dtype_name(t.scalar_type()), " (torch.save has no storage class for it)");
  TensorDesc desc;
  desc.dtype = *d;
  desc.sizes = t.sizes().vec();
  // Layouts without strides (sparse, mkldnn) keep none; the writer refuses them.
  if (t.layout() == at::kStrided) {
    desc.strides = t.strides().vec();
    desc.offset = t.storage_offset();
  }
  PyValue v = PyValue::tensor(std::move(desc));
  v.set_tensor_data(t);
  return v;
}

const at::Tensor& as_tensor(const PyValue& v) {
  if (!(v.is_tensor() || v.is_storage())) fail("expected a tensor, got ", v.kind_name());
  const at::Tensor* t = std::any_cast<at::Tensor>(&v.tensor_data());
  if (!t) fail("tensor without data: a description read without LibTorch (PthArchive), not by read_pth");
  return *t;
}

}  // namespace instseg
