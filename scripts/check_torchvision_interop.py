#!/usr/bin/env python3
"""Checks that ember's ResNet-18 checkpoints and torchvision's are interchangeable.

Needs torch and torchvision (the GPU machine has them; scripts/gpu-check.d/40-nn.sh runs
this) and an ember-summary binary. For each architecture (torchvision's resnet18, and its
CIFAR variant: 3x3/1 conv1, no max-pool) and each ember device asked for:

  ember -> torch  ember-summary initialises a model, moves its BN running statistics with
                  a few training-mode passes, writes the checkpoint and its eval-mode output
                  on a random input; torchvision.models.resnet18(num_classes=10) loads the
                  checkpoint (strict) and runs the same input in eval mode.
  torch -> ember  torch initialises a model (its own init), moves the BN statistics the same
                  way, writes a checkpoint and an input; ember-summary --load runs it.

Both sides compute in float32 (TF32 off); a comparison passes when the largest absolute
difference of the logits is below --tolerance times the largest |logit| (default 1e-3:
float32 rounding through 20 layers is ~1e-5 relative; any wrong weight layout, padding,
pooling or BN convention is off by far more). The safetensors files are read and written
here with numpy alone (an independent implementation of the format).

Prints one line per comparison; writes a gpu-check fragment with --json; exits 1 if any
comparison fails.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = array.copy()
    return out, header.get("__metadata__", {})


def write_safetensors(path, tensors, metadata=None):
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, array in tensors.items():
        array = np.array(array, order="C", copy=True)  # ascontiguousarray would make a 0-d array 1-d
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def torch_model(arch):
    model = torchvision.models.resnet18(num_classes=10)
    if arch == "resnet18-cifar":
        model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    return model


def compare(name, got, want, tolerance):
    scale = float(np.abs(want).max())
    diff = float(np.abs(got - want).max())
    ok = bool(got.shape == want.shape and np.isfinite(got).all() and diff <= tolerance * scale)
    print(f"{'PASS' if ok else 'FAIL'} {name}: max |diff| {diff:.3g}, max |logit| {scale:.3g}, "
          f"relative {diff / scale:.3g} (tolerance {tolerance:g})")
    return {"name": name, "unit": "max_abs_diff_over_max_abs_logit", "ember": diff / scale, "max_abs_diff": diff,
            "tolerance": tolerance, "passed": ok}


def run_ember(binary, args):
    cmd = [binary] + args + ["--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")


def ember_to_torch(binary, arch, device, image, batch, work, tolerance):
    ckpt, out = os.path.join(work, f"ember_{arch}_{device}.safetensors"), os.path.join(work, f"out_{arch}_{device}.safetensors")
    run_ember(binary, ["--arch", arch, "--classes", "10", "--device", device, "--seed", "3", "--bn-warmup", "3",
                       "--batch-size", str(batch), "--image-size", str(image), "--save-random-init", ckpt,
                       "--dump-output", out])
    state, _ = read_safetensors(ckpt)
    model = torch_model(arch)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    assert int(model.bn1.num_batches_tracked) == 3, "num_batches_tracked did not come through"
    assert not np.allclose(state["bn1.running_mean"], 0), "BN running statistics did not move"
    model.eval()
    dumped, _ = read_safetensors(out)
    with torch.no_grad():
        want = model(torch.from_numpy(dumped["input"])).numpy()
    return compare(f"interop_{arch}_ember_{device}_to_torch", dumped["output"], want, tolerance)


def torch_to_ember(binary, arch, device, image, batch, work, tolerance):
    torch.manual_seed(5)
    model = torch_model(arch)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(max(batch, 2), 3, image, image) * 1.5 + 0.25)
    model.eval()
    x = torch.randn(batch, 3, image, image)
    with torch.no_grad():
        want = model(x).numpy()
    ckpt, inp = os.path.join(work, f"torch_{arch}.safetensors"), os.path.join(work, f"in_{arch}.safetensors")
    write_safetensors(ckpt, {k: v.numpy() for k, v in model.state_dict().items()}, {"written_by": "torch"})
    write_safetensors(inp, {"input": x.numpy()})
    out = os.path.join(work, f"ember_out_{arch}_{device}.safetensors")
    run_ember(binary, ["--arch", arch, "--classes", "10", "--device", device, "--load", ckpt, "--input", inp,
                       "--dump-output", out])
    dumped, _ = read_safetensors(out)
    return compare(f"interop_{arch}_torch_to_ember_{device}", dumped["output"], want, tolerance)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ember-summary", default=os.path.join(os.environ.get("BIN_DIR", "build/bin"), "ember-summary"),
                        help="the ember-summary binary (default: $BIN_DIR/ember-summary or build/bin/ember-summary)")
    parser.add_argument("--devices", default="cpu", help="comma-separated ember devices: cpu, cuda")
    parser.add_argument("--image-size", type=int, default=0, help="input side (default: 224 resnet18, 32 CIFAR)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--json", help="write a gpu-check fragment {\"benchmarks\": [...]} here")
    args = parser.parse_args()
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, ember-summary {args.ember_summary}")
    results = []
    with tempfile.TemporaryDirectory(prefix="ember_interop_") as work:
        for arch in ["resnet18", "resnet18-cifar"]:
            image = args.image_size or (224 if arch == "resnet18" else 32)
            for device in args.devices.split(","):
                for check in (ember_to_torch, torch_to_ember):
                    try:
                        results.append(check(args.ember_summary, arch, device, image, args.batch_size, work,
                                             args.tolerance))
                    except Exception as e:  # one failed direction must not hide the others
                        print(f"FAIL {check.__name__} {arch} {device}: {e}")
                        results.append({"name": f"interop_{arch}_{check.__name__}_{device}", "passed": False,
                                        "error": str(e)})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmarks": results}, f, indent=1)
    failed = [r["name"] for r in results if not r["passed"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
