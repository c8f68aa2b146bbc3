#!/usr/bin/env bash
# gpu-check.sh: what only a GPU can prove, planned for the 15 minutes of one H200 that a task
# may be lent (device tool: README "GPU checks"; calls of at most 10 minutes, 64 MiB carried,
# 8 files back from $OUT).
#
#   scripts/gpu-check.sh --plan        the runs in order of value, what each step proves, its
#                                      time estimate (scripts/gpu-check.d/plan.tsv) and the total
#   scripts/gpu-check.sh run1          Run 1, at most 8 minutes with start-up: environment, build
#                                      for sm_90, every GPU suite, the fast path, the Adam step,
#                                      compute-sanitizer memcheck and racecheck
#   scripts/gpu-check.sh run2          Run 2, at most 5 minutes: PyTorch's side of the figures and
#                                      the seed experiment shortened to SEED_EPOCHS (default 1)
#   scripts/gpu-check.sh later NAME    an optional later run (names in --plan)
#   scripts/gpu-check.sh --update-estimates FILE...   replace the plan's estimates with the
#                                      seconds measured in those result files (commit plan.tsv)
#
# Here, first: scripts/pack-gpu-deps.sh (carry .gpu-deps to every run, .gpu-data to run 2).
# Every run writes, in $OUT: gpu-check-<run>.json (environment, steps, suites, benchmarks;
# rewritten after every step, so a run cut short still has one) and report-<run>.txt (the
# whole log). A step that fails or times out never stops the others; each has a timeout and
# the run a deadline (GPU_CHECK_SECONDS, default 380 for run1 and 280 for run2: start the
# device calls with timeout_s 400 and 300, so that with a fresh machine's 1.5 minutes of
# start-up run 1 stays within 8 minutes of device time and run 2 within 5). Commit the JSON as
# bench/results/YYYY-MM-DD-h200-<run>.json.
set -uo pipefail
cd "$(dirname "$0")/.."
EMBER_ROOT=$(pwd)
OUT=${OUT:-/tmp/ember-gpu-check-out}
BUILD_DIR=${BUILD_DIR:-$EMBER_ROOT/build-gpu}
BIN_DIR=$BUILD_DIR/bin
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
PLAN=$EMBER_ROOT/scripts/gpu-check.d/plan.tsv
CIFAR_DIR=/tmp/ember-cifar10-jpeg-copy  # rebuilt from .gpu-data by step_data
export EMBER_ROOT BUILD_DIR BIN_DIR PYTHON JOBS CIFAR_DIR

source scripts/gpu-check.d/lib.sh
source scripts/gpu-check.d/steps.sh

RUN1_TARGETS=(test_core_cuda test_nn_cuda test_data_cuda test_optim_cuda test_train_step_cuda test_train_cuda
              test_core test_train_step ember-bench-train ember-bench-optim)
RUN2_TARGETS=(ember-train ember-bench-train ember-bench-optim)

# Sets up the run's folders, deadline and results file.
start_run() {
  local name=$1 seconds=$2
  WORK=/tmp/ember-gpu-check/$name
  FRAGMENTS=$WORK/fragments
  STEPS=$WORK/steps.jsonl
  REPORT=$OUT/report-$name.txt
  rm -rf "$WORK"
  mkdir -p "$OUT" "$FRAGMENTS"
  : >"$STEPS"
  : >"$REPORT"
  DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-$seconds} ))
  RESULTS_NAME=gpu-check-$name.json
  RUN_NAME=$name
  export WORK FRAGMENTS RESULTS_NAME RUN_NAME
  write_results
  log "gpu-check $name: deadline in $(seconds_left) s; results in $OUT/$RESULTS_NAME"
}

finish_run() {
  write_results
  "$PYTHON" - "$OUT/$RESULTS_NAME" <<'PY' | tee -a "$REPORT"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\n{r['device']} (driver {r['driver']}, CUDA {r['cuda']}, cuDNN {r['cudnn']}), commit {r['commit'][:10]}")
for s in r["steps"]:
    print(f"  {s['name']:14s} {s['seconds']:4d} s  {s['status']}")
for b in r["benchmarks"]:
    extra = {k: v for k, v in b.items() if k.startswith(("ratio_", "fraction_", "graph_replayed"))}
    print(f"  {b['name']:40s} {b['ember']:.4g} {b['unit']}  {extra}")
bad = [s for s in r["steps"] if s["status"] != "passed"]
print("gpu-check: " + ("PASSED" if not bad else f"{len(bad)} step(s) not passed"))
sys.exit(1 if bad else 0)
PY
}

run1() {
  start_run run1 380
  setup_deps
  step env 30 step_env
  if step build 300 step_build "${RUN1_TARGETS[@]}"; then
    step suites 150 step_suites
    step fastpath 60 step_bench_train train_resnet18_b256_bf16_graph_nhwc --precision bf16 --channels-last \
      --cuda-graph --steps 30 --warmup 5
    step adam 30 step_optim adam
    step memcheck 100 step_sanitizer memcheck "${MEMCHECK_SET[@]}"
    step racecheck 70 step_sanitizer racecheck "${RACECHECK_SET[@]}"
  else
    for s in suites fastpath adam memcheck racecheck; do skip "$s" "the build failed"; done
  fi
  finish_run
}

run2() {
  start_run run2 280
  setup_deps
  step env 30 step_env
  if step build 150 step_build "${RUN2_TARGETS[@]}"; then
    step optim 30 step_optim adam adamw sgd:momentum=0.9
    step torch-optim 45 step_torch_optim
    step train 60 step_bench_train train_resnet18_b256_fp32_eager --steps 20 --warmup 5
    step train-fast 60 step_bench_train train_resnet18_b256_bf16_graph_nhwc --precision bf16 --channels-last \
      --cuda-graph --steps 20 --warmup 5
    step torch-train 75 step_torch_train eager,channels_last,amp_bf16
    step data 40 step_data && step seed 150 step_seed
    [ "$(seconds_left)" -gt 150 ] && step torch-compile 120 step_torch_train compile
  else
    for s in optim torch-optim train train-fast torch-train data seed; do skip "$s" "the build failed"; done
  fi
  finish_run
}

# Optional later runs (not in the 15 minutes): the stages of scripts/gpu-check.d/NN-*.sh and
# sanitizers over whole suites.
later() {
  start_run "later-$1" "${GPU_CHECK_SECONDS:-570}"
  setup_deps
  step env 30 step_env
  case "$1" in
    memcheck-all)
      step build 300 step_build "${RUN1_TARGETS[@]}" &&
        step memcheck-all 480 step_sanitizer memcheck test_core_cuda:* test_nn_cuda:* test_data_cuda:* test_optim_cuda:* ;;
    stages)
      step build 300 step_build all && for f in scripts/gpu-check.d/[0-9][0-9]-{data,optim,nn,train}.sh; do
        step "$(basename "$f" .sh)" 240 bash "$f"
      done ;;
    recipe) step build 300 step_build ember-train && step data 40 step_data && step 70-recipe 540 bash scripts/gpu-check.d/70-recipe.sh ;;
    seed10) export SEED_EPOCHS=10
      step build 300 step_build ember-train && step data 40 step_data && step seed 540 step_seed ;;
    *) log "unknown later run '$1' (see --plan)"; return 2 ;;
  esac
  finish_run
}

case "${1:-}" in
  --plan) "$PYTHON" scripts/gpu-check.d/results.py plan "$PLAN" ;;
  --update-estimates) shift; "$PYTHON" scripts/gpu-check.d/results.py update-estimates "$PLAN" "$@" ;;
  run1) run1 ;;
  run2) run2 ;;
  later) later "${2:-}" ;;
  *) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 2 ;;
esac
