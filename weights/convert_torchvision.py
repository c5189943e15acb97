#!/usr/bin/env python3
"""Convert PyTorch weights to an Ember .npz plus a JSON manifest beside it.

Run it wherever PyTorch and torchvision live (Debian: /usr/bin/python3 with
python3-torch and python3-torchvision). The source is either

  * a torchvision model name (``resnet18``): random weights from the given
    --seed, or with --pretrained torchvision's pretrained weights (downloaded
    by torchvision, so this needs the network or a filled torch hub cache), or
  * a checkpoint file (``.pth``, ``.pt``, ``.th``, ``.tar``): a plain
    state_dict, or a training checkpoint {'state_dict': ..., 'best_prec1': ...}
    whose keys may carry DataParallel's ``module.`` prefix (stripped).

The .npz holds every tensor under its exact state_dict name, in state_dict
order (num_batches_tracked buffers included, int64); the manifest
``<output stem>.json`` records the architecture, the number of classes (from
the classifier weight's shape), the class names (--classes FILE, one per
line) and the preprocessing (resize, crop, mean, std; torchvision's ImageNet
defaults unless given, or the architecture's own where it differs, as for
EfficientNet-Lite).

Architectures that are not torchvision's are checked by loading the weights
into their reference implementation where one is importable: the
EfficientNet-Lite models (--arch efficientnet_lite0 ... efficientnet_lite4)
into the ``efficientnet_lite_pytorch`` package's EfficientNet (PyPI), whose
plain state_dicts (``_conv_stem.weight``, ``_blocks.0._bn1.weight``, ...)
Ember's efficientnet_lite models take by name.

Examples:
  convert_torchvision.py resnet18 -o resnet18.npz
  convert_torchvision.py mobilenet_v2_imagenet_from_tflite.pth --arch mobilenet_v2 \\
      --classes imagenet_classes.txt --mean 0.5 0.5 0.5 --std 0.5 0.5 0.5 -o mnv2.npz
  convert_torchvision.py resnet20-12fca82f.th --arch cifar_resnet20 --resize 32 --crop 32 -o r20.npz
  convert_torchvision.py efficientnet-lite0-57934424.pth --arch efficientnet_lite0 \\
      --classes imagenet_classes.txt -o lite0.npz
"""

import argparse
import collections
import hashlib
import json
import os
import sys
import tempfile

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".th", ".tar", ".ckpt", ".bin")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Preprocessing that differs from torchvision's ImageNet default, by
# architecture. TensorFlow's EfficientNet-Lite was trained on (pixel - 127) / 128
# and evaluated on a centre crop of size/(size + 32) of the image, i.e. the
# shorter side resized to size + 32 and the centre size x size kept.
LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260,
              "efficientnet_lite3": 280, "efficientnet_lite4": 300}
ARCH_PREPROCESSING = {
    arch: {"resize": size + 32, "crop": size, "mean": [127 / 255] * 3, "std": [128 / 255] * 3}
    for arch, size in LITE_SIZES.items()
}


class ConvertError(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("source", help="torchvision model name, or a checkpoint file (.pth/.pt/.th/.tar)")
    p.add_argument("-o", "--output", required=True, help="output .npz (the manifest goes beside it as .json)")
    p.add_argument("--arch", help="architecture name for the manifest (default: the model name; "
                   "checked by loading the weights when it is a torchvision model)")
    p.add_argument("--pretrained", action="store_true", help="use torchvision's pretrained weights (needs the network)")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights (default 0)")
    p.add_argument("--num-classes", type=int, help="classes of a random torchvision model (default: its own)")
    p.add_argument("--classifier", help="state_dict key of the classifier weight (default: the last 2-D .weight)")
    p.add_argument("--classes", help="text file with one class name per line, in index order")
    p.add_argument("--resize", type=int, help="resize the shorter side to this (default 256, or the architecture's)")
    p.add_argument("--crop", type=int, help="centre crop size (default 224, or the architecture's)")
    p.add_argument("--mean", type=float, nargs=3, help="per-channel mean of RGB in [0, 1] "
                   "(default ImageNet's, or the architecture's)")
    p.add_argument("--std", type=float, nargs=3, help="per-channel std (default ImageNet's, or the architecture's)")
    p.add_argument("--interpolation", default="bilinear", help="resize interpolation (default bilinear)")
    p.add_argument("--compress", action="store_true", help="deflate the .npz (np.savez_compressed)")
    return p.parse_args(argv)


def preprocessing(args, arch):
    """The manifest's preprocessing: flags first, then the architecture's, then torchvision's."""
    known = ARCH_PREPROCESSING.get(arch, {})
    defaults = {"resize": 256, "crop": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    chosen = {k: getattr(args, k) if getattr(args, k) is not None else known.get(k, d) for k, d in defaults.items()}
    return {"resize": chosen["resize"], "crop": chosen["crop"], "interpolation": args.interpolation,
            "mean": list(chosen["mean"]), "std": list(chosen["std"]), "color": "RGB", "scale": "[0, 1]"}


def is_checkpoint(source):
    return os.path.isfile(source) or source.lower().endswith(CHECKPOINT_SUFFIXES)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def torchvision_model_names():
    import torchvision
    return set(torchvision.models.list_models()) if hasattr(torchvision.models, "list_models") else set()


def state_dict_from_checkpoint(path):
    """The tensors of a checkpoint and its other (scalar) entries."""
    import torch
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # a truncated or foreign file: say which and why
        raise ConvertError(f"{path}: cannot be read by torch.load ({type(e).__name__}: {e})")
    extra = {}
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                extra = {k: v for k, v in obj.items() if k != key}
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ConvertError(f"{path}: holds no state_dict (found {type(obj).__name__})")
    tensors = collections.OrderedDict()
    for k, v in obj.items():
        if not torch.is_tensor(v):
            raise ConvertError(f"{path}: entry '{k}' is a {type(v).__name__}, not a tensor")
        tensors[k] = v
    # DataParallel saves every key as module.<name>.
    if all(k.startswith("module.") for k in tensors):
        tensors = collections.OrderedDict((k[len("module."):], v) for k, v in tensors.items())
    metadata = {}
    for k, v in extra.items():
        if torch.is_tensor(v) and v.numel() == 1:
            v = v.item()
        if isinstance(v, (int, float, str, bool)) or v is None:
            metadata[k] = v
    return tensors, metadata


def torchvision_model(name, pretrained, num_classes, seed):
    import torch
    import torchvision
    if name not in torchvision_model_names():
        raise ConvertError(f"'{name}' is neither a file nor a torchvision model name "
                           f"(torchvision {torchvision.__version__} knows e.g. resnet18, mobilenet_v2, densenet121)")
    kwargs = {}
    weights_meta = {}
    if pretrained:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        kwargs["weights"] = weights
        weights_meta = {"weights": str(weights), "categories": weights.meta.get("categories")}
    elif num_classes:
        kwargs["num_classes"] = num_classes
    torch.manual_seed(seed)
    try:
        model = torchvision.models.get_model(name, **kwargs)
    except Exception as e:
        if pretrained:
            raise ConvertError(f"could not get torchvision's pretrained weights for {name} "
                               f"(offline? they are downloaded on first use): {type(e).__name__}: {e}. "
                               "Convert a local .pth file instead.")
        raise
    return model.eval().state_dict(), weights_meta


def check_against_torchvision(arch, tensors, num_classes):
    """Loads the weights into torchvision's `arch` with strict=True."""
    import torchvision
    model = torchvision.models.get_model(arch, num_classes=num_classes) if num_classes else \
        torchvision.models.get_model(arch)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ConvertError(f"the weights do not fit torchvision's {arch}: {e}")


def check_against_efficientnet_lite(arch, tensors, num_classes):
    """Loads the weights into efficientnet_lite_pytorch's model with strict=True;
    returns False when that package is not installed."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        return False
    model = EfficientNet.from_name(arch.replace("_", "-"), num_classes=num_classes or 1000)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ConvertError(f"the weights do not fit efficientnet_lite_pytorch's {arch}: {e}")
    return True


def classifier_key(tensors, chosen):
    if chosen:
        if chosen not in tensors:
            raise ConvertError(f"--classifier {chosen}: no such key")
        return chosen
    keys = [k for k, v in tensors.items() if k.endswith(".weight") and v.dim() == 2]
    return keys[-1] if keys else None


def to_numpy(name, t):
    import torch
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:  # NumPy has no bfloat16
        print(f"note: {name} is bfloat16, stored as float32", file=sys.stderr)
        t = t.float()
    return t.contiguous().numpy()


def write_atomically(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def convert(args):
    import numpy as np
    import torch
    import torchvision

    output = args.output if args.output.endswith(".npz") else args.output + ".npz"
    manifest_path = output[:-len(".npz")] + ".json"
    if is_checkpoint(args.source):
        if args.pretrained:
            raise ConvertError("--pretrained applies to a torchvision model name, not a file")
        tensors, metadata = state_dict_from_checkpoint(args.source)
        arch = args.arch or os.path.splitext(os.path.basename(args.source))[0]
        source = {"kind": "checkpoint", "file": os.path.basename(args.source), "sha256": sha256(args.source)}
        weights_meta = {}
    else:
        arch = args.arch or args.source
        tensors, weights_meta = torchvision_model(args.source, args.pretrained, args.num_classes, args.seed)
        metadata = {}
        source = {"kind": "torchvision", "model": args.source,
                  "weights": weights_meta.get("weights") if args.pretrained else f"random (seed {args.seed})"}

    key = classifier_key(tensors, args.classifier)
    num_classes = int(tensors[key].shape[0]) if key else None
    verified_with = None
    if arch in torchvision_model_names():
        check_against_torchvision(arch, tensors, num_classes)
        verified_with = "torchvision"
    elif arch in LITE_SIZES and check_against_efficientnet_lite(arch, tensors, num_classes):
        verified_with = "efficientnet_lite_pytorch"

    class_names = None
    if args.classes:
        with open(args.classes, encoding="utf-8") as f:
            class_names = [line.rstrip("\n") for line in f if line.strip()]
    elif weights_meta.get("categories"):
        class_names = list(weights_meta["categories"])
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise ConvertError(f"{args.classes}: {len(class_names)} class names, but the classifier "
                           f"'{key}' has {num_classes} outputs")

    arrays = collections.OrderedDict((k, to_numpy(k, v)) for k, v in tensors.items())
    save = np.savez_compressed if args.compress else np.savez

    def write_npz(tmp):
        with open(tmp, "wb") as f:  # a file object: NumPy must not append .npz
            save(f, **arrays)

    write_atomically(output, write_npz)
    manifest = {
        "format": "ember-weights/1",
        "architecture": arch,
        "verified_with_torchvision": verified_with == "torchvision",
        "verified_with": verified_with,  # the reference implementation that took the weights (strict)
        "weights": os.path.basename(output),
        "source": source,
        "num_classes": num_classes,
        "classifier": key,
        "class_names": class_names,
        "preprocessing": preprocessing(args, arch),
        "tensors": len(arrays),
        "parameters": int(sum(a.size for k, a in arrays.items() if not k.endswith("num_batches_tracked"))),
        "checkpoint_metadata": metadata,
        "converted_with": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                           "numpy": np.__version__},
    }

    def write_json(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")

    write_atomically(manifest_path, write_json)
    print(f"wrote {output} ({len(arrays)} tensors, {manifest['parameters']} values, "
          f"{num_classes} classes) and {manifest_path}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        convert(args)
    except ConvertError as e:
        print(f"convert_torchvision: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
