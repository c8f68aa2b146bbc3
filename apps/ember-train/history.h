// What ember-train records: training points averaged over --log-every batches (the seed's
// "every 2 batches"), one row per epoch, and the CSV files they are written to.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ember::train {

struct HistoryRow {
  std::string optimizer;  // the run's spec (the one given, with a sweep's lr)
  int repeat = 0;
  int epoch = 0;          // 1-based
  int64_t batch = 0;      // global batch number (1-based, across epochs) ending the window
  int64_t images_seen = 0;
  double loss = 0;        // mean of the window's per-batch mean losses
  double accuracy = 0;    // mean of the window's per-batch accuracies
};

struct EpochRow {
  std::string optimizer;
  int repeat = 0;
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0;            // training time of this epoch (evaluation excluded)
  double images_per_second = 0;  // training images / seconds
  // Not in epochs.csv (summary.json has them): totals of the run so far, and with
  // --shift E:classes the test accuracy on classes 0-4 and 5-9.
  int64_t images_seen = 0;
  double train_seconds = 0;
  double joules = 0;             // NaN when energy is unavailable
  double test_accuracy_low = 0, test_accuracy_high = 0;
  // --tune: loss and accuracy on the validation set held out of the training set (NaN without one).
  double validation_loss = std::numeric_limits<double>::quiet_NaN();
  double validation_accuracy = std::numeric_limits<double>::quiet_NaN();
};

extern const char* const kHistoryHeader;  // optimizer,repeat,epoch,batch,images_seen,loss,accuracy
extern const char* const kEpochsHeader;   // optimizer,repeat,epoch,train_loss,...,images_per_second

std::string history_csv(const std::vector<HistoryRow>& rows);
std::string epochs_csv(const std::vector<EpochRow>& rows);

// Moving average over `window` points, numpy's convolve(..., mode="valid"): n - window + 1
// values (none when n < window), as the seed's figure does.
std::vector<double> moving_average(const std::vector<double>& values, int window);

// A CSV field: quoted when it holds a comma, quote or newline (optimizer specs hold commas).
std::string csv_field(const std::string& text);
// Numbers with 9 significant digits: enough to round-trip a float.
std::string csv_number(double value);

}  // namespace ember::train
