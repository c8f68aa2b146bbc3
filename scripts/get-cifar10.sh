#!/usr/bin/env bash
# get-cifar10.sh: downloads the CIFAR-10 binary release, checks its md5 and unpacks it.
#
#   scripts/get-cifar10.sh            # into data/ of this repository: data/cifar-10-batches-bin/
#   scripts/get-cifar10.sh DIR        # into DIR/cifar-10-batches-bin/
#
# Does nothing when the six files are already there. Needs curl or wget, md5sum and tar.
# Environment overrides (tests, mirrors): EMBER_CIFAR10_URL, EMBER_CIFAR10_MD5.
# Without a network it fails with one line saying how to train without the download.
set -euo pipefail

url=${EMBER_CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
md5=${EMBER_CIFAR10_MD5:-c32a1d4ab5d03f1284b67883e8d87530}
repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$repo/data}
target=$dest/cifar-10-batches-bin
files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)
alternative="train without it: --data synthetic (generated data), or --data ../shared/data/cifar10-mini (a real 4,660-image slice, where present)"

fail() {
  echo "get-cifar10: $*" >&2
  exit 1
}

complete() {
  local f
  for f in "${files[@]}"; do [ -s "$target/$f" ] || return 1; done
}

if complete; then
  echo "CIFAR-10 is already in $target"
  exit 0
fi

for tool in md5sum tar; do command -v "$tool" >/dev/null || fail "$tool is missing (install coreutils / tar)"; done
mkdir -p "$dest" || fail "cannot create $dest"
archive=$dest/cifar-10-binary.tar.gz

# A finished download from an earlier run is reused when its checksum is right.
if [ ! -f "$archive" ] || [ "$(md5sum "$archive" | cut -d' ' -f1)" != "$md5" ]; then
  echo "downloading $url (163 MB)"
  part=$archive.part
  rm -f "$part"
  if command -v curl >/dev/null; then
    curl -fL --connect-timeout 20 --retry 2 -sS -o "$part" "$url" 2>/dev/null ||
      { rm -f "$part"; fail "cannot download $url (no network?); $alternative"; }
  elif command -v wget >/dev/null; then
    wget -q --timeout=20 --tries=2 -O "$part" "$url" ||
      { rm -f "$part"; fail "cannot download $url (no network?); $alternative"; }
  else
    fail "neither curl nor wget is installed; $alternative"
  fi
  got=$(md5sum "$part" | cut -d' ' -f1)
  if [ "$got" != "$md5" ]; then
    rm -f "$part"
    fail "md5 of the download is $got, expected $md5 (corrupt or changed download; removed it); $alternative"
  fi
  mv "$part" "$archive"
fi

# Unpack next to the target and move into place, so an interrupted run never looks complete.
staging=$(mktemp -d "$dest/.cifar10-unpack.XXXXXX")
trap 'rm -rf "$staging"' EXIT
tar -xzf "$archive" -C "$staging" || fail "cannot unpack $archive (corrupt? delete it and run again)"
[ -d "$staging/cifar-10-batches-bin" ] || fail "$archive has no cifar-10-batches-bin/ folder"
rm -rf "$target"
mv "$staging/cifar-10-batches-bin" "$target"
complete || fail "$target is incomplete after unpacking $archive"
rm -f "$archive"
echo "CIFAR-10 is ready in $target"
