#include "instseg/backbone/backbone.h"

#include "instseg/core/check.h"

#include <sstream>

namespace instseg {

std::vector<std::string> BackboneImpl::output_names() const {
  std::vector<std::string> names;
  for (const ShapeSpec& s : output_shapes()) {
    int level = 0;
    for (int64_t v = s.stride; v > 1; v /= 2) ++level;
    names.push_back("c" + std::to_string(level));
  }
  return names;
}

namespace {
std::string list_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}
}  // namespace

FPNOptions neck_options_for(FPNOptions neck, const std::vector<ShapeSpec>& backbone_levels,
                            const std::string& owner, const std::string& backbone_name) {
  std::vector<int64_t> channels;
  for (const ShapeSpec& s : backbone_levels) channels.push_back(s.channels);
  if (neck.in_channels.empty()) {
    neck.in_channels = channels;
  } else if (neck.in_channels != channels) {
    fail(owner, ": neck.in_channels ", list_str(neck.in_channels), " do not match the backbone's output channels ",
         list_str(channels), " (", backbone_name, "); set model.neck.in_channels=", list_str(channels));
  }
  return neck;
}

}  // namespace instseg
