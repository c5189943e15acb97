#!/usr/bin/env python3
"""Two builds of Ember (two commits, or a change and its base), batch-1 CPU
inference of whole models, measured in turns: each build's turns_bench runs
one forward pass and hands the turn to the other over a pair of FIFOs, so
both see the same phases of a shared machine (whose speed drifts by tens of
percent between runs; timing one build after the other lets a slow spell
land on one of them only). Prints a Markdown table: each build's best,
quarter-point and median over the turns, and base / new ratios (above 1
when the new build is faster).

Both processes run with OMP_WAIT_POLICY=passive: an OpenMP worker that
spins while its process waits for the turn would take a core from the other
build. Absolute times are therefore a little above those of `ember bench
models` (threads sleep between parallel regions); the ratios are what this
measures.

  python3 tools/bench/compare_builds.py --base ../ember-base/build --new build \\
      --model mobilenet_v2 efficientnet_b0 --turns 60 --threads 2

Each build folder needs the program turns_bench (target turns_bench, from
tools/bench/turns_bench.cpp); for a commit older than that file, copy it
into that tree's tools/bench first.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def program(build):
    path = os.path.join(build, "turns_bench")
    if not os.access(path, os.X_OK):
        sys.exit(f"compare_builds.py: {path} is missing; build the target turns_bench in {build} first")
    return path


def measure(base, new, model, args):
    with tempfile.TemporaryDirectory() as tmp:
        to_base, to_new = os.path.join(tmp, "to_base"), os.path.join(tmp, "to_new")
        os.mkfifo(to_base)
        os.mkfifo(to_new)
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        common = ["--model", model, "--turns", str(args.turns), "--size", str(args.size)]
        if args.threads:
            common += ["--threads", str(args.threads)]
        procs = [
            subprocess.Popen([base, *common, "--wait", to_base, "--signal", to_new, "--first"],
                             stdout=subprocess.PIPE, text=True, env=env),
            subprocess.Popen([new, *common, "--wait", to_new, "--signal", to_base],
                             stdout=subprocess.PIPE, text=True, env=env),
        ]
        # A build that fails leaves the other waiting for its turn: stop
        # both as soon as either exits with an error, or at the time limit.
        deadline = time.monotonic() + args.timeout
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for q in procs:
                    q.kill()
                if failed:
                    sys.exit(f"compare_builds.py: {failed[0].args[0]} failed on {model} (exit {failed[0].returncode})")
                sys.exit(f"compare_builds.py: {model} took more than {args.timeout} s; stopped both builds")
            time.sleep(0.2)
        results = []
        for p in procs:
            if p.returncode != 0:
                sys.exit(f"compare_builds.py: {p.args[0]} failed on {model} (exit {p.returncode})")
            results.append(json.loads(p.stdout.read().strip().splitlines()[-1]))
        return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="build folder of the base (its turns_bench)")
    ap.add_argument("--new", required=True, help="build folder of the new build")
    ap.add_argument("--model", nargs="+", default=["resnet50", "efficientnet_b0", "mobilenet_v2", "densenet121", "resnet18"])
    ap.add_argument("--turns", type=int, default=40, help="forward passes per build")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per model before both are stopped")
    args = ap.parse_args()
    base, new = program(args.base), program(args.new)
    print(f"Batch-1 inference, {args.size}x{args.size}, float32, {args.turns} turns each, "
          f"{args.threads or os.cpu_count()} threads, OMP_WAIT_POLICY=passive; base {args.base}, new {args.new}.\n")
    print("| model | base best ms | new best ms | base / new (best) | base p25 ms | new p25 ms | base / new (p25) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model in args.model:
        b, n = measure(base, new, model, args)
        print(f"| {model} | {b['best_ms']:.2f} | {n['best_ms']:.2f} | {b['best_ms'] / n['best_ms']:.2f}x | "
              f"{b['p25_ms']:.2f} | {n['p25_ms']:.2f} | {b['p25_ms'] / n['p25_ms']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
