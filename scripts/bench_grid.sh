#!/usr/bin/env bash
# The comparison grid's wall time on two ranks against one process (issue 19): the same
# ember-train sweep run once as one process with one thread and once under mpirun -np 2 with
# one thread per rank, on the CIFAR-10 slice. Checks that both write the same sweep.csv (the
# grid's rows are bit-identical on the CPU) and writes bench/results/<date>-cpu-grid.json with
# both times and their ratio (above 1: two ranks finish sooner).
#   scripts/bench_grid.sh [build folder (default build)] [data folder (default ../shared/data/cifar10-mini)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-../shared/data/cifar10-mini}
train="$build/bin/ember-train"
[ -x "$train" ] || { echo "bench_grid.sh: $train is not built" >&2; exit 1; }
[ -d "$data" ] || { echo "bench_grid.sh: no data folder $data" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench_grid.sh: mpirun not found (Open MPI)" >&2; exit 1; }
# Open MPI: root in containers, more ranks than cores (Note [two ranks in CTest]).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1 EMBER_NUM_THREADS=1
flags=(--data "$data" --device cpu --threads 1 --limit-train 480 --limit-test 200 --epochs 1 --batch-size 32
       --optimizer sgd:momentum=0.9 --optimizer adam --sweep lr=1e-3:1e-2:2 --quiet)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }'; }
one=$(seconds "$train" "${flags[@]}" --out "$work/one")
two=$(seconds mpirun -np 2 --bind-to core "$train" "${flags[@]}" --out "$work/two")
cmp -s "$work/one/sweep.csv" "$work/two/sweep.csv" || { echo "bench_grid.sh: the two sweep.csv differ" >&2; exit 1; }
out="bench/results/$(date -u +%F)-cpu-grid.json"
python3 - "$one" "$two" "$out" "$(git rev-parse --short HEAD)" "${flags[*]}" <<'PY'
import json, sys, datetime
one, two, out, commit, flags = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
result = {"device": "CPU, 1 thread per rank", "commit": commit, "date": datetime.date.today().isoformat(),
          "command": "scripts/bench_grid.sh", "ember_train_flags": flags, "runs": 4,
          "one_process_s": round(one, 2), "two_ranks_s": round(two, 2), "speedup_two_ranks": round(one / two, 3),
          "sweep_csv_identical": True}
with open(out, "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
print(json.dumps(result))
PY
