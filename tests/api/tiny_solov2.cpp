#include "api/tiny_solov2.h"

#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/config/build_model.h"
#include "instseg/config/config_tree.h"
#include "instseg/models/model.h"

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <fstream>

namespace instseg::test {
namespace {

const char* kConfig = R"(model:
  type: SOLOv2
  data_preprocessor:
    type: DetDataPreprocessor
    mean: [123.675, 116.28, 103.53]
    std: [58.395, 57.12, 57.375]
    bgr_to_rgb: true
    pad_mask: true
    pad_size_divisor: 32
  backbone: {type: ResNet, depth: 18, num_stages: 4, out_indices: [0, 1, 2, 3], frozen_stages: 1,
             init_cfg: null, style: pytorch, base_channels: 16}
  neck: {type: FPN, in_channels: [16, 32, 64, 128], out_channels: 64, start_level: 0, num_outs: 5}
  mask_head:
    type: SOLOV2Head
    num_classes: 1
    in_channels: 64
    feat_channels: 64
    stacked_convs: 2
    strides: [8, 8, 16, 32, 32]
    scale_ranges: [[1, 96], [48, 192], [96, 384], [192, 768], [384, 2048]]
    pos_scale: 0.2
    num_grids: [40, 36, 24, 16, 12]
    cls_down_index: 0
    mask_feature_head: {feat_channels: 64, start_level: 0, end_level: 3, out_channels: 64, mask_stride: 4,
                        norm_cfg: {type: GN, num_groups: 32, requires_grad: true}, in_channels: 64}
    loss_mask: {type: DiceLoss, use_sigmoid: true, loss_weight: 3.0}
    loss_cls: {type: FocalLoss, use_sigmoid: true, gamma: 2.0, alpha: 0.25, loss_weight: 1.0}
  test_cfg: {nms_pre: 100, score_thr: 0.1, mask_thr: 0.5, filter_thr: 0.05, kernel: gaussian, sigma: 2.0,
             max_per_img: 20}
test_pipeline:
  - {type: LoadImageFromFile, backend_args: null}
  - {type: Resize, scale: [320, 256], keep_ratio: true}
  - {type: PackDetInputs, meta_keys: [img_id, img_path, ori_shape, img_shape, scale_factor]}
)";

}  // namespace

TinyModel write_tiny_solov2(const std::string& dir, const std::string& extra_yaml) {
  TinyModel t;
  t.config = dir + "/solov2_tiny.yaml";
  std::ofstream(t.config) << kConfig << extra_yaml;
  t.checkpoint = dir + "/solov2_tiny.pth";
  torch::manual_seed(0);
  auto model = build_model(model_spec_from(load_config(t.config)));
  TensorDict sd = module_state_dict(*model);
  {
    torch::NoGradGuard ng;
    sd.at("mask_head.conv_cls.bias").fill_(5.0);
  }
  PyValue dataset_meta = PyValue::dict();
  dataset_meta.dict_set(PyValue::str("classes"), PyValue::tuple({PyValue::str("nucleus")}));
  PyValue meta = PyValue::dict();
  meta.dict_set(PyValue::str("dataset_meta"), dataset_meta);
  save_checkpoint(t.checkpoint, meta, sd);
  return t;
}

std::string nuclei_image() {
  return std::string(INSTSEG_SOURCE_DIR) +
         "/data/nuclei/images/c8e79ff4ac55f4b772057de28e539727b7f4f2a3de73bf7a082a0ace86d609eb.png";
}

}  // namespace instseg::test
