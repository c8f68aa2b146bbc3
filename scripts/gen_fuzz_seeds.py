#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/<harness>/).

Seeds are small valid inputs (and a few near-misses) that show the fuzzer each format's
shape, so that it mutates from there instead of from nothing:
  safetensors/  files in the layout of nn/safetensors.h: every dtype, metadata, a 0-d and an
                empty tensor, an empty header; plus tests/nn/data/torch_small.safetensors
                (written by the Python safetensors library)
  cifar10/      CIFAR-10 binary records (label byte + 3072 pixels): two records, one record
                with a bad label, a truncated record
  optim_spec/   optimiser specs, LR-schedule specs and group options as a user writes them
  run_state/    ember-train's run state (the JSON a checkpoint keeps as metadata), taken from
                real checkpoints of tiny runs of the ember-train given with --ember-train;
                from one of them also tests/fuzz/regressions/run_state/ (the fuzz findings,
                rewritten whenever the checkpoint format changes)

Usage (any python3; no torch needed):
    python3 scripts/gen_fuzz_seeds.py --ember-train build/bin/ember-train
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors_file(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] in data order."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def safetensors_seeds():
    f32 = struct.pack("<4f", 1.5, -2.0, 0.0, 3.25)
    write("safetensors", "one_f32", safetensors_file([("a", "F32", [2, 2], f32)]))
    write("safetensors", "every_dtype", safetensors_file([
        ("w", "F32", [2], struct.pack("<2f", 1, 2)),
        ("d", "F64", [1], struct.pack("<d", -0.5)),
        ("i", "I64", [2], struct.pack("<2q", 7, -9)),
        ("j", "I32", [1, 1], struct.pack("<i", 3)),
        ("u", "U8", [3], bytes([0, 128, 255])),
        ("b", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC000)),
        ("scalar", "F32", [], struct.pack("<f", 42)),
        ("empty", "F32", [0, 3], b""),
    ], metadata={"format": "pt", "arch": "resnet18-cifar"}))
    write("safetensors", "empty_header", safetensors_file([]))
    write("safetensors", "metadata_only", safetensors_file([], metadata={"run_state": "{}"}))
    shutil.copy(os.path.join(ROOT, "tests", "nn", "data", "torch_small.safetensors"),
                os.path.join(CORPUS, "safetensors", "torch_small"))


def cifar_record(label, seed):
    return bytes([label]) + bytes((seed * 31 + 7 * k) % 256 for k in range(3072))


def cifar_seeds():
    write("cifar10", "two_records", cifar_record(6, 1) + cifar_record(9, 2))
    write("cifar10", "bad_label", cifar_record(10, 3))
    write("cifar10", "truncated", cifar_record(0, 4) + cifar_record(1, 5)[:100])


def spec_seeds():
    specs = ["sgd:lr=0.01,momentum=0.9,nesterov=true", "nag:lr=0.05", "sgd:lr=0.1,dampening=0.3,weight_decay=1e-4",
             "rmsprop:lr=0.001,alpha=0.9,centered=true,momentum=0.5", "adagrad:lr=0.01,lr_decay=0.1,"
             "initial_accumulator_value=0.1", "adadelta:rho=0.95,eps=1e-6", "adam:lr=1e-3,beta1=0.9,beta2=0.999,"
             "amsgrad=true", "adamw:lr=2e-3,weight_decay=0.05,maximize=false,capturable=true", "adam",
             "constant", "step:step_size=7,gamma=0.5", "cosine:warmup=500,eta_min=1e-5",
             "onecycle:pct_start=0.25,div_factor=10,final_div_factor=100", "lr=0.1,weight_decay=0",
             " sgd : lr = 1 , momentum = 0 "]
    for i, s in enumerate(specs):
        write("optim_spec", f"spec_{i:02d}", s)


def run_state_seeds(ember_train):
    runs = {
        "two_optimizers": ["--data", "synthetic:40,20", "--epochs", "2", "--batch-size", "16", "--log-every", "1",
                           "--optimizer", "sgd:lr=0.1,momentum=0.9", "--optimizer", "adam:lr=1e-3"],
        "sweep_and_shift": ["--data", "synthetic:40,20", "--epochs", "3", "--batch-size", "16", "--optimizer", "sgd",
                            "--sweep", "lr=0.01,0.1", "--shift", "2:labels", "--lr-schedule", "cosine",
                            "--augment", "standard", "--normalize", "cifar"],
    }
    for name, flags in runs.items():
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([ember_train, "--device", "cpu", "--arch", "resnet18-cifar", "--limit-train", "40",
                            "--limit-test", "20", "--quiet", "--out", out] + flags, check=True)
            with open(os.path.join(out, "checkpoint.safetensors"), "rb") as f:
                blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        meta = json.loads(blob[8:8 + n])["__metadata__"]
        write("run_state", name, meta["run_state"])


def run_state_regressions():
    """The fuzz findings of the run state (tests/fuzz/regressions/run_state/, asserted by
    tests/apps/test_run_state_inputs.cpp), in the current checkpoint format: the sweep_and_shift
    seed with the one value the finding had put into its field."""
    with open(os.path.join(CORPUS, "run_state", "sweep_and_shift")) as f:
        seed = json.load(f)
    findings = {
        "epochs_1e300": (("config", "epochs"), 1e300),            # undefined behaviour into an int
        "progress_run_2pow32": (("progress", "run"), 2 ** 32),   # silently became run 0
        "history_batch_minus_1p5e19": (("history", 0, "batch"), -1.5e19),  # undefined into an int64
    }
    folder = os.path.join(ROOT, "tests", "fuzz", "regressions", "run_state")
    os.makedirs(folder, exist_ok=True)
    for name, (path, value) in findings.items():
        state = json.loads(json.dumps(seed))
        node = state
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with open(os.path.join(folder, name), "w") as f:
            f.write(json.dumps(state, separators=(",", ":")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ember-train", help="an ember-train binary, for the run_state seeds")
    args = parser.parse_args()
    safetensors_seeds()
    cifar_seeds()
    spec_seeds()
    if args.ember_train:
        run_state_seeds(args.ember_train)
        run_state_regressions()


if __name__ == "__main__":
    main()
