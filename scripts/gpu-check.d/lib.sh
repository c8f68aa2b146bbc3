# Step machinery of scripts/gpu-check.sh (sourced, not a stage): a deadline for the whole
# run, one timeout per step, a record per step, and the results JSON rewritten after every
# step, so that a run cut short by the device tool's limit still leaves its JSON in $OUT.
#
# Needs (set by gpu-check.sh): EMBER_ROOT, OUT, WORK, REPORT, STEPS (a JSON-lines file),
# FRAGMENTS (folder of {"benchmarks": [...]} and other keys), PYTHON, DEADLINE (epoch seconds)
# and RESULTS_NAME (the results file in $OUT). A step is a command or a function of
# steps.sh: it runs in a child bash (so that `timeout` can end it) that sources this file and
# steps.sh again; what steps share goes through exported variables.

log() { echo "$*" | tee -a "$REPORT"; }

seconds_left() { echo $(( DEADLINE - $(date +%s) )); }

# record NAME STATUS SECONDS [DETAIL]: one line of $STEPS, then the JSON is rewritten.
record() {
  "$PYTHON" - "$STEPS" "$@" <<'PY'
import json, sys
path, name, status, seconds = sys.argv[1:5]
detail = sys.argv[5] if len(sys.argv) > 5 else ""
with open(path, "a") as f:
    f.write(json.dumps({"name": name, "status": status, "seconds": int(seconds), "detail": detail}) + "\n")
PY
  write_results
}

# step NAME CAP_SECONDS COMMAND...: runs the command with its output in the report, killed
# after CAP seconds or at the run's deadline (less 20 s to write the JSON), whichever is
# first; skipped when under 15 s are left. Never stops the run: returns the command's status.
step() {
  local name=$1 cap=$2 t0 rc left limit
  shift 2
  left=$(( $(seconds_left) - 20 ))
  if [ "$left" -lt 15 ]; then
    log "== $name: skipped (out of time: ${left}s left before the deadline)"
    record "$name" "skipped: out of time" 0
    return 125
  fi
  limit=$(( cap < left ? cap : left ))
  log "== $name (at most ${limit}s)"
  t0=$(date +%s)
  timeout --kill-after=5 "$limit" bash -c 'source "$EMBER_ROOT/scripts/gpu-check.d/lib.sh"
    source "$EMBER_ROOT/scripts/gpu-check.d/steps.sh"
    "$@"' "$name" "$@" 2>&1 | tee -a "$REPORT"
  rc=${PIPESTATUS[0]}
  local status="passed"
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status="failed: timed out after ${limit}s"
  [ "$status" = passed ] && [ "$rc" -ne 0 ] && status="failed (exit $rc)"
  record "$name" "$status" $(( $(date +%s) - t0 ))
  log "== $name: $status"
  return "$rc"
}

# skip NAME WHY: a step that cannot run (e.g. its binaries were not built).
skip() {
  log "== $1: skipped ($2)"
  record "$1" "skipped: $2" 0
}

# The results file: environment, steps, suites and benchmarks so far (DESIGN.md, "Figures
# from the GPU machine"), rewritten whole each time (atomically: a cut-short run never
# leaves half a file).
write_results() {
  "$PYTHON" "$EMBER_ROOT/scripts/gpu-check.d/results.py" merge --steps "$STEPS" --fragments "$FRAGMENTS" \
    --out "$OUT/$RESULTS_NAME" --run "${RUN_NAME:-}" >/dev/null 2>>"$REPORT" || echo "gpu-check: could not write $OUT/$RESULTS_NAME" >&2
}
