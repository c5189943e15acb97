#!/usr/bin/env python3
"""The PyTorch side of cpu_ops_bench: the same work, timed the same way.

Usage: torch_cpu_ops.py SHAPES.json THREADS   (prints one JSON object per line)
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def median_ms(fn):
    fn()
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < 20 and time.perf_counter() - start < 2.0):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def report(name, ms):
    print(json.dumps({"name": name, "ms": ms}), flush=True)


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(int(sys.argv[2]))
    torch.manual_seed(0)
    n = cfg["conv_batch"]
    for c in cfg["convs"]:
        x = torch.randn(n, c["c"], c["hw"], c["hw"], requires_grad=True)
        w = torch.randn(c["oc"], c["c"], c["k"], c["k"], requires_grad=True)
        g = torch.randn_like(F.conv2d(x, w, None, c["s"], c["p"]))

        def step():
            F.conv2d(x, w, None, c["s"], c["p"]).backward(g)

        report("conv fwd+bwd " + c["name"], median_ms(step))

    for c in cfg["cross_entropy"]:
        logits = torch.randn(c["n"], c["c"], requires_grad=True)
        target = torch.tensor([(i * 37) % c["c"] for i in range(c["n"])])

        def loss_step():
            logits.grad = None
            F.cross_entropy(logits, target, label_smoothing=c["smoothing"]).backward()

        report("cross_entropy fwd+bwd " + c["name"], median_ms(loss_step))

    b = cfg["small_cnn_batch"]
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(784, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(b, 1, 28, 28)
    y = torch.full((b,), 3, dtype=torch.long)

    def train_step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    report(f"small CNN train step (batch {b})", median_ms(train_step))


if __name__ == "__main__":
    main()
