// instseg: SOLOv2 and QueryInst instance segmentation in C++ (LibTorch).
// The umbrella header of the installed package: find_package(instseg) and
// target_link_libraries(app PRIVATE instseg::instseg); see api/predictor.h
// for the Predictor and a complete example. Applications without OpenCV
// link instseg::core and include "instseg/inference/tensor_predictor.h".
#pragma once
#include "instseg/api/prediction_files.h"
#include "instseg/api/predictor.h"
#include "instseg/api/video.h"
