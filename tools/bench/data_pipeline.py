"""Times decoding and augmentation in Albumentations or torchvision/PIL on
one thread, with the same images and ops as `ember bench data`.

    python data_pipeline.py --lib albumentations|torchvision --images DIR [--limit N] [--min-time S] [--json OUT]

Run Albumentations with the venv from tests/oracle/albumentations_venv.sh and
torchvision with Debian's /usr/bin/python3. Ops torchvision lacks
(RandomRotate90: PIL's transpose stands in; MotionBlur, OpticalDistortion,
GaussNoise: no row) are noted; its whole pipeline replaces the OneOf of
blur/distortion/noise by RandomApply(GaussianBlur(7)).
"""
import argparse
import json
import os
import random
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def rate(n, min_time, fn):
    fn(0)
    done, start, elapsed = 0, time.perf_counter(), 0.0
    while elapsed < min_time:
        for i in range(n):
            fn(i)
        done += n
        elapsed = time.perf_counter() - start
    return done / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, choices=["albumentations", "torchvision"])
    ap.add_argument("--images", required=True)
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.images) if f.lower().endswith((".jpg", ".jpeg")))
    raw, sizes = [], []
    from PIL import Image
    for f in files:
        if len(raw) >= a.limit:
            break
        b = open(os.path.join(a.images, f), "rb").read()
        w, h = Image.open(os.path.join(a.images, f)).size
        if w < 256 or h < 256:
            continue
        raw.append(b)
        sizes.append(w * h)
    random.seed(0)
    rows = run_albumentations(raw, a.min_time) if a.lib == "albumentations" else run_torchvision(raw, a.min_time)
    print(f"{a.lib}: {len(raw)} JPEGs (mean {np.mean(sizes):.0f} pixels), 1 thread", file=sys.stderr)
    for name, r in rows:
        print(f"  {name:<38} {r:9.0f} images/s", file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"library": a.lib, "versions": versions(a.lib), "images": len(raw),
                       "results": [{"op": n, "images_per_s": r} for n, r in rows]}, f, indent=2)


def versions(lib):
    if lib == "albumentations":
        import albumentations, cv2
        return {"albumentations": albumentations.__version__, "opencv": cv2.__version__}
    import torch, torchvision, PIL
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__}


def run_albumentations(raw, min_time):
    import cv2
    import albumentations as A
    cv2.setNumThreads(1)

    def decode(b):
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    images = [decode(b) for b in raw]
    n = len(images)
    rows = [("Decode (JPEG)", rate(n, min_time, lambda i: decode(raw[i])))]
    ops = [
        ("Resize 256 (no antialias)", A.Resize(256, 256)),
        ("HorizontalFlip", A.HorizontalFlip(p=1)),
        ("VerticalFlip", A.VerticalFlip(p=1)),
        ("RandomRotate90", A.RandomRotate90(p=1)),
        ("RandomCrop 224", A.RandomCrop(224, 224)),
        ("RandomResizedCrop 224 (no antialias)", A.RandomResizedCrop(224, 224)),
        ("ColorJitter", A.ColorJitter(p=1)),
        ("GaussianBlur", A.GaussianBlur(p=1)),
        ("MotionBlur", A.MotionBlur(p=1)),
        ("OpticalDistortion", A.OpticalDistortion(p=1)),
        ("GaussNoise", A.GaussNoise(p=1)),
        ("Rotate", A.Rotate(limit=45, p=1)),
        ("Normalize", A.Normalize()),
    ]
    for name, op in ops:
        rows.append((name, rate(n, min_time, lambda i, op=op: op(image=images[i])["image"])))
    to_chw = A.Lambda(image=lambda x, **k: np.ascontiguousarray(x.transpose(2, 0, 1)))  # ToTensorV2 without torch
    pipe = A.Compose([
        A.Resize(256, 256), A.HorizontalFlip(p=0.85), A.RandomRotate90(p=0.85), A.VerticalFlip(p=0.85),
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2), A.RandomCrop(224, 224),
        A.OneOf([A.MotionBlur(p=0.85), A.OpticalDistortion(p=0.85), A.GaussNoise(p=0.85)]),
        A.Normalize(mean=MEAN, std=STD), to_chw])
    rows.append(("Augment pipeline (no decode)", rate(n, min_time, lambda i: pipe(image=images[i])["image"])))
    rows.append(("Decode + augment pipeline", rate(n, min_time, lambda i: pipe(image=decode(raw[i]))["image"])))
    return rows


def run_torchvision(raw, min_time):
    import io
    import torch
    import torchvision.transforms as T
    import torchvision.transforms.functional as TF
    from PIL import Image
    torch.set_num_threads(1)

    def decode(b):
        return Image.open(io.BytesIO(b)).convert("RGB")

    images = [decode(b) for b in raw]
    n = len(images)
    rows = [("Decode (JPEG)", rate(n, min_time, lambda i: decode(raw[i])))]
    rot90 = T.Lambda(lambda im: im.transpose(random.choice([Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270])))
    ops = [
        ("Resize 256", T.Resize((256, 256))),
        ("HorizontalFlip", T.RandomHorizontalFlip(p=1)),
        ("VerticalFlip", T.RandomVerticalFlip(p=1)),
        ("RandomRotate90", rot90),
        ("RandomCrop 224", T.RandomCrop(224)),
        ("RandomResizedCrop 224", T.RandomResizedCrop(224)),
        ("ColorJitter", T.ColorJitter(0.2, 0.2, 0.2, 0.2)),
        ("GaussianBlur", T.GaussianBlur(5, (0.1, 2.0))),
        ("Rotate", T.RandomRotation(45, interpolation=T.InterpolationMode.BILINEAR)),
        ("Normalize", T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])),
    ]
    for name, op in ops:
        rows.append((name, rate(n, min_time, lambda i, op=op: op(images[i]))))
    pipe = T.Compose([
        T.Resize((256, 256)), T.RandomHorizontalFlip(0.85), T.RandomApply([rot90], p=0.85), T.RandomVerticalFlip(0.85),
        T.ColorJitter(0.2, 0.2, 0.2, 0.2), T.RandomCrop(224),
        T.RandomApply([T.GaussianBlur(7, (0.1, 2.0))], p=0.5), T.ToTensor(), T.Normalize(MEAN, STD)])
    rows.append(("Augment pipeline (no decode)", rate(n, min_time, lambda i: pipe(images[i]))))
    rows.append(("Decode + augment pipeline", rate(n, min_time, lambda i: pipe(decode(raw[i])))))
    return rows


if __name__ == "__main__":
    main()
