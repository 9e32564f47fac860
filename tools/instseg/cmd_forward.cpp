// `instseg forward`: run the network on an already normalised, padded batch
// and write named intermediate tensors (and, with --gt, losses and gradients)
// to a zip .pt file that Python's torch.load reads. The parity tool against
// mmdetection's golden outputs (../shared/fixtures/<model>/).
#include "commands.h"

#include "instseg/checkpoint/load_weights.h"
#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/config/build_model.h"
#include "instseg/config/config_tree.h"
#include "instseg/config/overrides.h"
#include "instseg/core/log.h"
#include "instseg/inference/predict_batch.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace instseg::cli {
namespace {

struct ForwardArgs {
  std::string config, checkpoint, input, gt, out;
  std::vector<std::string> cfg_options;
};

// The tensor entries of a torch.save'd plain dict.
TensorDict read_tensor_dict(const std::string& path) {
  PthFile f = read_pth(path);
  if (!f.root.is_dict()) fail(path, ": expected a dict of tensors, got ", f.root.kind_name());
  return tensor_entries(f.root, /*strip_module=*/false);
}

Batch batch_from_input(const TensorDict& in, const std::string& path) {
  if (!in.contains("img")) fail(path, ": no 'img' entry (float32 [B,3,H,W])");
  Batch b;
  b.images = in.at("img").to(at::kFloat).contiguous();
  if (b.images.dim() != 4 || b.images.size(1) != 3)
    fail(path, ": 'img' must be [B,3,H,W], got ", b.images.sizes());
  const int64_t B = b.images.size(0), H = b.images.size(2), W = b.images.size(3);
  b.metas.resize(B);
  auto row = [&](const char* key, int64_t i) -> at::Tensor {
    const at::Tensor& t = in.at(key);
    if (t.dim() != 2 || t.size(0) != B || t.size(1) != 2)
      fail(path, ": '", key, "' must be [B,2] with B = ", B, ", got ", t.sizes());
    return t[i].to(at::kDouble);
  };
  for (int64_t i = 0; i < B; ++i) {
    ImageMeta& m = b.metas[i];
    m.pad_h = H;
    m.pad_w = W;
    m.img_h = m.ori_h = H;
    m.img_w = m.ori_w = W;
    if (in.contains("img_shape")) {
      auto r = row("img_shape", i);
      m.img_h = static_cast<int64_t>(r[0].item<double>());
      m.img_w = static_cast<int64_t>(r[1].item<double>());
    }
    if (in.contains("ori_shape")) {
      auto r = row("ori_shape", i);
      m.ori_h = static_cast<int64_t>(r[0].item<double>());
      m.ori_w = static_cast<int64_t>(r[1].item<double>());
    } else {
      m.ori_h = m.img_h;
      m.ori_w = m.img_w;
    }
    if (in.contains("scale_factor")) {
      auto r = row("scale_factor", i);
      m.scale_w = r[0].item<double>();
      m.scale_h = r[1].item<double>();
    }
  }
  return b;
}

void add_gt(Batch& b, const TensorDict& gt, const std::string& path) {
  b.gts.resize(b.size());
  for (int64_t i = 0; i < b.size(); ++i) {
    auto key = [&](const char* k) { return std::string(k) + "." + std::to_string(i); };
    for (const char* k : {"gt_bboxes", "gt_labels", "gt_masks"})
      if (!gt.contains(key(k))) fail(path, ": missing '", key(k), "'");
    GtInstances& g = b.gts[i];
    g.bboxes = gt.at(key("gt_bboxes")).to(at::kFloat).contiguous();
    g.labels = gt.at(key("gt_labels")).to(at::kLong).contiguous();
    g.masks = gt.at(key("gt_masks")).to(at::kByte).contiguous();
    const int64_t n = g.labels.size(0);
    if (g.bboxes.dim() != 2 || g.bboxes.size(0) != n || g.bboxes.size(1) != 4)
      fail(path, ": '", key("gt_bboxes"), "' must be [", n, ",4], got ", g.bboxes.sizes());
    if (g.masks.dim() != 3 || g.masks.size(0) != n || g.masks.size(1) != b.images.size(2) ||
        g.masks.size(2) != b.images.size(3))
      fail(path, ": '", key("gt_masks"), "' must be [", n, ",", b.images.size(2), ",", b.images.size(3),
           "] (padded-input size), got ", g.masks.sizes());
  }
}

void run_forward(const ForwardArgs& a) {
  ConfigNode cfg = load_config(a.config);
  apply_overrides(cfg, a.cfg_options);
  ModelSpec spec = model_spec_from(cfg);
  auto model = build_model(spec);
  LoadWeightsOptions lo;
  lo.strict = true;
  lo.target = str_cat("the ", model_kind_name(spec.kind), " model of ", a.config);
  load_weights(*model, a.checkpoint, lo);

  TensorDict in = read_tensor_dict(a.input);
  Batch batch = batch_from_input(in, a.input);
  const bool have_meta = in.contains("img_shape") || in.contains("ori_shape") || in.contains("scale_factor");

  TensorDict out;
  model->set_capture(&out);
  model->eval();
  if (have_meta) {
    const std::vector<Instances> dets = predict_batch(*model, batch, c10::Device(c10::kCPU));
    for (size_t i = 0; i < dets.size(); ++i) {
      const std::string p = "det." + std::to_string(i) + ".";
      out.set(p + "labels", dets[i].labels);
      out.set(p + "scores", dets[i].scores);
      out.set(p + "bboxes", dets[i].bboxes);
      out.set(p + "masks", dets[i].masks.to(at::kByte));
    }
  } else {
    torch::NoGradGuard no_grad;
    model->extract_feat(batch.images);
  }

  if (!a.gt.empty()) {
    add_gt(batch, read_tensor_dict(a.gt), a.gt);
    model->set_capture(nullptr);  // training intermediates are not part of the contract
    model->train();
    model->zero_grad();
    LossMap losses = model->forward_train(batch);
    at::Tensor total;
    for (const auto& kv : losses) {
      out.set("loss." + kv.first, kv.second.detach());
      if (kv.first.find("loss") == std::string::npos) continue;  // e.g. pos_acc (mmengine's parse_losses)
      total = total.defined() ? total + kv.second : kv.second;
    }
    TORCH_CHECK(total.defined(), "forward: the model returned no loss terms");
    out.set("loss.total", total.detach());
    total.backward();
    for (const auto& p : model->named_parameters(/*recurse=*/true)) {
      if (p.value().grad().defined()) out.set("grad." + p.key(), p.value().grad());
    }
  }

  PyValue root = PyValue::dict();
  for (const auto& kv : out) root.dict_set(PyValue::str(kv.first), tensor_value(kv.second.contiguous()));
  write_pth(a.out, root);
  log_info("forward: wrote ", out.size(), " tensors to ", a.out);
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto a = std::make_shared<ForwardArgs>();
  auto* cmd = app.add_subcommand("forward", command_info("forward").description);
  cmd->add_option("--config", a->config, "config file (.yaml, or an mmdetection .json/.yaml dump)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--checkpoint", a->checkpoint, "weights (.pth, legacy or zip)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", a->input, "IN.pt: {img [B,3,H,W], img_shape, ori_shape, scale_factor}")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--gt", a->gt, "GT.pt: {gt_bboxes.i, gt_labels.i, gt_masks.i}: also write losses and gradients")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "output .pt (zip, readable by torch.load)")->required();
  cmd->add_option("--cfg-options", a->cfg_options, "config overrides key=value");
  cmd->callback([a]() { run_forward(*a); });
}

}  // namespace instseg::cli
