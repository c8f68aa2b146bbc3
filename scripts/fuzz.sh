#!/usr/bin/env bash
# Fuzzing (Note [fuzzing] in the top CMakeLists.txt): builds the libFuzzer harnesses of
# tests/fuzz with clang under AddressSanitizer + UndefinedBehaviorSanitizer (CPU only, in
# build-fuzz/) and runs each from its committed seed corpus for a bounded time. Exits 1 on the
# first finding (a crash, a sanitizer report, an uncaught exception, an error message that is
# not one line of UTF-8, a leak, a timeout or running out of memory).
#
#   scripts/fuzz.sh                            # every harness, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh cifar10   # one harness (safetensors, cifar10, optim_spec, run_state)
#
# FUZZ_SECONDS sets the time per harness, BUILD_DIR (build-fuzz) and JOBS the build. A finding
# is saved as BUILD_DIR/findings/<harness>/crash-<sha1> (or leak-, timeout-, oom-); reproduce it
# with BUILD_DIR/bin/fuzz_<harness> <file>, then commit the file under
# tests/fuzz/regressions/<harness>/ with a regression test in the normal suites that asserts
# its clear error. Inputs that reach new code are kept in BUILD_DIR/corpus/<harness>/ (the
# committed seeds in tests/fuzz/corpus/ and the regressions are only read).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ember_ensure_deps "${EMBER_DEBIAN_PACKAGES[@]}" "${EMBER_FUZZ_PACKAGES[@]}"

build_dir=${BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
all=(safetensors cifar10 optim_spec run_state)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz.sh: unknown harness '$t' (one of: ${all[*]})" >&2; exit 2; }
done

echo "== fuzz: building ${targets[*]} in $build_dir/ (clang, ASan + UBSan)"
mkdir -p "$build_dir"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# No oneDNN: the harnesses read files, never run a layer, and Debian's oneDNN brings libgomp
# beside clang's libomp.
cmake -S . -B "$build_dir" "${launcher[@]}" -DCMAKE_CXX_COMPILER=clang++ -DEMBER_CUDA=OFF -DEMBER_ONEDNN=OFF -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  corpus=$build_dir/corpus/$t findings=$build_dir/findings/$t
  mkdir -p "$corpus" "$findings"
  log=$findings/fuzz.log
  echo "== fuzz: $t for ${seconds} s (log: $log)"
  # -timeout: one input may take 10 s at most; -rss_limit_mb: 2 GB at most (a length field
  # must not make a reader allocate what the file does not hold).
  # The committed regression inputs (tests/fuzz/regressions/<harness>/) run first with the seeds.
  seeds=("tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && seeds+=("tests/fuzz/regressions/$t")
  if ! "$build_dir/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" "${seeds[@]}" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "== fuzz: $t FOUND A PROBLEM: the input is in $findings/ (reproduce: $build_dir/bin/fuzz_$t <file>)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$log" | tr '\n' ' ' | sed "s/^/   $t: /"
  echo
done
echo "== fuzz: no findings"
