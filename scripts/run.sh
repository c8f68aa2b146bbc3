#!/usr/bin/env bash
# The main job: the optimiser comparison (ember-train), build included.
#
#   scripts/run.sh                        # the seed experiment, or what this machine can do of it
#   scripts/run.sh [ember-train flags]    # exactly those flags (see build/bin/ember-train --help)
#
# Without flags it first fetches CIFAR-10 into data/ when it is missing (like the seed's
# download=True; offline it says so in one line and goes on), then:
#   * with a GPU and CIFAR-10: the full seed experiment (4 optimisers x 10 epochs, batch 256);
#   * otherwise it says what it runs instead: on a GPU without CIFAR-10, the seed experiment on
#     the real slice in ../shared/data/cifar10-mini (or synthetic data); on the CPU a shortened
#     comparison (2 epochs, batch 64, at most 4,660 training images) that finishes in minutes.
# Every output file and figure is written either way, to runs/<date-time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ember_ensure_deps
ember_note_optional_deps

build_dir=${BUILD_DIR:-build}
echo "== building ember-train in $build_dir/"
mkdir -p "$build_dir"
cmake -S . -B "$build_dir" > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target ember-train
train=$build_dir/bin/ember-train

if [ $# -gt 0 ]; then
  exec "$train" "$@"
fi

if [ ! -f data/cifar-10-batches-bin/test_batch.bin ]; then
  scripts/get-cifar10.sh || echo "== no network: going on without the full CIFAR-10"
fi
have_data=no
[ -f data/cifar-10-batches-bin/test_batch.bin ] && have_data=yes
have_gpu=no
if nvidia-smi -L 2>/dev/null | grep -q GPU && grep -q "EMBER_HAS_CUDA:INTERNAL=ON" "$build_dir/CMakeCache.txt" 2>/dev/null; then
  have_gpu=yes
fi

if [ $have_gpu = yes ] && [ $have_data = yes ]; then
  echo "== GPU and CIFAR-10 present: the full seed experiment"
  exec "$train" --data data/cifar-10-batches-bin
elif [ $have_gpu = yes ]; then
  echo "== GPU present but no CIFAR-10: the seed experiment on the data that is here (see the next line)"
  exec "$train" --data auto
else
  echo "== no GPU: a shortened comparison on the CPU (2 epochs, batch 64, at most 4,660 training and 932 test" \
       "images; the full experiment needs a GPU: pass your own flags to run anything else)"
  exec "$train" --device cpu --data auto --epochs 2 --batch-size 64 --limit-train 4660 --limit-test 932
fi
