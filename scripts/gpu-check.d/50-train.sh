#!/usr/bin/env bash
# Stage 50-train (issues 7 and 9): ResNet-18 training-step throughput and memory, ember
# (ember-bench-train) against PyTorch (scripts/bench_torch_train.py) in the same call, both
# stems, batch 256 and 512, fp32 with TF32 convolutions; written to $FRAGMENTS/50-train.json
# with ember's ratio to PyTorch eager NCHW (and to the other PyTorch modes where they ran).
# Contract: scripts/gpu-check.sh's header.
set -uo pipefail
bench=$BIN_DIR/ember-bench-train
[ -x "$bench" ] || { echo "50-train: $bench was not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
for arch in resnet18 resnet18-cifar; do
  for batch in 256 512; do
    "$bench" --device cuda --arch "$arch" --batch-size "$batch" --optimizer sgd:lr=0.01,momentum=0.9 \
      --steps 50 --warmup 10 --json > "$work/ember-$arch-$batch.json" || rc=1
    cat "$work/ember-$arch-$batch.json"
  done
done
$PYTHON "$EMBER_ROOT/scripts/bench_torch_train.py" --optimizer sgd --json "$work/torch.json" || rc=1

$PYTHON - "$work" "$FRAGMENTS/50-train.json" <<'PY' || rc=1
import glob, json, os, sys
work, out = sys.argv[1:3]
torch = {}
if os.path.exists(os.path.join(work, "torch.json")):
    for r in json.load(open(os.path.join(work, "torch.json")))["results"]:
        torch[(r.get("stem"), r.get("batch_size"), r.get("mode"))] = r
benchmarks = []
print(f"{'config':32s} {'ember img/s':>12s} {'torch eager':>12s} {'ratio':>6s} {'ember MB':>9s} {'torch MB':>9s}")
for f in sorted(glob.glob(os.path.join(work, "ember-*.json"))):
    e = json.load(open(f))
    stem = "cifar" if e["arch"] == "resnet18-cifar" else "imagenet"
    b = {"name": f"train_{e['arch']}_b{e['batch_size']}_tf32", "unit": "images_per_s", "ember": e["images_per_s"],
         "ember_ms_forward": e["ms_forward"], "ember_ms_backward": e["ms_backward"],
         "ember_ms_optimizer": e["ms_optimizer"], "ember_peak_bytes": e["peak_device_bytes"]}
    for mode in ("eager", "channels_last", "amp_bf16", "compile"):
        t = torch.get((stem, e["batch_size"], mode))
        if t and "images_per_s" in t:
            b[f"torch_{mode}"] = t["images_per_s"]
            b[f"ratio_vs_torch_{mode}"] = e["images_per_s"] / t["images_per_s"]
            if mode == "eager":
                b["torch_eager_peak_bytes"] = t["peak_memory_bytes"]
                b["memory_ratio_vs_torch_eager"] = e["peak_device_bytes"] / t["peak_memory_bytes"]
    benchmarks.append(b)
    print(f"{b['name']:32s} {b['ember']:12.0f} {b.get('torch_eager', float('nan')):12.0f} "
          f"{b.get('ratio_vs_torch_eager', float('nan')):6.2f} {e['peak_device_bytes'] / 1e6:9.0f} "
          f"{b.get('torch_eager_peak_bytes', float('nan')) / 1e6:9.0f}")
json.dump({"benchmarks": benchmarks}, open(out, "w"), indent=1)
PY
exit $rc
