// Loading the shared QueryInst fixtures (../shared/fixtures/queryinst).
#pragma once
#include "common/test_util.h"
#include "instseg/queryinst/queryinst.h"
#include "instseg/structures/tensor_dict.h"

#include <string>

namespace instseg::test {

// The shrunk fixture model (ResNet-18/16, FPN 64, 20 proposals, 3 classes).
QueryInstOptions queryinst_fixture_options();
// A plain torch.save dict of tensors from the fixture folder.
TensorDict load_queryinst_pt(const std::string& name);
// The fixture model with checkpoint.pth loaded (strict), in eval mode.
QueryInst load_queryinst_fixture_model();
// forward_in.pt (+ forward_gt.pt with gts) as a Batch.
Batch queryinst_fixture_batch(bool with_gt);

}  // namespace instseg::test
