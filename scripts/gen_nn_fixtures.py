#!/usr/bin/env python3
"""Generates the reference fixtures of ember's nn tests from PyTorch and torchvision.

Run once where torch, torchvision and safetensors are installed (tests never need them):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch torchvision safetensors
    .venv-torch/bin/python scripts/gen_nn_fixtures.py
It writes, under tests/nn/data/:
  resnet18_torchvision.json   for both stems: state_dict names/dtypes/shapes in order, the
                              named_parameters order, parameter counts, the leaf-module calls
                              of one forward (name, output shape; the CIFAR variant's Identity
                              max-pool left out, ember has none) and conv+linear MACs; and,
                              in float64 with deterministic weights (below), the eval-mode
                              logits, the train-mode logits, the loss, gradient probes and
                              the running statistics after one training step.
  torch_small.safetensors     a file written by safetensors.torch.save_file (several dtypes,
                              a 0-d tensor, an empty tensor, metadata) with its values in
                              the JSON, so ember's reader is checked on a foreign file.

Deterministic weights (tests/nn/test_resnet.cpp writes the same): the j-th
entry of the state_dict (0-based, state_dict order), element k (row-major) is
    offset + scale * sin(0.61 k + 0.37 j + 0.1)
with (offset, scale) by kind: conv weight (0, 2/sqrt(fan_out)), BN weight (1, 0.2), BN
bias (0, 0.1), running_mean (0, 0.1), running_var (1, 0.3), fc.weight (0, 0.05),
fc.bias (0, 0.05); num_batches_tracked is 3. The input element k is 1.5 sin(0.013 k + 0.5);
the loss is sum(logits * cos(0.7 k)). The gradient probe of a parameter is
sum_k grad_k cos(0.3 k) and its norm sqrt(sum grad^2).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "nn", "data")


def make_model(stem):
    model = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    return model


def wave(n, a, b):
    return np.sin(a * np.arange(n, dtype=np.float64) + b)


def deterministic_state(model):
    state = model.state_dict()
    for j, (name, t) in enumerate(state.items()):
        leaf = name.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            t.fill_(3)
            continue
        if name == "fc.weight" or name == "fc.bias":
            offset, scale = 0.0, 0.05
        elif t.dim() == 4:
            offset, scale = 0.0, 2.0 / math.sqrt(t.shape[0] * t.shape[2] * t.shape[3])
        elif leaf == "weight":
            offset, scale = 1.0, 0.2
        elif leaf == "bias":
            offset, scale = 0.0, 0.1
        elif leaf == "running_mean":
            offset, scale = 0.0, 0.1
        elif leaf == "running_var":
            offset, scale = 1.0, 0.3
        else:
            raise ValueError(name)
        values = offset + scale * wave(t.numel(), 0.61, 0.37 * j + 0.1)
        t.copy_(torch.from_numpy(values).reshape(t.shape))
    model.load_state_dict(state)


def leaf_calls(model, x):
    calls = []
    names = {m: n for n, m in model.named_modules()}
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append([names[m], list(o.shape)]))
             for m in model.modules()
             if len(list(m.children())) == 0 and not isinstance(m, torch.nn.Identity)]
    with torch.no_grad():
        model.eval()
        model(x)
    for h in hooks:
        h.remove()
    return calls


def macs(model, x):
    total = [0]

    def conv_hook(m, i, o):
        total[0] += o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, i, o):
        total[0] += o.shape[0] * m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        model.eval()
        model(x)
    for h in hooks:
        h.remove()
    return total[0]


def describe(stem, image):
    torch.manual_seed(0)
    model = make_model(stem)
    x1 = torch.zeros(1, 3, image, image)
    entry = {
        "state_dict": [[n, str(t.dtype).replace("torch.", ""), list(t.shape)] for n, t in model.state_dict().items()],
        "parameters": [n for n, _ in model.named_parameters()],
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "summary_image_size": image,
        "leaf_calls": leaf_calls(model, x1),
        "macs": macs(model, x1),
    }

    # float64, deterministic weights, batch 2 at a small resolution.
    small = 32 if stem == "cifar" else 64
    model = model.double()
    deterministic_state(model)
    n = 2 * 3 * small * small
    x = torch.from_numpy(1.5 * wave(n, 0.013, 0.5)).reshape(2, 3, small, small)
    probe_out = torch.from_numpy(np.cos(0.7 * np.arange(20, dtype=np.float64))).reshape(2, 10)
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    logits = model(x)
    loss = (logits * probe_out).sum()
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad.detach().reshape(-1).numpy()
        grads[name] = [float(np.dot(g, np.cos(0.3 * np.arange(g.size)))), float(np.sqrt(np.dot(g, g)))]
    state = model.state_dict()
    entry["deterministic"] = {
        "image_size": small,
        "eval_logits": eval_logits.reshape(-1).tolist(),
        "train_logits": logits.detach().reshape(-1).tolist(),
        "loss": float(loss.detach()),
        "grad_probes": grads,
        "after_step": {k: state[k].reshape(-1).tolist() for k in
                       ["bn1.running_mean", "bn1.running_var", "layer4.1.bn2.running_mean",
                        "layer4.1.bn2.running_var", "layer2.0.downsample.1.running_var"]},
        "num_batches_tracked_after_step": int(state["bn1.num_batches_tracked"]),
    }
    return entry


def small_safetensors():
    tensors = {
        "weights": torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.0,
        "doubles": torch.tensor([1.0 / 3.0, -2.5e-300, 7.0], dtype=torch.float64),
        "steps": torch.tensor(123456789012, dtype=torch.int64),
        "ids": torch.tensor([-7, 0, 2147483647], dtype=torch.int32),
        "bytes": torch.tensor([[0, 255], [17, 128]], dtype=torch.uint8),
        "empty": torch.zeros(0, 5, dtype=torch.float32),
    }
    path = os.path.join(OUT, "torch_small.safetensors")
    save_file(tensors, path, metadata={"format": "pt", "written_by": "safetensors.torch"})
    os.chmod(path, 0o644)
    return {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                   "values": t.reshape(-1).tolist()} for name, t in tensors.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    result = {
        "generator": "scripts/gen_nn_fixtures.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "imagenet": describe("imagenet", 224),
        "cifar": describe("cifar", 32),
        "torch_small_safetensors": small_safetensors(),
    }
    with open(os.path.join(OUT, "resnet18_torchvision.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
