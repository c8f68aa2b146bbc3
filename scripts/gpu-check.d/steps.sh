# The steps of scripts/gpu-check.sh's runs (sourced, not a stage). Each function is one step:
# it prints what a reader should see, writes its figures as a fragment in $FRAGMENTS and
# returns non-zero when what it proves does not hold. lib.sh runs them with their timeouts.
#
# Needs (exported by gpu-check.sh): EMBER_ROOT, BUILD_DIR, BIN_DIR, WORK, FRAGMENTS, PYTHON,
# JOBS, CIFAR_DIR (where step_data puts the CIFAR-10 binaries); setup_deps exports the rest.

RESULTS_PY=$EMBER_ROOT/scripts/gpu-check.d/results.py

# --- environment: what the results were measured on (fragment env.json, written even when
# something is missing); fails when nvidia-smi cannot see a GPU
step_env() {
  nvcc --version | tail -2
  if [ -n "${CUDNN_DIR:-}" ]; then echo "cuDNN for ember: $CUDNN_DIR"
  elif [ -f /usr/local/cuda/include/cudnn_version.h ]; then echo "cuDNN for ember: /usr/local/cuda (the toolkit)"
  else echo "cuDNN for ember: NOT FOUND (not in /usr/local/cuda nor in PyTorch's wheels): the build will fail"; fi
  echo "compute-sanitizer: $(command -v compute-sanitizer || echo 'not on PATH')"
  echo "g++: $(g++ --version | head -1); cmake: $(cmake --version | head -1); ninja: $(ninja --version)"
  "$PYTHON" - "$FRAGMENTS/env.json" "${CUDNN_DIR:-}" <<'PY'
import json, os, subprocess, sys
def sh(cmd):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"
env = {"device": sh("nvidia-smi --query-gpu=name --format=csv,noheader | head -1"),
       "driver": sh("nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1"),
       "cuda": sh("nvcc --version | sed -n 's/.*release \\([0-9.]*\\).*/\\1/p'"),
       "cudnn_dir": sys.argv[2] or "the CUDA toolkit's",
       "commit": os.environ.get("EMBER_COMMIT") or sh("git rev-parse HEAD"),
       "cpu_cores": sh("nproc"), "compute_sanitizer": sh("command -v compute-sanitizer")}
try:
    import torch
    env.update({"torch": torch.__version__, "cudnn": str(torch.backends.cudnn.version())})
except Exception as e:
    env.update({"torch": f"unavailable: {e}", "cudnn": "unknown"})
json.dump(env, open(sys.argv[1], "w"), indent=1)
print(json.dumps(env))
PY
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv  # its status
}

# --- dependencies: the carried Debian packages (scripts/pack-gpu-deps.sh) and PyTorch's cuDNN.
# Runs in gpu-check.sh's own shell: exports EMBER_CMAKE_EXTRA (cmake arguments, one a line),
# CUDNN_DIR and LD_LIBRARY_PATH for the steps.
setup_deps() {
  local prefix=/tmp/ember-gpu-deps deb extra=()
  if [ -d .gpu-deps ] && [ ! -d "$prefix/usr" ]; then
    for deb in .gpu-deps/*.deb; do dpkg-deb -x "$deb" "$prefix" 2>/dev/null || dpkg -x "$deb" "$prefix"; done
  fi
  if [ -d "$prefix/usr" ]; then
    local multiarch=$prefix/usr/lib/x86_64-linux-gnu
    extra+=(-DCMAKE_PREFIX_PATH="$prefix/usr" -DBLAS_LIBRARIES="$multiarch/openblas-pthread/libopenblas.so"
            -DEMBER_CBLAS_INCLUDE_DIR="$prefix/usr/include/x86_64-linux-gnu/openblas-pthread")
    export LD_LIBRARY_PATH="$multiarch/openblas-pthread:$multiarch:${LD_LIBRARY_PATH:-}"
  fi
  # The toolkit's programs where PATH lacks them (CMake finds nvcc on PATH only).
  command -v nvcc >/dev/null || export PATH="/usr/local/cuda/bin:$PATH"
  command -v compute-sanitizer >/dev/null || export PATH="$PATH:/usr/local/cuda/compute-sanitizer"
  CUDNN_DIR=""
  if [ ! -f /usr/local/cuda/include/cudnn_version.h ]; then  # there, cuDNN is inside PyTorch's wheel
    CUDNN_DIR=$(wheel_cudnn_dir)
    if [ -n "$CUDNN_DIR" ]; then
      extra+=(-DCUDNN_ROOT="$CUDNN_DIR")
      export LD_LIBRARY_PATH="$CUDNN_DIR/lib:${LD_LIBRARY_PATH:-}"
    fi
  fi
  EMBER_CMAKE_EXTRA=$(printf '%s\n' "${extra[@]}")
  export CUDNN_DIR EMBER_CMAKE_EXTRA
}

# The folder of PyTorch's cuDNN wheel with include/cudnn_version.h and lib/libcudnn.so*:
# nvidia.cudnn's __path__ (its __file__ is None if the wheel ships no __init__.py), else any
# nvidia/* folder of sys.path that holds both (CUDA 13 wheels may use nvidia/cu13); "" if none.
wheel_cudnn_dir() {
  "$PYTHON" - 2>/dev/null <<'PY'
import glob, os, sys
candidates = []
try:
    import nvidia.cudnn
    candidates += list(nvidia.cudnn.__path__)
except Exception:
    pass
for p in sys.path:
    candidates += sorted(glob.glob(os.path.join(p, "nvidia", "*")))
for c in candidates:
    if os.path.isfile(os.path.join(c, "include", "cudnn_version.h")) and glob.glob(os.path.join(c, "lib", "libcudnn.so*")):
        print(c)
        break
PY
}

# --- build: ninja, sm_90 only, the given targets only (an existing build folder is reused)
step_build() {
  local extra=()
  [ -n "${EMBER_CMAKE_EXTRA:-}" ] && mapfile -t extra <<<"$EMBER_CMAKE_EXTRA"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DEMBER_CUDA=ON "${extra[@]}" >"$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log"; return 1; }
  grep "ember:" "$WORK/configure.log"
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@" >"$WORK/build.log" 2>&1 || { grep -B2 -A12 "error" "$WORK/build.log" | head -60; return 1; }
  tail -1 "$WORK/build.log"
}

# --- the GPU suites, one process each, brief output; gtest JSON reports summarised. Entries
# are "binary[:gtest filter]": the GPU suites whole, and the GPU halves of CPU suites.
# (Not test_core's Tensor.CudaIsAClearErrorWithoutAGpu: it skips where a GPU is present.)
GPU_SUITES=(test_core_cuda test_nn_cuda test_data_cuda test_optim_cuda test_train_step_cuda test_train_cuda
            "test_train_step:TrainStep*" "test_core:Device.*")
step_suites() {
  local entry bin filter path reports=() rc=0
  mkdir -p "$WORK/gtest"
  for entry in "${GPU_SUITES[@]}"; do
    bin=${entry%%:*}
    filter=${entry#*:}
    [ "$filter" = "$entry" ] && filter="*"
    path=$(suite_path "$bin")
    [ -n "$path" ] || { echo "$bin: not built"; rc=1; continue; }
    echo "-- $bin ($filter)"
    "$path" --gtest_brief=1 --gtest_filter="$filter" --gtest_output="json:$WORK/gtest/$bin.json" || rc=1
    reports+=("$WORK/gtest/$bin.json")
  done
  "$PYTHON" "$RESULTS_PY" suites --fragments "$FRAGMENTS" "${reports[@]}" || rc=1
  return "$rc"
}

suite_path() { find "$BUILD_DIR/tests" -maxdepth 2 -type f -name "$1" -perm -u+x | head -1; }

# --- compute-sanitizer: TOOL then "binary:filter" entries
step_sanitizer() {
  local tool=$1 entry bin rc=0
  shift
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer is not on PATH"; return 1; }
  for entry in "$@"; do
    bin=${entry%%:*}
    echo "-- $tool: $bin ${entry#*:}"
    compute-sanitizer --tool "$tool" --error-exitcode 3 $([ "$tool" = memcheck ] && echo --leak-check no) \
      "$(suite_path "$bin")" --gtest_brief=1 --gtest_filter="${entry#*:}" || rc=1
  done
  return "$rc"
}

# The focused memcheck set: bf16/NHWC batch norm and the fused BN+ReLU (every walk of its
# 16-byte packs: BatchNormCudaSizes.EveryWalk*), the loader's abandoned and ready batches, the
# optimiser's capturable step and gradient norm.
MEMCHECK_SET=("test_nn_cuda:FusedBatchNormRelu.*:BFloat16Layers.ConvBatchNormAndPooling*:BatchNormCudaSizes.EveryWalk*:BatchNormCudaSizes.AMisaligned*"
              "test_data_cuda:DataCuda.AbandonedAndDestroyedLoadersAreSafe:DataCuda.BatchesAreReadyForWork*"
              "test_optim_cuda:OptimCuda.CapturableMode*:OptimCuda.GradNormAndClipping*")
# racecheck: the kernels that share memory between warps (block reductions, BN partial sums).
RACECHECK_SET=("test_core_cuda:CudaReduce.SumsMeansAndMaxima*:CudaSoftmax.LogSoftmaxAndCrossEntropy*"
               "test_nn_cuda:FusedBatchNormRelu.*")

# --- ember-bench-train: NAME then flags; graph replay required when --cuda-graph is given
step_bench_train() {
  local name=$1 out=$WORK/$1.json require=()
  shift
  [[ " $* " == *" --cuda-graph "* ]] && require=(--require-graph)
  "$BIN_DIR/ember-bench-train" --device cuda --json "$@" >"$out" || { cat "$out"; return 1; }
  "$PYTHON" "$RESULTS_PY" bench-train --name "$name" --fragment "$FRAGMENTS/train.json" "${require[@]}" "$out"
}

# --- the fused optimiser step at ResNet-18's 11,181,642 parameters against the copy
# bandwidth measured in the same process (ember-bench-optim); OPTIMIZERS as --optimizer specs
step_optim() {
  local args=() spec
  for spec in "$@"; do args+=(--optimizer "$spec"); done
  "$BIN_DIR/ember-bench-optim" --device cuda --json --n 11181642 "${args[@]}" >"$WORK/optim.json" || return 1
  "$PYTHON" "$RESULTS_PY" adam --fragment "$FRAGMENTS/optim.json" "$WORK/optim.json"
}

# --- CIFAR-10 binaries rebuilt from the carried JPEG copy (.gpu-data, scripts/pack-gpu-deps.sh)
step_data() {
  if [ ! -f "$CIFAR_DIR/test_batch.bin" ]; then
    [ -f .gpu-data/cifar10-jpg.tar.xz ] || { echo "no .gpu-data/cifar10-jpg.tar.xz: carry .gpu-data"; return 1; }
    cp .gpu-data/cifar10-jpg.tar.xz .gpu-data/labels.u8 .gpu-data/build_cifar10_bin.py "$WORK/" &&
      "$PYTHON" "$WORK/build_cifar10_bin.py" "$CIFAR_DIR" || return 1
  fi
  ls -la "$CIFAR_DIR"
}

# --- PyTorch's side of the optimiser figures: for-loop, foreach and fused, same sizes,
# ratios to ember's figures measured in this call
step_torch_optim() {
  "$PYTHON" "$EMBER_ROOT/scripts/bench_torch_optim.py" --ember-json "$WORK/optim.json" \
    --fragment "$FRAGMENTS/optim.json" --reps 30 --warmup 5
}

# --- PyTorch's ResNet-18 training step at batch 256 (ImageNet stem): eager, channels_last,
# AMP bf16 (and torch.compile when asked), with ember's ratios
step_torch_train() {
  "$PYTHON" "$EMBER_ROOT/scripts/bench_torch_train.py" --optimizer sgd --stems imagenet --batches 256 \
    --modes "$1" --steps 20 --warmup 5 --json "$WORK/torch-train-$1.json" || return 1
  "$PYTHON" "$RESULTS_PY" torch-train --fragment "$FRAGMENTS/train.json" "$WORK"/torch-train-*.json
}

# --- the seed experiment, shortened: ember-train against scripts/seed_experiment.py on the
# full CIFAR-10 (JPEG copy), SEED_EPOCHS epochs, every seed optimiser
step_seed() {
  SEED_EPOCHS=${SEED_EPOCHS:-1} bash "$EMBER_ROOT/scripts/gpu-check.d/60-seed.sh"
}
