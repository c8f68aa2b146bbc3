#!/usr/bin/env python3
"""The JSON side of scripts/gpu-check.sh (standard library only: it runs here and on the GPU machine).

  results.py merge --steps STEPS.jsonl --fragments DIR --out gpu-check.json
      the results file: environment (fragment env.json), steps, suites and benchmarks (every
      fragment's "benchmarks"), written atomically
  results.py suites --fragments DIR GTEST_JSON...
      the gtest JSON reports of the GPU suites as fragment suites.json; exit 1 when a test
      failed or was skipped (on a GPU machine a skip means the GPU was not usable)
  results.py bench-train --name NAME --fragment FILE EMBER_JSON [--require-graph]
      one ember-bench-train result as a benchmark; with --require-graph, exit 1 unless the
      CUDA graph was replayed
  results.py adam --fragment FILE EMBER_OPTIM_JSON
      ember-bench-optim's step figures (ms, GB/s, fraction of the copy bandwidth measured in
      the same run) as benchmarks
  results.py torch-train --fragment FILE TORCH_JSON...
      PyTorch's training figures (scripts/bench_torch_train.py) into the ember benchmarks of
      the same architecture and batch size already in FILE: ratio_vs_torch_<mode>, ember's
      images/s over PyTorch's (above 1: ember is faster)
  results.py plan PLAN.tsv
      the plan: runs in order of value, what each step proves, estimates, total
  results.py update-estimates PLAN.tsv GPU_CHECK_JSON...
      replace the estimates of the steps those runs measured (commit the result)
"""
import argparse
import datetime
import glob
import json
import os
import sys
import tempfile

STARTUP_S = 90  # a fresh machine: 1 to 2 minutes of device time before the command runs
# How each run is called with the device tool (its timeout_s leaves the run's own deadline,
# GPU_CHECK_SECONDS, 30 s to finish writing).
CALLS = {
    "1": 'run(command="EMBER_COMMIT=<git rev-parse HEAD here> scripts/gpu-check.sh run1", carry=[".gpu-deps"], '
         "timeout_s=400) (the device machine gets no .git: the commit is passed)",
    "2": 'run(command="EMBER_COMMIT=... scripts/gpu-check.sh run2", carry=[".gpu-deps", ".gpu-data"], timeout_s=300), at once '
         "after run 1 returns: the machine stays warm for 30 s and keeps run 1's build; on a fresh machine run 2 "
         "rebuilds first (see its build estimate) and its last steps may be cut by the deadline",
}


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_atomically(obj, path):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def merge(args):
    env = load(os.path.join(args.fragments, "env.json"), {})
    result = {key: env.get(key, "unknown") for key in ("device", "commit", "cuda", "cudnn", "cudnn_dir", "torch",
                                                       "driver")}
    result["run"] = args.run
    result["date"] = datetime.date.today().isoformat()
    result["environment"] = env
    result["steps"] = []
    if os.path.exists(args.steps):
        with open(args.steps) as f:
            result["steps"] = [json.loads(line) for line in f if line.strip()]
    result["suites"] = load(os.path.join(args.fragments, "suites.json"), {}).get("suites", [])
    result["benchmarks"] = []
    for path in sorted(glob.glob(os.path.join(args.fragments, "*.json"))):
        if os.path.basename(path) in ("env.json", "suites.json"):
            continue
        fragment = load(path)
        if fragment is None:
            result["steps"].append({"name": os.path.basename(path), "status": "bad fragment", "seconds": 0})
            continue
        result["benchmarks"] += fragment.get("benchmarks", [])
    write_atomically(result, args.out)


def suites(args):
    rows, bad = [], False
    for path in args.reports:
        report = load(path)
        name = os.path.basename(path).rsplit(".", 1)[0]
        if report is None:
            rows.append({"suite": name, "status": "no report (crashed or timed out)"})
            bad = True
            continue
        failed, skipped = [], []
        for suite in report.get("testsuites", []):
            for test in suite.get("testsuite", []):
                full = f"{suite['name']}.{test['name']}"
                if test.get("failures"):
                    failed.append(full)
                elif test.get("result") == "SKIPPED":
                    skipped.append(full)
        rows.append({"suite": name, "tests": report.get("tests", 0), "failed": failed, "skipped": skipped,
                     "seconds": float(str(report.get("time", "0s")).rstrip("s") or 0)})
        bad = bad or bool(failed) or bool(skipped)
        print(f"{name:24s} {report.get('tests', 0):4d} tests  {len(failed):3d} failed  {len(skipped):3d} skipped")
        for t in failed:
            print(f"  FAILED  {t}")
        for t in skipped:
            print(f"  SKIPPED {t} (a skip on a GPU machine: the GPU was not usable)")
    write_atomically({"suites": rows}, os.path.join(args.fragments, "suites.json"))
    return 1 if bad else 0


def bench_train(args):
    e = load(args.ember_json)
    if e is None:
        print(f"{args.ember_json}: no result")
        return 1
    bench = {"name": args.name, "unit": "images_per_s", "ember": e["images_per_s"], "ember_ms_step": e["ms_step"],
             "precision": e["precision"], "channels_last": e.get("channels_last", False),
             "cuda_graph": e["cuda_graph"], "graph_replayed": e["graph_replayed"], "graph_failure": e["graph_failure"],
             "ember_ms_forward_eager": e["ms_forward"], "ember_ms_backward_eager": e["ms_backward"],
             "ember_ms_optimizer_eager": e["ms_optimizer"], "ember_peak_bytes": e["peak_device_bytes"],
             "batch_size": e["batch_size"], "arch": e["arch"]}
    fragment = load(args.fragment, {"benchmarks": []})
    fragment["benchmarks"].append(bench)
    write_atomically(fragment, args.fragment)
    print(f"{args.name}: {e['images_per_s']:.0f} images/s, graph replayed: {e['graph_replayed']}"
          + (f" (capture failed: {e['graph_failure']})" if e["graph_failure"] else ""))
    return 1 if args.require_graph and not e["graph_replayed"] else 0


def adam(args):
    e = load(args.ember_json)
    if e is None:
        print(f"{args.ember_json}: no result")
        return 1
    fragment = load(args.fragment, {"benchmarks": []})
    for r in e["results"]:
        name = r["optimizer"].replace(":", "_").replace(",", "_").replace("=", "")
        size = "resnet18" if r["n"] == 11181642 else f"n{r['n']}"
        bench = {"name": f"{name}_step_{size}", "unit": "ms", "ember": r["ms"], "ember_gb_per_s": r["gb_per_s"],
                 "copy_gb_per_s": e["copy_gb_per_s"], "fraction_of_copy_bw": r["fraction_of_copy"], "n": r["n"]}
        if "unfused_ms" in r:
            bench.update({"ember_unfused": r["unfused_ms"], "speedup_vs_unfused": r["speedup_vs_unfused"]})
        fragment["benchmarks"].append(bench)
        print(f"{bench['name']}: {r['ms']:.4f} ms, {r['gb_per_s']:.0f} GB/s = {r['fraction_of_copy']:.2f} of the "
              f"copy bandwidth measured in the same run ({e['copy_gb_per_s']:.0f} GB/s)")
    write_atomically(fragment, args.fragment)
    return 0


def torch_train(args):
    torch = {}
    for path in args.torch_json:
        for r in load(path, {"results": []})["results"]:
            if "images_per_s" in r:
                torch[(r.get("stem"), r.get("batch_size"), r.get("mode"))] = r
    fragment = load(args.fragment, {"benchmarks": []})
    for b in fragment["benchmarks"]:
        stem = "cifar" if b.get("arch") == "resnet18-cifar" else "imagenet"
        for (s, batch, mode), r in torch.items():
            if s == stem and batch == b.get("batch_size"):
                b[f"torch_{mode}"] = r["images_per_s"]
                b[f"ratio_vs_torch_{mode}"] = b["ember"] / r["images_per_s"]
                b[f"torch_{mode}_peak_bytes"] = r.get("peak_memory_bytes")
        ratios = " ".join(f"{k[len('ratio_vs_torch_'):]} {v:.2f}x" for k, v in b.items() if k.startswith("ratio_vs"))
        print(f"{b['name']}: ember {b['ember']:.0f} images/s; against PyTorch: {ratios or 'no PyTorch figure'}")
    write_atomically(fragment, args.fragment)
    return 0


def read_plan(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            run, step, cap, estimate, basis, proves = line.rstrip("\n").split("\t")
            rows.append({"run": run, "step": step, "cap": int(cap), "estimate": int(estimate), "basis": basis,
                         "proves": proves})
    return rows


def plan(args):
    rows = read_plan(args.plan)
    runs = [r for r in dict.fromkeys(row["run"] for row in rows)]
    total = 0
    later = []
    for run in runs:
        steps = [r for r in rows if r["run"] == run]
        if run.startswith("later"):
            later.append((run, steps))
            continue
        seconds = sum(s["estimate"] for s in steps)
        start = STARTUP_S if run == "1" else 0
        total += seconds + start
        header = f"Run {run}: about {(seconds + start) / 60:.1f} min"
        header += " (1.5 min start-up included)" if start else " (the machine still warm from Run 1: no start-up)"
        print(header)
        if run in CALLS:
            print(f"  call: {CALLS[run]}")
        for s in steps:
            print(f"  {s['step']:12s} {s['estimate']:4d} s (cap {s['cap']:3d} s)  {s['proves']}")
            print(f"  {'':12s} {'':24s} estimate: {s['basis']}")
    minutes = -(-total // 60)
    print(f"total: {minutes} min")
    for run, steps in later:
        name = run[len("later-"):]
        print(f"\noptional later run {name} (not in the total): run(command=\"scripts/gpu-check.sh later {name}\", "
              f"carry=[\".gpu-deps\", \".gpu-data\"], timeout_s=600)")
        for s in steps:
            print(f"  {s['step']:12s} {s['estimate']:4d} s  {s['proves']}")
    return 0 if minutes <= 15 else 1


def update_estimates(args):
    measured = {}  # (plan run, step) -> seconds
    for path in args.results:
        result = load(path, {})
        run = result.get("run", "")
        run = run[len("run"):] if run.startswith("run") else run
        for s in result.get("steps", []):
            if s.get("status") == "passed":
                measured[(run, s["name"])] = s["seconds"]
    lines, updated = [], 0
    with open(args.plan) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if not line.startswith("#") and len(fields) == 6 and (fields[0], fields[1]) in measured:
                fields[3] = str(measured[(fields[0], fields[1])])
                fields[4] = "measured on the GPU machine"
                line = "\t".join(fields) + "\n"
                updated += 1
            lines.append(line)
    with open(args.plan, "w") as f:
        f.writelines(lines)
    print(f"updated {updated} estimates in {args.plan}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("merge")
    p.add_argument("--steps", required=True)
    p.add_argument("--fragments", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--run", default="", help="run1, run2 or later-NAME (update-estimates matches on it)")
    p = sub.add_parser("suites")
    p.add_argument("--fragments", required=True)
    p.add_argument("reports", nargs="*")
    p = sub.add_parser("bench-train")
    p.add_argument("--name", required=True)
    p.add_argument("--fragment", required=True)
    p.add_argument("--require-graph", action="store_true")
    p.add_argument("ember_json")
    p = sub.add_parser("adam")
    p.add_argument("--fragment", required=True)
    p.add_argument("ember_json")
    p = sub.add_parser("torch-train")
    p.add_argument("--fragment", required=True)
    p.add_argument("torch_json", nargs="+")
    p = sub.add_parser("plan")
    p.add_argument("plan")
    p = sub.add_parser("update-estimates")
    p.add_argument("plan")
    p.add_argument("results", nargs="+")
    args = ap.parse_args()
    handlers = {"merge": merge, "suites": suites, "bench-train": bench_train, "adam": adam, "torch-train": torch_train, "plan": plan,
                "update-estimates": update_estimates}
    sys.exit(handlers[args.command](args) or 0)


if __name__ == "__main__":
    main()
