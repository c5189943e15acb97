#!/usr/bin/env python3
"""Whole models, side by side, in one command: `ember bench models`,
tools/bench/torch_models.py (PyTorch eager, plus torch.compile with
--compile where torch has it) and, for CPU inference in float32,
tools/bench/onnxruntime_models.py (ONNX Runtime from PyPI, in the venv of
tests/oracle/onnxruntime_venv.sh), one after the other on this machine with
the same options. Each model runs in a fresh process per runner, so one
model's caches and memory do not colour the next one's numbers. With
--rounds N the runners take turns N times and each keeps its fastest round,
so that on a shared machine a slow spell does not land on one of them only.

Prints a Markdown table with ratios (other time / Ember time, and PyTorch
memory / Ember memory: above 1 means Ember is faster or smaller); --write
replaces that table's section of docs/benchmarks.md, headed with the date,
machine, device and versions. --json prints the rows as JSON instead (with
--rounds, each runner's fastest).

  CPU:  python3 tools/bench/compare_models.py --threads 2 --rounds 3 --write
  GPU:  python3 tools/bench/compare_models.py --device cuda --train-batch 256 --infer-batch 256 --cudnn-benchmark --write

The options are those of `ember bench models` (see its --help); a runner
that cannot do a run (an unsupported --precision, ONNX Runtime missing)
shows "n/a" in its column with the reason below the table, and the others
still run.
"""
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile

import model_bench as mb
from bench_report import REPO, cpu_name, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.basename(__file__)


def default_ember():
    for build in ("build", "build-cpu"):
        path = os.path.join(REPO, build, "ember")
        if os.path.exists(path):
            return path
    return os.path.join(REPO, "build", "ember")


def common_flags(a, mode):
    flags = ["--mode", mode, "--train-batch", str(a.train_batch), "--infer-batch", str(a.infer_batch),
             "--size", str(a.size), "--device", a.device, "--threads", str(a.threads), "--warmup", str(a.warmup),
             "--iters", str(a.iters), "--min-time", str(a.min_time), "--precision", a.precision]
    for flag in ("channels_last", "cudnn_benchmark", "tf32", "cuda_graphs"):
        if getattr(a, flag):
            flags.append("--" + flag.replace("_", "-"))
    return flags


def run_rows(cmd, env):
    """The JSON rows a runner printed, or the reason it printed none."""
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0:
        lines = [line for line in p.stderr.strip().splitlines() if line.strip()]
        return rows, (lines[-1] if lines else f"exit status {p.returncode}")
    return rows, None


def onnxruntime_python():
    """The venv's python, or None and why not (no network for PyPI, say)."""
    p = subprocess.run(["bash", os.path.join(REPO, "tests", "oracle", "onnxruntime_venv.sh")], capture_output=True,
                       text=True)
    if p.returncode != 0:
        lines = [line for line in p.stderr.strip().splitlines() if line.strip()]
        return None, "ONNX Runtime could not be installed from PyPI" + (f" ({lines[-1]})" if lines else "")
    return p.stdout.strip().splitlines()[-1], None


def versions(python, device, ort_python):
    code = ("import json, torch, torchvision; v = {'torch': torch.__version__, 'torchvision': torchvision.__version__}\n"
            "if torch.cuda.is_available():\n"
            "    v.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),\n"
            f"             gpu=torch.cuda.get_device_name(torch.device({device!r})))\n"
            "print(json.dumps(v))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    v = json.loads(out) if out else {}
    if ort_python:
        v["onnxruntime"] = subprocess.run([ort_python, "-c", "import onnxruntime; print(onnxruntime.__version__)"],
                                          capture_output=True, text=True).stdout.strip()
    # A bundle run on a lent GPU machine has no .git (and maybe no git):
    # tools/gpu_check.sh passes the commit the bundle was built from.
    commit = os.environ.get("EMBER_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True,
                                    text=True).stdout.strip()
        except OSError:
            commit = ""
    v["ember"] = commit or "unknown commit"
    return v


def ortable(a):
    """Whether ONNX Runtime joins: CPU inference of the float32 NCHW graph."""
    return (a.device == "cpu" and "infer" in a.modes and not a.no_onnxruntime and a.precision == "float32"
            and not a.channels_last)


def measure(a, env):
    """Every runner's rows for every model, the reasons of failures, and the
    ONNX Runtime venv's python (None when it was not used)."""
    rows, failures = [], []
    ort_python, ort_missing = None, None
    if ortable(a):
        ort_python, ort_missing = onnxruntime_python()
    if ort_missing:
        failures.append(("onnxruntime", "all models", ort_missing))
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.model:
            runners = [("ember", [a.ember, "bench", "models"]),
                       ("torch", [a.python, os.path.join(HERE, "torch_models.py")] + (["--compile"] if a.compile else []))]
            onnx = None
            if ort_python:
                onnx = os.path.join(tmp, f"{model}.onnx")
                export = [a.python, os.path.join(HERE, "onnxruntime_models.py"), "export", "--model", model,
                          "--batch", str(a.infer_batch), "--size", str(a.size), "--out", onnx]
                _, error = run_rows(export, env)
                if error:
                    failures.append(("onnxruntime", model, error))
                    onnx = None
                else:
                    runners.append(("onnxruntime", [ort_python, os.path.join(HERE, "onnxruntime_models.py"), "time",
                                                    "--onnx", onnx]))
            # The runners take turns, round after round, so a slow spell of
            # a shared machine falls on all of them alike.
            # A runner that fails keeps its turns (a row it did print then
            # had as many rounds as the others'); its failure is noted once.
            failed = set()
            for _ in range(a.rounds):
                for runner, cmd in runners:
                    mode = "infer" if runner == "onnxruntime" else a.mode
                    got, error = run_rows(cmd + ["--model", model, "--json"] + common_flags(a, mode), env)
                    rows += got
                    if error and runner not in failed:
                        failures.append((runner, model, error))
                        failed.add(runner)
            if onnx:
                os.remove(onnx)
    return fastest_rounds(rows), failures, ort_python


def fastest_rounds(rows):
    """Of each runner's rows for one model and mode (one per round), the one
    with the lowest median: the round least disturbed by other work on the
    machine, chosen alike for every runner."""
    best = {}
    for r in rows:
        key = (r["runner"], r["model"], r["mode"])
        if key not in best or r["median_ms"] < best[key]["median_ms"]:
            best[key] = r
    return list(best.values())


def ratio(other, ember):
    return other / ember if other and ember else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def table(a, rows):
    by = {(r["runner"], r["model"], r["mode"]): r for r in rows}
    others = [("torch", "PyTorch")]
    if any(r["runner"] == "torch.compile" for r in rows):
        others.append(("torch.compile", "torch.compile"))
    if ortable(a):
        others.append(("onnxruntime", "ONNX Runtime"))
    head = ["model", "work", "Ember ms (p10-p90)"]
    for _, label in others:
        head += [f"{label} ms", f"{label} / Ember"]
    head += ["Ember images/s", "Ember MB", "PyTorch MB", "mem PyTorch / Ember"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    ratios = {runner: [] for runner, _ in others}
    mem_ratios = []
    for model in a.model:
        for mode in a.modes:
            e = by.get(("ember", model, mode))
            batch = a.train_batch if mode == "train" else a.infer_batch
            e_ms = e["median_ms"] if e else None
            cells = [model, f"{mode} b{batch}",
                     f"{e_ms:.2f} ({e['p10_ms']:.2f}-{e['p90_ms']:.2f})" if e else "n/a"]
            for runner, _ in others:
                o = by.get((runner, model, mode))
                if runner == "onnxruntime" and mode == "train":
                    cells += ["-", "-"]
                    continue
                r = ratio(o["median_ms"] if o else None, e_ms)
                ratios[runner].append(r)
                cells += [fmt(o["median_ms"] if o else None, ".2f"), fmt(r, ".2f") + ("x" if r else "")]
            t = by.get(("torch", model, mode))
            e_mem, t_mem = (e or {}).get("peak_mem_mb"), (t or {}).get("peak_mem_mb")
            mem_ratios.append(ratio(t_mem, e_mem))
            cells += [fmt(e["images_per_s"] if e else None, ".1f"), fmt(e_mem, ".0f"), fmt(t_mem, ".0f"),
                      fmt(mem_ratios[-1], ".2f") + ("x" if mem_ratios[-1] else "")]
            lines.append("| " + " | ".join(cells) + " |")
    times_x = lambda v: "n/a" if v is None else f"{v:.2f}x"  # noqa: E731
    summary = [f"{label} / Ember {times_x(geomean(ratios[runner]))}" for runner, label in others]
    summary.append(f"memory PyTorch / Ember {times_x(geomean(mem_ratios))}")
    return "\n".join(lines) + "\n\nGeometric means: " + ", ".join(summary) + "."


def header(a, v):
    load = os.getloadavg()[0]
    machine = f"{cpu_name()} ({os.cpu_count()} cores, load average {load:.1f} at the start)"
    if a.device == "cpu":
        device = f"CPU, {a.threads} thread{'s' if a.threads != 1 else ''}"
        libs = (f"PyTorch {v.get('torch')} (oneDNN), torchvision {v.get('torchvision')}"
                + (f", ONNX Runtime {v['onnxruntime']} (CPU provider)" if v.get("onnxruntime") else ""))
        memory = "peak growth of the process's resident memory from before the model was built"
    else:
        device = f"{v.get('gpu', 'GPU')} ({a.device})"
        libs = (f"PyTorch {v.get('torch')}, torchvision {v.get('torchvision')}, CUDA {v.get('cuda')}, "
                f"cuDNN {v.get('cudnn')}")
        memory = "peak of each caching allocator's allocated bytes above those allocated before the model was built"
    flags = [f"{a.size}x{a.size}", a.precision + (" (PyTorch under autocast)" if a.precision != "float32" else "")]
    flags += [f for f, on in (("channels-last", a.channels_last), ("cudnn.benchmark", a.cudnn_benchmark),
                              ("TF32", a.tf32), ("CUDA graphs (both sides)", a.cuda_graphs)) if on]
    command = " ".join(["python3 tools/bench/compare_models.py"] + sys.argv[1:])
    return (f"{datetime.date.today().isoformat()}, {machine}, {device}. Ember {v.get('ember')} against {libs}. "
            f"{', '.join(flags)}; inference (eval, no grad) and a training step (forward, cross-entropy, backward, "
            f"SGD with momentum) on random data, median and p10-p90 of at least {a.iters} timed iterations and "
            f"{a.min_time:g} s after {a.warmup} warm-up"
            + (f", the fastest of {a.rounds} rounds in which the runners took turns" if a.rounds > 1 else "")
            + "; ratios are the other's time (or memory) over Ember's, above 1 "
            f"when Ember is faster (or smaller); memory is the {memory}.\n"
            f"Produced by `{command}`.")


def main():
    ap = mb.new_parser(__doc__)
    mb.add_common_options(ap)
    ap.add_argument("--ember", default=default_ember(), help="the ember program (default: build/ember or build-cpu/ember)")
    ap.add_argument("--python", default="/usr/bin/python3", help="the python that has torch and torchvision")
    ap.add_argument("--compile", action="store_true", help="also torch.compile, where the installed torch has it")
    ap.add_argument("--no-onnxruntime", action="store_true", help="skip ONNX Runtime")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every runner this many times, taking turns, and keep each one's fastest round "
                         "(for a shared, noisy machine)")
    ap.add_argument("--write", action="store_true", help="replace the table's section of docs/benchmarks.md")
    ap.add_argument("--section", help="the section's title (default from the device and precision)")
    a = mb.parse_common(ap)
    if a.rounds < 1:
        mb.die(SCRIPT, f"--rounds must be at least 1, got {a.rounds}")
    if a.threads <= 0:
        a.threads = os.cpu_count()  # the same count for every runner, whatever their own defaults
    if not os.path.exists(a.ember):
        mb.die(SCRIPT, f"{a.ember} does not exist: build it (tools/build.sh) or pass --ember")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rows, failures, ort_python = measure(a, env)
    if a.json:
        for r in rows:
            print(json.dumps(r))
        return
    v = versions(a.python, a.device, ort_python)
    if a.compile and not any(r["runner"] == "torch.compile" for r in rows):
        failures.append(("torch.compile", "all models", f"torch {v.get('torch')} has no torch.compile"))
    body = table(a, rows)
    if failures:
        body += "\n\n" + "\n".join(f"- n/a: {runner}, {model}: {why}" for runner, model, why in failures)
    kind = "CPU" if a.device == "cpu" else "GPU"
    title = a.section or (f"## {kind}: whole models, inference and training" +
                          ("" if a.precision == "float32" else f", {a.precision}") +
                          (", channels-last" if a.channels_last else "") +
                          (", CUDA graphs" if a.cuda_graphs else ""))
    text = header(a, v) + "\n\n" + body
    print(f"{title}\n\n{text}\n")
    if a.write:
        write_section(title, text)


if __name__ == "__main__":
    main()
