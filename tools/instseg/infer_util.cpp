#include "infer_util.h"

#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/config/build_data.h"
#include "instseg/config/build_model.h"
#include "instseg/config/overrides.h"
#include "instseg/core/log.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>

namespace instseg::cli {

c10::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device d(c10::kCPU);
  try {
    d = c10::Device(name);
  } catch (const std::exception&) {
    fail("--device: '", name, "' is not a device (auto, cpu, cuda, cuda:N)");
  }
  if (d.is_cuda() && !torch::cuda::is_available()) fail("--device ", name, ": CUDA is not available");
  return d;
}

InferenceModel load_inference_model(const std::string& config, const std::string& checkpoint,
                                    const std::vector<std::string>& cfg_options, const std::string& device) {
  InferenceModel m;
  m.cfg = load_config_with_overrides(config, cfg_options);
  m.spec = model_spec_from(m.cfg);
  m.collate = collate_options_from(m.spec.preprocess);
  m.collate.with_gt = false;
  m.collate.with_mask = false;
  m.model = build_model(m.spec);

  PthFile file;
  WeightsFileOptions wo;
  wo.config = config;
  const LoadReport rep = load_weights_file(*m.model, checkpoint, wo, &file);
  // mmdet stores the class names in meta.dataset_meta.classes.
  if (file.root.is_dict()) {
    const PyValue* meta = file.root.get("meta");
    const PyValue* dm = meta && meta->is_dict() ? meta->get("dataset_meta") : nullptr;
    const PyValue* classes = dm && dm->is_dict() ? dm->get("classes") : nullptr;
    if (classes && (classes->is_list() || classes->is_tuple())) {
      for (const PyValue& c : classes->items())
        if (c.is_str()) m.ckpt_classes.push_back(c.as_str());
    }
  }
  if (static_cast<int64_t>(m.ckpt_classes.size()) == m.model->num_classes()) {
    m.model->set_class_names(m.ckpt_classes);
  } else if (!m.ckpt_classes.empty()) {
    log_warning(checkpoint, ": meta.dataset_meta.classes has ", m.ckpt_classes.size(), " names for a model with ",
                m.model->num_classes(), " classes; not used");
  }

  m.device = parse_device(device);
  m.model->to(m.device);
  m.model->eval();
  log_info(model_kind_name(m.spec.kind), " from ", config, ": ", rep.loaded, " tensors loaded from ", checkpoint,
           ", running on ", m.device.str());
  return m;
}

std::vector<Instances> predict_samples(InferenceModel& m, const std::vector<Sample>& samples) {
  Batch batch = collate(samples, m.collate);
  batch.images = batch.images.to(m.device);
  std::vector<Instances> out;
  {
    torch::NoGradGuard no_grad;
    out = m.model->predict(batch);
  }
  INSTSEG_CHECK(out.size() == samples.size(), "predict returned ", out.size(), " results for ", samples.size(),
                " images");
  for (size_t i = 0; i < out.size(); ++i) {
    Instances& r = out[i];
    auto cpu = [](at::Tensor& t) {
      if (t.defined()) t = t.to(at::kCPU);
    };
    cpu(r.labels);
    cpu(r.scores);
    cpu(r.bboxes);
    cpu(r.masks);
    r.image_id = batch.metas[i].image_id;
  }
  return out;
}

Instances filter_by_score(const Instances& inst, double thr) {
  if (inst.size() == 0) return inst;
  const at::Tensor keep = (inst.scores >= thr).nonzero().flatten();
  Instances out;
  out.image_id = inst.image_id;
  auto sel = [&](const at::Tensor& t) { return t.defined() && t.numel() > 0 ? t.index_select(0, keep) : t; };
  out.labels = inst.labels.index_select(0, keep);
  out.scores = inst.scores.index_select(0, keep);
  out.bboxes = sel(inst.bboxes);
  out.masks = sel(inst.masks);
  return out;
}

std::string file_stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

}  // namespace instseg::cli
