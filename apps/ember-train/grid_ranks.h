// The comparison grid dealt over the ranks of an mpirun/srun job (issue 19, part 1).
//
// Note [grid over ranks]
// The runs left (from state.progress.run on) are trained in rounds of one run per rank: round
// k gives run first + k * N + r to rank r. Each rank trains its run exactly as one process
// would (a run depends only on its own seed and configuration), then every rank sends rank 0
// the outcome: the finished run's record, or why it stopped. Rank 0 appends the records in run
// order - so the output files are row for row those of one process - up to the first run of
// the round that did not finish, writes the tables and a checkpoint (between runs), and tells
// every rank whether to go on. A failed run is reported with its rank; the runs before it are
// kept and written; --resume (on any number of ranks) deals the runs left again. Runs are not
// checkpointed mid-run under ranks: an interrupted round is trained again on resume.
#pragma once

#include <functional>

#include "apps/ember-train/run_state.h"
#include "apps/ember-train/trainer.h"
#include "core/dist/communicator.h"

namespace ember::train {

struct GridOnRanks {
  dist::Communicator& comm;
  const TrainEnvironment& env;  // its save_checkpoint is not used (Note [grid over ranks])
  // Rank 0, after appending a round's finished runs to the state: write tables, checkpoint.
  std::function<void(const RunState&)> after_round;
};

// Trains the runs left of `state` over the ranks; on rank 0 `state` ends with every finished
// run. Returns the exit code every rank should end with: 0, 1 (a run failed on some rank:
// reported on stderr by rank 0) or 130 (interrupted).
int train_grid_on_ranks(const GridOnRanks& grid, RunState& state);

}  // namespace ember::train
