"""PyTorch's side of the real-photo prediction tests (predict_test.cpp).

  predict_reference.py --arch ARCH --weights FILE.pth --classes FILE --out DIR [--mean M M M --std S S S] PHOTO...

Converts the weights with weights/convert_torchvision.py into DIR/ARCH.npz
(and its manifest), loads the same .pth into the reference implementation
(torchvision's model, or efficientnet_lite_pytorch's EfficientNet for
efficientnet_lite*), and for photo i writes DIR/x_i.npy, the image after the
manifest's preprocessing done the torchvision way (PIL), and DIR/p_i.npy, the
model's softmax probabilities for it (float64, from float32 logits). Prints
the top-5 classes and probabilities per photo as JSON.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
import convert_torchvision  # noqa: E402


def reference_model(arch, state_dict):
    if arch.startswith("efficientnet_lite"):
        from efficientnet_lite_pytorch import EfficientNet
        # image_size=None: "SAME" padding worked out from each input, as Ember does
        # (the package's default fixes it for the variant's own resolution; equal there).
        model = EfficientNet.from_name(arch.replace("_", "-"), image_size=None)
    else:
        model = torchvision.models.get_model(arch)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--classes", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mean", nargs=3)
    p.add_argument("--std", nargs=3)
    p.add_argument("photos", nargs="+")
    args = p.parse_args()

    npz = os.path.join(args.out, args.arch + ".npz")
    convert_args = [args.weights, "--arch", args.arch, "--classes", args.classes, "-o", npz]
    if args.mean:
        convert_args += ["--mean", *args.mean]
    if args.std:
        convert_args += ["--std", *args.std]
    if convert_torchvision.main(convert_args) != 0:
        sys.exit("predict_reference: the converter failed")
    with open(npz[:-len(".npz")] + ".json") as f:
        pre = json.load(f)["preprocessing"]
    T = torchvision.transforms
    transform = T.Compose([T.Resize(pre["resize"]), T.CenterCrop(pre["crop"]), T.ToTensor(),
                           T.Normalize(pre["mean"], pre["std"])])

    model = reference_model(args.arch, torch.load(args.weights, map_location="cpu"))
    result = {}
    for i, photo in enumerate(args.photos):
        x = transform(Image.open(photo).convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            probs = torch.softmax(model(x).double(), dim=1)[0]
        np.save(os.path.join(args.out, f"x_{i}.npy"), x.numpy())
        np.save(os.path.join(args.out, f"p_{i}.npy"), probs.numpy())
        top = torch.topk(probs, 5)
        result[os.path.basename(photo)] = {"classes": top.indices.tolist(), "probs": top.values.tolist()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
