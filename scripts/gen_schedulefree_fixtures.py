#!/usr/bin/env python3
"""Golden Schedule-Free trajectories for tests/optim/test_schedule_free.cpp.

Writes tests/optim/fixtures/schedulefree.json (committed; tests read only that file). For each
ember spec (sfadamw, sfsgd; keys the spec leaves out take the package's defaults, so the
fixture also checks ember's defaults), the schedulefree package's AdamWScheduleFree or
SGDScheduleFree (float32, CPU, its default foreach step) over three parameters of awkward
sizes ([3, 5], [7] and [1]: odd lengths, padding between them in ember's flat buffer) and
STEPS steps of gradients that mix magnitudes from 1e-4 to 1e2, with an all-zero step every
7th step and element 0 of every tensor always zero. The optimizer is switched to x
(optimizer.eval()) and back (optimizer.train()) after every EVAL_EVERY-th step, as a training
loop does around an evaluation, and the parameters at x are recorded then.
Recorded per case: the initial values, the gradients, y after every step, x at every switch,
and at the end z, exp_avg_sq (AdamW), the group's weight_sum and lr_max.
Float32 values are written as the shortest decimal of their exact value.

Usage (a python3 with torch and schedulefree): python3 scripts/gen_schedulefree_fixtures.py
"""
import json
import os
from importlib.metadata import version

import torch
import schedulefree

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "optim", "fixtures",
                   "schedulefree.json")
STEPS = 40
EVAL_EVERY = 10
SHAPES = [[3, 5], [7], [1]]

SPECS = [
    "sfadamw",
    "sfadamw:lr=0.01,weight_decay=0.05,warmup_steps=10",
    "sfadamw:lr=0.005,beta1=0.3,beta2=0.99,eps=1e-06,warmup_steps=5,r=1,weight_lr_power=1",
    "sfsgd:lr=0.1",
    "sfsgd:lr=0.05,momentum=0.5,weight_decay=0.01,warmup_steps=8",
    "sfsgd:lr=0.02,momentum=0.95,r=2,weight_lr_power=0",
]
ADAMW_DEFAULTS = {"lr": 0.0025, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0,
                  "r": 0.0, "weight_lr_power": 2.0}
SGD_DEFAULTS = {"lr": 1.0, "momentum": 0.9, "weight_decay": 0.0, "warmup_steps": 0, "r": 0.0,
                "weight_lr_power": 2.0}


def make_optimizer(spec, params):
    name = spec.split(":", 1)[0]
    kw = dict(ADAMW_DEFAULTS if name == "sfadamw" else SGD_DEFAULTS)
    if ":" in spec:
        for item in spec.split(":", 1)[1].split(","):
            key, value = item.split("=")
            kw[key] = int(value) if key == "warmup_steps" else float(value)
    if name == "sfadamw":
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
        return schedulefree.AdamWScheduleFree(params, **kw)
    return schedulefree.SGDScheduleFree(params, **kw)


def gradients(gen, shape):
    out = []
    n = 1
    for d in shape:
        n *= d
    for t in range(STEPS):
        g = torch.zeros(n)
        if t % 7 != 3:
            mag = torch.pow(10.0, torch.randint(-4, 3, (n,), generator=gen).float())
            g = (torch.rand(n, generator=gen) * 2 - 1) * mag
            g[0] = 0
        out.append(g.float().reshape(shape))
    return out


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def run(spec, seed):
    gen = torch.Generator().manual_seed(200 + seed)
    params = [torch.nn.Parameter((torch.rand(s, generator=gen) * 4 - 2).float()) for s in SHAPES]
    grads = [gradients(gen, s) for s in SHAPES]
    case = {"spec": spec, "shapes": SHAPES, "initial": [flat(p) for p in params],
            "grads": [[flat(g[t]) for g in grads] for t in range(STEPS)], "y": [], "x": {}}
    opt = make_optimizer(spec, params)
    opt.train()
    for t in range(STEPS):
        for p, g in zip(params, grads):
            p.grad = g[t].clone()
        opt.step()
        case["y"].append([flat(p) for p in params])
        if (t + 1) % EVAL_EVERY == 0:
            opt.eval()
            case["x"][str(t + 1)] = [flat(p) for p in params]
            opt.train()
    group = opt.param_groups[0]
    case["z"] = [flat(opt.state[p]["z"]) for p in params]
    if "exp_avg_sq" in opt.state[params[0]]:
        case["exp_avg_sq"] = [flat(opt.state[p]["exp_avg_sq"]) for p in params]
    case["weight_sum"] = group["weight_sum"]
    case["lr_max"] = group["lr_max"]
    return case


def main():
    torch.set_num_threads(1)
    cases = [run(spec, seed) for seed, spec in enumerate(SPECS)]
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/gen_schedulefree_fixtures.py", "torch": torch.__version__,
                   "schedulefree": version("schedulefree"), "steps": STEPS, "eval_every": EVAL_EVERY,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(cases)} cases")


if __name__ == "__main__":
    main()
