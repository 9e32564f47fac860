#include "instseg/config/build_model.h"

#include "instseg/config/build_backbone.h"
#include "instseg/config/layer_cfg.h"

namespace instseg {
namespace {

DiceLossOptions dice_from(ConfigReader r, DiceLossOptions o) {
  r.expect_type({"DiceLoss"});
  o.use_sigmoid = r.get<bool>("use_sigmoid", o.use_sigmoid);
  o.activate = r.get<bool>("activate", o.activate);
  o.reduction = r.get<std::string>("reduction", o.reduction);
  o.naive_dice = r.get<bool>("naive_dice", o.naive_dice);
  o.loss_weight = r.get<double>("loss_weight", o.loss_weight);
  o.eps = r.get<double>("eps", o.eps);
  if (!o.use_sigmoid) r.fail_key("use_sigmoid", "only the sigmoid DiceLoss is implemented");
  return o;
}

FocalLossOptions focal_from(ConfigReader r, FocalLossOptions o) {
  r.expect_type({"FocalLoss"});
  if (!r.get<bool>("use_sigmoid", true)) r.fail_key("use_sigmoid", "only the sigmoid FocalLoss is implemented");
  o.gamma = r.get<double>("gamma", o.gamma);
  o.alpha = r.get<double>("alpha", o.alpha);
  o.reduction = r.get<std::string>("reduction", o.reduction);
  o.loss_weight = r.get<double>("loss_weight", o.loss_weight);
  r.ignore({"activated"});
  return o;
}

double simple_loss_weight(ConfigReader r, std::initializer_list<const char*> types, double fallback) {
  r.expect_type(types);
  r.ignore({"reduction", "eps"});
  return r.get<double>("loss_weight", fallback);
}

SOLOv2TestOptions solov2_test_from(ConfigReader r, SOLOv2TestOptions o) {
  o.nms_pre = r.get<int64_t>("nms_pre", o.nms_pre);
  o.score_thr = r.get<double>("score_thr", o.score_thr);
  o.mask_thr = r.get<double>("mask_thr", o.mask_thr);
  o.filter_thr = r.get<double>("filter_thr", o.filter_thr);
  o.kernel = r.get<std::string>("kernel", o.kernel);
  if (o.kernel != "gaussian" && o.kernel != "linear")
    r.fail_key("kernel", "must be 'gaussian' or 'linear', got '", o.kernel, "'");
  o.sigma = r.get<double>("sigma", o.sigma);
  o.max_per_img = r.get<int64_t>("max_per_img", o.max_per_img);
  return o;
}

// All entries of a per-stage list must be the same dict: instseg builds one
// options struct for every stage (mmdet's configs repeat one dict 6 times).
std::vector<ConfigReader> same_stage_dicts(ConfigReader& r, const std::string& key, int num_stages) {
  const ConfigNode* node = r.find(key);
  if (!node) r.fail_key(key, "is required");
  if (node->is_object()) {
    std::vector<ConfigReader> one;
    one.push_back(r.child(key));
    return one;
  }
  auto list = r.children(key);
  if (static_cast<int>(list.size()) != num_stages)
    r.fail_key(key, "needs num_stages (", num_stages, ") entries, got ", list.size());
  for (size_t i = 1; i < list.size(); ++i)
    if (list[i].node() != list[0].node())
      r.fail_key(key, "entry ", i, " differs from entry 0: instseg builds identical stages");
  return list;
}

MultiLevelRoIAlignOptions roi_extractor_from(ConfigReader r, MultiLevelRoIAlignOptions o) {
  r.expect_type({"SingleRoIExtractor"});
  auto layer = r.child("roi_layer");
  layer.expect_type({"RoIAlign", "RoIAlignV2"});
  o.output_size = layer.get<int64_t>("output_size", o.output_size);
  o.sampling_ratio = layer.get<int64_t>("sampling_ratio", o.sampling_ratio);
  o.aligned = layer.get<bool>("aligned", true);
  layer.ignore({"pool_mode", "use_torchvision"});
  r.get<int64_t>("out_channels");
  o.strides.clear();
  for (auto s : r.get<std::vector<double>>("featmap_strides")) o.strides.push_back(s);
  o.finest_scale = r.get<double>("finest_scale", o.finest_scale);
  return o;
}

DynamicConvOptions dynamic_conv_from(ConfigReader r, DynamicConvOptions o) {
  r.expect_type({"DynamicConv"});
  o.in_channels = r.get<int64_t>("in_channels", o.in_channels);
  o.feat_channels = r.get<int64_t>("feat_channels", o.feat_channels);
  o.out_channels = r.get_optional<int64_t>("out_channels").value_or(o.in_channels);
  o.input_feat_shape = r.get<int64_t>("input_feat_shape", o.input_feat_shape);
  o.with_proj = r.get<bool>("with_proj", o.with_proj);
  if (act_cfg_from(r, "act_cfg", "relu") != "relu") r.fail_key("act_cfg", "only ReLU is implemented");
  auto norm = r.child_optional("norm_cfg");
  if (norm) {
    norm->expect_type({"LN"});
  }
  r.ignore({"init_cfg"});
  return o;
}

}  // namespace

PreprocessOptions preprocess_options_from(ConfigReader& r) {
  r.expect_type({"DetDataPreprocessor"});
  PreprocessOptions o;
  o.mean = r.get<std::vector<double>>("mean", o.mean);
  o.std = r.get<std::vector<double>>("std", o.std);
  if (o.mean.size() != 3 || o.std.size() != 3) r.fail_key("mean", "mean and std need 3 values");
  o.bgr_to_rgb = r.get<bool>("bgr_to_rgb", false);  // mmdet's default is False
  o.pad_size_divisor = r.get<int64_t>("pad_size_divisor", 1);
  o.pad_value = r.get<double>("pad_value", 0.0);
  o.pad_mask = r.get<bool>("pad_mask", false);
  r.get<double>("mask_pad_value", 0.0);
  r.get<bool>("pad_seg", false);
  r.get<bool>("rgb_to_bgr", false);
  r.get<bool>("boxtype2tensor", true);
  if (r.has_value("batch_augments")) r.fail_key("batch_augments", "batch augments are not implemented");
  return o;
}

SOLOv2Options solov2_options_from(ConfigReader& m) {
  SOLOv2Options o;
  {
    auto b = m.child("backbone");
    o.backbone = backbone_spec_from(b);
    auto n = m.child("neck");
    o.neck = fpn_options_from(n);
  }
  auto h = m.child("mask_head");
  h.expect_type({"SOLOV2Head"});
  auto& ho = o.mask_head;
  ho.num_classes = h.get<int64_t>("num_classes");
  ho.in_channels = h.get<int64_t>("in_channels", ho.in_channels);
  ho.feat_channels = h.get<int64_t>("feat_channels", ho.feat_channels);
  ho.stacked_convs = h.get<int>("stacked_convs", ho.stacked_convs);
  ho.strides = h.get<std::vector<int64_t>>("strides", ho.strides);
  if (auto sr = h.get_optional<std::vector<std::vector<double>>>("scale_ranges")) {
    ho.scale_ranges.clear();
    for (const auto& pr : *sr) {
      if (pr.size() != 2) h.fail_key("scale_ranges", "each range needs [lower, upper]");
      ho.scale_ranges.emplace_back(pr[0], pr[1]);
    }
  }
  ho.pos_scale = h.get<double>("pos_scale", ho.pos_scale);
  ho.num_grids = h.get<std::vector<int64_t>>("num_grids", ho.num_grids);
  ho.cls_down_index = h.get<int>("cls_down_index", ho.cls_down_index);
  ho.dynamic_conv_size = h.get<int64_t>("dynamic_conv_size", ho.dynamic_conv_size);
  if (ho.strides.size() != ho.num_grids.size() || ho.scale_ranges.size() != ho.num_grids.size())
    h.fail_key("num_grids", "strides, scale_ranges and num_grids need the same length");
  NormCfg norm = norm_cfg_from(h, "norm_cfg", NormCfg{"GN", 32, true});
  ho.norm_type = norm.type;
  ho.num_groups = norm.num_groups;
  ho.norm_requires_grad = norm.requires_grad;
  {
    const ConvCfg dcn = conv_cfg_from(h, "dcn_cfg", ConvCfg{});
    ho.dcn_type = dcn.type;
    ho.dcn_deform_groups = dcn.deform_groups;
    ho.dcn_apply_to_all_conv = h.get<bool>("dcn_apply_to_all_conv", ho.dcn_apply_to_all_conv);
  }
  {
    auto mf = h.child("mask_feature_head");
    auto& mo = ho.mask_feature_head;
    mf.ignore({"type"});
    mo.in_channels = ho.in_channels;  // SOLOV2Head overrides it with its own in_channels
    mf.get<int64_t>("in_channels", mo.in_channels);
    mo.feat_channels = mf.get<int64_t>("feat_channels", mo.feat_channels);
    mo.start_level = mf.get<int>("start_level", mo.start_level);
    mo.end_level = mf.get<int>("end_level", mo.end_level);
    mo.out_channels = mf.get<int64_t>("out_channels", mo.out_channels);
    mo.mask_stride = mf.get<int64_t>("mask_stride", mo.mask_stride);
    NormCfg mn = norm_cfg_from(mf, "norm_cfg", NormCfg{"GN", 32, true});
    mo.norm_type = mn.type;
    mo.num_groups = mn.num_groups;
    mo.norm_requires_grad = mn.requires_grad;
    const ConvCfg mc = conv_cfg_from(mf, "conv_cfg", ConvCfg{});
    mo.conv_type = mc.type;
    mo.deform_groups = mc.deform_groups;
    read_init_cfg(mf);
  }
  if (auto lm = h.child_optional("loss_mask")) ho.loss_mask = dice_from(*lm, ho.loss_mask);
  if (auto lc = h.child_optional("loss_cls")) ho.loss_cls = focal_from(*lc, ho.loss_cls);
  // mmdet passes the detector's test_cfg into the head; either place is accepted.
  if (auto tc = h.child_optional("test_cfg")) ho.test_cfg = solov2_test_from(*tc, ho.test_cfg);
  if (auto tc = m.child_optional("test_cfg")) ho.test_cfg = solov2_test_from(*tc, ho.test_cfg);
  h.ignore({"train_cfg"});
  m.ignore({"train_cfg"});
  read_init_cfg(h);
  return o;
}

QueryInstOptions queryinst_options_from(ConfigReader& m, bool with_mask) {
  QueryInstOptions o;
  {
    auto b = m.child("backbone");
    o.backbone = backbone_spec_from(b);
    auto n = m.child("neck");
    o.neck = fpn_options_from(n);
  }
  {
    auto rpn = m.child("rpn_head");
    rpn.expect_type({"EmbeddingRPNHead"});
    o.rpn_head.num_proposals = rpn.get<int64_t>("num_proposals", o.rpn_head.num_proposals);
    o.rpn_head.proposal_feature_channel =
        rpn.get<int64_t>("proposal_feature_channel", o.rpn_head.proposal_feature_channel);
    read_init_cfg(rpn);
  }
  auto r = m.child("roi_head");
  r.expect_type({"SparseRoIHead"});
  auto& ro = o.roi_head;
  ro.with_mask = with_mask;
  ro.num_stages = r.get<int>("num_stages", ro.num_stages);
  ro.stage_loss_weights = r.get<std::vector<double>>("stage_loss_weights", ro.stage_loss_weights);
  if (static_cast<int>(ro.stage_loss_weights.size()) != ro.num_stages)
    r.fail_key("stage_loss_weights", "needs num_stages (", ro.num_stages, ") entries");
  r.get<int64_t>("proposal_feature_channel", o.rpn_head.proposal_feature_channel);
  ro.bbox_roi = roi_extractor_from(r.child("bbox_roi_extractor"), ro.bbox_roi);
  {
    auto heads = same_stage_dicts(r, "bbox_head", ro.num_stages);
    auto& h = heads[0];
    h.expect_type({"DIIHead"});
    auto& bo = ro.bbox_head;
    bo.num_classes = h.get<int64_t>("num_classes", bo.num_classes);
    bo.num_ffn_fcs = h.get<int64_t>("num_ffn_fcs", bo.num_ffn_fcs);
    bo.num_heads = h.get<int64_t>("num_heads", bo.num_heads);
    bo.num_cls_fcs = h.get<int64_t>("num_cls_fcs", bo.num_cls_fcs);
    bo.num_reg_fcs = h.get<int64_t>("num_reg_fcs", bo.num_reg_fcs);
    bo.feedforward_channels = h.get<int64_t>("feedforward_channels", bo.feedforward_channels);
    bo.in_channels = h.get<int64_t>("in_channels", bo.in_channels);
    if (h.get<double>("dropout", 0.0) != 0.0) h.fail_key("dropout", "only dropout 0.0 is implemented");
    if (act_cfg_from(h, "ffn_act_cfg", "relu") != "relu") h.fail_key("ffn_act_cfg", "only ReLU is implemented");
    if (auto dc = h.child_optional("dynamic_conv_cfg")) bo.dynamic_conv = dynamic_conv_from(*dc, bo.dynamic_conv);
    if (auto l = h.child_optional("loss_bbox")) ro.loss_bbox_weight = simple_loss_weight(*l, {"L1Loss"}, ro.loss_bbox_weight);
    if (auto l = h.child_optional("loss_iou")) ro.loss_iou_weight = simple_loss_weight(*l, {"GIoULoss"}, ro.loss_iou_weight);
    if (auto l = h.child_optional("loss_cls")) {
      FocalLossOptions f = focal_from(*l, FocalLossOptions{});
      ro.loss_cls_weight = f.loss_weight;
      ro.focal_gamma = f.gamma;
      ro.focal_alpha = f.alpha;
    }
    if (auto c = h.child_optional("bbox_coder")) {
      c->expect_type({"DeltaXYWHBBoxCoder"});
      if (c->get<bool>("clip_border", true)) c->fail_key("clip_border", "QueryInst decodes with clip_border=False");
      ro.bbox_coder.means = c->get<std::vector<double>>("target_means", ro.bbox_coder.means);
      ro.bbox_coder.stds = c->get<std::vector<double>>("target_stds", ro.bbox_coder.stds);
      c->ignore({"add_ctr_clamp", "ctr_clamp", "use_box_type"});
    }
    h.ignore({"init_cfg", "reg_class_agnostic", "reg_decoded_bbox", "reg_predictor_cfg", "cls_predictor_cfg"});
    for (size_t i = 1; i < heads.size(); ++i) heads[i].ignore(heads[i].keys());
  }
  if (with_mask) {
    ro.mask_roi = roi_extractor_from(r.child("mask_roi_extractor"), ro.mask_roi);
    auto heads = same_stage_dicts(r, "mask_head", ro.num_stages);
    auto& h = heads[0];
    h.expect_type({"DynamicMaskHead"});
    auto& mo = ro.mask_head;
    mo.num_convs = h.get<int64_t>("num_convs", mo.num_convs);
    mo.roi_feat_size = h.get<int64_t>("roi_feat_size", mo.roi_feat_size);
    mo.in_channels = h.get<int64_t>("in_channels", mo.in_channels);
    mo.conv_kernel_size = h.get<int64_t>("conv_kernel_size", mo.conv_kernel_size);
    mo.conv_out_channels = h.get<int64_t>("conv_out_channels", mo.conv_out_channels);
    mo.num_classes = h.get<int64_t>("num_classes", mo.num_classes);
    if (h.get<bool>("class_agnostic", false)) h.fail_key("class_agnostic", "only per-class masks are implemented");
    NormCfg norm = norm_cfg_from(h, "norm_cfg", NormCfg{"BN", 32, true});
    if (norm.type != "BN") h.fail_key("norm_cfg", "DynamicMaskHead supports BN only");
    mo.norm = norm.type;
    if (auto up = h.child_optional("upsample_cfg")) {
      up->expect_type({"deconv"});
      if (up->get<int64_t>("scale_factor", 2) != 2) up->fail_key("scale_factor", "only 2 is implemented");
    }
    if (auto dc = h.child_optional("dynamic_conv_cfg")) mo.dynamic_conv = dynamic_conv_from(*dc, mo.dynamic_conv);
    if (auto l = h.child_optional("loss_mask")) {
      DiceLossOptions d = dice_from(*l, DiceLossOptions{});
      ro.loss_mask_weight = d.loss_weight;
      ro.dice_eps = d.eps;
    }
    h.ignore({"init_cfg", "conv_cfg", "predictor_cfg", "scale_factor"});
    for (size_t i = 1; i < heads.size(); ++i) heads[i].ignore(heads[i].keys());
  }
  // train_cfg: inside roi_head (mmdet copies it there) and/or at model level (rcnn list).
  auto read_train = [&](ConfigReader& list_owner, const std::string& key) {
    auto stages = same_stage_dicts(list_owner, key, ro.num_stages);
    auto& t = stages[0];
    auto a = t.child("assigner");
    a.expect_type({"HungarianAssigner"});
    for (auto& c : a.children("match_costs")) {
      std::string type = c.expect_type({"FocalLossCost", "BBoxL1Cost", "IoUCost"});
      double w = c.get<double>("weight", 1.0);
      if (type == "FocalLossCost") {
        ro.assigner.cls_cost.weight = w;
        ro.assigner.cls_cost.alpha = c.get<double>("alpha", ro.assigner.cls_cost.alpha);
        ro.assigner.cls_cost.gamma = c.get<double>("gamma", ro.assigner.cls_cost.gamma);
        ro.assigner.cls_cost.eps = c.get<double>("eps", ro.assigner.cls_cost.eps);
        c.ignore({"binary_input"});
      } else if (type == "BBoxL1Cost") {
        ro.assigner.l1_weight = w;
        if (c.get<std::string>("box_format", "xyxy") != "xyxy") c.fail_key("box_format", "only xyxy is implemented");
      } else {
        ro.assigner.giou_weight = w;
        if (c.get<std::string>("iou_mode", "giou") != "giou") c.fail_key("iou_mode", "only giou is implemented");
      }
    }
    t.child("sampler").expect_type({"PseudoSampler"});
    t.get<double>("pos_weight", 1.0);
    ro.mask_size = t.get<int64_t>("mask_size", ro.mask_size);
    for (size_t i = 1; i < stages.size(); ++i) stages[i].ignore(stages[i].keys());
  };
  if (r.has_value("train_cfg")) read_train(r, "train_cfg");
  if (auto tc = m.child_optional("train_cfg")) {
    tc->get_optional<ConfigNode>("rpn");
    if (tc->has_value("rcnn")) read_train(*tc, "rcnn");
  }
  auto read_test = [&](ConfigReader t) {
    ro.max_per_img = t.get<int64_t>("max_per_img", ro.max_per_img);
    ro.mask_thr_binary = t.get<double>("mask_thr_binary", ro.mask_thr_binary);
  };
  if (auto tc = r.child_optional("test_cfg")) read_test(*tc);
  if (auto tc = m.child_optional("test_cfg")) {
    tc->get_optional<ConfigNode>("rpn");
    if (auto rc = tc->child_optional("rcnn")) read_test(*rc);
  }
  read_init_cfg(r);
  return o;
}

ModelSpec model_spec_from(const ConfigNode& root) {
  if (!root.is_object() || !root.contains("model"))
    fail("config: no 'model' section (an mmdetection config dump or an instseg YAML config is expected)");
  ConfigReader m(root["model"], "model");
  std::string type = m.expect_type({"SOLOv2", "QueryInst", "SparseRCNN"});
  ModelSpec spec;
  if (auto dp = m.child_optional("data_preprocessor")) spec.preprocess = preprocess_options_from(*dp);
  if (type == "SOLOv2") {
    spec.kind = ModelKind::solov2;
    spec.solov2 = solov2_options_from(m);
  } else {
    spec.kind = ModelKind::queryinst;
    spec.queryinst = queryinst_options_from(m, type == "QueryInst");
  }
  read_init_cfg(m);
  m.finish();
  return spec;
}

}  // namespace instseg
