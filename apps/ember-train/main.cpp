// ember-train: train ResNet-18 on CIFAR-10 once per optimiser, from the same initial
// weights, and compare loss and accuracy curves, test accuracy, speed and memory (the seed
// experiment, done properly). `ember-train --help` lists every flag.
#include <cstdint>
#include <vector>

#include "apps/common/app_main.h"
#include "apps/ember-train/config.h"
#include "apps/ember-train/report.h"
#include "apps/ember-train/run.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ember-train: trains ResNet-18 on CIFAR-10 with each optimiser from the same initial weights and compares "
      "them.\nDefaults reproduce the seed experiment (torchvision ResNet-18, batch 256, 10 epochs, SGD momentum / "
      "Adam / RMSprop / Adagrad).\nWrites history.csv, epochs.csv, summary.json, training_metrics.png and "
      "test_accuracy.png and report.html to --out.",
      "ember-train"};
  ember::train::TrainConfig config;
  ember::train::add_flags(app, config);
  int64_t stop_after = 0;
  app.add_option("--stop-after-steps", stop_after, "test aid: act as if Ctrl-C came after N steps")->group("");
  std::vector<int64_t> kill_after;  // RANK STEPS
  app.add_option("--kill-after-steps", kill_after, "test aid: RANK N: that rank's process kills itself after N steps")
      ->expected(2)
      ->group("");
  ember::train::set_command_line(argc, argv);
  return ember::apps::run_main(app, argc, argv, [&] {
    ember::train::stop_after_steps(stop_after);
    if (!kill_after.empty()) ember::train::kill_after_steps(static_cast<int>(kill_after[0]), kill_after[1]);
    return ember::train::run_comparison(config);
  });
}
