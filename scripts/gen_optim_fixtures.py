#!/usr/bin/env python3
"""Golden trajectories from real torch.optim for tests/optim/test_torch_fixtures.cpp.

Writes tests/optim/fixtures/torch_optim.json (committed; tests read only that file):
  optimizers: for each ember spec string of an element-wise optimiser, torch.optim's float32
              CPU trajectory (single-tensor implementation, foreach=False) of one 11-element
              parameter over 30 steps of gradients that include zeros; keys the spec leaves
              out take torch's defaults, so the fixture also checks ember's defaults.
  models:     multi-parameter cases for Adafactor (vectors, matrices, 4-D conv weights) and
              hybrids A+B (Muon on 2-D hidden weights with AdamW on the rest, as
              torch.optim.Muon's documentation pairs them, and an element-wise pair): the
              parameters in model order with their shapes, 12 steps of gradients, torch's
              trajectory of every parameter. A hybrid's parts are split as ember splits them
              (optim/hybrid.h): rank >= 2 but the last such parameter to A, the rest to B.
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
    "nadam",
    "nadam:lr=0.01,beta1=0.8,beta2=0.99,eps=1e-6,weight_decay=0.05,momentum_decay=0.01,maximize=true",
    "nadam:lr=0.01,weight_decay=0.1,decoupled_weight_decay=true",
    "radam",
    "radam:lr=0.01,beta1=0.5,beta2=0.9,eps=1e-4,weight_decay=0.05,maximize=true",
    "radam:lr=0.01,weight_decay=0.1,decoupled_weight_decay=true",
    "adamax",
    "adamax:lr=0.01,beta1=0.3,beta2=0.9,eps=1e-3,weight_decay=0.05,maximize=true",
    "asgd",
    "asgd:lr=0.05,lambd=0.1,alpha=1.5,t0=10,weight_decay=0.05,maximize=true",
    "rprop",
    "rprop:lr=0.05,eta_minus=0.3,eta_plus=2,step_size_min=0.001,step_size_max=0.2,maximize=true",
]

# Multi-parameter cases: (spec, [(name, shape), ...] in model order, seed).
MODELS = [
    ("adafactor", [("vec", [6]), ("mat", [5, 7]), ("conv", [3, 4, 3, 3]), ("proj", [2, 3, 1, 1]), ("one", [1])], 300),
    ("adafactor:lr=0.05,beta2_decay=-0.5,eps1=1e-5,eps2=0.01,d=2,weight_decay=0.1,maximize=true",
     [("vec", [9]), ("mat", [4, 6]), ("conv", [2, 3, 3, 3])], 301),
    ("muon:lr=0.02", [("h1", [13, 7]), ("b1", [13]), ("h2", [6, 20]), ("head", [3, 6]), ("bias", [3])], 302),
    ("muon:lr=0.05,momentum=0.9,nesterov=false,weight_decay=0.01,ns_steps=3,adjust_lr_fn=match_rms_adamw"
     "+adamw:lr=0.003,weight_decay=0",
     [("h1", [8, 16]), ("h2", [24, 8]), ("h3", [8, 16]), ("head", [2, 8]), ("bias", [2])], 303),
    ("muon:lr=0.02,adjust_lr_fn=spectral_unclamped+sgd:lr=0.1,momentum=0.9",
     [("h1", [12, 5]), ("h2", [5, 12]), ("head", [4, 5])], 304),
    ("adam:lr=0.01+sgd:lr=0.05,momentum=0.9", [("w1", [4, 5]), ("b1", [4]), ("w2", [3, 4]), ("b2", [3])], 305),
]
MODEL_STEPS = 12

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
        if value in ("true", "false"):
            kwargs[key] = value == "true"
        elif key == "adjust_lr_fn":
            kwargs[key] = value
        elif key == "ns_steps":
            kwargs[key] = int(value)
        else:
            kwargs[key] = float(value)
    return name, kwargs


def split_hybrid(spec):
    """ember's A+B (a '+' that is not an exponent's sign); a bare muon is muon+adamw."""
    parts, start = [], 0
    for i, ch in enumerate(spec):
        if ch == "+" and not (i >= 2 and spec[i - 1] in "eE" and (spec[i - 2].isdigit() or spec[i - 2] == ".")):
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    if len(parts) == 1 and parse(parts[0])[0] == "muon":
        parts.append("adamw")
    return parts


# ember name -> (torch class, {ember key: torch argument} for keys that torch takes as tuples)
TUPLES = {"betas": ("beta1", "beta2", (0.9, 0.999)), "etas": ("eta_minus", "eta_plus", (0.5, 1.2)),
          "step_sizes": ("step_size_min", "step_size_max", (1e-6, 50.0)), "eps": ("eps1", "eps2", (None, 1e-3))}


def make_optimizer(spec, params, **implementation):
    """torch.optim's optimizer for a single (not hybrid) ember spec; implementation:
    foreach=..., fused=... (default: the single-tensor for-loop)."""
    name, kw = parse(spec)
    kw.pop("capturable", None)
    for torch_key, (first, second, defaults) in TUPLES.items():
        if first in kw or second in kw:
            kw[torch_key] = (kw.pop(first, defaults[0]), kw.pop(second, defaults[1]))
    if any(k in kw for k in ("ns_a", "ns_b", "ns_c")):
        kw["ns_coefficients"] = (kw.pop("ns_a", 3.4445), kw.pop("ns_b", -4.775), kw.pop("ns_c", 2.0315))
    if name == "nag":
        kw.setdefault("momentum", 0.9)
        kw["nesterov"] = True
    cls = {"sgd": torch.optim.SGD, "nag": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
           "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam,
           "adamw": torch.optim.AdamW, "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam,
           "adamax": torch.optim.Adamax, "asgd": torch.optim.ASGD, "rprop": torch.optim.Rprop,
           "adafactor": torch.optim.Adafactor, "muon": torch.optim.Muon}[name]
    if name == "muon":  # torch.optim.Muon has no foreach or fused implementation
        implementation = {}
    elif not implementation:
        implementation = {"foreach": False}
    return cls(params, **implementation, **kw)


def make_optimizers(spec, named_params, **implementation):
    """The torch optimizers of an ember spec over (name, parameter) in model order: one, or a
    hybrid's two (hidden weights to A, the rest to B, as optim/hybrid.h splits them)."""
    parts = split_hybrid(spec)
    if len(parts) == 1:
        return [make_optimizer(parts[0], [p for _, p in named_params], **implementation)]
    matrices = [i for i, (_, p) in enumerate(named_params) if p.dim() >= 2]
    output_layer = matrices[-1] if matrices else -1
    hidden = [p for i, (_, p) in enumerate(named_params) if p.dim() >= 2 and i != output_layer]
    rest = [p for i, (_, p) in enumerate(named_params) if not (p.dim() >= 2 and i != output_layer)]
    return [make_optimizer(parts[0], hidden, **implementation), make_optimizer(parts[1], rest, **implementation)]


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


def model_case(spec, shapes, seed):
    gen = torch.Generator().manual_seed(seed)
    named = [(name, torch.nn.Parameter(((torch.rand(shape, generator=gen) * 4 - 2) * 0.5).float()))
             for name, shape in shapes]
    initial = [floats(p) for _, p in named]
    optimizers = make_optimizers(spec, named)
    steps = []
    for t in range(MODEL_STEPS):
        grads = []
        for _, p in named:
            g = (torch.rand(p.shape, generator=gen) * 2 - 1) * torch.pow(
                10.0, torch.randint(-3, 2, p.shape, generator=gen).float())
            if t % 5 == 2:
                g.zero_()
            p.grad = g.float()
            grads.append(floats(p.grad))
        for opt in optimizers:
            opt.step()
        steps.append({"grads": grads, "params": [floats(p) for _, p in named]})
    return {"spec": spec, "parameters": [{"name": n, "shape": list(s)} for n, s in shapes], "initial": initial,
            "steps": steps}


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
        "models": [model_case(*m) for m in MODELS],
        "schedules": [schedule_case(*s) for s in SCHEDULES],
        "clip": [clip_case(0.5, 7), clip_case(100.0, 8)],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(out['optimizers'])} optimizer trajectories, "
          f"{len(out['models'])} multi-parameter cases, "
          f"{len(out['schedules'])} schedules, {len(out['clip'])} clip cases (torch {torch.__version__})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
