// Weight initialisers with mmengine's semantics (mmengine/model/weight_init.py),
// so that modules built here start from the same distributions as upstream
// when trained from scratch. They act in place, without autograd, on a
// weight tensor and an optional bias tensor (an undefined bias is skipped).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace instseg {

// mmengine kaiming_init: mode "fan_out"|"fan_in", nonlinearity "relu"|"leaky_relu",
// distribution "normal"|"uniform"; bias filled with `bias`.
void kaiming_init(const at::Tensor& weight, const at::Tensor& bias, double a = 0.0,
                  const std::string& mode = "fan_out", const std::string& nonlinearity = "relu",
                  const std::string& distribution = "normal", double bias_value = 0.0);

// mmengine xavier_init: xavier_{uniform,normal}_(weight, gain), bias = bias_value.
void xavier_init(const at::Tensor& weight, const at::Tensor& bias, double gain = 1.0,
                 const std::string& distribution = "uniform", double bias_value = 0.0);

// mmengine normal_init: weight ~ N(mean, std), bias = bias_value.
void normal_init(const at::Tensor& weight, const at::Tensor& bias, double mean = 0.0,
                 double std = 1.0, double bias_value = 0.0);

// mmengine constant_init: weight = val, bias = bias_value.
void constant_init(const at::Tensor& weight, const at::Tensor& bias, double val,
                   double bias_value = 0.0);

// mmengine bias_init_with_prob: the bias whose sigmoid is prior_prob,
// -log((1 - p) / p) (0.01 -> -4.59512).
double bias_init_with_prob(double prior_prob);

}  // namespace instseg
