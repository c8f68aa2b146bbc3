#!/usr/bin/env python3
"""Recounts the golden numbers of tests/data/test_cifar10.cpp (Cifar10Mini) from the files.

Reads the CIFAR-10 binary files of a folder (default ../shared/data/cifar10-mini next to the
repository) record by record - 1 label byte, then 3072 pixel bytes - independently of
ember's reader, and prints what the test asserts: the train and test image counts, the label
histograms, the first train record's label, first four pixels and pixel sum, and the label of
the first record of data_batch_2.bin.

Usage (any python3):
    python3 scripts/count_cifar10_mini.py [FOLDER]
"""
import os
import sys

RECORD = 3073
TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST = "test_batch.bin"


def records(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) % RECORD:
        sys.exit(f"{path}: {len(blob)} bytes is not a whole number of {RECORD}-byte records")
    return [blob[i:i + RECORD] for i in range(0, len(blob), RECORD)]


def histogram(recs):
    counts = [0] * 10
    for r in recs:
        counts[r[0]] += 1
    return counts


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "cifar10-mini")
    train = [r for name in TRAIN for r in records(os.path.join(folder, name))]
    test = records(os.path.join(folder, TEST))
    first = train[0]
    print(f"train images: {len(train)}")
    print(f"test images: {len(test)}")
    print(f"train label histogram: {histogram(train)}")
    print(f"test label histogram: {histogram(test)}")
    print(f"first train record: label {first[0]}, pixels {list(first[1:5])}, pixel sum {sum(first[1:])}")
    print(f"first record of data_batch_2.bin: label {records(os.path.join(folder, TRAIN[1]))[0][0]}")


if __name__ == "__main__":
    main()
