// report.html of a comparison (apps/compare/html_report.h writes it): the configuration and
// exact command, the ranking with intervals and the pairwise verdicts, the seed's training
// figure, test accuracy per epoch, the tuning or sweep results, time and energy to target,
// the memory table, the shift figure when used, and the device, ember commit and data.
#pragma once

#include <string>

#include "apps/ember-train/run_state.h"
#include "apps/ember-train/statistics.h"

namespace ember::train {

// The command line as typed (main() records it; the report quotes it).
void set_command_line(int argc, char** argv);
const std::string& command_line();

struct ReportInputs {
  std::string out_dir;      // where the figures are and report.html goes
  const RunState& state;
  const Statistics& statistics;
  std::string device;       // device_name(device)
  std::string figure_note;  // why figures are missing ("" when gnuplot ran)
};
// Writes <out_dir>/report.html.
void write_comparison_report(const ReportInputs& inputs);

}  // namespace ember::train
