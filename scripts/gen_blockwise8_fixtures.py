#!/usr/bin/env python3
"""Reference data for ember's 8-bit optimiser state (tests/optim/test_blockwise8.cpp).

Writes tests/optim/fixtures/blockwise8.json (committed; tests read only that file):
  maps:   bitsandbytes' create_dynamic_map(signed=True) and (signed=False), the float32 maps its
          8-bit optimisers use, and the same construction transcribed here in float64
          (ember rounds the float64 values to float32; bitsandbytes computes in float32).
  cases:  for adam8bit, adamw8bit, sgd8bit and lion8bit, one float32 parameter of N elements
          (19 blocks of 256, the last of 19 elements; >= 4,096 so bitsandbytes keeps 8-bit
          state) stepped STEPS times by bitsandbytes 0.50's Adam8bit, AdamW8bit, SGD8bit and
          Lion8bit on the CPU (block-wise, 256-element blocks), with the parameter after step 1
          and after the last step. The gradients (shared by every case) are normal with
          per-element scales over one decade, no exact zeros: with the nearest-entry quantiser a
          second moment below 1.6e-7 of its block's absmax is stored as 0, and a zero gradient
          then divides the momentum by eps alone (in bitsandbytes' CUDA kernels as in ember);
          bitsandbytes' CPU quantiser stores such values too high instead, so gradients with
          zeros and wide ranges would compare the two quantisers, not the optimisers.
Float32 values are written as the shortest decimal of their exact value.

bitsandbytes' CPU quantiser does not pick the nearest map entry for small values (Note
[8-bit quantiser] in kernels/optim_blockwise8_rule.h), so these trajectories are compared
within a bound, not exactly; ember's step is checked exactly against a float64 transcription in
the test itself.

Usage (a python3 with torch and bitsandbytes): python3 scripts/gen_blockwise8_fixtures.py
"""
import json
import os
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as bnbf  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "optim", "fixtures", "blockwise8.json")
N = 4627
STEPS = 6

CASES = [
    ("adam8bit:lr=0.001", lambda p: bnb.optim.Adam8bit(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)),
    ("adamw8bit:lr=0.001,weight_decay=0.1",
     lambda p: bnb.optim.AdamW8bit(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
    ("sgd8bit:lr=0.01,momentum=0.9", lambda p: bnb.optim.SGD8bit(p, lr=0.01, momentum=0.9)),
    ("lion8bit:lr=0.001,weight_decay=0.1", lambda p: bnb.optim.Lion8bit(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)),
]


def f32(values):
    return [float(repr(np.float32(v)).replace("np.float32(", "").rstrip(")")) for v in np.asarray(values, np.float32)]


def dynamic_map_float64(signed):
    """create_dynamic_map(signed, max_exponent_bits=7, total_bits=8) in float64."""
    data = []
    for i in range(7):
        items = 2 ** i if signed else 2 ** (i + 1)
        scale = 10.0 ** (i - 6)
        for j in range(items):
            lo, hi = 0.1 + 0.9 * j / items, 0.1 + 0.9 * (j + 1) / items
            mean = (lo + hi) / 2.0
            data.append(scale * mean)
            if signed:
                data.append(-scale * mean)
    data += [0.0, 1.0]
    return sorted(data)


def rounded(t):
    """Four significant digits, so that the JSON stays small; then float32."""
    return torch.tensor([float(f"{x:.4g}") for x in t.tolist()], dtype=torch.float32)


def main():
    gen = torch.Generator().manual_seed(17)
    initial = rounded(torch.rand(N, generator=gen) * 2 - 1)
    scales = torch.logspace(-2, -1, N)[torch.randperm(N, generator=gen)]  # a decade of magnitudes per block
    grads = [rounded(torch.randn(N, generator=gen) * scales) for _ in range(STEPS)]
    cases = []
    for spec, make in CASES:
        w = torch.nn.Parameter(initial.clone())
        opt = make([w])
        after = []
        for g in grads:
            w.grad = g.clone()
            opt.step()
            after.append(w.detach().clone())
        state = opt.state[w]
        assert state["state1"].dtype == torch.uint8, "bitsandbytes kept 32-bit state"
        cases.append({"spec": spec, "after_first": f32(after[0]), "after_last": f32(after[-1])})
    out = {
        "source": "scripts/gen_blockwise8_fixtures.py",
        "bitsandbytes": bnb.__version__,
        "torch": torch.__version__,
        "maps": {
            "signed_bitsandbytes": f32(bnbf.create_dynamic_map(signed=True)),
            "unsigned_bitsandbytes": f32(bnbf.create_dynamic_map(signed=False)),
            "signed_float64": dynamic_map_float64(True),
            "unsigned_float64": dynamic_map_float64(False),
        },
        "n": N,
        "initial": f32(initial),
        "grads": [f32(g) for g in grads],
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
