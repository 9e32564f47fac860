#include "instseg/layers/weight_init.h"

#include <torch/nn/init.h>

#include <cmath>

#include "instseg/core/check.h"

namespace instseg {
namespace {

void fill_bias(const at::Tensor& bias, double value) {
  if (bias.defined()) bias.fill_(value);
}

}  // namespace

void kaiming_init(const at::Tensor& weight, const at::Tensor& bias, double a,
                  const std::string& mode, const std::string& nonlinearity,
                  const std::string& distribution, double bias_value) {
  INSTSEG_CHECK(weight.defined(), "kaiming_init: undefined weight");
  INSTSEG_CHECK(mode == "fan_out" || mode == "fan_in", "kaiming_init: bad mode '", mode, "'");
  INSTSEG_CHECK(nonlinearity == "relu" || nonlinearity == "leaky_relu",
                "kaiming_init: unsupported nonlinearity '", nonlinearity, "'");
  INSTSEG_CHECK(distribution == "normal" || distribution == "uniform",
                "kaiming_init: bad distribution '", distribution, "'");
  torch::NoGradGuard no_grad;
  const torch::nn::init::FanModeType fan =
      mode == "fan_out" ? torch::nn::init::FanModeType(torch::kFanOut)
                        : torch::nn::init::FanModeType(torch::kFanIn);
  const torch::nn::init::NonlinearityType nl =
      nonlinearity == "relu" ? torch::nn::init::NonlinearityType(torch::kReLU)
                             : torch::nn::init::NonlinearityType(torch::kLeakyReLU);
  if (distribution == "normal") {
    torch::nn::init::kaiming_normal_(weight, a, fan, nl);
  } else {
    torch::nn::init::kaiming_uniform_(weight, a, fan, nl);
  }
  fill_bias(bias, bias_value);
}

void xavier_init(const at::Tensor& weight, const at::Tensor& bias, double gain,
                 const std::string& distribution, double bias_value) {
  INSTSEG_CHECK(weight.defined(), "xavier_init: undefined weight");
  INSTSEG_CHECK(distribution == "normal" || distribution == "uniform",
                "xavier_init: bad distribution '", distribution, "'");
  torch::NoGradGuard no_grad;
  if (distribution == "uniform") {
    torch::nn::init::xavier_uniform_(weight, gain);
  } else {
    torch::nn::init::xavier_normal_(weight, gain);
  }
  fill_bias(bias, bias_value);
}

void normal_init(const at::Tensor& weight, const at::Tensor& bias, double mean, double std,
                 double bias_value) {
  INSTSEG_CHECK(weight.defined(), "normal_init: undefined weight");
  torch::NoGradGuard no_grad;
  weight.normal_(mean, std);
  fill_bias(bias, bias_value);
}

void constant_init(const at::Tensor& weight, const at::Tensor& bias, double val,
                   double bias_value) {
  torch::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(val);
  fill_bias(bias, bias_value);
}

double bias_init_with_prob(double prior_prob) {
  INSTSEG_CHECK(prior_prob > 0.0 && prior_prob < 1.0,
                "bias_init_with_prob: prior_prob must be in (0, 1), got ", prior_prob);
  return -std::log((1.0 - prior_prob) / prior_prob);
}

}  // namespace instseg
