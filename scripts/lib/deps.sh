# Debian packages ember builds with, and a check that says how to get the missing ones.
# Sourced by scripts/test.sh, scripts/run.sh and .ci/run.
EMBER_DEBIAN_PACKAGES=(cmake g++ make libgtest-dev libbenchmark-dev libopenblas-dev libcli11-dev
  nlohmann-json3-dev libfmt-dev gnuplot-nox python3-pil curl ca-certificates)
# Optional: installed by .ci/run, named when missing (the build goes on without them).
EMBER_OPTIONAL_DEBIAN_PACKAGES=(libdnnl-dev)  # oneDNN: the fast CPU layers (nn/onednn/)

ember_missing_deps() {  # [package ...]: those not installed (default: the required ones)
  local p
  for p in "${@:-${EMBER_DEBIAN_PACKAGES[@]}}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

ember_check_deps() {
  command -v dpkg-query >/dev/null || return 0  # not Debian: let CMake say what it misses
  local missing
  missing=$(ember_missing_deps | tr '\n' ' ')
  if [ -n "$missing" ]; then
    echo "ember: missing packages: $missing" >&2
    echo "ember: install them with: sudo apt-get install -y $missing" >&2
    exit 1
  fi
  missing=$(ember_missing_deps "${EMBER_OPTIONAL_DEBIAN_PACKAGES[@]}" | xargs)
  [ -n "$missing" ] && echo "ember: optional packages missing (building without them): $missing;" \
    "install them with: sudo apt-get install -y $missing" >&2
  return 0
}

# Installs what is missing (root or sudo); idempotent.
ember_install_deps() {
  local missing sudo=""
  missing=$(ember_missing_deps "${EMBER_DEBIAN_PACKAGES[@]}" "${EMBER_OPTIONAL_DEBIAN_PACKAGES[@]}" | tr '\n' ' ')
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "ember: installing $missing"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}
