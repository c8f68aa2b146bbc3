#!/usr/bin/env python3
"""PyTorch's ResNet-18 training step on the GPU: the baseline of ember-bench-train (issue 7).

For each configuration: forward + backward + optimiser step on random CIFAR-shaped data,
median step time over --steps steps after --warmup steps (CUDA events), images/s, peak
device memory, and the split into forward, backward and optimiser (measured in separate
timed steps with events between the phases, so the split costs no accuracy of the total).

Configurations: stem imagenet (torchvision resnet18, fc 512->10) and cifar (3x3 stem conv,
no max-pool), batch 256 and 512, modes:
  eager        fp32 NCHW (TF32 convolutions, PyTorch's default: cudnn.allow_tf32 = True)
  channels_last fp32 NHWC
  amp_bf16     autocast bf16, channels_last
  compile      torch.compile (default mode) of the amp_bf16 model, where it works offline; its
               compile time is spent in the warm-up, not timed

    python3 scripts/bench_torch_train.py --json out.json
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn as nn
from torchvision.models import resnet18


def make_model(stem):
    model = resnet18(num_classes=10)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def bench(stem, batch, mode, steps, warmup, optimizer_name):
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = make_model(stem).to(device)
    channels_last = mode in ("channels_last", "amp_bf16", "compile")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if optimizer_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    forward_model = model
    if mode == "compile":
        forward_model = torch.compile(model)
    x = torch.randn(batch, 3, 32, 32, device=device)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    criterion = nn.CrossEntropyLoss()
    amp = mode in ("amp_bf16", "compile")

    def step(events=None):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = criterion(forward_model(x), y)
        if events:
            events[1].record()
        loss.backward()
        if events:
            events[2].record()
        opt.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    totals, fwd, bwd, optim_t = [], [], [], []
    for _ in range(steps):
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
        ev[0].record()
        step(ev)
        ev[3].record()
        torch.cuda.synchronize()
        totals.append(ev[0].elapsed_time(ev[3]))
        fwd.append(ev[0].elapsed_time(ev[1]))
        bwd.append(ev[1].elapsed_time(ev[2]))
        optim_t.append(ev[2].elapsed_time(ev[3]))
    ms = statistics.median(totals)
    return {"name": f"torch_train_resnet18_{stem}_b{batch}_{mode}", "stem": stem, "batch_size": batch, "mode": mode,
            "unit": "images_per_s", "images_per_s": batch / ms * 1000.0, "ms_step": ms,
            "ms_forward": statistics.median(fwd), "ms_backward": statistics.median(bwd),
            "ms_optimizer": statistics.median(optim_t), "peak_memory_bytes": torch.cuda.max_memory_allocated()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stems", default="imagenet,cifar")
    ap.add_argument("--batches", default="256,512")
    ap.add_argument("--modes", default="eager,channels_last,amp_bf16,compile")
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_torch_train.py needs a CUDA GPU")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    results = []
    for stem in args.stems.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for mode in args.modes.split(","):
                try:
                    r = bench(stem, batch, mode, args.steps, args.warmup, args.optimizer)
                except Exception as e:  # torch.compile may fail offline: record it, go on
                    r = {"name": f"torch_train_resnet18_{stem}_b{batch}_{mode}", "error": str(e).splitlines()[0]}
                print(json.dumps(r), flush=True)
                results.append(r)
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "results": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
