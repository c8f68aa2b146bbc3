#!/usr/bin/env python3
"""CPU tests of scripts/gpu-check.sh's machinery (CTest GpuCheckScripts; standard library only).

The plan fits 15 minutes and names exactly the steps the runs execute; the gtest summary fails
on a failed or skipped test; the results file merges steps, suites and benchmarks; measured
seconds replace estimates; and a step that outlives its cap is killed, recorded as timed out,
and the results file is still written.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(HERE, "results.py")
PLAN = os.path.join(HERE, "plan.tsv")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)


def results(*args, cwd=None):
    return subprocess.run([sys.executable, RESULTS, *args], capture_output=True, text=True, cwd=cwd)


def plan_rows(path):  # (run, step) -> fields
    rows = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if not line.startswith("#") and len(fields) == 6:
                rows[(fields[0], fields[1])] = fields
    return rows


class Plan(unittest.TestCase):
    def test_total_fits_fifteen_minutes(self):
        r = results("plan", PLAN)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        total = re.search(r"^total: (\d+) min$", r.stdout, re.M)
        self.assertIsNotNone(total, r.stdout)
        self.assertLessEqual(int(total.group(1)), 15)
        self.assertLess(r.stdout.index("total:"), r.stdout.index("optional later run"))

    def test_plan_names_the_steps_each_run_executes(self):
        with open(os.path.join(ROOT, "scripts", "gpu-check.sh")) as f:
            script = f.read()
        rows = list(plan_rows(PLAN).values())
        for run in ("1", "2"):
            body = re.search(r"^run%s\(\) \{\n(.*?)^\}" % run, script, re.M | re.S).group(1)
            executed = re.findall(r"\bstep ([a-z0-9-]+) \d+", body)
            executed = [s for s in executed if s != "torch-compile"]  # only if time remains: not planned
            planned = [r[1] for r in rows if r[0] == run]
            self.assertEqual(executed, planned, f"run {run}")


class Results(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.fragments = os.path.join(self.dir, "fragments")
        os.makedirs(self.fragments)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def gtest_report(self, name, failed=(), skipped=(), passed=("A.ok",)):
        tests = []
        for full in passed:
            tests.append({"name": full.split(".")[1], "result": "COMPLETED"})
        for full in failed:
            tests.append({"name": full.split(".")[1], "result": "COMPLETED", "failures": [{"failure": "x"}]})
        for full in skipped:
            tests.append({"name": full.split(".")[1], "result": "SKIPPED"})
        path = os.path.join(self.dir, name + ".json")
        write_json({"tests": len(tests), "time": "1.5s", "testsuites": [{"name": "A", "testsuite": tests}]}, path)
        return path

    def test_a_failed_or_skipped_gpu_test_fails_the_suites_step(self):
        good = self.gtest_report("good")
        self.assertEqual(results("suites", "--fragments", self.fragments, good).returncode, 0)
        skipped = self.gtest_report("skipped", skipped=("A.gpu",))
        r = results("suites", "--fragments", self.fragments, good, skipped)
        self.assertEqual(r.returncode, 1)
        self.assertIn("SKIPPED A.gpu", r.stdout)
        failed = self.gtest_report("failed", failed=("A.bad",))
        missing = os.path.join(self.dir, "crashed.json")
        self.assertEqual(results("suites", "--fragments", self.fragments, failed, missing).returncode, 1)
        suites = read_json(os.path.join(self.fragments, "suites.json"))["suites"]
        self.assertEqual(suites[0]["failed"], ["A.bad"])
        self.assertIn("no report", suites[1]["status"])

    def test_merge_collects_environment_steps_suites_and_benchmarks(self):
        write_json({"device": "NVIDIA H200", "commit": "abc", "cuda": "13.0", "cudnn": "91900", "torch": "2.11.0",
                    "driver": "580", "cudnn_dir": "/x"}, os.path.join(self.fragments, "env.json"))
        write_json({"benchmarks": [{"name": "adam_step_resnet18", "unit": "ms", "ember": 0.08}]},
                   os.path.join(self.fragments, "optim.json"))
        self.gtest_report("suite")
        results("suites", "--fragments", self.fragments, os.path.join(self.dir, "suite.json"))
        steps = os.path.join(self.dir, "steps.jsonl")
        with open(steps, "w") as f:
            f.write(json.dumps({"name": "build", "status": "passed", "seconds": 100, "detail": ""}) + "\n")
        out = os.path.join(self.dir, "out.json")
        self.assertEqual(results("merge", "--steps", steps, "--fragments", self.fragments, "--out", out).returncode, 0)
        r = read_json(out)
        self.assertEqual(r["device"], "NVIDIA H200")
        self.assertEqual([s["name"] for s in r["steps"]], ["build"])
        self.assertEqual(r["benchmarks"][0]["name"], "adam_step_resnet18")
        self.assertEqual(r["suites"][0]["tests"], 1)

    def test_measured_seconds_replace_estimates(self):
        plan = os.path.join(self.dir, "plan.tsv")
        shutil.copy(PLAN, plan)
        measured = os.path.join(self.dir, "2026-01-01-h200-run1.json")
        write_json({"run": "run1", "steps": [{"name": "suites", "status": "passed", "seconds": 77},
                                             {"name": "build", "status": "passed", "seconds": 140},
                              {"name": "memcheck", "status": "failed (exit 3)", "seconds": 5}]}, measured)
        self.assertEqual(results("update-estimates", plan, measured).returncode, 0)
        rows = plan_rows(plan)
        original = plan_rows(PLAN)
        self.assertEqual(rows[("1", "suites")][3], "77")
        self.assertIn("measured", rows[("1", "suites")][4])
        self.assertEqual(rows[("1", "build")][3], "140")
        self.assertEqual(rows[("2", "build")], original[("2", "build")])  # another run's step of the same name
        self.assertEqual(rows[("1", "memcheck")][3], original[("1", "memcheck")][3])  # failed: measures nothing


class Steps(unittest.TestCase):
    def test_a_step_past_its_cap_is_killed_and_the_results_still_written(self):
        work = tempfile.mkdtemp()
        try:
            script = f"""
set -uo pipefail
EMBER_ROOT={ROOT}; OUT={work}; WORK={work}; REPORT={work}/report.txt; STEPS={work}/steps.jsonl
FRAGMENTS={work}/fragments; PYTHON={sys.executable}; RESULTS_NAME=results.json
DEADLINE=$(( $(date +%s) + 60 ))
export EMBER_ROOT WORK FRAGMENTS PYTHON
mkdir -p "$FRAGMENTS"; : > "$STEPS"
source {ROOT}/scripts/gpu-check.d/lib.sh
step quick 10 true
step slow 1 sleep 30
step broken 10 false
skip later "the build failed"
"""
            subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
            r = read_json(os.path.join(work, "results.json"))
            status = {s["name"]: s["status"] for s in r["steps"]}
            self.assertEqual(status["quick"], "passed")
            self.assertTrue(status["slow"].startswith("failed: timed out"), status["slow"])
            self.assertEqual(status["broken"], "failed (exit 1)")
            self.assertEqual(status["later"], "skipped: the build failed")
        finally:
            shutil.rmtree(work)


if __name__ == "__main__":
    unittest.main()
