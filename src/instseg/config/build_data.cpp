#include "instseg/config/build_data.h"

#include <cmath>

#include "instseg/core/log.h"

namespace instseg {
namespace {

// A string key with exactly one supported value (mmdet's default).
void require_value(ConfigReader& r, const std::string& key, const std::string& only, const char* why) {
  const std::string v = r.get<std::string>(key, only);
  if (v != only) r.fail_key(key, "only '", only, "' is supported (", why, "), got '", v, "'");
}

// mmdet scale: an int s -> (s, s), or (w, h).
Scale scale_from(const ConfigNode& v, const std::string& path) {
  if (v.is_number_integer()) {
    const auto s = config_detail::ConfigValue<int64_t>::from(v, path);
    if (s <= 0) fail("config: ", path, ": scale must be positive, got ", s);
    return {s, s};
  }
  const auto wh = config_detail::ConfigValue<std::vector<int64_t>>::from(v, path);
  if (wh.size() != 2) fail("config: ", path, ": a scale is (w, h), got ", wh.size(), " values");
  if (wh[0] <= 0 || wh[1] <= 0) fail("config: ", path, ": scale must be positive, got (", wh[0], ", ", wh[1], ")");
  return {wh[0], wh[1]};
}

std::vector<Scale> scales_from(const ConfigNode& v, const std::string& path) {
  if (!v.is_array() || v.empty()) fail("config: ", path, ": expected a non-empty list of (w, h) scales");
  std::vector<Scale> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(scale_from(v[i], path + "." + std::to_string(i)));
  return out;
}

// Options every mmcv resize transform forwards to Resize.
void resize_common(ConfigReader& r, bool* keep_ratio, bool* clip_object_border) {
  *keep_ratio = r.get<bool>("keep_ratio", false);  // mmcv's default
  *clip_object_border = r.get<bool>("clip_object_border", true);
  require_value(r, "backend", "cv2", "images are resized with OpenCV");
  require_value(r, "interpolation", "bilinear", "only cv2 INTER_LINEAR is implemented");
}

void require_resize_type(ConfigReader& r) {
  const auto t = r.get<std::string>("resize_type", "Resize");
  if (t != "Resize") r.fail_key("resize_type", "only 'Resize' is supported, got '", t, "'");
}

TransformSpec resize_from(ConfigReader& r) {
  ResizeOptions o;
  r.require_null("scale_factor", "resize to a scale instead");
  o.scale = scale_from(r.get<ConfigNode>("scale"), r.key_path("scale"));
  resize_common(r, &o.keep_ratio, &o.clip_object_border);
  return {o};
}

FlipDirection flip_direction_from(ConfigReader& r, const std::string& v) {
  if (v == "horizontal") return FlipDirection::horizontal;
  if (v == "vertical") return FlipDirection::vertical;
  if (v == "diagonal") return FlipDirection::diagonal;
  r.fail_key("direction", "unknown direction '", v, "' (horizontal, vertical, diagonal)");
  return FlipDirection::horizontal;
}

// mmcv RandomFlip: prob is a number or a list (one per direction), direction
// a string or a list of strings.
TransformSpec random_flip_from(ConfigReader& r) {
  RandomFlipOptions o;
  const ConfigNode* p = r.find("prob");
  if (!p || p->is_null()) r.fail_key("prob", "is required (a number in [0, 1] or a list of them)");
  if (const ConfigNode* d = r.find("direction")) {
    o.directions.clear();
    if (d->is_string()) {
      o.directions.push_back(flip_direction_from(r, d->get<std::string>()));
    } else if (d->is_array() && !d->empty()) {
      for (const auto& v : r.get<std::vector<std::string>>("direction"))
        o.directions.push_back(flip_direction_from(r, v));
    } else {
      r.fail_key("direction", "must be a string or a non-empty list of strings");
    }
  }
  if (p->is_array()) {
    o.probs = r.get<std::vector<double>>("prob");
    double sum = 0;
    for (double v : o.probs) {
      if (v < 0 || v > 1) r.fail_key("prob", "each probability must be in [0, 1], got ", v);
      sum += v;
    }
    if (sum > 1 + 1e-9) r.fail_key("prob", "probabilities must sum to at most 1, got ", sum);
    if (o.probs.size() != o.directions.size())
      r.fail_key("prob", "a list of ", o.probs.size(), " probabilities needs as many directions, got ",
                 o.directions.size());
  } else {
    o.prob = r.get<double>("prob");
    if (o.prob < 0 || o.prob > 1) r.fail_key("prob", "must be in [0, 1], got ", o.prob);
  }
  r.require_null("swap_seg_labels", "semantic maps are not loaded");
  return {o};
}

TransformSpec random_choice_resize_from(ConfigReader& r) {
  RandomChoiceResizeOptions o;
  o.scales = scales_from(r.get<ConfigNode>("scales"), r.key_path("scales"));
  require_resize_type(r);
  resize_common(r, &o.keep_ratio, &o.clip_object_border);
  return {o};
}

TransformSpec random_resize_from(ConfigReader& r) {
  RandomResizeOptions o;
  const ConfigNode scale = r.get<ConfigNode>("scale");
  const bool list_of_scales = scale.is_array() && !scale.empty() && scale[0].is_array();
  if (auto rr = r.get_optional<std::vector<double>>("ratio_range")) {
    if (rr->size() != 2 || (*rr)[0] <= 0 || (*rr)[0] > (*rr)[1])
      r.fail_key("ratio_range", "must be (min, max) with 0 < min <= max");
    if (list_of_scales) r.fail_key("scale", "with ratio_range, scale is one (w, h)");
    o.ratio_min = (*rr)[0];
    o.ratio_max = (*rr)[1];
    o.scales = {scale_from(scale, r.key_path("scale"))};
  } else {
    if (!list_of_scales || scale.size() != 2)
      r.fail_key("scale", "without ratio_range, scale is a list of two (w, h) scales (the sampling range)");
    o.scales = scales_from(scale, r.key_path("scale"));
  }
  require_resize_type(r);
  resize_common(r, &o.keep_ratio, &o.clip_object_border);
  return {o};
}

TransformSpec random_crop_from(ConfigReader& r) {
  RandomCropOptions o;
  const auto type = r.get<std::string>("crop_type", "absolute");
  if (type == "absolute") o.crop_type = RandomCropOptions::Type::absolute;
  else if (type == "absolute_range") o.crop_type = RandomCropOptions::Type::absolute_range;
  else if (type == "relative") o.crop_type = RandomCropOptions::Type::relative;
  else if (type == "relative_range") o.crop_type = RandomCropOptions::Type::relative_range;
  else r.fail_key("crop_type", "unknown crop_type '", type, "' (absolute, absolute_range, relative, relative_range)");
  const auto size = r.get<std::vector<double>>("crop_size");
  if (size.size() != 2) r.fail_key("crop_size", "must be (h, w), got ", size.size(), " values");
  o.crop_h = size[0];
  o.crop_w = size[1];
  const bool relative = o.crop_type == RandomCropOptions::Type::relative ||
                        o.crop_type == RandomCropOptions::Type::relative_range;
  if (relative) {
    if (o.crop_h <= 0 || o.crop_h > 1 || o.crop_w <= 0 || o.crop_w > 1)
      r.fail_key("crop_size", "relative sizes must be in (0, 1]");
  } else {
    if (o.crop_h <= 0 || o.crop_w <= 0 || o.crop_h != static_cast<int64_t>(o.crop_h) ||
        o.crop_w != static_cast<int64_t>(o.crop_w))
      r.fail_key("crop_size", "absolute sizes must be positive integers");
    if (o.crop_type == RandomCropOptions::Type::absolute_range && o.crop_h > o.crop_w)
      r.fail_key("crop_size", "absolute_range needs (min, max) with min <= max");
  }
  o.allow_negative_crop = r.get<bool>("allow_negative_crop", false);
  o.recompute_bbox = r.get<bool>("recompute_bbox", false);
  o.bbox_clip_border = r.get<bool>("bbox_clip_border", true);
  return {o};
}

TransformSpec yolox_hsv_from(ConfigReader& r) {
  YOLOXHSVRandomAugOptions o;
  o.hue_delta = r.get<int64_t>("hue_delta", 5);
  o.saturation_delta = r.get<int64_t>("saturation_delta", 30);
  o.value_delta = r.get<int64_t>("value_delta", 30);
  if (o.hue_delta < 0 || o.saturation_delta < 0 || o.value_delta < 0)
    fail("config: ", r.path(), ": YOLOXHSVRandomAug deltas must be >= 0");
  return {o};
}

// One step; nested = inside RandomChoice (transforms only, no loading or packing).
void step_from(ConfigReader& r, bool nested, PipelineSpec* out);

TransformSpec random_choice_from(ConfigReader& r) {
  RandomChoiceOptions o;
  const ConfigNode* bp = r.find("transforms");
  if (!bp) r.fail_key("transforms", "is required (a list of branches)");
  const ConfigNode& branches = *bp;
  if (!branches.is_array() || branches.empty()) r.fail_key("transforms", "must be a non-empty list");
  for (size_t i = 0; i < branches.size(); ++i) {
    const std::string bpath = r.key_path("transforms") + "." + std::to_string(i);
    PipelineSpec branch;
    if (branches[i].is_object()) {
      ConfigReader s(branches[i], bpath);
      step_from(s, true, &branch);
      s.finish();
    } else if (branches[i].is_array()) {
      for (size_t j = 0; j < branches[i].size(); ++j) {
        ConfigReader s(branches[i][j], bpath + "." + std::to_string(j));
        step_from(s, true, &branch);
        s.finish();
      }
    } else {
      fail("config: ", bpath, ": a branch is a transform dict or a list of them");
    }
    o.branches.push_back(std::move(branch.transforms));
  }
  if (auto p = r.get_optional<std::vector<double>>("prob")) {
    if (p->size() != o.branches.size())
      r.fail_key("prob", "needs one probability per branch (", o.branches.size(), "), got ", p->size());
    double sum = 0;
    for (double x : *p) {
      if (x < 0) r.fail_key("prob", "probabilities must be >= 0");
      sum += x;
    }
    if (std::abs(sum - 1.0) > 1e-6) r.fail_key("prob", "probabilities must sum to 1, got ", sum);
    o.probs = *p;
  }
  return {o};
}

void step_from(ConfigReader& r, bool nested, PipelineSpec* out) {
  const std::string type = r.expect_type({"LoadImageFromFile", "LoadAnnotations", "Resize", "RandomFlip",
                                          "RandomChoiceResize", "RandomResize", "RandomChoice", "RandomCrop",
                                          "YOLOXHSVRandomAug", "PackDetInputs"});
  const bool geometric = type != "LoadImageFromFile" && type != "LoadAnnotations" && type != "PackDetInputs";
  if (nested && !geometric) fail("config: ", r.path(), ": ", type, " cannot be inside RandomChoice");
  if (out->pack) fail("config: ", r.path(), ": ", type, " after PackDetInputs (PackDetInputs must be last)");
  if (type == "LoadImageFromFile") {
    if (out->load_image) fail("config: ", r.path(), ": LoadImageFromFile twice");
    out->load_image = true;
    if (r.get<bool>("to_float32", false))
      r.fail_key("to_float32", "only uint8 decoding is implemented (to_float32=False)");
    require_value(r, "color_type", "color", "images are decoded as 3-channel colour");
    require_value(r, "imdecode_backend", "cv2", "images are decoded with OpenCV");
    r.require_null("backend_args", "only local files are read");
    r.require_null("file_client_args", "only local files are read");
    r.get<bool>("ignore_empty", false);
  } else if (type == "LoadAnnotations") {
    const bool with_bbox = r.get<bool>("with_bbox", true);
    r.get<bool>("with_label", true);
    out->with_mask = r.get<bool>("with_mask", false);
    out->with_gt = with_bbox || out->with_mask;
    if (!r.get<bool>("poly2mask", true))
      r.fail_key("poly2mask", "masks are always rasterised (PolygonMasks are not implemented)");
    if (r.get<bool>("with_seg", false)) r.fail_key("with_seg", "semantic segmentation maps are not implemented");
    require_value(r, "box_type", "hbox", "boxes are horizontal xyxy");
    require_value(r, "imdecode_backend", "cv2", "images are decoded with OpenCV");
    r.require_null("backend_args", "only local files are read");
    r.require_null("file_client_args", "only local files are read");
    r.ignore({"reduce_zero_label"});
  } else if (type == "PackDetInputs") {
    out->pack = true;
    r.ignore({"meta_keys"});  // metas are always the full ImageMeta
  } else if (type == "Resize") {
    out->transforms.push_back(resize_from(r));
  } else if (type == "RandomFlip") {
    out->transforms.push_back(random_flip_from(r));
  } else if (type == "RandomChoiceResize") {
    out->transforms.push_back(random_choice_resize_from(r));
  } else if (type == "RandomResize") {
    out->transforms.push_back(random_resize_from(r));
  } else if (type == "RandomCrop") {
    out->transforms.push_back(random_crop_from(r));
  } else if (type == "YOLOXHSVRandomAug") {
    out->transforms.push_back(yolox_hsv_from(r));
  } else {  // RandomChoice
    out->transforms.push_back(random_choice_from(r));
  }
}

}  // namespace

std::string join_data_path(const std::string& prefix, const std::string& rel) {
  if (prefix.empty() || (!rel.empty() && rel[0] == '/')) return rel;
  if (rel.empty()) return prefix;
  return prefix.back() == '/' ? prefix + rel : prefix + "/" + rel;
}

PipelineSpec pipeline_spec_from(const ConfigNode& list, const std::string& path) {
  if (!list.is_array()) fail("config: ", path, ": expected a list of transform dicts, got ", config_detail::describe(list));
  PipelineSpec out;
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigReader r(list[i], path + "." + std::to_string(i));
    step_from(r, false, &out);
    r.finish();
  }
  if (!out.load_image) fail("config: ", path, ": the pipeline has no LoadImageFromFile");
  return out;
}

DatasetSpec dataset_spec_from(ConfigReader& r) {
  r.expect_type({"CocoDataset"});
  DatasetSpec d;
  d.data_root = r.get_optional<std::string>("data_root").value_or("");
  CocoDatasetOptions& o = d.coco;
  o.ann_file = join_data_path(d.data_root, r.get<std::string>("ann_file"));
  std::string img_prefix;
  if (auto p = r.child_optional("data_prefix")) {
    const auto img = p->get_optional<std::string>("img");
    const auto img_path = p->get_optional<std::string>("img_path");  // mmengine's default key
    if (img && img_path) p->fail_key("img", "give img or img_path, not both");
    img_prefix = img ? *img : img_path.value_or("");
    p->require_null("seg", "semantic segmentation maps are not loaded");
  }
  o.img_dir = join_data_path(d.data_root, img_prefix);
  if (o.img_dir.empty()) o.img_dir = ".";
  if (auto m = r.child_optional("metainfo")) {
    o.classes = m->get<std::vector<std::string>>("classes", {});
    if (auto pal = m->get_optional<std::vector<std::vector<int64_t>>>("palette")) {
      for (size_t i = 0; i < pal->size(); ++i) {
        const auto& c = (*pal)[i];
        if (c.size() != 3) m->fail_key("palette", "entry ", i, " must be (r, g, b)");
        std::array<uint8_t, 3> rgb{};
        for (int k = 0; k < 3; ++k) {
          if (c[k] < 0 || c[k] > 255) m->fail_key("palette", "entry ", i, ": values must be in 0..255");
          rgb[k] = static_cast<uint8_t>(c[k]);
        }
        d.palette.push_back(rgb);
      }
    }
  }
  o.test_mode = r.get<bool>("test_mode", false);
  // mmdet's CocoDataset.filter_data defaults when filter_cfg is absent.
  o.filter_empty_gt = false;
  o.min_size = 0;
  if (auto f = r.child_optional("filter_cfg")) {
    o.filter_empty_gt = f->get<bool>("filter_empty_gt", false);
    o.min_size = f->get<int64_t>("min_size", 0);
  }
  const ConfigNode* pl = r.find("pipeline");
  if (!pl) r.fail_key("pipeline", "is required (a list of transform dicts)");
  PipelineSpec p = pipeline_spec_from(*pl, r.key_path("pipeline"));
  o.pipeline = std::move(p.transforms);
  o.with_gt = p.with_gt;
  o.with_mask = p.with_mask;
  r.require_null("backend_args", "only local files are read");
  r.require_null("indices", "dataset subsets are not implemented (write a smaller ann_file)");
  r.ignore({"serialize_data", "lazy_init", "max_refetch", "return_classes", "seg_map_suffix"});
  return d;
}

LoaderOptions DataloaderSpec::loader_options(const CollateOptions& collate) const {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.num_workers = num_workers;
  o.shuffle = shuffle;
  o.seed = seed < 0 ? 0 : static_cast<uint64_t>(seed);
  o.drop_last = drop_last;
  o.aspect_ratio_grouping = aspect_ratio_grouping;
  o.collate = collate;
  o.collate.with_gt = dataset.coco.with_gt;
  o.collate.with_mask = dataset.coco.with_mask;
  return o;
}

DataloaderSpec dataloader_spec_from(ConfigReader& r) {
  DataloaderSpec s;
  s.batch_size = r.get<int64_t>("batch_size");
  if (s.batch_size < 1) r.fail_key("batch_size", "must be >= 1, got ", s.batch_size);
  s.num_workers = r.get<int>("num_workers", 0);
  if (s.num_workers < 0) r.fail_key("num_workers", "must be >= 0, got ", s.num_workers);
  r.get<bool>("persistent_workers", false);  // worker threads live as long as the loader anyway
  r.get<bool>("pin_memory", false);
  s.drop_last = r.get<bool>("drop_last", false);
  s.shuffle = true;  // DefaultSampler's default
  if (auto sm = r.child_optional("sampler")) {
    sm->expect_type({"DefaultSampler"});
    s.shuffle = sm->get<bool>("shuffle", true);
    s.seed = sm->get_optional<int64_t>("seed").value_or(-1);
    if (!sm->get<bool>("round_up", true))
      sm->fail_key("round_up", "only round_up=True is implemented (indices are padded to the world size)");
  } else {
    r.fail_key("sampler", "is required (e.g. dict(type='DefaultSampler', shuffle=True))");
  }
  if (auto bs = r.child_optional("batch_sampler")) {
    bs->expect_type({"AspectRatioBatchSampler"});
    s.aspect_ratio_grouping = true;
    if (bs->has_value("drop_last")) s.drop_last = bs->get<bool>("drop_last");
  }
  if (auto c = r.child_optional("collate_fn")) {
    const auto t = c->expect_type({"pseudo_collate", "default_collate"});
    (void)t;  // batches are always assembled by io::collate
  }
  auto ds = r.child("dataset");
  s.dataset = dataset_spec_from(ds);
  return s;
}

DataloaderSpec dataloader_spec_from(const ConfigNode& root, const std::string& key) {
  if (!root.is_object() || !root.contains(key) || root.at(key).is_null())
    fail("config: no '", key, "' section (a dataloader dict with a CocoDataset)");
  ConfigReader r(root.at(key), key);
  DataloaderSpec s = dataloader_spec_from(r);
  r.finish();
  return s;
}

EvaluatorSpec evaluator_spec_from(ConfigReader& r) {
  r.expect_type({"CocoMetric"});
  EvaluatorSpec e;
  e.ann_file = r.get_optional<std::string>("ann_file").value_or("");
  std::vector<std::string> metrics;
  const ConfigNode* m = r.find("metric");
  if (!m) metrics = {"bbox"};  // CocoMetric's default
  else if (m->is_string()) metrics = {m->get<std::string>()};
  else metrics = r.get<std::vector<std::string>>("metric");
  for (const auto& name : metrics) {
    if (name == "bbox") e.metrics.push_back(eval::IouType::bbox);
    else if (name == "segm") e.metrics.push_back(eval::IouType::segm);
    else r.fail_key("metric", "unsupported metric '", name, "' (supported: bbox, segm)");
  }
  if (e.metrics.empty()) r.fail_key("metric", "needs at least one metric");
  e.format_only = r.get<bool>("format_only", false);
  e.classwise = r.get<bool>("classwise", false);
  e.outfile_prefix = r.get_optional<std::string>("outfile_prefix").value_or("");
  if (e.format_only && e.outfile_prefix.empty())
    r.fail_key("outfile_prefix", "format_only needs an outfile_prefix");
  r.require_null("backend_args", "only local files are read");
  r.require_null("file_client_args", "only local files are read");
  r.require_null("iou_thrs", "COCO's 0.50:0.95 thresholds are fixed");
  r.require_null("metric_items", "every summary item is printed");
  // mmdet: coco_eval.params.maxDets = list(proposal_nums); summarize() then
  // reads maxDets[0..2], so three are needed, and mAP is the one at 100.
  e.proposal_nums = r.get<std::vector<int64_t>>("proposal_nums", e.proposal_nums);
  if (e.proposal_nums.size() < 3)
    r.fail_key("proposal_nums", "needs at least 3 values (pycocotools' summarize reads maxDets[2]), got ",
               e.proposal_nums.size());
  for (int64_t n : e.proposal_nums)
    if (n < 1) r.fail_key("proposal_nums", "values must be >= 1, got ", n);
  r.ignore({"collect_device", "prefix", "sort_categories", "use_mp_eval"});
  return e;
}

EvaluatorSpec evaluator_spec_from(const ConfigNode& root, const std::string& key) {
  if (!root.is_object() || !root.contains(key) || root.at(key).is_null())
    fail("config: no '", key, "' section (dict(type='CocoMetric', ann_file=..., metric=...))");
  if (root.at(key).is_array()) fail("config: ", key, ": a list of evaluators is not supported (give one CocoMetric)");
  ConfigReader r(root.at(key), key);
  EvaluatorSpec e = evaluator_spec_from(r);
  r.finish();
  return e;
}

CollateOptions collate_options_from(const PreprocessOptions& p) {
  if (p.mean.size() != 3 || p.std.size() != 3)
    fail("config: model.data_preprocessor: mean and std need 3 values (RGB), got ", p.mean.size(), " and ",
         p.std.size());
  if (!p.bgr_to_rgb)
    fail("config: model.data_preprocessor.bgr_to_rgb: only True is supported (images are decoded as RGB)");
  if (p.pad_size_divisor < 1)
    fail("config: model.data_preprocessor.pad_size_divisor: must be >= 1, got ", p.pad_size_divisor);
  CollateOptions o;
  for (int c = 0; c < 3; ++c) {
    o.mean[c] = p.mean[c];
    o.std[c] = p.std[c];
  }
  o.size_divisor = p.pad_size_divisor;
  o.pad_value = p.pad_value;
  return o;
}

Scale test_scale_of(const PipelineSpec& p) {
  for (const auto& t : p.transforms)
    if (const auto* r = std::get_if<ResizeOptions>(&t.op)) return r->scale;
  return Scale{1333, 800};
}

}  // namespace instseg
