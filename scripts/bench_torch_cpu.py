#!/usr/bin/env python3
"""ember's CPU backend against PyTorch on the same cores (issues 9 and 18). Never run by CI or tests.

Measures, in one run on this machine:
  * ResNet-18 training (forward + backward + Adam lr 1e-3, torch's fused CPU Adam) on 32x32
    images, both stems, batch 64 and 256, in float32 and in bfloat16 mixed precision (ember
    --precision bf16 against torch.autocast("cpu", dtype=torch.bfloat16)): images/s (for both
    the mean step time over the same number of timed steps after warm-up),
    ms of forward, backward and optimiser, and peak RSS - PyTorch in a fresh subprocess per
    configuration (so peaks do not mix), ember by build/bin/ember-bench-train --device cpu --json
    with EMBER_CPU_LAYERS=--cpu-layers;
  * one optimiser step over ResNet-18's 11,181,642 parameters (its real tensor shapes): torch
    for-loop, foreach and fused (where torch has a fused CPU kernel), and ember
    (build/bin/ember-bench-optim --device cpu --json), with the copy bandwidth it measured.
Prints ember's ratio to each (above 1: ember faster; for memory, below 1: ember smaller) and
writes bench/results/<date>-cpu-<threads>threads.json with the CPU model and its vector
flags, the commit and the date.

Each configuration runs --rounds times, torch and ember alternating (torch, ember, torch,
ember, ...), and every ratio is the median of the rounds' ratios, with their range beside it: on
a shared machine the memory bandwidth drifts by a third within minutes, and only pairs
measured back to back compare. In each round torch's warm-up steps size the number of timed
steps (about --seconds of work, at least --min-steps), and ember then runs the same number.
Run it under the machine-wide lock, with nothing else running: the load average before each
configuration is recorded beside its figures.

PyTorch: a python3 with torch and torchvision (else a venv of its own, .venv-torch, is made
with `pip install torch torchvision`).

    python3 scripts/bench_torch_cpu.py [--threads 2] [--build build] [--batches 64,256]
"""
import argparse
import datetime
import json
import math
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
ARCHS = {"imagenet": "resnet18", "cifar": "resnet18-cifar"}


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


def cpu_info():
    """The CPU model and the vector extensions that decide which kernels oneDNN and torch run."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16"]
    return model, [f for f in wanted if f in flags]


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


def train_child(args):
    """Runs in a subprocess: one training configuration, prints one JSON line."""
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = make_model(args.child)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x = torch.randn(args.batch_size, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch_size,))
    loss_fn = torch.nn.CrossEntropyLoss()
    bf16 = args.precision == "bf16"

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t3 - t0

    warm = [step()[3] for _ in range(args.warmup)]
    steps = args.steps or max(args.min_steps, min(50, math.ceil(args.seconds / min(warm))))
    fwd, bwd, opt_t, total = zip(*[step() for _ in range(steps)])
    ms = statistics.mean(total) * 1e3  # as ember-bench-train: the timed loop's time over its steps
    print(json.dumps({"arch": ARCHS[args.child], "batch_size": args.batch_size, "precision": args.precision,
                      "threads": args.threads, "steps": steps, "images_per_s": args.batch_size / ms * 1e3,
                      "ms_step": ms, "ms_forward": statistics.median(fwd) * 1e3,
                      "ms_backward": statistics.median(bwd) * 1e3, "ms_optimizer": statistics.median(opt_t) * 1e3,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def bench_torch_optim(threads, reps, name):
    """torch's step of one optimiser in every implementation it has on the CPU: [{impl, ms, ...}]."""
    import torch
    torch.set_num_threads(threads)
    shapes = [p.shape for p in make_model("imagenet").parameters()]
    results = []
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


def run_ember(binary, args, env):
    if not os.path.exists(binary):
        print(f"(no {binary}: build ember first; its figures are skipped)", flush=True)
        return None
    out = subprocess.run([binary] + args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(f"{binary} failed: {out.stderr.strip()}", flush=True)
        return None
    notes = [line for line in out.stderr.splitlines() if line.startswith("ember: note")]
    result = json.loads(out.stdout)
    if notes:
        result["notes"] = notes  # e.g. a fallback of the oneDNN layers (bfloat16 on a CPU without it)
    return result


def ratio_summary(ratios):
    """The median of per-round ratios and their range."""
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "rounds": len(ratios)}


def train_round(args, env, stem, batch, precision):
    """One torch run then one ember run of the same configuration: (torch record, ember record)."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", stem, "--threads", str(args.threads), "--batch-size",
         str(batch), "--precision", precision, "--warmup", str(args.warmup), "--seconds",
         str(args.seconds), "--min-steps", str(args.min_steps), "--steps", str(args.steps)],
        capture_output=True, text=True, env=env)
    if child.returncode != 0:
        print(f"torch {stem} b{batch} {precision} failed: {child.stderr.strip()[-500:]}", flush=True)
    torch_r = json.loads(child.stdout.strip().splitlines()[-1]) if child.returncode == 0 else None
    steps = torch_r["steps"] if torch_r else (args.steps or args.min_steps)
    ember_r = run_ember(os.path.join(args.build, "bin", "ember-bench-train"),
                        ["--device", "cpu", "--arch", ARCHS[stem], "--batch-size", str(batch), "--steps",
                         str(steps), "--warmup", str(args.warmup), "--optimizer", "adam:lr=1e-3",
                         "--precision", precision, "--threads", str(args.threads), "--json"], env)
    return torch_r, ember_r


def bench_training(args, env):
    rows = []
    for precision in args.precisions.split(","):
        for stem in ("imagenet", "cifar"):
            for batch in [int(b) for b in args.batches.split(",")]:
                load = os.getloadavg()[0]
                pairs = [train_round(args, env, stem, batch, precision) for _ in range(args.rounds)]
                row = {"arch": ARCHS[stem], "batch_size": batch, "precision": precision, "load_before": load,
                       "torch": [t for t, _ in pairs], "ember": [e for _, e in pairs]}
                done = [(t, e) for t, e in pairs if t and e]
                if done:
                    row["torch_images_per_s"] = statistics.median(t["images_per_s"] for t, _ in done)
                    row["ember_images_per_s"] = statistics.median(e["images_per_s"] for _, e in done)
                    row["ratio_images_per_s"] = ratio_summary([e["images_per_s"] / t["images_per_s"] for t, e in done])
                    row["ratio_peak_rss"] = (max(e["peak_rss_bytes"] for _, e in done) /
                                             max(t["peak_rss_bytes"] for t, _ in done))
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def optimizer_round(args, env):
    """Each optimiser's torch steps and, straight after, ember's: {name: {impl: ms}}, {name: ember's
    row}, copy GB/s. Pairs seconds apart, so that the machine's drift falls between rounds."""
    torch_ms, mine, copies = {}, {}, []
    for name in OPTIMIZERS:
        torch_ms[name] = {r["impl"]: r["ms"] for r in bench_torch_optim(args.threads, args.optim_reps, name)}
        ember = run_ember(os.path.join(args.build, "bin", "ember-bench-optim"),
                          ["--device", "cpu", "--threads", str(args.threads), "--n", "11181642", "--reps",
                           str(args.optim_reps), "--optimizer", EMBER_NAMES[name], "--json"], env)
        if ember and ember.get("results"):
            mine[name] = ember["results"][0]
            copies.append(ember["copy_gb_per_s"])
    return torch_ms, mine, (statistics.median(copies) if copies else None)


def bench_optimizers(args, env):
    rounds = [optimizer_round(args, env) for _ in range(args.rounds)]
    rows = {}
    for name in OPTIMIZERS:
        impls = rounds[0][0][name].keys()
        row = {"torch_ms": {impl: statistics.median(r[0][name][impl] for r in rounds) for impl in impls}}
        mine = [(r[0][name], r[1][name]) for r in rounds if name in r[1]]
        if mine:
            row["ember_ms"] = statistics.median(e["ms"] for _, e in mine)
            row["ember_fraction_of_copy"] = statistics.median(e["fraction_of_copy"] for _, e in mine)
            row["ratio_vs"] = {impl: ratio_summary([t[impl] / e["ms"] for t, e in mine]) for impl in impls}
        rows[name] = row
    copies = [r[2] for r in rounds if r[2]]
    return rows, (statistics.median(copies) if copies else None)


def print_summary(report):
    print("\n== ember / PyTorch on the CPU (%d threads, %s); ratios: ember's speed over torch's, "
          "median of %d alternating rounds [range]" % (report["threads"], report["cpu_layers"], report["rounds"]))
    for row in report["train"]:
        if "ratio_images_per_s" in row:
            r = row["ratio_images_per_s"]
            print(f"  train {row['arch']:15s} b{row['batch_size']:<4d} {row['precision']}: "
                  f"ember {row['ember_images_per_s']:8.1f} img/s, torch {row['torch_images_per_s']:8.1f} img/s, "
                  f"ratio {r['median']:.2f} [{r['min']:.2f}, {r['max']:.2f}], "
                  f"peak RSS ratio {row['ratio_peak_rss']:.2f} (load before {row['load_before']:.2f})")
    for name, row in report.get("optimizers", {}).items():
        ratios = ", ".join(f"{k} {v['median']:.2f}x [{v['min']:.2f}, {v['max']:.2f}]"
                           for k, v in row.get("ratio_vs", {}).items())
        print(f"  {name:9s} ember {row.get('ember_ms', float('nan')):7.2f} ms  vs torch {ratios}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="64,256", help="training batch sizes, comma-separated")
    ap.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16, comma-separated")
    ap.add_argument("--cpu-layers", default="onednn", help="ember's CPU layers (EMBER_CPU_LAYERS): onednn or reference")
    ap.add_argument("--seconds", type=float, default=15, help="timed work per configuration, about")
    ap.add_argument("--min-steps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="timed steps per configuration (0: from --seconds)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--optim-reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="alternating torch/ember rounds per configuration")
    ap.add_argument("--skip-optimizers", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", help="result file (default bench/results/<date>-cpu-<threads>threads.json)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    ensure_torch()
    if args.child:
        train_child(args)
        return
    import torch
    env = dict(os.environ, EMBER_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               EMBER_CPU_LAYERS=args.cpu_layers)
    model, flags = cpu_info()
    report = {"device": model, "cpu_flags": flags, "cpus": os.cpu_count(), "threads": args.threads,
              "rounds": args.rounds, "cpu_layers": args.cpu_layers, "torch": torch.__version__,
              "date": datetime.date.today().isoformat(),
              "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                                       text=True).stdout.strip(),
              "command": " ".join(["python3", "scripts/bench_torch_cpu.py"] + sys.argv[1:])}
    report["train"] = [] if args.skip_training else bench_training(args, env)
    if not args.skip_optimizers:
        report["optimizers"], report["copy_gb_per_s"] = bench_optimizers(args, env)
    print_summary(report)
    path = args.out or os.path.join(ROOT, "bench", "results", f"{report['date']}-cpu-{args.threads}threads.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
