#!/usr/bin/env python3
"""The CPU half of scripts/seed_experiment.py's epoch: its DataLoader (2 workers, ToTensor +
Normalize, batch 256, shuffled) over 50,000 CIFAR-shaped images, in images/s. A GPU does not
speed this part up, so it bounds the seed step's estimate in plan.tsv (measured on the 2-core
development VM, 2026-11-30: 9,932 images/s). Needs a python3 with torch and torchvision.

    python3 scripts/gpu-check.d/time_seed_loader.py
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision.transforms as transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from seed_experiment import CifarBinary  # noqa: E402  (the seed script's data set)


def main():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50000, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=50000).astype(np.int64)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    loader = torch.utils.data.DataLoader(CifarBinary(images, labels, transform), batch_size=256, shuffle=True,
                                         num_workers=2)
    start, seen = time.time(), 0
    for x, _ in loader:
        seen += x.shape[0]
        if seen >= 20000:
            break
    seconds = time.time() - start
    print(f"seed DataLoader: {seen} images in {seconds:.1f} s = {seen / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
