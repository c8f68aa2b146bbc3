// The model summary: layer calls and output shapes against torchvision's forward hooks
// (committed fixture), FLOPs of convolutions and the head against torch-measured MACs,
// scaling with the batch size, and the text's last two lines.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nn/resnet.h"
#include "nn/summary.h"

namespace ember {
namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json data = [] {
    std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/nn/data/resnet18_torchvision.json");
    return nlohmann::json::parse(in);
  }();
  return data;
}

TEST(Summary, MatchesTorchvisionCallsShapesAndMacs) {
  for (const std::string key : {"imagenet", "cifar"}) {
    SCOPED_TRACE(key);
    const nlohmann::json& want = fixture()[key];
    nn::ResNet18 model(10, key == "imagenet" ? nn::Stem::ImageNet : nn::Stem::Cifar);
    const int64_t image = want["summary_image_size"].get<int64_t>();
    for (int64_t batch : {1, 8}) {
      const nn::ModelSummary s = nn::summarize(model, {3, image, image}, batch);
      std::vector<std::pair<std::string, Shape>> leaves;
      int64_t gemm_flops = 0;
      for (const nn::SummaryRow& r : s.rows) {
        if (r.type == "Conv2d" || r.type == "Linear") gemm_flops += r.flops;
        if (r.type != "ResNet" && r.type != "Sequential" && r.type != "BasicBlock") leaves.emplace_back(r.name, r.output);
      }
      ASSERT_EQ(leaves.size(), want["leaf_calls"].size());
      for (size_t i = 0; i < leaves.size(); ++i) {
        Shape shape = want["leaf_calls"][i][1].get<Shape>();
        shape[0] *= batch;
        EXPECT_EQ(leaves[i].first, want["leaf_calls"][i][0].get<std::string>()) << i;
        EXPECT_EQ(leaves[i].second, shape) << leaves[i].first;
      }
      // A multiply-add is 2 FLOPs; the head's bias adds 10 per sample.
      EXPECT_EQ(gemm_flops, batch * (2 * want["macs"].get<int64_t>() + 10));
      EXPECT_EQ(s.rows.front().name, "");
      EXPECT_EQ(s.rows.front().output, (Shape{batch, 10}));
      EXPECT_EQ(s.flops, s.rows.front().flops);
      EXPECT_GT(s.flops, gemm_flops);  // BN, ReLU, pooling and the residual adds on top
      EXPECT_EQ(s.total_parameters, want["total_parameters"].get<int64_t>());
      EXPECT_EQ(s.trainable_parameters, s.total_parameters);
    }
    EXPECT_TRUE(model.is_training()) << "the summary restores the training flag";
  }
}

TEST(Summary, ActivationMemoryScalesAndTextEndsWithCounts) {
  nn::ResNet18 model(10, nn::Stem::Cifar);
  const nn::ModelSummary one = nn::summarize(model, {3, 32, 32}, 1);
  const nn::ModelSummary many = nn::summarize(model, {3, 32, 32}, 64);
  EXPECT_EQ(many.activation_bytes, 64 * one.activation_bytes);
  EXPECT_EQ(many.flops, 64 * one.flops);
  // Every leaf output in float32: conv1, bn1 and relu alone hold 3 * 64*32*32 floats.
  EXPECT_GT(one.activation_bytes, 3 * 64 * 32 * 32 * 4);
  const std::string text = nn::format_summary(many);
  const std::string tail = "total parameters: 11173962\ntrainable parameters: 11173962\n";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
  EXPECT_NE(text.find("layer2.0.downsample.0 (Conv2d)"), std::string::npos);
  EXPECT_NE(text.find("[64, 512, 4, 4]"), std::string::npos);
  EXPECT_EQ(nn::with_thousands(11181642), "11,181,642");
  EXPECT_EQ(nn::with_thousands(-1000), "-1,000");
  EXPECT_EQ(nn::with_thousands(999), "999");
}

}  // namespace
}  // namespace ember
