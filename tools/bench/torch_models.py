#!/usr/bin/env python3
"""The PyTorch side of `ember bench models`: the same models, work, options
and JSON fields (tools/bench/model_bench.py holds what they share).

  infer  torchvision model in eval mode, forward under no_grad
  train  forward, cross-entropy, backward, SGD step (lr 0.01, momentum 0.9)

Eager mode always; with --compile, and only where the installed torch has
torch.compile, an extra "torch.compile" row per run. --precision float16 or
bfloat16 runs under autocast (float16 training with a GradScaler), as AMP is
used in practice; --channels-last converts the model and input to NHWC.
--cuda-graphs (CUDA, eager rows) follows torch.cuda.graphs' recipe: one
warm-up step on a side stream, then the step captured in a CUDAGraph and
replayed (inference: the forward; training: forward, backward and the SGD
step; with float16 the GradScaler's step and update run after the replay,
as `ember bench models --cuda-graphs` does).
On CUDA every step ends in torch.cuda.synchronize() and the peak memory is
torch.cuda.max_memory_allocated() above what was allocated before the model
was built; on the CPU it is the peak growth of the resident set.

Usage: /usr/bin/python3 tools/bench/torch_models.py [--model resnet18 ...] [--mode both] [--json] ...
"""
import contextlib
import difflib
import gc
import os
import sys

import model_bench as mb

SCRIPT = os.path.basename(__file__)


def build_runner(torch, name, mode, args, device, compiled):
    """The model, its input and the step function for one run."""
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=1000).to(device)
    batch = args.train_batch if mode == "train" else args.infer_batch
    x = torch.randn(batch, 3, args.size, args.size, device=device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    net = torch.compile(model) if compiled else model
    amp_dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(args.precision)

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()

    graphs = args.cuda_graphs and not compiled
    if mode == "infer":
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                net(x)

        return batch, capture(torch, step) if graphs else step
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    y = torch.tensor([(i * 37) % 1000 for i in range(batch)], device=device)
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
    scaler = torch.cuda.amp.GradScaler() if args.precision == "float16" else None

    def step():
        with autocast():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    if not graphs:
        return batch, step

    def captured_part():
        with autocast():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()  # the scale is a device tensor that update() changes in place
        else:
            loss.backward()
            opt.step()

    replay = capture(torch, captured_part, warmup=step)
    if not scaler:
        return batch, replay

    def graphed_step():
        replay()
        scaler.step(opt)
        scaler.update()

    return batch, graphed_step


def capture(torch, fn, warmup=None):
    """fn captured in a CUDA graph after one eager warm-up (of `warmup`, or
    fn) on a side stream; returns the graph's replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        (warmup or fn)()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def check_options(torch, args):
    import torchvision
    for name in args.model:
        if not callable(getattr(torchvision.models, name, None)) or name.startswith("_"):
            known = [n for n in dir(torchvision.models) if n.islower() and not n.startswith("_")]
            hint = difflib.get_close_matches(name, known, n=1)
            mb.die(SCRIPT, f"unknown model '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "") +
                   f" in torchvision {torchvision.__version__}")
    try:
        device = torch.device(args.device)
    except RuntimeError as e:
        mb.die(SCRIPT, f"--device {args.device}: {e}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            mb.die(SCRIPT, f"--device {args.device}: no CUDA device is available to torch {torch.__version__}")
        if (device.index or 0) >= torch.cuda.device_count():
            mb.die(SCRIPT, f"--device {args.device}: only {torch.cuda.device_count()} CUDA device(s) found")
        device = torch.device("cuda", device.index or 0)  # "cuda:0", as Ember names it
    elif device.type != "cpu":
        mb.die(SCRIPT, f"--device {args.device}: expected cpu, cuda or cuda:N")
    if device.type == "cpu" and args.cuda_graphs:
        mb.die(SCRIPT, "--cuda-graphs needs a CUDA device (--device cuda)")
    if device.type == "cpu" and args.precision == "float16":
        mb.die(SCRIPT, "--precision float16 is not supported on the CPU: PyTorch's CPU autocast runs bfloat16 only")
    return device


def main():
    ap = mb.new_parser(__doc__)
    mb.add_common_options(ap)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd models, where torch has it")
    args = mb.parse_common(ap)
    import torch
    device = check_options(torch, args)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        torch.backends.cudnn.allow_tf32 = args.tf32  # PyTorch's default is on; Ember's is off
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
    runners = [("torch", False)]
    if args.compile:
        if hasattr(torch, "compile"):
            runners.append(("torch.compile", True))
        else:
            print(f"{SCRIPT}: torch {torch.__version__} has no torch.compile; eager rows only", file=sys.stderr)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    emit = mb.RowPrinter(args.json)
    for name in args.model:
        for mode in args.modes:
            for runner, compiled in runners:
                rss = mb.RssPeak()  # started before the model is built: its weights count
                if sync:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                    start = torch.cuda.memory_allocated(device)
                batch, step = build_runner(torch, name, mode, args, device, compiled)
                ms = mb.time_steps(step, args, sync)
                if sync:
                    peak, measure = (torch.cuda.max_memory_allocated(device) - start) / 2**20, "cuda_allocator_peak"
                    extra = {"cudnn_benchmark": args.cudnn_benchmark, "tf32": args.tf32}
                else:
                    peak, measure, extra = rss.growth_mb(), "rss_growth", {}
                emit(mb.result_row(runner, name, mode, batch, args, str(device), torch.get_num_threads(), ms, peak,
                                   measure, **extra))
                del step
                gc.collect()  # frees the model before the next run's baseline


if __name__ == "__main__":
    main()
