#!/usr/bin/env bash
# Run HERE (a Debian machine with a network) before a gpu-check: the lent GPU machine has
# CUDA, cuDNN (inside PyTorch's wheel), CMake and Python but none of ember's C++ libraries
# and no network. This downloads their Debian packages into .gpu-deps/ (ignored by git, about
# 14 MB) and copies the CIFAR-10 JPEG archive into .gpu-data/ when ../shared has it.
# gpu-check.sh unpacks them there; name both folders in the device tool's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
(cd .gpu-deps && apt-get download libopenblas0-pthread libopenblas-pthread-dev libgfortran5 libquadmath0 \
  libfmt9 libfmt-dev libgtest-dev libcli11-dev nlohmann-json3-dev 2>/dev/null)
ls -la .gpu-deps
if [ -d ../shared/data/cifar10-jpeg ]; then
  mkdir -p .gpu-data
  cp ../shared/data/cifar10-jpeg/{cifar10-jpg.tar.xz,labels.u8,build_cifar10_bin.py} .gpu-data/
  echo "copied the CIFAR-10 JPEG copy into .gpu-data/"
fi
if [ -d ../shared/data/cifar10-mini ]; then  # the real slice some CPU tests use (they skip without it)
  mkdir -p .gpu-data/cifar10-mini
  cp ../shared/data/cifar10-mini/*.bin ../shared/data/cifar10-mini/SHA256SUMS .gpu-data/cifar10-mini/
  echo "copied the real CIFAR-10 slice into .gpu-data/cifar10-mini/"
fi
grep -qx '/.gpu-deps/' .gitignore && grep -qx '/.gpu-data/' .gitignore || echo "warning: .gpu-deps/.gpu-data not in .gitignore"
