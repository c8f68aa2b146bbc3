#!/usr/bin/env python3
"""The time-to-accuracy recipe of issue 7 in PyTorch: the baseline of `ember-train` with the same
flags (docs/recipe.md), on the same CIFAR-10 binary files.

Recipe (defaults): torchvision ResNet-18 with the CIFAR stem (3x3 stride-1 conv1 without bias, no
max-pool; every conv kaiming_normal(fan_out, relu) as torchvision's own init loop, conv1 included,
as ember does), SGD(lr=0.4, momentum=0.9, nesterov=True, weight_decay=5e-4) on all parameters in
one group, OneCycleLR(max_lr=lr, pct_start=0.3, div_factor=25, final_div_factor=1e4, cos,
cycle_momentum=False) stepped after every batch over epochs * ceil(n / batch) steps, batch 512
with the last partial batch kept (ember's loader: drop_last false), a new shuffle every epoch,
standard augmentation (the image padded by 4 zero pixels, a random 32x32 crop, a random
horizontal flip), CIFAR-10 channel normalisation (mean 0.4914,0.4822,0.4465, std
0.2470,0.2435,0.2616, the byte table ember uses), cross-entropy with label smoothing 0.1, and
test accuracy on the whole test set after every epoch.

Where it differs from ember-train, it says so: the random draws (weights, order, crops) come
from PyTorch's generators, so the two follow the same recipe, not the same trajectory; and
OneCycleLR's cycle_momentum is turned off because ember's onecycle schedules the lr only.

PyTorch at its best, not handicapped: the whole uint8 data set is uploaded to the device once
and every batch is gathered, padded, cropped, flipped and normalised there with tensor ops (no
DataLoader, no CPU worker); the optimiser is fused SGD where the build has it; cudnn.benchmark
is on. Modes: --amp none is fp32 with TF32 convolutions (PyTorch's default; cuBLAS matmuls stay
fp32, also the default), the fair comparison with ember (which has no bf16); --amp bf16
--channels-last is a second reference.

Timing, like ember-train's train_seconds: training only, from the first training step (the
cudnn autotuning of the first steps counts), each epoch closed by torch.cuda.synchronize();
evaluation and data upload are outside it. seconds_to_target is the cumulative training time at
the end of the first epoch whose test accuracy reaches --target-accuracy (null if none).

    python3 scripts/torch_recipe.py --data data/cifar-10-batches-bin --json torch-recipe.json
    python3 scripts/torch_recipe.py --data DIR --amp bf16 --channels-last
    python3 scripts/torch_recipe.py --data ../shared/data/cifar10-mini --device cpu --epochs 1 \\
        --limit-train 512 --limit-test 256 --batch-size 128          (a smoke test)
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet18

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_experiment import read_cifar_bin  # noqa: E402  (the same reader as the seed baseline)

# data/augment.cpp, Normalization::cifar(): ember's table, entry [c][v] = (v/255 - mean) / std
# computed in double and rounded once to float, so both sides feed the model the same values.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
PAD = 4  # kernels/augment_rule.h kCropPadding
SIDE = 32


def make_model():
    model = resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    # torchvision's init loop ran before the swap; give the new conv1 the same init (ember's
    # ResNet18::reset_parameters draws every conv, the CIFAR stem's included, this way).
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def normalize_table(device):
    v = np.arange(256, dtype=np.float64) / 255.0
    table = np.stack([(v - m) / s for m, s in zip(CIFAR_MEAN, CIFAR_STD)]).astype(np.float32)  # [3, 256]
    return torch.from_numpy(table).to(device)


def crop_flip(images, dy, dx, flip):
    """uint8 [b, 3, 32, 32] -> the 32x32 windows at (dy, dx) in [0, 8] of the images padded by 4
    zero pixels, mirrored where flip (kernels/augment_rule.h: augment_source)."""
    b = images.shape[0]
    ramp = torch.arange(SIDE, device=images.device)
    padded = F.pad(images, (PAD, PAD, PAD, PAD))  # zero bytes, [b, 3, 40, 40]
    rows = dy.view(b, 1) + ramp  # [b, 32]
    # A flip mirrors the output window: output column x shows window column 31 - x.
    cols = dx.view(b, 1) + torch.where(flip.view(b, 1), SIDE - 1 - ramp, ramp)
    return padded[torch.arange(b, device=images.device).view(b, 1, 1, 1),
                  torch.arange(3, device=images.device).view(1, 3, 1, 1),
                  rows.view(b, 1, SIDE, 1), cols.view(b, 1, 1, SIDE)]


class DeviceCifar:
    """A split resident on the device as uint8 [n, 3, 32, 32]; batches are made there."""

    def __init__(self, images, labels, device, table, channels_last):
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.device, self.table, self.channels_last = device, table, channels_last
        self.channel = torch.arange(3, device=device).view(1, 3, 1, 1)

    def __len__(self):
        return len(self.labels)

    def _finish(self, pixels):
        x = self.table[self.channel, pixels.long()]  # normalise through ember's byte table
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def train_batches(self, batch_size, generator):
        """One epoch: a fresh order, every batch augmented; the last partial batch is kept."""
        n = len(self.labels)
        order = torch.randperm(n, device=self.device, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            b = idx.numel()
            offsets = torch.randint(0, 2 * PAD + 1, (2, b), device=self.device, generator=generator)
            flip = torch.randint(0, 2, (b,), device=self.device, generator=generator).bool()
            yield self._finish(crop_flip(self.images[idx], offsets[0], offsets[1], flip)), self.labels[idx]

    def test_batches(self, batch_size):
        for start in range(0, len(self.labels), batch_size):
            yield self._finish(self.images[start:start + batch_size]), self.labels[start:start + batch_size]


def evaluate(model, data, batch_size, autocast):
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=data.device)
    correct = torch.zeros((), dtype=torch.int64, device=data.device)
    with torch.no_grad():
        for x, y in data.test_batches(batch_size):
            with autocast():
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
    model.train()
    n = max(len(data), 1)
    return loss_sum.item() / n, correct.item() / n


def make_optimizer(params, args, device):
    kwargs = dict(lr=args.lr, momentum=args.momentum, nesterov=args.nesterov, weight_decay=args.weight_decay)
    if device.type == "cuda":
        try:
            return torch.optim.SGD(params, fused=True, **kwargs), "fused"
        except (TypeError, RuntimeError):
            pass
    return torch.optim.SGD(params, **kwargs), "foreach" if device.type == "cuda" else "default"


def resolve_data(path):
    if os.path.isdir(os.path.join(path, "cifar-10-batches-bin")):
        path = os.path.join(path, "cifar-10-batches-bin")
    train = [os.path.join(path, f"data_batch_{i}.bin") for i in range(1, 6)]
    test = [os.path.join(path, "test_batch.bin")]
    missing = [f for f in train + test if not os.path.exists(f)]
    if missing:
        sys.exit(f"torch_recipe.py: {missing[0]}: missing (see scripts/get-cifar10.sh)")
    return train, test


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with data_batch_1..5.bin and test_batch.bin")
    ap.add_argument("--epochs", type=int, default=18)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.4, help="OneCycleLR's max_lr (ember: the optimiser spec's lr)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--pct-start", type=float, default=0.3,
                    help="OneCycleLR's pct_start (ember-train: 0.3, or --warmup-epochs / --epochs when given)")
    ap.add_argument("--div-factor", type=float, default=25.0)
    ap.add_argument("--final-div-factor", type=float, default=1e4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--target-accuracy", type=float, default=0.94)
    ap.add_argument("--amp", choices=["none", "bf16"], default="none",
                    help="none: fp32 (TF32 convolutions); bf16: torch.autocast bfloat16")
    ap.add_argument("--channels-last", action="store_true", help="model and batches in NHWC")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for smoke tests")
    ap.add_argument("--limit-train", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--limit-test", type=int, default=0, help="use only the first N test images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.epochs < 1 or args.batch_size < 1:
        sys.exit("torch_recipe.py: --epochs and --batch-size must be positive")

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torch_recipe.py: no CUDA device (use --device cpu for a smoke test)")
        if device.index is not None:
            torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = True  # the default, said out loud: TF32 convolutions
    torch.manual_seed(args.seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)

    train_files, test_files = resolve_data(args.data)
    train_x, train_y = read_cifar_bin(train_files, args.limit_train)
    test_x, test_y = read_cifar_bin(test_files, args.limit_test)
    table = normalize_table(device)
    train = DeviceCifar(train_x, train_y, device, table, args.channels_last)
    test = DeviceCifar(test_x, test_y, device, table, args.channels_last)

    model = make_model().to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer, optimizer_impl = make_optimizer(model.parameters(), args, device)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=total_steps, pct_start=args.pct_start, anneal_strategy="cos",
        cycle_momentum=False, div_factor=args.div_factor, final_div_factor=args.final_div_factor)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    mode = ("amp_bf16" if args.amp == "bf16" else "fp32_tf32" if device.type == "cuda" else "fp32") + \
        ("_channels_last" if args.channels_last else "")
    print(f"torch_recipe: {mode} on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
          f"{len(train)} train / {len(test)} test images, {args.epochs} epochs x {steps_per_epoch} steps, "
          f"batch {args.batch_size}, SGD ({optimizer_impl}) lr {args.lr} onecycle, target {args.target_accuracy}",
          flush=True)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train_seconds = 0.0
    images_seen = 0
    epochs = []
    seconds_to_target = images_to_target = epoch_to_target = None
    diverged = False
    wall_start = time.perf_counter()
    model.train()
    for epoch in range(args.epochs):
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)  # read once per epoch: no sync per step
        correct = torch.zeros((), dtype=torch.int64, device=device)
        epoch_images = batches = 0
        sync()
        start = time.perf_counter()
        for x, y in train.train_batches(args.batch_size, generator):
            with autocast():
                logits = model(x)
                loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach().double()
            correct += (logits.detach().argmax(1) == y).sum()
            epoch_images += y.numel()
            batches += 1
        sync()
        epoch_seconds = time.perf_counter() - start
        train_seconds += epoch_seconds
        images_seen += epoch_images
        train_loss = loss_sum.item() / max(batches, 1)
        if not math.isfinite(train_loss):
            diverged = True
            print(f"epoch {epoch + 1}: DIVERGED (non-finite training loss)", flush=True)
            break
        test_loss, test_acc = evaluate(model, test, args.batch_size, autocast)
        row = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": correct.item() / max(epoch_images, 1),
               "test_loss": test_loss, "test_accuracy": test_acc, "epoch_seconds": epoch_seconds,
               "train_seconds": train_seconds, "images_seen": images_seen}
        epochs.append(row)
        if seconds_to_target is None and args.target_accuracy > 0 and test_acc >= args.target_accuracy:
            seconds_to_target, images_to_target, epoch_to_target = train_seconds, images_seen, epoch + 1
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {train_loss:.4f} acc {row['train_accuracy']:.4f} | "
              f"test loss {test_loss:.4f} acc {test_acc:.4f} | {epoch_seconds:.2f} s, "
              f"{epoch_images / epoch_seconds:.0f} img/s, {train_seconds:.2f} s in all", flush=True)

    result = {
        "framework": "pytorch", "torch": torch.__version__, "mode": mode,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "config": {**vars(args), "optimizer_impl": optimizer_impl, "steps_per_epoch": steps_per_epoch,
                   "total_steps": total_steps, "train_images": len(train), "test_images": len(test),
                   "drop_last": False, "cycle_momentum": False,
                   "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                   "cudnn_benchmark": torch.backends.cudnn.benchmark},
        "epochs": epochs,
        "epochs_done": len(epochs),
        "final_test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
        "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None),
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "images_seen": images_seen,
        "images_per_second": images_seen / train_seconds if train_seconds > 0 else None,
        "target_accuracy": args.target_accuracy,
        "seconds_to_target": seconds_to_target,
        "images_to_target": images_to_target,
        "epoch_to_target": epoch_to_target,
        "peak_device_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "diverged": diverged,
    }
    reached = f"{seconds_to_target:.2f} s (epoch {epoch_to_target})" if seconds_to_target is not None else "not reached"
    print(f"torch_recipe {mode}: final test accuracy {result['final_test_accuracy']}, best "
          f"{result['best_test_accuracy']}, {train_seconds:.2f} s of training, "
          f"{args.target_accuracy:.2%} after {reached}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if diverged or not epochs else 0


if __name__ == "__main__":
    sys.exit(main())
