#!/usr/bin/env python3
"""The ONNX Runtime side of `ember bench models`: CPU inference only.

Two steps in two interpreters, because ONNX Runtime comes from PyPI into its
own venv (tests/oracle/onnxruntime_venv.sh) while torchvision is Debian's:

  export  (Debian's /usr/bin/python3) writes a torchvision model, in eval
          mode, to ONNX with torch.onnx.export at opset 13, for one batch
          size and input size:
            torch_python onnxruntime_models.py export --model resnet18 --batch 1 --size 224 --out resnet18.onnx
  time    (the venv's python) times InferenceSession.run on the CPU with
          intra_op_num_threads = --threads, and prints the same row as
          `ember bench models --mode infer` (peak memory: growth of the
          resident set from before the session was created):
            venv_python onnxruntime_models.py time --onnx resnet18.onnx --model resnet18 --infer-batch 1 --threads 2
"""
import argparse
import os
import sys

import model_bench as mb

SCRIPT = os.path.basename(__file__)


def export(argv):
    ap = argparse.ArgumentParser(prog=f"{SCRIPT} export")
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(num_classes=1000).eval()
    x = torch.randn(a.batch, 3, a.size, a.size)
    with torch.no_grad():
        torch.onnx.export(model, x, a.out, opset_version=13, input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)


def time_session(argv):
    ap = mb.new_parser(f"{SCRIPT} time")
    mb.add_common_options(ap)
    ap.add_argument("--onnx", required=True, help="the file `export` wrote for --model")
    sys.argv = [sys.argv[0], *argv]
    args = mb.parse_common(ap)
    if args.device != "cpu":
        mb.die(SCRIPT, f"--device {args.device}: this script times ONNX Runtime's CPU provider only")
    if args.precision != "float32" or args.channels_last:
        mb.die(SCRIPT, "ONNX Runtime runs the exported float32 NCHW graph only")
    if len(args.model) != 1:
        mb.die(SCRIPT, "time takes one --model, the one the --onnx file holds")
    import numpy as np
    import onnxruntime as ort
    rss = mb.RssPeak()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads  # 0: ONNX Runtime's default (one per physical core)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.onnx, opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((args.infer_batch, 3, args.size, args.size), dtype=np.float32)
    ms = mb.time_steps(lambda: session.run(None, {"input": x}), args)
    threads = args.threads or None  # None: ONNX Runtime chose
    mb.RowPrinter(args.json)(mb.result_row("onnxruntime", args.model[0], "infer", args.infer_batch, args, "cpu",
                                           threads, ms, rss.growth_mb(), "rss_growth",
                                           onnxruntime_version=ort.__version__))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("export", "time"):
        mb.die(SCRIPT, "usage: onnxruntime_models.py export|time ... (see the file's header)")
    (export if sys.argv[1] == "export" else time_session)(sys.argv[2:])


if __name__ == "__main__":
    main()
