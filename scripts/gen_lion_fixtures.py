#!/usr/bin/env python3
"""Golden Lion trajectories for tests/optim/test_lion.cpp (Lion is not in torch.optim).

Writes tests/optim/fixtures/lion.json (committed; tests read only that file). For each ember
spec, one 11-element float32 parameter over 30 steps of gradients that include zeros (the
gradient sequence of scripts/gen_optim_fixtures.py), and two trajectories:
  transcription: Algorithm 2 of Chen et al. 2023 ("Symbolic Discovery of Optimization
                 Algorithms") transcribed here in float64, in the paper's order:
                 c = beta1 m + (1 - beta1) g; p = p - lr (sign(c) + wd p); m = beta2 m + (1 - beta2) g
  bitsandbytes:  bitsandbytes.optim.Lion32bit's float32 step on the CPU (its reference
                 implementation; it shrinks p by (1 - lr wd) first, the same update in
                 another rounding order). Absent for maximize=true, which it does not have.
Float32 values are written as the shortest decimal of their exact value.

Usage (a python3 with torch and bitsandbytes): python3 scripts/gen_lion_fixtures.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_optim_fixtures import N, gradient_sequence  # noqa: E402  (the same gradients as torch_optim.json's)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "optim", "fixtures", "lion.json")

SPECS = [
    "lion",
    "lion:lr=0.01",
    "lion:lr=0.003,beta1=0.5,beta2=0.9,weight_decay=0.1",
    "lion:lr=0.01,beta1=0.95,beta2=0.98,weight_decay=0.5",
    "lion:lr=0.01,weight_decay=0.05,maximize=true",
]
DEFAULTS = {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0, "maximize": False}


def parse(spec):
    kw = dict(DEFAULTS)
    if ":" in spec:
        for item in spec.split(":", 1)[1].split(","):
            key, value = item.split("=")
            kw[key] = value == "true" if key == "maximize" else float(value)
    return kw


def transcription(kw, initial, grads):
    """The paper's Algorithm 2 in float64, element by element (sign(0) = 0)."""
    p = [float(x) for x in initial]
    m = [0.0] * N
    out = []
    for g32 in grads:
        g = [float(x) for x in g32]
        if kw["maximize"]:
            g = [-x for x in g]
        for i in range(N):
            c = kw["beta1"] * m[i] + (1 - kw["beta1"]) * g[i]
            sign = 1.0 if c > 0 else (-1.0 if c < 0 else 0.0)
            p[i] = p[i] - kw["lr"] * (sign + kw["weight_decay"] * p[i])
            m[i] = kw["beta2"] * m[i] + (1 - kw["beta2"]) * g[i]
        out.append(list(p))
    return out


def bitsandbytes_run(kw, initial, grads):
    import bitsandbytes as bnb
    p = torch.nn.Parameter(initial.clone())
    opt = bnb.optim.Lion32bit([p], lr=kw["lr"], betas=(kw["beta1"], kw["beta2"]), weight_decay=kw["weight_decay"])
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        out.append([float(x) for x in p.detach().tolist()])
    return out


def main():
    import bitsandbytes as bnb
    cases = []
    for seed, spec in enumerate(SPECS):
        gen = torch.Generator().manual_seed(100 + seed)
        initial = (torch.rand(N, generator=gen) * 4 - 2).float()
        grads = gradient_sequence(gen)
        kw = parse(spec)
        case = {"spec": spec, "initial": [float(x) for x in initial.tolist()],
                "grads": [[float(x) for x in g.tolist()] for g in grads],
                "transcription": transcription(kw, initial, grads)}
        if not kw["maximize"]:
            case["bitsandbytes"] = bitsandbytes_run(kw, initial, grads)
        cases.append(case)
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/gen_lion_fixtures.py", "torch": torch.__version__,
                   "bitsandbytes": bnb.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(cases)} cases")


if __name__ == "__main__":
    main()
