#include "apps/ember-train/history.h"

#include <fmt/format.h>

namespace ember::train {

const char* const kHistoryHeader = "optimizer,repeat,epoch,batch,images_seen,loss,accuracy";
const char* const kEpochsHeader =
    "optimizer,repeat,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string q = "\"";
  for (char c : text) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_number(double value) { return fmt::format("{:.9g}", value); }

std::string history_csv(const std::vector<HistoryRow>& rows) {
  std::string out = std::string(kHistoryHeader) + "\n";
  for (const HistoryRow& r : rows)
    out += fmt::format("{},{},{},{},{},{},{}\n", csv_field(r.optimizer), r.repeat, r.epoch, r.batch, r.images_seen,
                       csv_number(r.loss), csv_number(r.accuracy));
  return out;
}

std::string epochs_csv(const std::vector<EpochRow>& rows) {
  std::string out = std::string(kEpochsHeader) + "\n";
  for (const EpochRow& r : rows)
    out += fmt::format("{},{},{},{},{},{},{},{},{}\n", csv_field(r.optimizer), r.repeat, r.epoch, csv_number(r.train_loss),
                       csv_number(r.train_accuracy), csv_number(r.test_loss), csv_number(r.test_accuracy),
                       csv_number(r.seconds), csv_number(r.images_per_second));
  return out;
}

std::vector<double> moving_average(const std::vector<double>& values, int window) {
  std::vector<double> out;
  if (window <= 0 || static_cast<int>(values.size()) < window) return out;
  double sum = 0;
  for (int i = 0; i < window; ++i) sum += values[i];
  out.push_back(sum / window);
  for (size_t i = window; i < values.size(); ++i) {
    sum += values[i] - values[i - window];
    out.push_back(sum / window);
  }
  return out;
}

}  // namespace ember::train
