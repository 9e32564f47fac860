// The at::Tensor side of PyValue tensors. PyValue (checkpoint/py_value.h) is
// LibTorch-free and holds a tensor's description only; here a tensor value
// gets its at::Tensor: made from one (what the writer pickles), or attached by
// read_pth to every tensor of a file (checkpoint/pth_reader.h).
#pragma once
#include "instseg/checkpoint/dtype.h"
#include "instseg/checkpoint/py_value.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace instseg {

// A tensor value holding `t`, described by its sizes, strides, offset and dtype (no
// storage key). Throws instseg::Error for a dtype torch.save has no storage class for.
PyValue tensor_value(const at::Tensor& t);

// The at::Tensor of a tensor value (a storage value: the 1-D tensor over its window).
// Throws instseg::Error naming the kind when `v` is neither, or when it is only a
// description (read by PthArchive, not by read_pth).
const at::Tensor& as_tensor(const PyValue& v);

// Python's name for a dtype: "float32", "bfloat16", "bool", "int64", ... (LibTorch's for the others).
std::string dtype_name(at::ScalarType t);
// Our dtype of a scalar type; nullopt for those a torch.save file cannot hold here.
std::optional<DType> dtype_of(at::ScalarType t);
at::ScalarType scalar_type(DType t);

}  // namespace instseg
