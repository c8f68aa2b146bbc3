#!/usr/bin/env python3
"""The seed experiment in PyTorch: ember's baseline for ember-train (issue 6).

A faithful re-implementation of what the seed notes' script does - torchvision's resnet18
(weights=None) with fc replaced by Linear(512, 10), CrossEntropyLoss, the optimisers
SGD(lr=0.01, momentum=0.9), Adam(lr=1e-3), RMSprop(lr=1e-3), Adagrad(lr=0.01), batch 256,
10 epochs, ToTensor + Normalize((0.5,), (0.5,)), a shuffled DataLoader with 2 workers,
`model.apply(reset_parameters)` before each optimiser, metrics averaged every 2 batches and
the two-panel figure training_metrics.png - with three differences, each said here:
  * it reads the CIFAR-10 *binary* files that ember reads (no download; --data DIR);
  * it evaluates test accuracy after every epoch (the seed loads the test set but never
    uses it; ember-train reports it, and a comparison needs it);
  * it writes summary.json (wall time, images/s, peak memory, accuracies) for gpu-check.

    python3 scripts/seed_experiment.py --data data/cifar-10-batches-bin --out runs/torch-seed
Options --epochs, --limit-train, --limit-test, --optimizers and --loader gpu (data resident
on the GPU, no DataLoader: PyTorch at its best rather than as the seed wrote it) exist for
quicker or fairer comparisons.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.transforms as transforms
from torchvision.models import resnet18

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
    "adam": lambda p: optim.Adam(p, lr=0.001),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.001),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.01),
}


def read_cifar_bin(paths, limit):
    records = []
    for path in paths:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % 3073:
            sys.exit(f"{path}: size {raw.size} is not a multiple of 3073 bytes")
        records.append(raw.reshape(-1, 3073))
    data = np.concatenate(records)
    if limit:
        data = data[:limit]
    labels = data[:, 0].astype(np.int64)
    images = data[:, 1:].reshape(-1, 3, 32, 32)  # CHW uint8
    return images, labels


class CifarBinary(torch.utils.data.Dataset):
    """Hands out HWC uint8 arrays so that ToTensor does what it does on the seed's PIL images."""

    def __init__(self, images, labels, transform):
        self.images = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.labels = labels
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), int(self.labels[i])


class GpuLoader:
    """All images on the GPU as uint8; a shuffled batch is gathered, scaled and normalised there."""

    def __init__(self, images, labels, batch_size, shuffle, device):
        self.images = torch.from_numpy(images).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.batch_size, self.shuffle, self.device = batch_size, shuffle, device

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, device=self.device) if self.shuffle else torch.arange(n, device=self.device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx].float().div_(255).sub_(0.5).div_(0.5)
            yield x, self.labels[idx]

    def __len__(self):
        return (len(self.labels) + self.batch_size - 1) // self.batch_size


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    criterion = nn.CrossEntropyLoss(reduction="sum")
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            out = model(images)
            loss_sum += criterion(out, labels).item()
            correct += (out.argmax(1) == labels).sum().item()
            total += labels.numel()
    model.train()
    return loss_sum / max(total, 1), correct / max(total, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with data_batch_1..5.bin and test_batch.bin")
    ap.add_argument("--out", default="runs/torch-seed")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--optimizers", default="sgd,adam,rmsprop,adagrad")
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--loader", choices=["torch", "gpu"], default="torch",
                    help="torch: the seed's DataLoader(num_workers=2); gpu: data resident on the GPU")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    data = args.data
    if os.path.isdir(os.path.join(data, "cifar-10-batches-bin")):
        data = os.path.join(data, "cifar-10-batches-bin")
    train_files = [os.path.join(data, f"data_batch_{i}.bin") for i in range(1, 6)]
    test_files = [os.path.join(data, "test_batch.bin")]
    for f in train_files + test_files:
        if not os.path.exists(f):
            sys.exit(f"{f}: missing (see scripts/get-cifar10.sh)")
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_x, train_y = read_cifar_bin(train_files, args.limit_train)
    test_x, test_y = read_cifar_bin(test_files, args.limit_test)

    if args.loader == "torch":
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
        trainloader = torch.utils.data.DataLoader(CifarBinary(train_x, train_y, transform), batch_size=args.batch_size,
                                                  shuffle=True, num_workers=2)
        testloader = torch.utils.data.DataLoader(CifarBinary(test_x, test_y, transform), batch_size=args.batch_size,
                                                 shuffle=False, num_workers=2)
    else:
        trainloader = GpuLoader(train_x, train_y, args.batch_size, True, device)
        testloader = GpuLoader(test_x, test_y, args.batch_size, False, device)

    model = resnet18(weights=None)
    model.fc = nn.Linear(512, 10)
    model = model.to(device)
    criterion = nn.CrossEntropyLoss()
    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    for n in names:
        if n not in OPTIMIZERS:
            sys.exit(f"unknown optimizer {n!r} (valid: {', '.join(OPTIMIZERS)})")
    optimizers = {n: OPTIMIZERS[n](model.parameters()) for n in names}
    history = {n: {"loss": [], "accuracy": []} for n in names}
    summary = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__,
               "loader": args.loader, "epochs": args.epochs, "batch_size": args.batch_size, "optimizers": {}}
    os.makedirs(args.out, exist_ok=True)
    total_start = time.time()
    for name, optimizer in optimizers.items():
        print(f"\nTraining with {name} optimizer...", flush=True)
        model.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.time()
        images_seen = 0
        epochs = []
        batch_count = 0
        for epoch in range(args.epochs):
            model.train()
            running_loss = running_acc = 0.0
            counted = 0
            for images, labels in trainloader:
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                optimizer.zero_grad()
                outputs = model(images)
                loss = criterion(outputs, labels)
                loss.backward()
                optimizer.step()
                running_loss += loss.item()  # the seed reads loss and accuracy every batch
                running_acc += (outputs.data.argmax(1) == labels).sum().item() / labels.size(0)
                images_seen += labels.size(0)
                counted += 1
                if counted == 2:
                    history[name]["loss"].append(running_loss / 2)
                    history[name]["accuracy"].append(running_acc / 2)
                    running_loss = running_acc = 0.0
                    counted = 0
                    batch_count += 1
                    if batch_count % 25 == 0:
                        print(f"Epoch [{epoch + 1}/{args.epochs}], Batch [{batch_count}], "
                              f"Loss: {history[name]['loss'][-1]:.4f}, Accuracy: {history[name]['accuracy'][-1]:.4f}",
                              flush=True)
            test_loss, test_acc = evaluate(model, testloader, device)
            epochs.append({"epoch": epoch + 1, "test_loss": test_loss, "test_accuracy": test_acc,
                           "seconds": time.time() - start})
            print(f"epoch {epoch + 1}: test loss {test_loss:.4f}, test accuracy {test_acc:.4f}", flush=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.time() - start
        summary["optimizers"][name] = {
            "wall_seconds": wall, "images_per_second": images_seen / wall,
            "final_test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
            "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None),
            "peak_device_memory_bytes": torch.cuda.max_memory_allocated() if device.type == "cuda" else None,
            "epochs": epochs}
    summary["total_wall_seconds"] = time.time() - total_start
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5))
        window = 5
        for name, metrics in history.items():
            for ax, key in ((ax1, "loss"), (ax2, "accuracy")):
                values = metrics[key]
                if len(values) >= window:
                    ax.plot(np.convolve(values, np.ones(window) / window, mode="valid"), label=name)
        for ax, title in ((ax1, "Training Loss (Moving Average)"), (ax2, "Training Accuracy (Moving Average)")):
            ax.set_xlabel("Batches (averaged)")
            ax.set_title(title)
            ax.legend()
            ax.grid(True)
        ax1.set_ylabel("Loss")
        ax2.set_ylabel("Accuracy")
        plt.tight_layout()
        plt.savefig(os.path.join(args.out, "training_metrics.png"))
    except ImportError:
        print("matplotlib missing: no figure", file=sys.stderr)
    print(json.dumps({k: {kk: v[kk] for kk in ("wall_seconds", "final_test_accuracy")}
                      for k, v in summary["optimizers"].items()}, indent=1))


if __name__ == "__main__":
    main()
