#!/usr/bin/env bash
# gpu-check.sh: everything that needs a GPU, in as few device calls as possible.
#
# Here, first:   scripts/pack-gpu-deps.sh        (C++ libraries + CIFAR-10 JPEG copy to carry)
# On the GPU machine (device tool, carry [".gpu-deps", ".gpu-data"]):
#   scripts/gpu-check.sh                 build, all tests, compute-sanitizer, every stage
#   scripts/gpu-check.sh build test      only those steps (names below; a later call on the
#                                        same warm machine reuses the build)
# Steps: env, build, test, sanitize, then each stage scripts/gpu-check.d/NN-name.sh (by name
# NN-name or name). `bench` = all stages.
#
# Results (in $OUT, default /tmp/ember-gpu-check-out; at most a few files so that the device
# tool brings them all back):
#   report.txt           human-readable log of every step
#   gpu-check.json       {"device", "commit", "date", "cuda", "cudnn", "torch", "steps": [...],
#                         "benchmarks": [...]}: commit it as bench/results/DATE-DEVICE-gpu-check.json
#
# Stage contract (scripts/gpu-check.d/*.sh, run with bash from the repository root): the
# environment holds EMBER_ROOT, BUILD_DIR, BIN_DIR, PYTHON, FRAGMENTS and CIFAR_DIR (a folder
# with the CIFAR-10 binaries, or empty). A stage writes FRAGMENTS/<stage>.json holding
# {"benchmarks": [ {...}, ... ]} (DESIGN.md, "Figures from the GPU machine": ratios are
# ember's speed over the other's) and prints what a reader should see; a non-zero exit marks
# the stage failed and the check goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
EMBER_ROOT=$(pwd)
OUT=${OUT:-/tmp/ember-gpu-check-out}
BUILD_DIR=${BUILD_DIR:-$EMBER_ROOT/build-gpu}
BIN_DIR=$BUILD_DIR/bin
PYTHON=${PYTHON:-python3}
WORK=/tmp/ember-gpu-check
FRAGMENTS=$WORK/fragments
mkdir -p "$OUT" "$FRAGMENTS"
REPORT=$OUT/report.txt
STEPS=$WORK/steps.jsonl
export EMBER_ROOT BUILD_DIR BIN_DIR PYTHON FRAGMENTS
# The real CIFAR-10 slice for the tests that read it (carried by pack-gpu-deps.sh; ../shared
# is not there).
[ -d .gpu-data/cifar10-mini ] && export EMBER_CIFAR10_MINI=$EMBER_ROOT/.gpu-data/cifar10-mini

log() { echo "$*" | tee -a "$REPORT"; }
record() {  # record NAME STATUS SECONDS
  printf '{"name": "%s", "status": "%s", "seconds": %s}\n' "$1" "$2" "$3" >> "$STEPS"
}
run_step() {  # run_step NAME COMMAND...: logs output, records pass/fail and time
  local name=$1 t0 rc
  shift
  log "== $name"
  t0=$(date +%s)
  "$@" 2>&1 | tee -a "$REPORT"
  rc=${PIPESTATUS[0]}
  record "$name" "$([ "$rc" -eq 0 ] && echo passed || echo "failed (exit $rc)")" $(( $(date +%s) - t0 ))
  log "== $name: exit $rc"
  return "$rc"
}

# --- dependencies carried as Debian packages (scripts/pack-gpu-deps.sh)
setup_deps() {
  local prefix=$WORK/deps
  if [ -d .gpu-deps ] && [ ! -d "$prefix/usr" ]; then
    for deb in .gpu-deps/*.deb; do dpkg-deb -x "$deb" "$prefix" 2>/dev/null || dpkg -x "$deb" "$prefix"; done
  fi
  CMAKE_EXTRA=()
  if [ -d "$prefix/usr" ]; then
    local multiarch=$prefix/usr/lib/x86_64-linux-gnu
    CMAKE_EXTRA+=(-DCMAKE_PREFIX_PATH="$prefix/usr" -DBLAS_LIBRARIES="$multiarch/openblas-pthread/libopenblas.so"
                  -DEMBER_CBLAS_INCLUDE_DIR="$prefix/usr/include/x86_64-linux-gnu/openblas-pthread")
    export LD_LIBRARY_PATH="$multiarch/openblas-pthread:$multiarch:${LD_LIBRARY_PATH:-}"
  fi
  # cuDNN: the toolkit's if it has one, else the one inside PyTorch's wheel.
  if [ ! -f /usr/local/cuda/include/cudnn_version.h ]; then
    local cudnn
    cudnn=$($PYTHON -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null || true)
    if [ -n "$cudnn" ]; then
      CMAKE_EXTRA+=(-DCUDNN_ROOT="$cudnn")
      export LD_LIBRARY_PATH="$cudnn/lib:$LD_LIBRARY_PATH"
    fi
  fi
}

# --- CIFAR-10 binaries rebuilt from the carried JPEG copy (for the training stages)
setup_data() {
  CIFAR_DIR=""
  if [ -f data/cifar-10-batches-bin/test_batch.bin ]; then
    CIFAR_DIR=$EMBER_ROOT/data/cifar-10-batches-bin
  elif [ -f .gpu-data/cifar10-jpg.tar.xz ]; then
    local dst=$WORK/cifar10-jpeg
    mkdir -p "$dst"
    [ -f "$dst/labels.u8" ] || cp .gpu-data/* "$dst/"
    if [ ! -f "$WORK/cifar-10-batches-bin/test_batch.bin" ]; then
      (cd "$dst" && $PYTHON build_cifar10_bin.py "$WORK/cifar-10-batches-bin") >> "$REPORT" 2>&1
    fi
    [ -f "$WORK/cifar-10-batches-bin/test_batch.bin" ] && CIFAR_DIR=$WORK/cifar-10-batches-bin
  fi
  export CIFAR_DIR
  log "CIFAR-10 binaries: ${CIFAR_DIR:-none (training stages fall back to what they can do)}"
}

step_env() {
  nvidia-smi || return 1
  nvcc --version | tail -2
  $PYTHON -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name(0))"
  echo "cmake: $(cmake --version | head -1)"
}

step_build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=native "${CMAKE_EXTRA[@]}" &&
    cmake --build "$BUILD_DIR" -j "$(nproc)"
}

step_test() {
  # Every suite, GPU suites included; on a GPU machine a skipped GPU test is a failure.
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j 4 --timeout 900 | tee "$WORK/ctest.log"
  local rc=${PIPESTATUS[0]}
  if grep -q "Skipped" "$WORK/ctest.log"; then
    echo "FAIL: tests were skipped on a GPU machine:"
    grep "Skipped" "$WORK/ctest.log"
    return 1
  fi
  return "$rc"
}

step_sanitize() {
  # compute-sanitizer memcheck over every GPU suite (test binaries whose name ends in _cuda).
  local rc=0 bin
  for bin in "$BUILD_DIR"/tests/*/test_*_cuda; do
    [ -x "$bin" ] || continue
    echo "-- memcheck $(basename "$bin")"
    compute-sanitizer --tool memcheck --error-exitcode 3 --leak-check no "$bin" --gtest_brief=1 || rc=1
  done
  return "$rc"
}

stage_files() { ls scripts/gpu-check.d/*.sh 2>/dev/null | sort; }

run_stage() {
  local file=$1 name
  name=$(basename "$file" .sh)
  run_step "stage $name" bash "$file"
}

write_json() {
  $PYTHON - "$STEPS" "$FRAGMENTS" "$OUT/gpu-check.json" <<'PY'
import glob, json, os, subprocess, sys, datetime
steps_file, fragments, out = sys.argv[1:4]
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
result = {"device": sh("nvidia-smi --query-gpu=name --format=csv,noheader | head -1"),
          "commit": sh("git rev-parse HEAD") or os.environ.get("EMBER_COMMIT", "unknown"),
          "date": datetime.date.today().isoformat(),
          "cuda": sh("nvcc --version | sed -n 's/.*release \\([0-9.]*\\).*/\\1/p'"),
          "cudnn": sh("python3 -c 'import torch; print(torch.backends.cudnn.version())'"),
          "torch": sh("python3 -c 'import torch; print(torch.__version__)'"),
          "steps": [], "benchmarks": []}
if os.path.exists(steps_file):
    result["steps"] = [json.loads(l) for l in open(steps_file) if l.strip()]
for f in sorted(glob.glob(os.path.join(fragments, "*.json"))):
    try:
        frag = json.load(open(f))
        result["benchmarks"] += frag.get("benchmarks", [])
    except Exception as e:
        result["steps"].append({"name": os.path.basename(f), "status": f"bad fragment: {e}", "seconds": 0})
json.dump(result, open(out, "w"), indent=1)
print(f"wrote {out}: {len(result['steps'])} steps, {len(result['benchmarks'])} benchmarks")
PY
}

main() {
  local wanted=("$@") rc=0 w f
  [ ${#wanted[@]} -eq 0 ] && wanted=(env build test sanitize bench)
  : > "$STEPS"
  setup_deps
  for w in "${wanted[@]}"; do
    case "$w" in
      env) run_step env step_env || rc=1 ;;
      build) run_step build step_build || { rc=1; log "build failed: stopping"; break; } ;;
      test) run_step test step_test || rc=1 ;;
      sanitize) run_step sanitize step_sanitize || rc=1 ;;
      bench) setup_data; for f in $(stage_files); do run_stage "$f" || rc=1; done ;;
      *)
        setup_data
        f=$(stage_files | grep -E "/([0-9]+-)?$w\.sh$" | head -1)
        if [ -z "$f" ]; then log "unknown step or stage '$w'"; rc=2; else run_stage "$f" || rc=1; fi ;;
    esac
  done
  write_json | tee -a "$REPORT"
  log "gpu-check: $([ $rc -eq 0 ] && echo PASSED || echo FAILED) (exit $rc)"
  return $rc
}

main "$@"
