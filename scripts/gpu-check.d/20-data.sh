#!/usr/bin/env bash
# Stage 20-data (issue 5): CIFAR loader throughput, written to $FRAGMENTS/20-data.json.
#   - the batch kernel alone (gather + crop + flip + normalise, one launch per batch) and the
#     Loader end to end (shuffle, second-stream prefetch, fresh batch memory per step) on the
#     GPU for batch sizes 128, 256 and 512; target >= 1,000,000 images/s for the kernel;
#   - the same two figures on the CPU (OpenMP over images), for comparison;
#   - when CIFAR_DIR holds the real data: its counts and label histogram (5,000 per class).
# Contract: scripts/gpu-check.sh's header. Exits non-zero when a run fails or the GPU kernel
# misses its target.
set -uo pipefail
app=$BIN_DIR/ember-data
if [ ! -x "$app" ]; then
  echo "20-data: $app was not built"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
for batch in 128 256 512; do
  "$app" bench --device cuda --batch "$batch" --images 50000 --augment standard --normalize cifar --seconds 2 \
    --json "$work/gpu-$batch.json" || rc=1
done
"$app" bench --device cpu --batch 256 --images 10000 --augment standard --normalize cifar --seconds 2 \
  --json "$work/cpu-256.json" || rc=1
if [ -n "${CIFAR_DIR:-}" ]; then
  "$app" check "$CIFAR_DIR" || rc=1
fi

$PYTHON - "$work" "$FRAGMENTS/20-data.json" <<'PY' || rc=1
import glob, json, os, sys
work, out = sys.argv[1:3]
benchmarks = []
for f in sorted(glob.glob(os.path.join(work, "*.json"))):
    benchmarks += json.load(open(f))["benchmarks"]
missed = []
for b in benchmarks:
    if b.get("target"):
        b["meets_target"] = b["ember"] >= b["target"]
        if not b["meets_target"]:
            missed.append(b["name"])
    print(f'{b["name"]:45s} {b["ember"]:>14,.0f} {b["unit"]}' + (f'  (target {b["target"]:,.0f})' if b.get("target") else ""))
json.dump({"benchmarks": benchmarks}, open(out, "w"), indent=1)
print(f"wrote {out}: {len(benchmarks)} figures")
if not benchmarks or missed:
    print("missed the target: " + ", ".join(missed) if missed else "no figures")
    sys.exit(1)
PY
exit $rc
