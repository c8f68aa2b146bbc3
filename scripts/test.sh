#!/usr/bin/env bash
# The test command: configure (build/ by default), build, run every test suite.
#   scripts/test.sh                    # from a fresh clone: build included
#   scripts/test.sh -DEMBER_CUDA=OFF   # extra arguments go to the CMake configure step
# GPU suites skip (and say why) where no GPU is usable. BUILD_DIR and JOBS override the
# build folder and the parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ember_ensure_deps
ember_note_optional_deps

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build_dir" "$@"
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
