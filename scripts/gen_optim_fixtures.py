#!/usr/bin/env python3
"""Golden trajectories from real torch.optim for tests/optim/test_torch_fixtures.cpp.

Writes tests/optim/fixtures/torch_optim.json (committed; tests read only that file):
  optimizers: for each ember spec string, torch.optim's float32 CPU trajectory (single-tensor
              implementation, foreach=False) of one 11-element parameter over 30 steps of
              gradients that include zeros; keys the spec leaves out take torch's defaults,
              so the fixture also checks ember's defaults.
  schedules:  learning rates of torch.optim.lr_scheduler.StepLR / CosineAnnealingLR /
              OneCycleLR for the matching ember schedule specs.
  clip:       torch.nn.utils.clip_grad_norm_ on three gradient tensors.
Float32 values are written as the shortest decimal of their exact value, so they read back
bit for bit.

Usage (a python3 with torch): python3 scripts/gen_optim_fixtures.py
"""
import json
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "optim", "fixtures", "torch_optim.json")
STEPS = 30
N = 11

SPECS = [
    "sgd:lr=0.1",
    "sgd:lr=0.05,momentum=0.9,dampening=0.3,weight_decay=0.01",
    "sgd:lr=0.05,momentum=0.9,maximize=true",
    "nag:lr=0.05",
    "nag:lr=0.02,momentum=0.5,weight_decay=0.1,maximize=true",
    "rmsprop",
    "rmsprop:lr=0.003,momentum=0.5,centered=true,weight_decay=0.01",
    "rmsprop:lr=0.01,alpha=0.3,centered=true,maximize=true",
    "adagrad",
    "adagrad:lr=0.05,lr_decay=0.1,initial_accumulator_value=0.5,weight_decay=0.05,maximize=true",
    "adadelta",
    "adadelta:lr=0.5,rho=0.4,eps=1e-5,weight_decay=0.05,maximize=true",
    "adam",
    "adam:lr=0.01,amsgrad=true,weight_decay=0.05",
    "adam:lr=0.01,beta1=0.3,beta2=0.9,eps=1e-6,maximize=true",
    "adamw",
    "adamw:lr=0.01,amsgrad=true,weight_decay=0.1,maximize=true",
]

SCHEDULES = [
    ("step:step_size=7,gamma=0.5", 0.1, 40),
    ("cosine:eta_min=0.001", 0.1, 40),
    ("onecycle", 0.1, 40),
    ("onecycle:pct_start=0.25,div_factor=10,final_div_factor=100", 0.05, 33),
]


def parse(spec):
    name, _, rest = spec.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=")
        kwargs[key] = value == "true" if value in ("true", "false") else float(value)
    return name, kwargs


def make_optimizer(spec, params, **implementation):
    """torch.optim's optimizer for an ember spec; implementation: foreach=..., fused=...
    (default: the single-tensor for-loop)."""
    name, kw = parse(spec)
    kw.pop("capturable", None)
    if "beta1" in kw or "beta2" in kw:
        defaults = (0.9, 0.999)
        kw["betas"] = (kw.pop("beta1", defaults[0]), kw.pop("beta2", defaults[1]))
    if name == "nag":
        kw.setdefault("momentum", 0.9)
        kw["nesterov"] = True
    cls = {"sgd": torch.optim.SGD, "nag": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
           "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam,
           "adamw": torch.optim.AdamW}[name]
    return cls(params, **(implementation or {"foreach": False}), **kw)


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def gradient_sequence(gen):
    grads = []
    for t in range(STEPS):
        g = (torch.rand(N, generator=gen) * 2 - 1) * torch.pow(10.0, torch.randint(-4, 3, (N,), generator=gen).float())
        g[0] = 0.0  # one element never gets a gradient
        if t % 7 == 3:
            g.zero_()  # a whole step of zero gradients
        grads.append(g.float())
    return grads


def optimizer_case(spec, seed):
    gen = torch.Generator().manual_seed(seed)
    initial = (torch.rand(N, generator=gen) * 4 - 2).float()
    grads = gradient_sequence(gen)
    p = torch.nn.Parameter(initial.clone())
    opt = make_optimizer(spec, [p])
    params = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        params.append(floats(p))
    return {"spec": spec, "initial": floats(initial), "grads": [floats(g) for g in grads], "params": params}


def schedule_case(spec, base_lr, total):
    name, kw = parse(spec)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    if name == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=int(kw["step_size"]), gamma=kw["gamma"])
    elif name == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=kw.get("eta_min", 0.0))
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=base_lr, total_steps=total, pct_start=kw.get("pct_start", 0.3),
            div_factor=kw.get("div_factor", 25.0), final_div_factor=kw.get("final_div_factor", 1e4),
            anneal_strategy="cos", cycle_momentum=False)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"spec": spec, "base_lr": base_lr, "total_steps": total, "lrs": lrs}


def clip_case(max_norm, seed):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.zeros(n)) for n in (5, 1, 17)]
    for p in params:
        p.grad = (torch.rand(p.numel(), generator=gen) * 2 - 1).float()
    before = [floats(p.grad) for p in params]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
    return {"max_norm": max_norm, "grads": before, "norm": float(norm), "clipped": [floats(p.grad) for p in params]}


def main():
    torch.set_num_threads(1)
    out = {
        "torch": torch.__version__,
        "generator": "scripts/gen_optim_fixtures.py",
        "optimizers": [optimizer_case(spec, 100 + k) for k, spec in enumerate(SPECS)],
        "schedules": [schedule_case(*s) for s in SCHEDULES],
        "clip": [clip_case(0.5, 7), clip_case(100.0, 8)],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(out['optimizers'])} optimizer trajectories, "
          f"{len(out['schedules'])} schedules, {len(out['clip'])} clip cases (torch {torch.__version__})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
