#!/usr/bin/env bash
# Run HERE (a Debian machine with a network) before a gpu-check: the lent GPU machine has
# CUDA, cuDNN (inside PyTorch's wheel), CMake, ninja and Python but none of ember's C++
# libraries and no network. This downloads their Debian packages into .gpu-deps/ and copies
# the CIFAR-10 JPEG copy (../shared/data/cifar10-jpeg) into .gpu-data/; both folders are
# ignored by git. Name them in the device tool's `carry`: .gpu-deps for every run, .gpu-data
# for run 2 (scripts/gpu-check.sh --plan). With --with-mini it also copies the real CIFAR-10
# slice (../shared/data/cifar10-mini, 17 MB) that some CPU suites read; the GPU runs do not.
#
# A device call carries at most 64 MiB (the repository's files and the carried folders): the
# script ends by adding up what each run carries and fails when one would not fit.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((64 * 1024 * 1024))
mkdir -p .gpu-deps
(cd .gpu-deps && apt-get download libopenblas0-pthread libopenblas-pthread-dev libgfortran5 libquadmath0 \
  libfmt9 libfmt-dev libgtest-dev libcli11-dev nlohmann-json3-dev)
if [ -d ../shared/data/cifar10-jpeg ]; then
  mkdir -p .gpu-data
  cp ../shared/data/cifar10-jpeg/{cifar10-jpg.tar.xz,labels.u8,build_cifar10_bin.py} .gpu-data/
  echo "copied the CIFAR-10 JPEG copy into .gpu-data/"
else
  echo "warning: ../shared/data/cifar10-jpeg is missing: run 2's seed experiment will have no data"
fi
if [ "${1:-}" = --with-mini ] && [ -d ../shared/data/cifar10-mini ]; then
  mkdir -p .gpu-data/cifar10-mini
  cp ../shared/data/cifar10-mini/*.bin ../shared/data/cifar10-mini/SHA256SUMS .gpu-data/cifar10-mini/
  echo "copied the real CIFAR-10 slice into .gpu-data/cifar10-mini/"
fi
grep -qx '/.gpu-deps/' .gitignore && grep -qx '/.gpu-data/' .gitignore || echo "warning: .gpu-deps/.gpu-data not in .gitignore"

# What travels: tracked files and untracked files git does not ignore, plus the carried folders.
bytes_of() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
repo=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r du -cb 2>/dev/null |
  awk '/\ttotal$/ {s += $1} END {print s + 0}')
deps=$(bytes_of .gpu-deps)
data=$(bytes_of .gpu-data)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "repository $(mib "$repo"), .gpu-deps $(mib "$deps"), .gpu-data $(mib "$data")"
run1=$((repo + deps))
run2=$((repo + deps + data))
echo "run 1 carries $(mib $run1) (carry .gpu-deps); run 2 carries $(mib $run2) (carry .gpu-deps and .gpu-data); limit 64 MiB"
if [ $run2 -gt $limit ]; then
  echo "error: run 2 would carry more than 64 MiB: drop .gpu-data/cifar10-mini or other files" >&2
  exit 1
fi
