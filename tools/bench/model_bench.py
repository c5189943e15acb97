"""What torch_models.py and onnxruntime_models.py share with `ember bench
models`: the options, the timing loop, the memory measure and the row of
results, so that the three time the same work the same way and print the
same JSON fields. It imports neither torch nor onnxruntime: the ONNX Runtime
side runs in its own venv.
"""
import argparse
import ctypes
import json
import math
import re
import sys
import time

FAMILIES = ["resnet50", "efficientnet_b0", "mobilenet_v2", "densenet121", "resnet18"]


def add_common_options(ap):
    """The options of `ember bench models` that every runner takes."""
    ap.add_argument("--model", nargs="+", default=FAMILIES, help="models (torchvision names)")
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    ap.add_argument("--batch", type=int, default=0, help="batch size of both modes (overrides the two below)")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--infer-batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: the library's own)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5, help="timed iterations, at least")
    ap.add_argument("--min-time", type=float, default=2.0, help="keep timing until this many seconds have passed")
    ap.add_argument("--precision", choices=["float32", "float16", "bfloat16"], default="float32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--cuda-graphs", action="store_true",
                    help="CUDA: capture each step as a CUDA graph after an eager warm-up and time its replays")
    ap.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")


def parse_common(ap):
    args = ap.parse_args()
    models = [m for item in args.model for m in item.split(",") if m]  # "a,b" as ember accepts
    args.model = models
    if args.batch > 0:
        args.train_batch = args.infer_batch = args.batch
    args.modes = [m for m in ("infer", "train") if args.mode in (m, "both")]
    return args


def die(script, message):
    print(f"{script}: error: {message}", file=sys.stderr)
    sys.exit(1)


def quantile(sorted_ms, q):
    """Linear interpolation between neighbours, as NumPy and Ember do."""
    pos = q * (len(sorted_ms) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def time_steps(step, args, sync=None):
    """Milliseconds of each timed step, sorted: args.warmup untimed steps,
    then at least args.iters and until args.min_time seconds have passed.
    sync (a device synchronize) ends every step, so that its time is the
    device's work and not the launch queue's."""
    def synced():
        step()
        if sync:
            sync()

    for _ in range(args.warmup):
        synced()
    ms, start = [], time.perf_counter()
    while len(ms) < args.iters or time.perf_counter() - start < args.min_time:
        t0 = time.perf_counter()
        synced()
        ms.append((time.perf_counter() - t0) * 1000.0)
    return sorted(ms)


class RssPeak:
    """Peak growth of this process's resident memory, Linux only: writing "5"
    to /proc/self/clear_refs resets VmHWM (the high-water mark) to VmRSS.
    Ember measures its CPU runs the same way."""

    def __init__(self):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed memory of earlier runs is not a baseline
        except OSError:
            pass
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.start_kb = self._read("VmRSS")
        except OSError:
            self.start_kb = None

    @staticmethod
    def _read(key):
        with open("/proc/self/status") as f:
            return int(re.search(key + r":\s+(\d+)", f.read()).group(1))

    def growth_mb(self):
        return None if self.start_kb is None else (self._read("VmHWM") - self.start_kb) / 1024.0


def result_row(runner, model, mode, batch, args, device, threads, ms, peak_mem_mb, mem_measure, **extra):
    median = quantile(ms, 0.5)
    row = {"runner": runner, "model": model, "mode": mode, "batch": batch, "size": args.size, "device": device,
           "precision": args.precision, "channels_last": args.channels_last,
           "cuda_graphs": getattr(args, "cuda_graphs", False), "threads": threads,
           "warmup": args.warmup, "iters": len(ms), "median_ms": median, "p10_ms": quantile(ms, 0.1),
           "p90_ms": quantile(ms, 0.9), "images_per_s": batch * 1000.0 / median, "peak_mem_mb": peak_mem_mb,
           "mem_measure": mem_measure}
    row.update(extra)
    return row


class RowPrinter:
    """JSON lines, or the table `ember bench models` prints."""

    def __init__(self, as_json):
        self.as_json, self.first = as_json, True

    def __call__(self, row):
        if self.as_json:
            print(json.dumps(row), flush=True)
            return
        if self.first:
            print(f"{'runner':<14} {'model':<16} {'mode':<5} {'batch':>5} {'median ms':>10} {'p10 ms':>10} "
                  f"{'p90 ms':>10} {'images/s':>10} {'peak MB':>9}")
            self.first = False
        mem = "-" if row["peak_mem_mb"] is None else f"{row['peak_mem_mb']:.0f}"
        print(f"{row['runner']:<14} {row['model']:<16} {row['mode']:<5} {row['batch']:>5} {row['median_ms']:>10.2f} "
              f"{row['p10_ms']:>10.2f} {row['p90_ms']:>10.2f} {row['images_per_s']:>10.1f} {mem:>9}", flush=True)


def new_parser(description):
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
