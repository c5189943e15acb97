#!/usr/bin/env python3
"""Runs one of Ember's CPU benchmarks and the same work in PyTorch, one after
the other on this machine at the same thread count, and prints a
side-by-side table (Markdown) with the speed ratio (PyTorch time / Ember
time: above 1 means Ember is faster). With --write, the table replaces its
section of docs/benchmarks.md.

Suites:  ops     conv2d fwd+bwd on ResNet-18's layers, a small-CNN training step
         models  batch-1 inference and a batch-16 training step of five models:
                 hands over to tools/bench/compare_models.py (which also runs
                 ONNX Runtime and reports memory; use it directly for its options)

Usage: tools/bench/compare_cpu.py [--suite ops|models] [--threads N] [--build build] [--write]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

from bench_report import cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return {r["name"]: r["ms"] for r in (json.loads(line) for line in out.splitlines() if line.startswith("{"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--suite", choices=["ops", "models"], default="ops")
    args = ap.parse_args()
    if args.suite == "models":
        cmd = [sys.executable, os.path.join(HERE, "compare_models.py"), "--device", "cpu", "--threads",
               str(args.threads), "--ember", os.path.join(args.build, "ember"), "--python", args.python]
        sys.exit(subprocess.run(cmd + (["--write"] if args.write else [])).returncode)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    shapes = os.path.join(HERE, "bench_shapes.json")
    ember = run([os.path.join(args.build, "cpu_ops_bench"), shapes, str(args.threads)], env)
    torch = run([args.python, os.path.join(HERE, "torch_cpu_ops.py"), shapes, str(args.threads)], env)
    title = "## CPU: conv2d, cross-entropy and a small-CNN training step"
    detail = "fwd+bwd at batch 8 for the convolutions, mean cross-entropy with class targets, median of 3-20 runs after 2 warm-ups"
    torch_version = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True).stdout.strip()
    rows = ["| work | Ember ms | PyTorch ms | speed vs PyTorch |", "|---|---:|---:|---:|"]
    ratios = []
    for name, ms in ember.items():
        t = torch.get(name)
        ratio = t / ms if t else float("nan")
        ratios.append(ratio)
        rows.append(f"| {name} | {ms:.2f} | {t:.2f} | {ratio:.2f}x |")
    geo = 1.0
    for r in ratios:
        geo *= r
    geo **= 1.0 / max(len(ratios), 1)
    header = (f"{title}\n\n"
              f"{datetime.date.today().isoformat()}, {cpu_name()}, {args.threads} threads, "
              f"Ember (own AVX2 GEMM for convolutions, -march=native) vs PyTorch {torch_version} (oneDNN), {detail}.\n"
              f"Produced by `tools/bench/compare_cpu.py --suite {args.suite} --write`.\n\n")
    table = header + "\n".join(rows) + f"\n\nGeometric mean of the ratios: {geo:.2f}x\n"
    print(table)
    if args.write:
        write_section(title, table[len(title):])


if __name__ == "__main__":
    main()
