// ember-summary: the layer table of a model (output shapes, parameter counts, forward
// FLOPs, activation memory at a batch size), ending with "total parameters: N" and
// "trainable parameters: N". It also writes what the torchvision interop check
// (scripts/check_torchvision_interop.py) compares:
//   ember-summary --arch resnet18 --bn-warmup 3 --save-random-init model.safetensors
//                 --dump-output out.safetensors
//   ember-summary --arch resnet18 --load torch_model.safetensors --input in.safetensors
//                 --dump-output out.safetensors
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/common/app_main.h"
#include "core/autograd/grad_mode.h"
#include "core/device.h"
#include "core/ops.h"
#include "nn/checkpoint.h"
#include "nn/layer_backend.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"
#include "nn/summary.h"

namespace ember {
namespace {

struct Options {
  std::string arch = "resnet18", device = "cpu";
  int64_t classes = 10, batch_size = 1, image_size = 0, bn_warmup = 0;
  uint64_t seed = 0;
  bool zero_init_residual = false, tf32 = false, quiet = false;
  std::string load, save_init, dump_output, input;
};

nn::Stem stem_of(const std::string& arch) {
  if (arch == "resnet18") return nn::Stem::ImageNet;
  if (arch == "resnet18-cifar") return nn::Stem::Cifar;
  throw UsageError(__FILE__, __LINE__, "unknown --arch '" + arch + "' (resnet18 or resnet18-cifar)");
}

// The input of --dump-output: the tensor "input" of --input, or normal(0, 1) from the seed.
Tensor dump_input(const Options& o, int64_t image_size, Device device) {
  if (!o.input.empty()) {
    const nn::SafetensorsContents contents = nn::load_safetensors(o.input);
    const Tensor* input = contents.find("input");
    EMBER_CHECK(input != nullptr, "{}: no tensor named 'input'", o.input);
    EMBER_CHECK(input->dim() == 4 && input->size(1) == 3 && input->dtype() == DType::Float32,
                "{}: 'input' must be float32 [N, 3, H, W], got {} {}", o.input, dtype_name(input->dtype()),
                shape_str(input->sizes()));
    return input->to(device);
  }
  Generator gen(o.seed + 1);
  return randn({o.batch_size, 3, image_size, image_size}, {}, &gen).to(device);
}

int run(const Options& o) {
  const nn::Stem stem = stem_of(o.arch);
  EMBER_USAGE_CHECK(o.classes > 0 && o.batch_size > 0 && o.image_size >= 0 && o.bn_warmup >= 0,
                    "--classes and --batch-size must be positive, --image-size and --bn-warmup non-negative");
  const Device device = Device::parse(o.device);
  check_device_usable(device);
  nn::set_conv_tf32(o.tf32);

  Generator gen(o.seed);
  nn::ResNet18 model(o.classes, stem, &gen, o.zero_init_residual);
  model.to(device);
  const int64_t image_size = o.image_size > 0 ? o.image_size : model.default_image_size();
  if (!o.load.empty()) nn::load_checkpoint(o.load, model);

  if (!o.quiet) {
    std::printf("%s (stem %s, %lld classes) on %s\n", o.arch.c_str(), nn::stem_name(stem),
                static_cast<long long>(o.classes), device_name(device).c_str());
    std::printf("%s", nn::format_summary(nn::summarize(model, {3, image_size, image_size}, o.batch_size)).c_str());
  }

  if (o.bn_warmup > 0) {
    // Training-mode passes on random batches move the running statistics and counters
    // away from their initial values, so that an evaluation-mode comparison exercises them.
    NoGradGuard no_grad;
    Generator warm(o.seed + 2);
    model.train();
    for (int64_t i = 0; i < o.bn_warmup; ++i)
      model(add(mul(randn({o.batch_size < 2 ? 2 : o.batch_size, 3, image_size, image_size}, {}, &warm), 1.5), 0.25)
                .to(device));
  }
  if (!o.save_init.empty()) {
    nn::save_checkpoint(o.save_init, model, {{"arch", o.arch}, {"seed", std::to_string(o.seed)}});
    std::fprintf(stderr, "ember-summary: wrote %s\n", o.save_init.c_str());
  }
  if (!o.dump_output.empty()) {
    NoGradGuard no_grad;
    model.eval();
    const Tensor input = dump_input(o, image_size, device);
    const Tensor output = model(input);
    nn::save_safetensors(o.dump_output, {{"input", input}, {"output", output}},
                         {{"arch", o.arch}, {"mode", "eval"}, {"device", device.str()}, {"tf32", o.tf32 ? "1" : "0"}});
    std::fprintf(stderr, "ember-summary: wrote %s (output %s)\n", o.dump_output.c_str(),
                 shape_str(output.sizes()).c_str());
  }
  if (o.quiet) {
    std::printf("total parameters: %lld\ntrainable parameters: %lld\n", static_cast<long long>(model.num_parameters()),
                static_cast<long long>(model.num_parameters(true)));
  }
  return apps::kExitOk;
}

}  // namespace
}  // namespace ember

int main(int argc, char** argv) {
  ember::Options o;
  CLI::App app{"ember-summary: ResNet-18's layers with output shapes, parameters, FLOPs and activation memory; "
               "also saves checkpoints and outputs for the torchvision interop check",
               "ember-summary"};
  app.add_option("--arch", o.arch, "resnet18 (torchvision's 7x7/2 stem + max-pool) or resnet18-cifar (3x3/1 stem)")
      ->capture_default_str();
  app.add_option("--classes", o.classes, "number of classes of the fc head")->capture_default_str();
  app.add_option("--batch-size", o.batch_size,
                 "batch size the FLOPs and activation memory are given for (and of the random --dump-output input)")
      ->capture_default_str();
  app.add_option("--image-size", o.image_size, "input height and width (default: 224 for resnet18, 32 for resnet18-cifar)");
  app.add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the initial weights (and of random inputs)")->capture_default_str();
  app.add_flag("--zero-init-residual", o.zero_init_residual, "initialise each block's last BN weight to 0");
  app.add_flag("--tf32", o.tf32, "let cuDNN use TF32 for float32 convolutions (off here: exact comparisons)");
  app.add_option("--load", o.load, "load this safetensors checkpoint (torchvision names) before anything else");
  app.add_option("--bn-warmup", o.bn_warmup,
                 "training-mode forward passes on random batches before saving or dumping (moves BN running statistics)")
      ->capture_default_str();
  app.add_option("--save-random-init", o.save_init, "write the model's state (after --bn-warmup) to this safetensors file");
  app.add_option("--dump-output", o.dump_output,
                 "run the model in eval mode and write its input and output (tensors 'input', 'output') to this file");
  app.add_option("--input", o.input, "safetensors file whose tensor 'input' [N, 3, H, W] --dump-output runs on");
  app.add_flag("--quiet", o.quiet, "no table: only the two parameter-count lines");
  return ember::apps::run_main(app, argc, argv, [&] { return ember::run(o); });
}
