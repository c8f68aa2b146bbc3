#include "apps/ember-train/grid_ranks.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/common/app_main.h"
#include "core/error.h"

namespace ember::train {

namespace {

// What a rank sends rank 0 after its run of a round (empty: no run for it this round).
std::string train_one(const TrainEnvironment& env, int run) {
  RunRecord record;
  Progress progress;
  progress.run = run;
  try {
    const Outcome outcome = RunTrainer(env, record, progress, nullptr).train();
    if (outcome == Outcome::Interrupted) return nlohmann::json{{"run", run}, {"status", "interrupted"}}.dump();
    return nlohmann::json{{"run", run}, {"status", "finished"}, {"record", to_json(record)}}.dump();
  } catch (const std::exception& e) {
    return nlohmann::json{{"run", run}, {"status", "failed"}, {"error", e.what()}}.dump();
  }
}

struct RoundResult {
  int added = 0;
  int exit_code = apps::kExitOk;
};

// Rank 0: appends the round's finished runs in run order up to the first that did not finish,
// and reports every run that did not.
RoundResult gather_round(const std::vector<std::string>& messages, const TrainEnvironment& env, RunState& state) {
  RoundResult round;
  bool in_order = true;
  for (size_t rank = 0; rank < messages.size(); ++rank) {
    if (messages[rank].empty()) continue;
    const nlohmann::json m = nlohmann::json::parse(messages[rank]);
    const int run = m.at("run").get<int>();
    const std::string status = m.at("status").get<std::string>();
    const std::string name = env.config.parsed.runs.at(static_cast<size_t>(run)).optimizer;
    if (status == "finished" && in_order) {
      state.add(run_record_from_json(m.at("record"), fmt::format("rank {}", rank)));
      env.progress.println(fmt::format("rank {}: run {} ({}) finished", rank, run + 1, name));
      ++round.added;
      continue;
    }
    if (status == "finished") {
      env.progress.println(fmt::format("rank {}: run {} ({}) finished after a run that did not: trained again on "
                                       "--resume", rank, run + 1, name));
      continue;
    }
    in_order = false;
    if (status == "interrupted") {
      if (round.exit_code == apps::kExitOk) round.exit_code = apps::kExitInterrupted;
      env.progress.println(fmt::format("rank {}: run {} ({}) interrupted", rank, run + 1, name));
    } else {
      round.exit_code = apps::kExitError;
      std::fprintf(stderr, "ember-train: rank %zu failed in run %d (%s): %s\n", rank, run + 1, name.c_str(),
                   m.at("error").get<std::string>().c_str());
    }
  }
  return round;
}

}  // namespace

int train_grid_on_ranks(const GridOnRanks& grid, RunState& state) {
  dist::Communicator& comm = grid.comm;
  // No checkpoint inside a run: the ranks would overwrite each other's (Note [grid over ranks]).
  TrainEnvironment env = grid.env;
  env.save_checkpoint = [](const nn::Module&, const optim::StateDict&) {};
  const int total = static_cast<int>(env.config.parsed.runs.size());
  int first = state.progress.run;  // every rank read the same checkpoint
  state.current = RunRecord{};
  while (first < total) {
    const int run = first + comm.rank();
    const std::string mine = run < total ? train_one(env, run) : std::string();
    const std::vector<std::string> messages = comm.gather_bytes(mine, 0);
    int32_t verdict[2] = {0, 0};  // exit code, runs added
    if (comm.rank() == 0) {
      const RoundResult round = gather_round(messages, env, state);
      state.progress = Progress{};
      state.progress.run = static_cast<int>(state.results.size());
      grid.after_round(state);
      verdict[0] = round.exit_code;
      verdict[1] = round.added;
    }
    comm.broadcast_bytes(verdict, sizeof(verdict), 0);
    if (verdict[0] != apps::kExitOk) return verdict[0];
    first += verdict[1];
  }
  return apps::kExitOk;
}

}  // namespace ember::train
