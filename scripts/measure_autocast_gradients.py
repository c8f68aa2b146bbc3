#!/usr/bin/env python3
"""How far PyTorch's own bfloat16 autocast moves ResNet-18's gradients from float32.

tests/nn/test_mixed_precision.cpp (MixedPrecision.ResNet18InBfloat16FollowsFloat32) bounds
each parameter gradient of ember's bfloat16 ResNet-18 against its float32 twin by cosine
similarity and by norm ratio. Its bounds rest on what this script measures: the same setup
(torchvision ResNet-18, 10 classes, CIFAR stem - 3x3/1 conv1, no max-pool - train mode,
batch 4 of 3x16x16 inputs uniform in [-2, 2), labels 1, 7, 3, 3, cross-entropy), one
backward in float32 and one under torch.autocast("cpu", dtype=torch.bfloat16), over
several seeds (weights and inputs). Per parameter: cos(angle) and |g_bf16| / |g_fp32|.

Usage (a python3 with torch and torchvision; CPU only, a few seconds):
    python3 scripts/measure_autocast_gradients.py [--seeds 10]
Prints, per seed, the worst cosine and the norm-ratio range with the parameters where they
occur, then the overall worst.
"""
import argparse

import torch
import torchvision


def cifar_resnet18():
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()
    return model


def gradients(model, images, labels, autocast):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    return {n: p.grad.detach().double().clone() for n, p in model.named_parameters()}


def measure(seed):
    torch.manual_seed(seed)
    model = cifar_resnet18().train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.rand(4, 3, 16, 16) * 4 - 2
    labels = torch.tensor([1, 7, 3, 3])
    full = gradients(model, images, labels, autocast=False)
    model.load_state_dict(state)  # the float32 pass moved the BN running statistics
    mixed = gradients(model, images, labels, autocast=True)
    rows = []
    for name, g in full.items():
        h = mixed[name]
        cosine = float((g * h).sum() / (g.norm() * h.norm()))
        ratio = float(h.norm() / g.norm())
        rows.append((name, cosine, ratio))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: ResNet-18 CIFAR stem, "
          f"batch 4 of 3x16x16, bfloat16 autocast against float32, per parameter gradient")
    worst_cos, low, high = (2.0, ""), (1e9, ""), (0.0, "")
    for seed in range(args.seeds):
        rows = measure(seed)
        c = min(rows, key=lambda r: r[1])
        lo = min(rows, key=lambda r: r[2])
        hi = max(rows, key=lambda r: r[2])
        print(f"seed {seed}: worst cosine {c[1]:.4f} ({c[0]}), norm ratio {lo[2]:.4f} ({lo[0]}) .. "
              f"{hi[2]:.4f} ({hi[0]})")
        worst_cos = min(worst_cos, (c[1], f"{c[0]}, seed {seed}"))
        low = min(low, (lo[2], f"{lo[0]}, seed {seed}"))
        high = max(high, (hi[2], f"{hi[0]}, seed {seed}"))
    print(f"over {args.seeds} seeds: worst cosine {worst_cos[0]:.4f} ({worst_cos[1]}); norm ratio from "
          f"{low[0]:.4f} ({low[1]}) to {high[0]:.4f} ({high[1]})")


if __name__ == "__main__":
    main()
