#!/usr/bin/env bash
# The CPU cost of data parallelism: ember-bench-dist as one process (one thread) and under
# mpirun -np 2 (one thread per rank), merged into bench/results/<date>-cpu-dist.json with the
# ratios (one process's time over two ranks': above 1, two ranks are faster).
#   scripts/bench_dist.sh [build folder (default build)] [ember-bench-dist flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
bench="$build/bin/ember-bench-dist"
[ -x "$bench" ] || { echo "bench_dist.sh: $bench is not built" >&2; exit 1; }
# Open MPI: root in containers, more ranks than cores (Note [two ranks in CTest]).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1 EMBER_NUM_THREADS=1
one=$("$bench" "$@")
two=$(mpirun -np 2 --bind-to core "$bench" "$@")
out="bench/results/$(date -u +%F)-cpu-dist.json"
python3 - "$one" "$two" "$out" "$(git rev-parse --short HEAD)" "$@" <<'PY'
import json, sys, datetime
one, two, out, commit = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
ratio = lambda key: round(one[key] / two[key], 3) if two[key] else None
result = {"device": "CPU, 1 thread per rank", "commit": commit, "date": datetime.date.today().isoformat(),
          "command": "scripts/bench_dist.sh " + " ".join(sys.argv[5:]),
          "one_process": one, "two_ranks": two,
          "benchmarks": [
              {"name": "dp_step_resnet18_cifar", "unit": "ms", "one_process": one["step_ms"],
               "two_ranks": two["step_ms"], "speedup_two_ranks": ratio("step_ms")},
              {"name": "allreduce_unhidden_in_step", "unit": "ms", "two_ranks": two["finish_ms"],
               "fraction_of_step": round(two["finish_ms"] / two["step_ms"], 4)},
              {"name": "bucketed_allreduce_alone", "unit": "ms", "two_ranks": two["allreduce_ms"],
               "bytes": two["allreduce_bytes"]},
              {"name": "zero1_vs_adam_step", "unit": "ms", "adam": two["adam_step_ms"],
               "zero1": two["zero1_step_ms"], "ratio_adam_over_zero1": round(two["adam_step_ms"] / two["zero1_step_ms"], 3),
               "state_bytes_per_rank_adam": two["adam_state_bytes"],
               "state_bytes_per_rank_zero1": two["zero1_state_bytes_per_rank"]}]}
with open(out, "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
print(out)
PY
