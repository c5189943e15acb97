"""Image oracle for Ember's data tests: Albumentations (run by the
Albumentations virtual environment's python) or torchvision/PIL (run by
Debian's python3 with python3-torch).

Protocol over stdin/stdout: a JSON line {"fn": NAME, "args": {...},
"arrays": [{"shape": [...], "dtype": "uint8"|"float32"}, ...]} followed by
the arrays' raw bytes; the reply is a JSON line {"arrays": [...]} followed by
the raw bytes, or {"error": MESSAGE}. The first line written is a hello
naming the libraries found.
"""
import json
import sys
import traceback

import numpy as np

LIBS = {}
try:
    import cv2
    import albumentations as A
    from albumentations.augmentations import functional as AF
    from albumentations.augmentations.geometric import functional as AG
    from albumentations.augmentations.blur import functional as AB
    from albumentations.augmentations.dropout import functional as AD
    LIBS["albumentations"] = A.__version__
    LIBS["opencv"] = cv2.__version__
except Exception:  # noqa: BLE001
    pass
try:
    import torch
    import torchvision
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode
    from PIL import Image
    LIBS["torchvision"] = torchvision.__version__
    LIBS["pil"] = Image.__version__
except Exception:  # noqa: BLE001
    pass


def pil(img):
    return Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)


def arr(p):
    a = np.asarray(p)
    return a[..., None] if a.ndim == 2 else a


def interp_t(name):
    return {"nearest": InterpolationMode.NEAREST, "linear": InterpolationMode.BILINEAR}[name]


def tensor_hwc(t):
    return t.permute(1, 2, 0).contiguous().numpy()


def t_color_jitter(img, a):
    p = pil(img)
    for fn in a["order"]:
        if fn == 0:
            p = TF.adjust_brightness(p, a["brightness"])
        elif fn == 1:
            p = TF.adjust_contrast(p, a["contrast"])
        elif fn == 2:
            p = TF.adjust_saturation(p, a["saturation"])
        elif fn == 3 and a["hue"] != 0:  # ColorJitter(hue=0) leaves hue out (its HSV round trip is lossy)
            p = TF.adjust_hue(p, a["hue"])
    return arr(p)


def t_erase(img, a):
    t = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    v = torch.tensor(a["value"], dtype=torch.uint8).view(-1, 1, 1)
    return tensor_hwc(TF.erase(t, a["i"], a["j"], a["h"], a["w"], v))


FUNCTIONS = {
    # --- Albumentations 1.3 (OpenCV) ---
    "a.hflip": lambda x, a: A.HorizontalFlip(p=1).apply(x[0]),
    "a.vflip": lambda x, a: A.VerticalFlip(p=1).apply(x[0]),
    "a.rot90": lambda x, a: A.RandomRotate90(p=1).apply(x[0], factor=a["k"]),
    "a.random_crop": lambda x, a: A.RandomCrop(a["h"], a["w"], p=1).apply(x[0], h_start=a["h_start"], w_start=a["w_start"]),
    "a.center_crop": lambda x, a: A.CenterCrop(a["h"], a["w"], p=1).apply(x[0]),
    "a.resize": lambda x, a: A.Resize(a["h"], a["w"], p=1).apply(x[0], interpolation=a["interpolation"]),
    "a.resized_crop": lambda x, a: A.RandomResizedCrop(a["oh"], a["ow"], p=1).apply(
        x[0], crop_height=a["h"], crop_width=a["w"], h_start=a["h_start"], w_start=a["w_start"]),
    "a.pad": lambda x, a: cv2.copyMakeBorder(x[0], a["top"], a["bottom"], a["left"], a["right"], a["border"],
                                             value=a["value"]).reshape(
        x[0].shape[0] + a["top"] + a["bottom"], x[0].shape[1] + a["left"] + a["right"], x[0].shape[2]),
    "a.pad_if_needed": lambda x, a: A.PadIfNeeded(a["min_height"], a["min_width"], border_mode=a["border"],
                                                  value=a["value"], p=1)(image=x[0])["image"],
    "a.rotate": lambda x, a: AG.rotate(x[0], a["angle"], a["interpolation"], a["border"], a["value"]),
    "a.shift_scale_rotate": lambda x, a: AG.shift_scale_rotate(x[0], a["angle"], a["scale"], a["dx"], a["dy"],
                                                               a["interpolation"], a["border"], a["value"]),
    "a.warp_affine": lambda x, a: cv2.warpAffine(x[0], np.array(a["matrix"], np.float64).reshape(2, 3),
                                                 (x[0].shape[1], x[0].shape[0]), flags=a["interpolation"],
                                                 borderMode=a["border"], borderValue=a["value"]),
    "a.optical_distortion": lambda x, a: AG.optical_distortion(x[0], a["k"], a["dx"], a["dy"], a["interpolation"],
                                                               a["border"], a["value"]),
    "a.brightness": lambda x, a: AF.adjust_brightness_torchvision(x[0], a["f"]),
    "a.contrast": lambda x, a: AF.adjust_contrast_torchvision(x[0], a["f"]),
    "a.saturation": lambda x, a: AF.adjust_saturation_torchvision(x[0], a["f"]),
    "a.hue": lambda x, a: AF.adjust_hue_torchvision(x[0], a["f"]),
    "a.to_gray": lambda x, a: AF.to_gray(x[0]),
    "a.gauss_noise": lambda x, a: AF.gauss_noise(x[0], x[1]),
    "a.gaussian_blur": lambda x, a: AB.gaussian_blur(x[0], a["ksize"], a["sigma"]),
    "a.motion_blur": lambda x, a: A.MotionBlur(p=1).apply(x[0], kernel=x[1]),
    "a.cutout": lambda x, a: AD.cutout(x[0], [tuple(h) for h in a["holes"]], a["fill"]),
    "a.normalize": lambda x, a: AF.normalize(x[0], a["mean"], a["std"], a["max_pixel"]),
    # --- torchvision 0.14 on PIL images ---
    "t.decode": lambda x, a: arr(Image.open(a["path"]).convert(a["mode"])),
    "t.decode_draft": lambda x, a: t_decode_draft(a),
    "t.image_folder": lambda x, a: t_image_folder(a),
    "t.hflip": lambda x, a: arr(TF.hflip(pil(x[0]))),
    "t.vflip": lambda x, a: arr(TF.vflip(pil(x[0]))),
    "t.rot90": lambda x, a: torch.rot90(torch.from_numpy(x[0]), a["k"], [0, 1]).contiguous().numpy(),
    "t.crop": lambda x, a: arr(TF.crop(pil(x[0]), a["top"], a["left"], a["h"], a["w"])),
    "t.center_crop": lambda x, a: arr(TF.center_crop(pil(x[0]), [a["h"], a["w"]])),
    "t.resize": lambda x, a: arr(TF.resize(pil(x[0]), [a["h"], a["w"]], interp_t(a["interpolation"]))),
    "t.resized_crop": lambda x, a: arr(TF.resized_crop(pil(x[0]), a["top"], a["left"], a["h"], a["w"],
                                                       [a["oh"], a["ow"]], InterpolationMode.BILINEAR)),
    "t.pad": lambda x, a: arr(TF.pad(pil(x[0]), [a["left"], a["top"], a["right"], a["bottom"]], fill=a["fill"],
                                     padding_mode=a["mode"])),
    "t.rotate": lambda x, a: arr(TF.rotate(pil(x[0]), a["angle"], interp_t(a["interpolation"]), fill=a["fill"])),
    "t.affine": lambda x, a: arr(TF.affine(pil(x[0]), angle=a["angle"], translate=a["translate"], scale=a["scale"],
                                           shear=a["shear"], interpolation=interp_t(a["interpolation"]),
                                           fill=a["fill"])),
    "t.brightness": lambda x, a: arr(TF.adjust_brightness(pil(x[0]), a["f"])),
    "t.contrast": lambda x, a: arr(TF.adjust_contrast(pil(x[0]), a["f"])),
    "t.saturation": lambda x, a: arr(TF.adjust_saturation(pil(x[0]), a["f"])),
    "t.hue": lambda x, a: arr(TF.adjust_hue(pil(x[0]), a["f"])),
    "t.color_jitter": lambda x, a: t_color_jitter(x[0], a),
    "t.grayscale": lambda x, a: arr(TF.rgb_to_grayscale(pil(x[0]), a["channels"])),
    "t.gaussian_blur": lambda x, a: arr(TF.gaussian_blur(pil(x[0]), [a["ksize"], a["ksize"]], [a["sigma"], a["sigma"]])),
    "t.erase": lambda x, a: t_erase(x[0], a),
    "t.to_tensor": lambda x, a: TF.to_tensor(pil(x[0])).numpy(),
}


def t_decode_draft(a):
    im = Image.open(a["path"])
    im.draft("RGB", (a["w"], a["h"]))
    return arr(im.convert("RGB"))


def t_image_folder(a):
    ds = torchvision.datasets.ImageFolder(a["root"])
    return {"classes": ds.classes, "paths": [p for p, _ in ds.samples], "labels": [l for _, l in ds.samples]}


def read_exact(n):
    buf = sys.stdin.buffer.read(n)
    if len(buf) != n:
        sys.exit(0)
    return buf


def main():
    out = sys.stdout.buffer
    out.write((json.dumps({"ready": True, **LIBS}) + "\n").encode())
    out.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        arrays = []
        for m in req.get("arrays", []):
            dt = np.dtype(m["dtype"])
            n = int(np.prod(m["shape"])) * dt.itemsize
            arrays.append(np.frombuffer(read_exact(n), dtype=dt).reshape(m["shape"]).copy())
        try:
            result = FUNCTIONS[req["fn"]](arrays, req.get("args", {}))
            if isinstance(result, dict):
                out.write((json.dumps({"json": result, "arrays": []}) + "\n").encode())
            else:
                result = np.ascontiguousarray(result)
                if result.dtype == np.float64:
                    result = result.astype(np.float32)
                if result.ndim == 2:
                    result = result[..., None]
                out.write((json.dumps({"arrays": [{"shape": list(result.shape), "dtype": str(result.dtype)}]}) + "\n").encode())
                out.write(result.tobytes())
        except Exception as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e} | {traceback.format_exc().splitlines()[-3:]}"
            out.write((json.dumps({"error": msg}) + "\n").encode())
        out.flush()


if __name__ == "__main__":
    main()
