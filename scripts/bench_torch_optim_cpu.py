#!/usr/bin/env python3
"""Every optimiser step on the CPU, ember against torch.optim on the same cores (issue 16).
Never run by CI or the tests.

In one call:
  * ember-bench-optim --device cpu --json over every optimiser at 11,181,642 parameters
    (ResNet-18's own 62 tensors) in ONE run: step time, bytes moved per second and the
    fraction of the copy bandwidth measured in that run (the element-wise optimisers' target
    is >= 90%);
  * torch.optim's Adafactor (for-loop and foreach) and Muon (its only implementation, a
    for-loop) on the same shapes and thread count: Muon on the hidden weights flattened to 2-D
    ([out, in*kh*kw]: torch.optim.Muon takes 2-D parameters only; ember flattens the same way)
    with AdamW on the rest, as ember's `muon` (= muon+adamw) does; median of --reps steps
    after a warm-up step;
  * the schedulefree package's AdamWScheduleFree and SGDScheduleFree (for-loop and foreach,
    its defaults) on the same shapes against ember's sfadamw and sfsgd;
  * ember's speed over torch's for Muon, Adafactor and Schedule-Free (above 1: ember faster).
Writes bench/results/<date>-cpu-optim.json (-<names> appended with --optimizer) with the CPU model, thread count, torch version,
ember commit and date, and prints a table.

Usage (a python3 with torch, torchvision and schedulefree; ember built in build/):
    python3 scripts/bench_torch_optim_cpu.py [--threads 2] [--reps 5] [--build build] [--optimizer NAME ...]
(--optimizer, repeatable: only these, e.g. --optimizer sfadamw --optimizer sfsgd --optimizer adamw)
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_optim import resnet18_shapes, torch_optimizers  # noqa: E402  (the same torch side as on the GPU)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def schedulefree_optimizers(name, shapes, impl):
    """The schedulefree package's optimiser for ember's sfadamw or sfsgd (defaults) over
    parameters of `shapes` with gradients set, in train mode."""
    import schedulefree
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter((torch.rand(shape, generator=gen) - 0.5) * 0.2)
        p.grad = (torch.rand(shape, generator=gen) - 0.5) * 0.02
        params.append(p)
    cls = schedulefree.AdamWScheduleFree if name == "sfadamw" else schedulefree.SGDScheduleFree
    opt = cls(params, foreach=impl == "foreach")
    opt.train()
    return [opt]


TORCH_SIDE = {"adafactor": ("forloop", "foreach"), "muon": ("forloop",), "sfadamw": ("forloop", "foreach"),
              "sfsgd": ("forloop", "foreach")}


def median_step_ms(optimizers, reps):
    for opt in optimizers:  # state allocation outside the timing
        opt.step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for opt in optimizers:
            opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="timed steps of torch's Muon and Adafactor")
    ap.add_argument("--ember-reps", type=int, default=10, help="ember-bench-optim --reps")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--optimizer", action="append", default=[], help="only these (repeatable; default every one)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    binary = os.path.join(a.build, "bin", "ember-bench-optim")
    if not os.path.exists(binary):
        sys.exit(f"bench_torch_optim_cpu.py: no {binary}: build ember first")
    env = dict(os.environ, EMBER_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    only = [arg for name in a.optimizer for arg in ("--optimizer", name)]
    out = subprocess.run([binary, "--device", "cpu", "--threads", str(a.threads), "--reps", str(a.ember_reps),
                          "--json"] + only, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"ember-bench-optim failed: {out.stderr.strip()}")
    ember = json.loads(out.stdout)
    shapes = resnet18_shapes()
    comparisons = []
    measured = {r["optimizer"] for r in ember["results"]}
    for name, impls in TORCH_SIDE.items():
        if name not in measured:
            continue
        row = {"optimizer": name, "ember_ms": next(r["ms"] for r in ember["results"] if r["optimizer"] == name)}
        make = schedulefree_optimizers if name.startswith("sf") else torch_optimizers
        for impl in impls:
            row[f"torch_{impl}_ms"] = median_step_ms(make(name, shapes, impl), a.reps)
            row[f"ratio_vs_torch_{impl}"] = row[f"torch_{impl}_ms"] / row["ember_ms"]
        comparisons.append(row)
        print(json.dumps(row), flush=True)
    from importlib.metadata import version
    report = {"device": cpu_model(), "cpus": os.cpu_count(), "threads": a.threads, "torch": torch.__version__,
              "schedulefree": version("schedulefree"),
              "date": datetime.date.today().isoformat(),
              "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                                       text=True).stdout.strip(),
              "copy_gb_per_s": ember["copy_gb_per_s"], "ember": ember["results"], "vs_torch": comparisons}
    print(f"\nember-bench-optim, {report['device']}, {a.threads} threads, copy {ember['copy_gb_per_s']:.1f} GB/s")
    print(f"{'optimizer':18s} {'ms':>9s} {'GB/s':>7s} {'of copy':>8s}")
    for r in ember["results"]:
        print(f"{r['optimizer']:18s} {r['ms']:9.2f} {r['gb_per_s']:7.1f} {100 * r['fraction_of_copy']:7.0f}%")
    for row in comparisons:
        ratios = ", ".join(f"{k[9:]} {v:.2f}x" for k, v in row.items() if k.startswith("ratio_vs_torch_"))
        print(f"{row['optimizer']}: ember {row['ember_ms']:.1f} ms; ember's speed over torch's: {ratios}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    suffix = "".join("-" + name.split(":")[0] for name in a.optimizer)  # a partial run: its own file
    path = os.path.join(ROOT, "bench", "results", f"{report['date']}-cpu-optim{suffix}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
