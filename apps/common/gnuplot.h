// Plots through gnuplot (Debian's gnuplot-nox): a script is written to a temporary file and
// run. Programs write their CSVs first, so a missing gnuplot costs only the pictures.
#pragma once

#include <string>

namespace ember::apps {

// "" when gnuplot can be run, else the reason (one line, for the user).
std::string gnuplot_missing_reason();
// Runs `script` (which sets its own terminal and output). Throws ember::Error naming `what`
// and gnuplot's exit status on failure.
void run_gnuplot(const std::string& script, const std::string& what);
// Quotes a path or title for a gnuplot script.
std::string gnuplot_quote(const std::string& text);

}  // namespace ember::apps
