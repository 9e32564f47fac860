// A tiny SOLOv2 (ResNet-18 with 16 base channels, FPN 64, one class
// "nucleus") and a checkpoint of it written by the test: random init with a
// raised classification bias, so that every image gets many confident
// instances. Shared by the API tests.
#pragma once
#include <string>

namespace instseg::test {

struct TinyModel {
  std::string config;      // YAML: model + test_pipeline (Resize 320 x 256, keep ratio)
  std::string checkpoint;  // zip .pth with meta.dataset_meta.classes = ('nucleus',)
};

// Writes <dir>/solov2_tiny.yaml and <dir>/solov2_tiny.pth.
// `extra_yaml`: more top-level sections appended to the config (a test's
// test_dataloader / test_evaluator).
TinyModel write_tiny_solov2(const std::string& dir, const std::string& extra_yaml = "");

// <source>/data/nuclei/images/<name> of a nuclei image (348 x 524).
std::string nuclei_image();

}  // namespace instseg::test
