#!/usr/bin/env python3
"""ember's CPU backend against PyTorch on the same cores (issue 9). Never run by CI or tests.

Measures, in one run on this machine:
  * ResNet-18 training (forward + backward + Adam lr 1e-3) on 32x32 images at batch 64, both
    stems: images/s (median step after warm-up), ms of forward, backward and optimiser, and
    peak RSS - for PyTorch (in a fresh subprocess per configuration, so peaks do not mix) and
    for ember (build/bin/ember-bench-train --device cpu --json);
  * one optimiser step over ResNet-18's 11,181,642 parameters (its real tensor shapes): torch
    for-loop, foreach and fused (where torch has a fused CPU kernel), and ember
    (build/bin/ember-bench-optim --device cpu --json), with the copy bandwidth it measured.
Prints ember's ratio to each (above 1: ember faster; for memory, below 1: ember smaller) and
writes bench/results/<date>-cpu-<threads>threads.json.

PyTorch comes from a venv of its own (.venv-torch; created with `pip install torch
torchvision` when missing - PyPI only, a few hundred MB).

    python3 scripts/bench_torch_cpu.py [--threads 2] [--build build]
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-torch")
OPTIMIZERS = ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "adam", "adamw"]
# The same configurations as ember-bench-optim reports them.
EMBER_NAMES = {"sgd": "sgd", "momentum": "sgd:momentum=0.9", "nesterov": "nag", "rmsprop": "rmsprop",
               "adagrad": "adagrad", "adadelta": "adadelta", "adam": "adam", "adamw": "adamw"}


def ensure_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {VENV} and installing torch + torchvision from PyPI ...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "-q", "torch", "torchvision"])
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):  # the venv's python is often a symlink
        os.execv(python, [python] + sys.argv)
    sys.exit(f"torch is missing from {VENV}: remove the folder and run again")


def torch_optimizer(name, params, impl):
    import torch.optim as optim
    kw = {"foreach": impl == "foreach"} if impl != "fused" else {"fused": True}
    return {"sgd": lambda: optim.SGD(params, lr=0.01, **kw),
            "momentum": lambda: optim.SGD(params, lr=0.01, momentum=0.9, **kw),
            "nesterov": lambda: optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, **kw),
            "rmsprop": lambda: optim.RMSprop(params, lr=0.01, **kw),
            "adagrad": lambda: optim.Adagrad(params, lr=0.01, **kw),
            "adadelta": lambda: optim.Adadelta(params, **kw),
            "adam": lambda: optim.Adam(params, lr=1e-3, **kw),
            "adamw": lambda: optim.AdamW(params, lr=1e-3, **kw)}[name]()


def make_model(stem):
    import torch.nn as nn
    from torchvision.models import resnet18
    model = resnet18(num_classes=10)
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def train_child(stem, batch, steps, warmup, threads):
    """Runs in a subprocess: one training configuration, prints one JSON line."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = make_model(stem)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()
    fwd, bwd, opt_t, total = [], [], [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= warmup:
            fwd.append(t1 - t0), bwd.append(t2 - t1), opt_t.append(t3 - t2), total.append(t3 - t0)
    ms = statistics.median(total) * 1e3
    print(json.dumps({"arch": "resnet18" if stem == "imagenet" else "resnet18-cifar", "batch_size": batch,
                      "threads": threads, "images_per_s": batch / ms * 1e3, "ms_step": ms,
                      "ms_forward": statistics.median(fwd) * 1e3, "ms_backward": statistics.median(bwd) * 1e3,
                      "ms_optimizer": statistics.median(opt_t) * 1e3,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def bench_torch_optim(threads, reps):
    import torch
    torch.set_num_threads(threads)
    shapes = [p.shape for p in make_model("imagenet").parameters()]
    results = []
    for name in OPTIMIZERS:
        for impl in ("forloop", "foreach", "fused"):
            params = [torch.zeros(s, requires_grad=True) for s in shapes]
            for p in params:
                p.grad = torch.full_like(p, 1e-3)
            try:
                opt = torch_optimizer(name, params, impl)
                opt.step()  # state allocation outside the timing
            except (RuntimeError, TypeError, ValueError) as e:
                if impl == "fused":
                    continue  # torch has no fused CPU step for this optimiser
                raise e
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                opt.step()
                times.append(time.perf_counter() - t0)
            results.append({"optimizer": name, "impl": impl, "n": sum(p.numel() for p in params),
                            "ms": statistics.median(times) * 1e3})
            print(json.dumps(results[-1]), flush=True)
    return results


def run_ember(binary, args):
    if not os.path.exists(binary):
        print(f"(no {binary}: build ember first; its figures are skipped)", flush=True)
        return None
    out = subprocess.run([binary] + args, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{binary} failed: {out.stderr.strip()}", flush=True)
        return None
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--optim-reps", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    ensure_torch()
    if args.child:
        train_child(args.child, args.batch_size, args.steps, args.warmup, args.threads)
        return
    import torch
    env = dict(os.environ, EMBER_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    report = {"device": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": args.threads,
              "torch": torch.__version__, "date": datetime.date.today().isoformat(),
              "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                                       text=True).stdout.strip(),
              "train": [], "optimizers": {}}
    for stem, arch in (("imagenet", "resnet18"), ("cifar", "resnet18-cifar")):
        child = subprocess.run([sys.executable, __file__, "--child", stem, "--threads", str(args.threads),
                                "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                                "--warmup", str(args.warmup)], capture_output=True, text=True, env=env)
        torch_r = json.loads(child.stdout.strip().splitlines()[-1]) if child.returncode == 0 else None
        ember_r = run_ember(os.path.join(args.build, "bin", "ember-bench-train"),
                            ["--device", "cpu", "--arch", arch, "--batch-size", str(args.batch_size), "--steps",
                             str(args.steps), "--warmup", str(args.warmup), "--optimizer", "adam:lr=1e-3",
                             "--threads", str(args.threads), "--json"])
        row = {"arch": arch, "torch": torch_r, "ember": ember_r}
        if torch_r and ember_r:
            row["ratio_images_per_s"] = ember_r["images_per_s"] / torch_r["images_per_s"]
            row["ratio_peak_rss"] = ember_r["peak_rss_bytes"] / torch_r["peak_rss_bytes"]
        report["train"].append(row)
        print(json.dumps(row), flush=True)
    torch_opt = bench_torch_optim(args.threads, args.optim_reps)
    ember_opt = run_ember(os.path.join(args.build, "bin", "ember-bench-optim"),
                          ["--device", "cpu", "--threads", str(args.threads), "--json"])
    for name in OPTIMIZERS:
        entry = {impl: r["ms"] for r in torch_opt if r["optimizer"] == name for impl in [r["impl"]]}
        row = {"torch_ms": entry}
        if ember_opt:
            mine = [r for r in ember_opt["results"] if r["optimizer"] == EMBER_NAMES[name] and r["n"] == 11181642]
            if mine:
                row["ember_ms"] = mine[0]["ms"]
                row["ember_fraction_of_copy"] = mine[0].get("fraction_of_copy")
                row["ratio_vs"] = {impl: ms / mine[0]["ms"] for impl, ms in entry.items()}
        report["optimizers"][name] = row
    if ember_opt:
        report["copy_gb_per_s"] = ember_opt.get("copy_gb_per_s")
    print("\n== ember / PyTorch on the CPU (%d threads); ratios: ember's speed over torch's" % args.threads)
    for row in report["train"]:
        if "ratio_images_per_s" in row:
            print(f"  train {row['arch']:15s} b{args.batch_size}: ember {row['ember']['images_per_s']:8.1f} img/s, "
                  f"torch {row['torch']['images_per_s']:8.1f} img/s, ratio {row['ratio_images_per_s']:.2f}, "
                  f"peak RSS ratio {row['ratio_peak_rss']:.2f}")
    for name, row in report["optimizers"].items():
        ratios = ", ".join(f"{k} {v:.2f}x" for k, v in row.get("ratio_vs", {}).items())
        print(f"  {name:9s} ember {row.get('ember_ms', float('nan')):7.2f} ms  vs torch {ratios}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"{report['date']}-cpu-{args.threads}threads.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
