#!/usr/bin/env python3
"""PyTorch's twin of `ember bench loader`: images per second that
torch.utils.data.DataLoader delivers with N worker processes, reading the
folder's JPEGs with PIL and applying torchvision's ImageNet training
transform (RandomResizedCrop 224, horizontal flip, to tensor, normalize),
pinned and copied to the GPU with --device cuda. The files are repeated to
--epoch-images per epoch; two warm-up batches, then every batch until
--min-time has passed. Prints one JSON line with the fields ember prints.

    python3 tools/bench/torch_loader.py --images DIR [--workers N] [--batch 256] [--device cuda]
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision.transforms as T
from PIL import Image

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class Files(torch.utils.data.Dataset):
    def __init__(self, files, count, transform):
        self.files, self.count, self.transform = files, count, transform

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        with open(self.files[i % len(self.files)], "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, help="folder of images (searched recursively)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    ap.add_argument("--epoch-images", type=int, default=8192)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-time", type=float, default=5.0)
    a = ap.parse_args()
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(a.images) for f in names
                   if f.lower().endswith(EXTENSIONS))
    if not files:
        sys.exit(f"torch_loader.py: {a.images}: no images found")
    workers = a.workers or os.cpu_count()
    torch.set_num_threads(1)  # each worker process decodes and transforms on one core, as Ember's threads do
    transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = Files(files, max(a.epoch_images, len(files)), transform)
    cuda = a.device.startswith("cuda")
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch, shuffle=True, num_workers=workers,
                                         drop_last=True, pin_memory=cuda, persistent_workers=True)
    batches = iter(loader)

    def next_batch():
        nonlocal batches
        try:
            images, labels = next(batches)
        except StopIteration:
            batches = iter(loader)
            images, labels = next(batches)
        if cuda:
            images = images.to(a.device, non_blocking=True)
            labels = labels.to(a.device, non_blocking=True)
        return images

    for _ in range(2):
        next_batch()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < a.min_time:
        count += next_batch().shape[0]
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(json.dumps({"runner": "torch", "images_per_s": count / elapsed, "workers": workers, "batch": a.batch,
                      "device": a.device, "files": len(files), "images": count, "seconds": elapsed,
                      "pipeline": "imagenet_train"}))


if __name__ == "__main__":
    main()
