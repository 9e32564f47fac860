// `instseg predict` and `instseg test` end to end: a tiny SOLOv2 config, a
// checkpoint written by the test (random init with a raised classification
// bias, so that every grid cell scores ~0.99 and the post-processing, RLE
// encoding, evaluation and overlays all have instances to work on), and two
// nuclei images of the repository's data/nuclei set.
#include "api/tiny_solov2.h"
#include "common/test_util.h"
#include "tools/cli_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "instseg/checkpoint/pth_writer.h"
#include "instseg/checkpoint/state_dict.h"
#include "instseg/config/build_model.h"
#include "instseg/config/config_tree.h"
#include "instseg/io/image.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <map>

namespace instseg {
namespace {
namespace fs = std::filesystem;

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

std::string nuclei(const std::string& rel) { return std::string(INSTSEG_SOURCE_DIR) + "/data/nuclei/" + rel; }

// The tiny SOLOv2 of tests/api/tiny_solov2.h (ResNet-18 with 16 base channels,
// FPN 64, one class, every grid cell a confident "nucleus") with the nuclei
// test set; the paths are filled in by the fixture.
const char* kData = R"(test_dataloader:
  batch_size: 2
  num_workers: 1
  persistent_workers: true
  drop_last: false
  sampler: {type: DefaultSampler, shuffle: false}
  dataset:
    type: CocoDataset
    data_root: @DATA_ROOT@
    ann_file: @ANN@
    data_prefix: {img: images/}
    metainfo: {classes: [nucleus]}
    test_mode: true
    pipeline:
      - {type: LoadImageFromFile, backend_args: null}
      - {type: Resize, scale: [320, 256], keep_ratio: true}
      - {type: LoadAnnotations, with_bbox: true, with_mask: true}
      - {type: PackDetInputs, meta_keys: [img_id, img_path, ori_shape, img_shape, scale_factor]}
test_evaluator:
  type: CocoMetric
  ann_file: @ANN@
  metric: [bbox, segm]
  format_only: false
default_hooks: {logger: {type: LoggerHook}}
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

class CliPredictTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("cli_predict_test");
    // Two images of val.json (ids 2 and 3: 348x524 and 161x519) and their annotations.
    std::ifstream in(nuclei("annotations/val.json"));
    const auto val = nlohmann::json::parse(in);
    nlohmann::json sub = {{"images", nlohmann::json::array()},
                          {"annotations", nlohmann::json::array()},
                          {"categories", val["categories"]}};
    for (const auto& im : val["images"])
      if (im["id"] == 2 || im["id"] == 3) sub["images"].push_back(im);
    for (const auto& a : val["annotations"])
      if (a["image_id"] == 2 || a["image_id"] == 3) sub["annotations"].push_back(a);
    ann_ = dir_ + "/subset.json";
    std::ofstream(ann_) << sub.dump();
    fs::create_directories(dir_ + "/imgs");
    files_ = {sub["images"][0]["file_name"].get<std::string>(), sub["images"][1]["file_name"].get<std::string>()};
    fs::copy_file(nuclei("images/" + files_[0]), dir_ + "/imgs/a.png");
    fs::copy_file(nuclei("images/" + files_[1]), dir_ + "/imgs/b.png");

    const test::TinyModel tiny =
        test::write_tiny_solov2(dir_, replace_all(replace_all(kData, "@DATA_ROOT@", nuclei("")), "@ANN@", ann_));
    config_ = tiny.config;
    ckpt_ = tiny.checkpoint;
  }

  static std::string cli() { return test::instseg_binary() + " --threads 2 "; }

  static std::string dir_, ann_, config_, ckpt_;
  static std::vector<std::string> files_;
};
std::string CliPredictTest::dir_, CliPredictTest::ann_, CliPredictTest::config_, CliPredictTest::ckpt_;
std::vector<std::string> CliPredictTest::files_;

TEST_F(CliPredictTest, PredictWritesOverlaysAndResults) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string out_dir = dir_ + "/pred";
  int rc = -1;
  // A directory (a.png, b.png) and a file again (a.png -> a_2.png).
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + dir_ + "/imgs " + dir_ +
                                  "/imgs/a.png --out-dir " + out_dir + " --score-thr 0.05",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("predict: 3 images"), std::string::npos) << out;
  for (const char* name : {"a", "b", "a_2"}) {
    const std::string png = out_dir + "/" + name + ".png";
    ASSERT_TRUE(fs::exists(png)) << png << "\n" << out;
  }
  // Overlays have the input's size and differ from it (instances were drawn).
  const cv::Mat orig = read_image_rgb(dir_ + "/imgs/a.png");
  const cv::Mat over = read_image_rgb(out_dir + "/a.png");
  ASSERT_EQ(orig.size(), over.size());
  EXPECT_GT(cv::norm(orig, over, cv::NORM_L1), 0.0);

  std::ifstream rf(out_dir + "/results.json");
  const auto res = nlohmann::json::parse(rf);
  ASSERT_TRUE(res.is_array());
  ASSERT_FALSE(res.empty()) << "the raised cls bias should give detections";
  std::set<int64_t> ids;
  for (const auto& r : res) {
    ids.insert(r["image_id"].get<int64_t>());
    EXPECT_EQ(r["category_id"], 1);  // from the checkpoint's / config's class list, 1..C
    EXPECT_GE(r["score"].get<double>(), 0.05);
    EXPECT_TRUE(r.contains("segmentation"));
    EXPECT_EQ(r["bbox"].size(), 4u);
  }
  EXPECT_EQ(ids, (std::set<int64_t>{0, 1, 2}));
  std::ifstream jf(out_dir + "/images.json");
  const auto images = nlohmann::json::parse(jf);
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[2]["overlay"], "a_2.png");
  EXPECT_EQ(images[0]["width"], orig.cols);
  EXPECT_EQ(images[0]["height"], orig.rows);

  // A glob; a threshold above every score keeps nothing; no overlays.
  const std::string out2 = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " '" + dir_ + "/imgs/*.png' --out-dir " +
                                   dir_ + "/pred2 --score-thr 1.01 --no-overlays",
                               &rc);
  ASSERT_EQ(rc, 0) << out2;
  EXPECT_NE(out2.find("predict: 2 images, 0 instances"), std::string::npos) << out2;
  EXPECT_FALSE(fs::exists(dir_ + "/pred2/a.png"));

  // Errors exit non-zero with the reason.
  const std::string out3 = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + dir_ + "/nope.png", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out3.find("nope.png: no such file"), std::string::npos) << out3;
}

// predict --ann GT.json: results carry GT.json's image ids (matched by file
// name) and category ids, so `instseg eval --ann GT.json` scores them (with
// the input order's ids 0, 1 loadRes would refuse them: ids not in the GT).
TEST_F(CliPredictTest, PredictWithAnnIsEvaluatedAgainstTheGt) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string out_dir = dir_ + "/pred_ann";
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + nuclei("images/" + files_[1]) +
                                  " " + nuclei("images/" + files_[0]) + " --ann " + ann_ + " --out-dir " + out_dir +
                                  " --score-thr 0.05 --no-overlays",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream rf(out_dir + "/results.json");
  const auto res = nlohmann::json::parse(rf);
  ASSERT_FALSE(res.empty()) << "the raised cls bias should give detections";
  std::set<int64_t> ids;
  for (const auto& r : res) ids.insert(r["image_id"].get<int64_t>());
  EXPECT_EQ(ids, (std::set<int64_t>{2, 3}));  // subset.json's ids, not the input order

  const std::string stats_file = dir_ + "/pred_ann_stats.json";
  const std::string ev = test::run_command(cli() + "eval --ann " + ann_ + " --results " + out_dir + "/results.json --iou-type both" +
                                 " --json-out " + stats_file,
                             &rc);
  ASSERT_EQ(rc, 0) << ev;
  EXPECT_EQ(count(ev, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "), 2u) << ev;
  std::ifstream sf(stats_file);
  const auto stats = nlohmann::json::parse(sf);
  for (const char* type : {"segm", "bbox"}) {
    ASSERT_EQ(stats[type].size(), 12u) << stats.dump();
    // AP and AR over all areas are computed (-1 would mean no GT image had results).
    EXPECT_GE(stats[type][0].get<double>(), 0.0) << type;
    EXPECT_GE(stats[type][8].get<double>(), 0.0) << type;
  }
}

// A video (4 frames of a.png, MJPG .avi written here with OpenCV) through the
// same predict path as images (a camera index opens cv::VideoCapture(N) and
// takes the same path): an annotated video with every frame, one results and
// images.json entry per frame, per-frame prediction files; --batch-size 3
// batches the frames (4 = 3 + 1).
TEST_F(CliPredictTest, PredictOnAVideo) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const cv::Mat bgr = cv::imread(dir_ + "/imgs/a.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(bgr.empty());
  const std::string video = dir_ + "/clip.avi";
  {
    cv::VideoWriter w(video, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 5.0, bgr.size());
    ASSERT_TRUE(w.isOpened()) << "OpenCV cannot write MJPG here";
    for (int i = 0; i < 4; ++i) w.write(bgr);
  }
  const std::string out_dir = dir_ + "/pred_video";
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + video + " --out-dir " + out_dir +
                                  " --score-thr 0.05 --batch-size 3 --save-masks rle --draw-boxes",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("clip.avi: 4 frames of " + std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(" frames/s (model and drawing"), std::string::npos) << out;
  EXPECT_NE(out.find("predict: 0 images, 4 video frames"), std::string::npos) << out;

  // The annotated video: 4 frames of the input's size, not the input's pixels.
  cv::VideoCapture cap(out_dir + "/clip.avi");
  ASSERT_TRUE(cap.isOpened());
  int frames = 0;
  cv::Mat f;
  double diff = 0;
  while (cap.read(f) && !f.empty()) {
    EXPECT_EQ(f.size(), bgr.size());
    diff += cv::norm(f, bgr, cv::NORM_L1);
    ++frames;
  }
  EXPECT_EQ(frames, 4);
  EXPECT_GT(diff, 0.0);

  // Per-frame results: ids 0..3, the same instances in every (identical) frame.
  std::ifstream jf(out_dir + "/images.json");
  const auto images = nlohmann::json::parse(jf);
  ASSERT_EQ(images.size(), 4u);
  std::ifstream rf(out_dir + "/results.json");
  const auto res = nlohmann::json::parse(rf);
  std::map<int64_t, int> per_frame;
  for (const auto& r : res) ++per_frame[r["image_id"].get<int64_t>()];
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(images[i]["id"], i);
    EXPECT_EQ(images[i]["frame"], i);
    EXPECT_EQ(images[i]["file_name"], video);
    EXPECT_GT(per_frame[i], 0) << "frame " << i;
    EXPECT_EQ(per_frame[i], per_frame[0]) << "frame " << i;
    EXPECT_EQ(images[i]["num_instances"], per_frame[i]);
    // preds/clip_<i>.json: mmdet DetInferencer's keys, RLE masks.
    std::ifstream pf(out_dir + "/preds/clip_" + std::to_string(i) + ".json");
    ASSERT_TRUE(pf.good()) << i;
    const auto pred = nlohmann::json::parse(pf);
    EXPECT_EQ(pred["labels"].size(), static_cast<size_t>(per_frame[i]));
    EXPECT_EQ(pred["scores"].size(), pred["labels"].size());
    EXPECT_EQ(pred["bboxes"].size(), pred["labels"].size());
    ASSERT_EQ(pred["masks"].size(), pred["labels"].size());
    EXPECT_EQ(pred["masks"][0]["size"], (nlohmann::json{bgr.rows, bgr.cols}));
    EXPECT_TRUE(pred["masks"][0]["counts"].is_string());
  }
}

// --batch-size over images, PNG masks per instance, --no-labels.
TEST_F(CliPredictTest, PredictBatchesAndSavesPngMasks) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string out_dir = dir_ + "/pred_batch";
  int rc = -1;
  const std::string out = test::run_command(cli() + "predict " + config_ + " " + ckpt_ + " " + dir_ + "/imgs --out-dir " + out_dir +
                                  " --score-thr 0.05 --batch-size 2 --save-masks png --no-labels",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("predict: 2 images"), std::string::npos) << out;
  std::ifstream pf(out_dir + "/preds/a.json");
  ASSERT_TRUE(pf.good());
  const auto pred = nlohmann::json::parse(pf);
  ASSERT_FALSE(pred["mask_files"].empty());
  EXPECT_EQ(pred["mask_files"].size(), pred["labels"].size());
  const cv::Mat m = cv::imread(out_dir + "/" + pred["mask_files"][0].get<std::string>(), cv::IMREAD_UNCHANGED);
  const cv::Mat orig = cv::imread(dir_ + "/imgs/a.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.type(), CV_8UC1);
  EXPECT_EQ(m.size(), orig.size());
  double lo = 0, hi = 0;
  cv::minMaxLoc(m, &lo, &hi);
  EXPECT_EQ(hi, 255.0);
  EXPECT_TRUE(fs::exists(out_dir + "/b.png"));
}

TEST_F(CliPredictTest, BenchPrintsStagesAndWritesJson) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string json = dir_ + "/bench.json";
  int rc = -1;
  const std::string out = test::run_command(cli() + "bench " + config_ + " " + ckpt_ + " --images " + dir_ +
                                  "/imgs --iters 2 --warmup 1 --json " + json + " 2>&1",
                              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("| decode |"), std::string::npos) << out;
  EXPECT_NE(out.find("| forward (network + post-processing) |"), std::string::npos) << out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["iters"], 2);
  EXPECT_EQ(j["stages"].size(), 5u);
  EXPECT_GT(j["images_per_s"].get<double>(), 0.0);
  // A bad shape is an error that says what a shape is.
  const std::string bad = test::run_command(cli() + "bench " + config_ + " --shape 10by20 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(bad.find("HxW"), std::string::npos) << bad;
}

TEST_F(CliPredictTest, TestPrintsCocoMetrics) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  const std::string res = dir_ + "/test_results.json";
  const std::string show = dir_ + "/show";
  int rc = -1;
  const std::string out = test::run_command(cli() + "test " + config_ + " " + ckpt_ + " --out " + res + " --show-dir " + show, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(count(out, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "), 2u) << out;
  // mmdet CocoMetric's maxDets (100, 300, 1000): mAP at 100, the other lines at 300 / 1000.
  EXPECT_EQ(count(out, " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=1000 ] = "), 2u) << out;
  EXPECT_EQ(count(out, " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=300 ] = "), 2u) << out;
  EXPECT_EQ(count(out, " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=1000 ] = "), 2u) << out;
  EXPECT_NE(out.find("bbox_mAP_copypaste: "), std::string::npos) << out;
  EXPECT_NE(out.find("segm_mAP_copypaste: "), std::string::npos) << out;
  EXPECT_LT(out.find("bbox_mAP_copypaste: "), out.find("segm_mAP_copypaste: "));  // config order

  std::ifstream rf(res);
  const auto dets = nlohmann::json::parse(rf);
  ASSERT_TRUE(dets.is_array());
  ASSERT_FALSE(dets.empty());
  for (const auto& d : dets) {
    const int64_t id = d["image_id"].get<int64_t>();
    EXPECT_TRUE(id == 2 || id == 3) << id;  // COCO image ids of the subset
    EXPECT_EQ(d["category_id"], 1);
    EXPECT_TRUE(d["segmentation"].contains("counts"));
  }
  EXPECT_TRUE(fs::exists(show + "/" + fs::path(files_[0]).stem().string() + ".png"));
  EXPECT_TRUE(fs::exists(show + "/" + fs::path(files_[1]).stem().string() + ".png"));

  // --batch-size and a segm-only metric via --cfg-options.
  const std::string out2 =
      test::run_command(cli() + "test " + config_ + " " + ckpt_ + " --batch-size 1 --cfg-options test_evaluator.metric=segm", &rc);
  ASSERT_EQ(rc, 0) << out2;
  EXPECT_EQ(out2.find("bbox_mAP_copypaste"), std::string::npos) << out2;
  EXPECT_NE(out2.find("segm_mAP_copypaste: "), std::string::npos) << out2;

  // A misspelt key in the data config is an error naming it.
  const std::string out3 =
      test::run_command(cli() + "test " + config_ + " " + ckpt_ + " --cfg-options test_dataloader.dataset.data_prefx.img=x", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out3.find("test_dataloader.dataset.data_prefx"), std::string::npos) << out3;
}

// --dtype bf16: the network under CPU bf16 autocast (PredictorOptions::dtype,
// EvaluationLoopOptions::amp); fp16 is CUDA-only and says so.
TEST_F(CliPredictTest, TestAndPredictRunInBf16) {
  ASSERT_TRUE(fs::exists(test::instseg_binary())) << test::instseg_binary();
  int rc = -1;
  const std::string out = test::run_command(
      cli() + "test " + config_ + " " + ckpt_ + " --dtype bf16 --cfg-options test_evaluator.metric=segm", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("segm_mAP_copypaste: "), std::string::npos) << out;
  const std::string image = nuclei("images/" + files_[0]);
  const std::string pred_dir = dir_ + "/pred_bf16";
  const std::string out2 = test::run_command(
      cli() + "predict " + config_ + " " + ckpt_ + " " + image + " --dtype bf16 --no-overlays --out-dir " + pred_dir, &rc);
  ASSERT_EQ(rc, 0) << out2;
  EXPECT_TRUE(fs::exists(pred_dir + "/results.json")) << out2;
  const std::string bad_test = test::run_command(cli() + "test " + config_ + " " + ckpt_ + " --device cpu --dtype fp16", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(bad_test.find("fp16 needs a CUDA device"), std::string::npos) << bad_test;
  const std::string bad_predict = test::run_command(
      cli() + "predict " + config_ + " " + ckpt_ + " " + image + " --device cpu --dtype fp16 --out-dir " + dir_ + "/fp16", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(bad_predict.find("fp16 needs a CUDA device"), std::string::npos) << bad_predict;
}

}  // namespace
}  // namespace instseg
