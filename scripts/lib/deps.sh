# The Debian packages ember needs - the one list of them - and the step that gets the missing
# ones. Sourced by scripts/test.sh, scripts/run.sh, scripts/fuzz.sh and .ci/run.
EMBER_DEBIAN_PACKAGES=(cmake g++ make libgtest-dev libbenchmark-dev libopenblas-dev libcli11-dev
  nlohmann-json3-dev libfmt-dev gnuplot-nox python3-pil curl ca-certificates)
# scripts/fuzz.sh (and CI) only: clang with libFuzzer and the sanitizer runtimes, OpenMP for clang.
EMBER_FUZZ_PACKAGES=(clang libclang-rt-dev libomp-dev)
# Optional: .ci/run installs them; scripts/test.sh and scripts/run.sh name them when missing, the
# build goes on without them (configure says so in one line) and the tests that need them skip,
# saying why. oneDNN: the fast CPU layers (nn/onednn/); chromium: test_html_report loads
# report.html in a headless browser.
EMBER_OPTIONAL_DEBIAN_PACKAGES=(libdnnl-dev chromium)

# The packages of "$@" that dpkg does not have installed.
ember_missing_deps() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# Makes sure the packages "$@" (default: EMBER_DEBIAN_PACKAGES) are installed. Missing ones are
# installed when this can be done without a question (root, or sudo without a password),
# saying so in one line; otherwise it prints the one apt-get line that installs them and
# exits 1. Not Debian or Ubuntu (no dpkg): nothing to do here, CMake names what it misses.
ember_ensure_deps() {
  [ $# -gt 0 ] || set -- "${EMBER_DEBIAN_PACKAGES[@]}"
  command -v dpkg-query >/dev/null || return 0
  local missing sudo
  missing=$(ember_missing_deps "$@" | tr '\n' ' ' | sed 's/ $//')
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then
    sudo=""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "ember: missing Debian packages; install them with:" >&2
    echo "sudo apt-get install -y $missing" >&2
    exit 1
  fi
  echo "ember: installing the missing Debian packages: $missing"
  # shellcheck disable=SC2086  # one word per package
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null; }; then
    echo "ember: installing them failed (see above); install them with:" >&2
    echo "sudo apt-get install -y $missing" >&2
    exit 1
  fi
}

# Names the optional packages that are missing (one line on stderr); never fails.
ember_note_optional_deps() {
  command -v dpkg-query >/dev/null || return 0
  local missing
  missing=$(ember_missing_deps "${EMBER_OPTIONAL_DEBIAN_PACKAGES[@]}" | tr '\n' ' ' | sed 's/ $//')
  [ -z "$missing" ] || echo "ember: optional packages missing (building without them): $missing;" \
    "install them with: sudo apt-get install -y $missing" >&2
  return 0
}
