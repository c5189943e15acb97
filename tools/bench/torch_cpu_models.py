#!/usr/bin/env python3
"""The PyTorch side of cpu_models_bench: the same models and work, timed the
same way (median after one warm-up).

Usage: torch_cpu_models.py THREADS [model ...]   (prints one JSON object per line)
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def median_ms(fn, min_runs, budget_s):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or (len(times) < 20 and time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def main():
    torch.set_num_threads(int(sys.argv[1]))
    names = sys.argv[2:] or ["resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "densenet121"]
    torch.manual_seed(0)
    for name in names:
        model = getattr(torchvision.models, name)(num_classes=1000).eval()
        x1 = torch.randn(1, 3, 224, 224)

        def infer():
            with torch.no_grad():
                model(x1)

        print(json.dumps({"name": f"{name} inference batch 1", "ms": median_ms(infer, 5, 3.0)}), flush=True)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x16 = torch.randn(16, 3, 224, 224)
        y16 = torch.tensor([(i * 37) % 1000 for i in range(16)])

        def step():
            loss = F.cross_entropy(model(x16), y16)
            opt.zero_grad()
            loss.backward()
            opt.step()

        print(json.dumps({"name": f"{name} train step batch 16", "ms": median_ms(step, 3, 10.0)}), flush=True)


if __name__ == "__main__":
    main()
