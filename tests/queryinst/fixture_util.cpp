#include "queryinst/fixture_util.h"

#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>

namespace instseg::test {

QueryInstOptions queryinst_fixture_options() {
  QueryInstOptions o;
  o.backbone.resnet.depth = 18;
  o.backbone.resnet.base_channels = 16;
  o.backbone.resnet.frozen_stages = 1;
  o.backbone.resnet.norm_eval = true;
  o.neck.in_channels = {16, 32, 64, 128};
  o.neck.out_channels = 64;
  o.neck.num_outs = 4;
  o.neck.add_extra_convs = "on_input";
  o.rpn_head.num_proposals = 20;
  o.rpn_head.proposal_feature_channel = 64;
  auto& r = o.roi_head;
  r.bbox_head.num_classes = 3;
  r.bbox_head.in_channels = 64;
  r.bbox_head.feedforward_channels = 128;
  r.bbox_head.dynamic_conv = DynamicConvOptions{64, 16, 64, 7, true};
  r.mask_head.num_classes = 3;
  r.mask_head.in_channels = 64;
  r.mask_head.conv_out_channels = 64;
  r.mask_head.dynamic_conv = DynamicConvOptions{64, 16, 64, 14, false};
  r.max_per_img = 20;
  return o;
}

TensorDict load_queryinst_pt(const std::string& name) {
  const std::string path = shared_path("fixtures/queryinst/" + name);
  std::ifstream f(path, std::ios::binary);
  if (!f.good()) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto d = torch::pickle_load(bytes).toGenericDict();
  TensorDict out;
  for (const auto& kv : d) {
    if (kv.value().isTensor()) out.set(kv.key().toStringRef(), kv.value().toTensor());
  }
  return out;
}

QueryInst load_queryinst_fixture_model() {
  torch::manual_seed(0);
  QueryInst model(queryinst_fixture_options());
  auto sd = load_state_dict(shared_path("fixtures/queryinst/checkpoint.pth"));
  load_state_dict_into(*model, sd, /*strict=*/true);
  model->eval();
  return model;
}

Batch queryinst_fixture_batch(bool with_gt) {
  auto in = load_queryinst_pt("forward_in.pt");
  Batch b;
  b.images = in.at("img");
  ImageMeta m;
  m.img_h = in.at("img_shape")[0][0].item<int64_t>();
  m.img_w = in.at("img_shape")[0][1].item<int64_t>();
  m.ori_h = in.at("ori_shape")[0][0].item<int64_t>();
  m.ori_w = in.at("ori_shape")[0][1].item<int64_t>();
  m.pad_h = b.images.size(2);
  m.pad_w = b.images.size(3);
  m.scale_w = in.at("scale_factor")[0][0].item<double>();
  m.scale_h = in.at("scale_factor")[0][1].item<double>();
  b.metas.push_back(m);
  if (with_gt) {
    auto gt = load_queryinst_pt("forward_gt.pt");
    GtInstances g;
    g.bboxes = gt.at("gt_bboxes.0");
    g.labels = gt.at("gt_labels.0");
    g.masks = gt.at("gt_masks.0");
    b.gts.push_back(g);
  }
  return b;
}

}  // namespace instseg::test
