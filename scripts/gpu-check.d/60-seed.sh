#!/usr/bin/env bash
# Stage 60-seed (issues 6 and 7): the seed experiment, ember-train against
# scripts/seed_experiment.py (the seed's PyTorch script, faithful) on the same CIFAR-10 files
# (the JPEG copy rebuilt by gpu-check.sh: quote figures as "CIFAR-10 (JPEG copy)"): wall
# time, final test accuracy and peak memory per optimiser, written to $FRAGMENTS/60-seed.json.
# ember runs with --cuda-graph (same optimisers, capturable; it falls back to eager steps
# with a warning if the capture fails).
#
# SEED_EPOCHS (default 3) keeps both runs inside one device call (10 minutes): the seed's 10
# epochs take longer in PyTorch. The ratio compares the same epochs; run
# `SEED_EPOCHS=10 scripts/gpu-check.sh seed` alone for the full experiment.
# Contract: scripts/gpu-check.sh's header.
set -uo pipefail
epochs=${SEED_EPOCHS:-3}
[ -n "${CIFAR_DIR:-}" ] || { echo "60-seed: no CIFAR-10 binaries (carry .gpu-data, see pack-gpu-deps.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
t0=$(date +%s.%N)
"$BIN_DIR/ember-train" --data "$CIFAR_DIR" --epochs "$epochs" --device cuda --cuda-graph --out "$work/ember" --quiet || rc=1
t1=$(date +%s.%N)
$PYTHON "$EMBER_ROOT/scripts/seed_experiment.py" --data "$CIFAR_DIR" --epochs "$epochs" --out "$work/torch" || rc=1
t2=$(date +%s.%N)
ember_wall=$($PYTHON -c "print($t1 - $t0)")
torch_wall=$($PYTHON -c "print($t2 - $t1)")

$PYTHON - "$work" "$ember_wall" "$torch_wall" "$epochs" "$FRAGMENTS/60-seed.json" <<'PY' || rc=1
import json, os, sys
work, ember_wall, torch_wall, epochs, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
e = json.load(open(os.path.join(work, "ember", "summary.json")))
t = json.load(open(os.path.join(work, "torch", "summary.json")))
names = {"sgd": "sgd:lr=0.01,momentum=0.9", "adam": "adam:lr=0.001", "rmsprop": "rmsprop:lr=0.001",
         "adagrad": "adagrad:lr=0.01"}
rows = []
for short, spec in names.items():
    eo = next((o for o in e["optimizers"] if o["optimizer"] == spec), None)
    to = t["optimizers"].get(short)
    if eo and to:
        rows.append({"optimizer": short, "ember_final_test_accuracy": eo["final_test_accuracy"],
                     "torch_final_test_accuracy": to["final_test_accuracy"], "ember_seconds": eo["wall_seconds"],
                     "torch_seconds": to["wall_seconds"], "ember_peak_bytes": eo["peak_device_memory_bytes"],
                     "torch_peak_bytes": to["peak_device_memory_bytes"]})
        print(f"{short:8s} acc ember {eo['final_test_accuracy']:.4f} torch {to['final_test_accuracy']:.4f} | "
              f"s ember {eo['wall_seconds']:.1f} torch {to['wall_seconds']:.1f}")
bench = {"name": f"seed_experiment_{epochs}_epochs_cifar10_jpeg_copy", "unit": "seconds", "ember": ember_wall,
         "torch_seed_script": torch_wall, "ratio_vs_torch_seed_script": torch_wall / ember_wall,
         "target_ratio": 5.0, "optimizers": rows}
print(f"whole experiment ({epochs} epochs): ember {ember_wall:.0f} s, PyTorch {torch_wall:.0f} s, "
      f"ember {torch_wall / ember_wall:.2f}x faster (target 5x)")
json.dump({"benchmarks": [bench]}, open(out, "w"), indent=1)
PY
exit $rc
