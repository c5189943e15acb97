#!/usr/bin/env python3
"""The data loader, side by side: `ember bench loader` (worker threads) and
tools/bench/torch_loader.py (PyTorch's DataLoader with worker processes,
PIL and torchvision), on the same JPEGs, batch and device, for each worker
count. Prints a Markdown table; --write replaces the "## Data loader"
section of docs/benchmarks.md.

    python3 tools/bench/compare_loader.py --images DIR [--workers 1 2 16] [--device cuda] [--write]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

from bench_report import REPO, cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not rows:
        lines = [line for line in p.stderr.strip().splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit status {p.returncode}"
    return rows[-1], None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count()])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-time", type=float, default=5.0)
    ap.add_argument("--ember", default=os.path.join(REPO, "build", "ember"))
    ap.add_argument("--python", default=sys.executable, help="the python that has torch and torchvision")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    common = ["--images", a.images, "--batch", str(a.batch), "--device", a.device, "--min-time", str(a.min_time)]
    lines = ["| workers | Ember images/s | PyTorch images/s | Ember / PyTorch | Ember images/s per worker |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    notes, files = [], None
    for w in a.workers:
        e, e_err = run([a.ember, "bench", "loader", "--workers", str(w), "--json"] + common)
        t, t_err = run([a.python, os.path.join(HERE, "torch_loader.py"), "--workers", str(w)] + common)
        notes += [f"- n/a: {who}, {w} workers: {err}" for who, err in (("ember", e_err), ("torch", t_err)) if err]
        files = files or (e or t or {}).get("files")
        er, tr = (e or {}).get("images_per_s"), (t or {}).get("images_per_s")
        cell = lambda v: f"{v:,.0f}" if v else "n/a"  # noqa: E731
        lines.append(f"| {w} | {cell(er)} | {cell(tr)} | {f'{er / tr:.2f}x' if er and tr else 'n/a'} | "
                     f"{cell(er / w if er else None)} |")
    versions = subprocess.run([a.python, "-c", "import torch, torchvision, PIL; print(torch.__version__, "
                               "torchvision.__version__, PIL.__version__)"], capture_output=True, text=True)
    torch_v, tv_v, pil_v = (versions.stdout.split() + ["?"] * 3)[:3]
    header = (f"{datetime.date.today().isoformat()}, {cpu_name()} ({os.cpu_count()} cores), batches delivered to "
              f"{a.device}. {files} JPEGs from `{os.path.relpath(a.images, REPO)}` repeated to 8,192 per epoch, "
              f"torchvision's ImageNet training transform (RandomResizedCrop 224, flip, normalize, to tensor), batch "
              f"{a.batch}, {a.min_time:g} s after two warm-up batches. Ember's worker threads against PyTorch "
              f"{torch_v}'s DataLoader worker processes (torchvision {tv_v}, PIL {pil_v}).\n"
              f"Produced by `python3 tools/bench/compare_loader.py {' '.join(sys.argv[1:])}`.")
    body = header + "\n\n" + "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "")
    title = "## Data loader" + ("" if a.device == "cpu" else " (GPU machine)")
    print(f"{title}\n\n{body}\n")
    if a.write:
        write_section(title, body)


if __name__ == "__main__":
    main()
