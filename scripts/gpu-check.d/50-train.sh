#!/usr/bin/env bash
# Stage 50-train (issues 7 and 9): ResNet-18 training-step throughput and memory, ember
# (ember-bench-train: fp32 eager, fp32 with --cuda-graph in NCHW and NHWC, bf16 mixed
# precision with --cuda-graph in NHWC) against PyTorch (scripts/bench_torch_train.py:
# eager NCHW, channels_last, AMP bf16; torch.compile for the CIFAR stem at batch 256 only,
# its compile time would not fit the call at every size) in the same call: both stems, batch
# 256 and 512 (30 timed steps after 5 of warm-up: about 8 minutes in all on an H100),
# fp32 with TF32 convolutions. Writes $FRAGMENTS/50-train.json: per ember configuration its
# images/s, the eager split, peak memory and the ratio to every PyTorch mode that ran.
# Targets (issue 7): fp32 >= 1.0x torch eager at the same precision, memory <= torch's; bf16
# + CUDA graph >= 1.3x torch AMP bf16 (channels_last, as PyTorch's AMP mode here).
# Contract: scripts/gpu-check.sh's header.
set -uo pipefail
bench=$BIN_DIR/ember-bench-train
[ -x "$bench" ] || { echo "50-train: $bench was not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
for arch in resnet18 resnet18-cifar; do
  for batch in 256 512; do
    for mode in fp32-eager fp32-graph fp32-graph-nhwc bf16-graph-nhwc; do
      flags=(--precision "${mode%%-*}")
      [[ $mode == *graph* ]] && flags+=(--cuda-graph)
      [[ $mode == *nhwc* ]] && flags+=(--channels-last)
      "$bench" --device cuda --arch "$arch" --batch-size "$batch" --optimizer sgd:lr=0.01,momentum=0.9 \
        --steps 30 --warmup 5 "${flags[@]}" --json > "$work/ember-$arch-$batch-$mode.json" || rc=1
      cat "$work/ember-$arch-$batch-$mode.json"
    done
  done
done
$PYTHON "$EMBER_ROOT/scripts/bench_torch_train.py" --optimizer sgd --modes eager,channels_last,amp_bf16 \
  --steps 30 --warmup 5 --json "$work/torch-eager.json" || rc=1
$PYTHON "$EMBER_ROOT/scripts/bench_torch_train.py" --optimizer sgd --modes compile --stems cifar --batches 256 \
  --steps 30 --warmup 5 --json "$work/torch-compile.json" || rc=1

$PYTHON - "$work" "$FRAGMENTS/50-train.json" <<'PY' || rc=1
import glob, json, os, sys
work, out = sys.argv[1:3]
torch = {}
for f in glob.glob(os.path.join(work, "torch-*.json")):
    for r in json.load(open(f))["results"]:
        torch[(r.get("stem"), r.get("batch_size"), r.get("mode"))] = r
modes = ("eager", "channels_last", "amp_bf16", "compile")
benchmarks = []
print(f"{'config':40s} {'ember img/s':>12s} " + " ".join(f"{'x ' + m:>16s}" for m in modes) + f" {'MB':>7s} {'mem x':>6s}")
for f in sorted(glob.glob(os.path.join(work, "ember-*.json"))):
    try:
        e = json.load(open(f))
    except ValueError:
        print(f"{os.path.basename(f)}: no result")
        continue
    stem = "cifar" if e["arch"] == "resnet18-cifar" else "imagenet"
    graph = "graph" if e["cuda_graph"] else "eager"
    precision = "tf32" if e["precision"] == "fp32" else e["precision"]
    layout = "_nhwc" if e.get("channels_last") else ""
    b = {"name": f"train_{e['arch']}_b{e['batch_size']}_{precision}_{graph}{layout}", "unit": "images_per_s",
         "ember": e["images_per_s"], "ember_precision": e["precision"],
         "ember_cuda_graph_replayed": e["graph_replayed"], "ember_graph_failure": e["graph_failure"],
         "ember_ms_forward_eager": e["ms_forward"], "ember_ms_backward_eager": e["ms_backward"],
         "ember_ms_optimizer_eager": e["ms_optimizer"], "ember_peak_bytes": e["peak_device_bytes"],
         "ember_graph_pool_bytes": e["graph_pool_bytes"]}
    for mode in modes:
        t = torch.get((stem, e["batch_size"], mode))
        if t and "images_per_s" in t:
            b[f"torch_{mode}"] = t["images_per_s"]
            b[f"ratio_vs_torch_{mode}"] = e["images_per_s"] / t["images_per_s"]
            b[f"torch_{mode}_peak_bytes"] = t["peak_memory_bytes"]
    # Memory against PyTorch at the same precision: eager fp32, or AMP bf16.
    same = "eager" if e["precision"] == "fp32" else "amp_bf16"
    if f"torch_{same}_peak_bytes" in b:
        b["memory_ratio_vs_torch_same_precision"] = e["peak_device_bytes"] / b[f"torch_{same}_peak_bytes"]
    b["target"] = "ratio_vs_torch_eager >= 1.0" if e["precision"] == "fp32" else "ratio_vs_torch_amp_bf16 >= 1.3"
    benchmarks.append(b)
    ratios = " ".join(f"{b.get('ratio_vs_torch_' + m, float('nan')):16.2f}" for m in modes)
    print(f"{b['name']:40s} {b['ember']:12.0f} {ratios} {e['peak_device_bytes'] / 1e6:7.0f} "
          f"{b.get('memory_ratio_vs_torch_same_precision', float('nan')):6.2f}")
    if e["graph_failure"]:
        print(f"  graph capture failed, ran eagerly: {e['graph_failure']}")
json.dump({"benchmarks": benchmarks}, open(out, "w"), indent=1)
PY
exit $rc
