#!/usr/bin/env python3
"""torch.optim's optimizer step on the GPU, measured as ember-bench-optim measures ember's.

Same optimisers (ember spec strings), same sizes and tensor layout (torchvision's
resnet18(num_classes=10): 62 tensors, 11,181,642 parameters; other sizes scale every tensor
as apps/ember-bench-optim/layout.cpp does), same timing (CUDA events, warm-up, L2 flushed by
a 256 MiB memset before each repetition, median). Each optimiser is timed as torch's
for-loop (foreach=False), foreach and fused implementations (fused where torch has one).

Adafactor and Muon run on ResNet-18's own shapes (at N = 11,181,642 only): torch.optim.Adafactor
as for-loop and foreach; `muon` as ember's muon+adamw, torch.optim.Muon (a for-loop, its only
implementation) on the hidden weights flattened to 2-D as ember flattens them, AdamW on the
rest (torch_optimizers, shared with scripts/bench_torch_optim_cpu.py).

With --ember-json (the output of `ember-bench-optim --json`) it prints ember's ratio to
each (ember's speed over torch's: above 1 means ember is faster) and, with --fragment, writes
the gpu-check.sh fragment {"benchmarks": [...]} (DESIGN.md, "Figures from the GPU machine").
Needs a CUDA GPU, torch and torchvision; never run by CI or the tests.

  python3 scripts/bench_torch_optim.py --ember-json ember.json --fragment 30-optim.json
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_optim_fixtures import make_optimizer  # noqa: E402  (the spec -> torch.optim mapping)

RESNET18_PARAMS = 11181642
DEFAULT_SPECS = ["sgd", "sgd:momentum=0.9", "nag", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "nadam", "radam",
                 "adamax", "asgd", "rprop", "adafactor", "muon"]


PER_PARAMETER = ("adafactor", "muon")  # optimisers measured on ResNet-18's own shapes only


def resnet18_shapes():
    """Shapes of torchvision's resnet18(num_classes=10) parameters, in model order."""
    import torchvision
    model = torchvision.models.resnet18(num_classes=10)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert len(shapes) == 62 and sum(torch.Size(s).numel() for s in shapes) == RESNET18_PARAMS
    return shapes


def resnet18_numels():
    return [torch.Size(s).numel() for s in resnet18_shapes()]


def torch_optimizers(name, shapes, impl, device="cpu"):
    """torch's Adafactor, or ember's muon (= muon+adamw) as torch.optim.Muon on the hidden
    weights flattened to [out, in*kh*kw] (torch takes 2-D weights only) with AdamW on the rest,
    over parameters of `shapes` with gradients set. impl: forloop or foreach."""
    gen = torch.Generator(device=device).manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter((torch.rand(shape, generator=gen, device=device) - 0.5) * 0.2)
        p.grad = (torch.rand(shape, generator=gen, device=device) - 0.5) * 0.02
        params.append(p)
    if name == "adafactor":
        return [torch.optim.Adafactor(params, foreach=impl == "foreach")]
    matrices = [i for i, p in enumerate(params) if p.dim() >= 2]
    hidden_index = matrices[:-1]  # all but the output layer, as optim/hybrid.h splits
    hidden = []
    for i in hidden_index:
        h = torch.nn.Parameter(params[i].detach().reshape(params[i].shape[0], -1).clone())
        h.grad = params[i].grad.reshape(h.shape).clone()
        hidden.append(h)
    rest = [p for i, p in enumerate(params) if i not in hidden_index]
    return [torch.optim.Muon(hidden), torch.optim.AdamW(rest, foreach=impl == "foreach")]


def layout(n, numels):
    """apps/ember-bench-optim/layout.cpp's scaled_layout, operation for operation."""
    if n == RESNET18_PARAMS:
        return list(numels)
    spare = n - len(numels)
    sizes = [1 + math.floor(k * spare / RESNET18_PARAMS) for k in numels]
    largest = max(range(len(numels)), key=lambda i: (numels[i], -i))
    sizes[largest] += n - sum(sizes)
    return sizes


def median_ms(work, warmup, reps, flush):
    for _ in range(warmup):
        work()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        flush.zero_()
        start.record()
        work()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def time_row(spec, n, make, impls, warmup, reps, flush):
    row = {"optimizer": spec, "n": n}
    for label, impl in impls:
        try:
            optimizers = make(impl)
            row[label] = median_ms(lambda: [o.step() for o in optimizers], warmup, reps, flush)
        except (RuntimeError, TypeError, ValueError) as e:  # no such variant of this one
            row[label] = None
            row[label + "_unavailable"] = str(e).splitlines()[0][:120]
        print(f"  torch {spec:24s} n={n:<10d} {label:8s} {row[label] if row[label] is not None else 'n/a'}",
              file=sys.stderr)
    return row


def measure(specs, sizes, warmup, reps):
    numels = resnet18_numels()
    flush = torch.empty(64 << 20, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    results = []
    for n in sizes:
        params = []
        for k in layout(n, numels):
            p = torch.nn.Parameter((torch.rand(k, device="cuda", generator=gen) - 0.5) * 0.2)
            p.grad = (torch.rand(k, device="cuda", generator=gen) - 0.5) * 0.02
            params.append(p)
        for spec in specs:
            name = spec.partition(":")[0]
            if name in PER_PARAMETER:
                if n == RESNET18_PARAMS:
                    results.append(time_row(spec, n, lambda impl: torch_optimizers(name, resnet18_shapes(), impl, "cuda"),
                                            (("forloop", "forloop"), ("foreach", "foreach")), warmup, reps, flush))
                continue
            impls = (("forloop", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True}))
            results.append(time_row(spec, n, lambda impl: [make_optimizer(spec, params, **impl)], impls, warmup, reps,
                                    flush))
        del params
        torch.cuda.empty_cache()
    return results


def name_of(spec, n):
    size = "resnet18" if n == RESNET18_PARAMS else f"n{n}"
    return spec.replace(":", "_").replace(",", "_").replace("=", "") + "_step_" + size


def combine(torch_rows, ember):
    by_key = {(r["optimizer"], r["n"]): r for r in ember["results"]}
    benchmarks = []
    for t in torch_rows:
        e = by_key.get((t["optimizer"], t["n"]))
        if e is None:
            continue
        b = {"name": name_of(t["optimizer"], t["n"]), "unit": "ms", "ember": e["ms"],
             "fraction_of_copy_bw": e["fraction_of_copy"], "ember_gb_per_s": e["gb_per_s"],
             "copy_gb_per_s": ember["copy_gb_per_s"]}
        if "unfused_ms" in e:
            b["ember_unfused"] = e["unfused_ms"]
            b["speedup_vs_unfused"] = e["speedup_vs_unfused"]
        for label in ("forloop", "foreach", "fused"):
            if t.get(label) is not None:
                b["torch_" + label] = t[label]
                b["ratio_vs_torch_" + label] = t[label] / e["ms"]
        benchmarks.append(b)
    return benchmarks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ember-json", help="output of ember-bench-optim --json (same sizes and optimizers are measured)")
    ap.add_argument("--fragment", help="write the gpu-check.sh fragment here")
    ap.add_argument("--optimizer", action="append", help="spec, repeatable (default: ember's JSON, else ember's list)")
    ap.add_argument("--n", type=int, action="append", help="size, repeatable (default: ember's JSON, else 11181642 "
                                                            "and 100000000)")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_torch_optim.py: no CUDA GPU")
    ember = json.load(open(a.ember_json)) if a.ember_json else None
    specs = a.optimizer or (list(dict.fromkeys(r["optimizer"] for r in ember["results"])) if ember else DEFAULT_SPECS)
    sizes = a.n or (list(dict.fromkeys(r["n"] for r in ember["results"])) if ember else [RESNET18_PARAMS, 100000000])
    rows = measure(specs, sizes, a.warmup, a.reps)

    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}; ms per step (median of {a.reps})")
    header = f"{'optimizer':24s} {'n':>10s} {'for-loop':>10s} {'foreach':>10s} {'fused':>10s}"
    benchmarks = combine(rows, ember) if ember else []
    if ember:
        header += f" {'ember':>9s} {'x for-loop':>10s} {'x foreach':>10s} {'x fused':>9s} {'of copy':>8s}"
    print(header)
    fmt = lambda v, w, p=3: f"{v:{w}.{p}f}" if v is not None else f"{'-':>{w}s}"  # noqa: E731
    by_name = {b["name"]: b for b in benchmarks}
    for r in rows:
        line = f"{r['optimizer']:24s} {r['n']:>10d} {fmt(r['forloop'], 10)} {fmt(r['foreach'], 10)} {fmt(r['fused'], 10)}"
        b = by_name.get(name_of(r["optimizer"], r["n"]))
        if b:
            ratio = lambda key, w: f"{b[key]:{w - 1}.2f}x" if key in b else f"{'-':>{w}s}"  # noqa: E731
            line += (f" {b['ember']:9.3f} {ratio('ratio_vs_torch_forloop', 10)} {ratio('ratio_vs_torch_foreach', 10)}"
                     f" {ratio('ratio_vs_torch_fused', 9)} {100 * b['fraction_of_copy_bw']:7.0f}%")
        print(line)
    if a.fragment:
        with open(a.fragment, "w") as f:
            json.dump({"benchmarks": benchmarks, "torch_raw": rows}, f, indent=1)
        print(f"wrote {a.fragment} ({len(benchmarks)} benchmarks)")


if __name__ == "__main__":
    main()
