#!/usr/bin/env python3
"""Exports torchvision's ResNet-18 weights as a safetensors file ember-train can start from.

    python3 scripts/export_torchvision_weights.py resnet18-imagenet.safetensors            # ImageNet weights
    python3 scripts/export_torchvision_weights.py random.safetensors --random --num-classes 10
    build/bin/ember-train --weights resnet18-imagenet.safetensors --reset-fc --freeze-backbone

Runs wherever PyTorch and torchvision are installed. The ImageNet weights (IMAGENET1K_V1)
come from torchvision's cache or its download site; the names are torchvision's
(conv1.weight, bn1.running_mean, layer1.0.conv1.weight, ..., fc.weight), which are ember's.
The ImageNet head has 1000 classes: start from it with --reset-fc.
"""
import argparse
import json
import struct
import sys

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def save_safetensors(path, tensors, metadata):
    """The safetensors layout (8-byte header length, JSON header, raw little-endian data)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        data = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--random", action="store_true", help="torchvision's random initialisation instead of ImageNet")
    ap.add_argument("--num-classes", type=int, default=1000, help="with --random: the size of the head")
    args = ap.parse_args()
    if args.random:
        model = torchvision.models.resnet18(num_classes=args.num_classes)
        source = "torchvision resnet18, random initialisation"
    else:
        try:
            model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
        except Exception as e:  # no network and no cached copy
            sys.exit(f"cannot get the ImageNet weights ({e}); --random exports a random initialisation")
        source = "torchvision resnet18, IMAGENET1K_V1"
    state = {k: v for k, v in model.state_dict().items()}
    save_safetensors(args.out, state, {"source": source, "torch": torch.__version__})
    print(f"wrote {args.out}: {len(state)} tensors, {sum(v.numel() for v in state.values()):,} values ({source})")


if __name__ == "__main__":
    main()
