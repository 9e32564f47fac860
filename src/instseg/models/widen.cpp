#include "instseg/models/widen.h"

#include "instseg/checkpoint/pth_reader.h"
#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/core/check.h"

#include <filesystem>
#include <system_error>

namespace instseg {

WidenResult widen_checkpoint(const std::string& in, const ModelSpec& target, const std::string& out,
                             const WidenOptions& options) {
  std::error_code ec;
  if (in == out || std::filesystem::equivalent(in, out, ec))
    fail("widen: the output must differ from the input (", in, ")");
  switch (target.kind) {
    case ModelKind::solov2:
      break;
    case ModelKind::queryinst:
      fail("widen: ", model_kind_name(target.kind), " is not supported (SOLOv2 only)");
  }
  const PthFile file = read_pth(in);
  const PyValue* meta = file.root.is_dict() ? file.root.get("meta") : nullptr;
  const TensorDict source = load_state_dict(in);
  check_finite_weights(source, in);

  std::shared_ptr<DetectorImpl> model = build_model(target);
  TensorDict widened;
  try {
    widened = widen_solov2_state_dict(source, module_state_dict(*model), options);
  } catch (const Error& e) {
    fail(in, ": ", e.what());
  }
  load_state_dict_into(*model, widened, /*strict=*/true);

  WidenResult r;
  r.target_parameters = count_parameters(*model);
  r.tensors = static_cast<int64_t>(widened.size());
  for (const auto& [key, value] : source)
    if (value.is_floating_point() && key.find("running_") == std::string::npos) r.source_parameters += value.numel();
  save_checkpoint(out, meta != nullptr ? *meta : PyValue::dict(), widened);
  return r;
}

}  // namespace instseg
