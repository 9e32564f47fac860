#include "instseg/inference/inference_model.h"

#include "instseg/core/check.h"
#include "instseg/core/log.h"
#include "instseg/solov2/solov2_head.h"

namespace instseg {

void prepare_for_inference(DetectorImpl& model, const c10::Device& device, const InferenceGraphOptions& graph) {
  model.eval();
  model.to(device);
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* backbone = dynamic_cast<BackboneImpl*>(m.get())) {
      if (graph.fold_batchnorm) {
        backbone->fold_batchnorm();
      } else {
        backbone->clear_folds();
      }
      backbone->set_fp32_stem(graph.autocast_fp32_ends);
    }
    if (auto* head = dynamic_cast<SOLOv2HeadImpl*>(m.get())) head->set_fp32_category(graph.autocast_fp32_category);
  }
  model.set_channels_last(graph.channels_last);
  model.set_fp32_features(graph.autocast_fp32_ends);
}

InferenceModel load_inference_model(const ModelSpec& spec, const std::string& checkpoint, const c10::Device& device,
                                    const std::string& config_name, const InferenceGraphOptions& graph) {
  InferenceModel m;
  m.spec = spec;
  m.device = device;
  m.model = build_model(spec);
  LoadWeightsOptions lo;
  lo.strict = true;
  lo.target = str_cat("the ", model_kind_name(spec.kind), " model", config_name.empty() ? "" : " of ", config_name);
  if (checkpoint.empty()) {
    // `instseg bench` without a checkpoint: timing only.
    log_warning("no checkpoint: ", lo.target, " keeps its random initialisation (for benchmarks only)");
  } else {
    m.weights = load_weights(*m.model, checkpoint, lo);
  }
  const std::vector<std::string>& names = m.weights.dataset_meta.classes;
  if (static_cast<int64_t>(names.size()) == m.model->num_classes()) {
    m.model->set_class_names(names);
  } else if (!names.empty()) {
    log_warning(checkpoint, ": meta.dataset_meta.classes has ", names.size(), " names for a model with ",
                m.model->num_classes(), " classes; not used");
  }
  prepare_for_inference(*m.model, device, graph);
  log_info(model_kind_name(spec.kind), config_name.empty() ? "" : " from ", config_name, ": running on ",
           device.str());
  return m;
}

}  // namespace instseg
