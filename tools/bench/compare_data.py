"""Data pipeline benchmark, side by side: Ember (`ember bench data`),
Albumentations (PyPI, in the venv of tests/oracle/albumentations_venv.sh) and
torchvision/PIL (Debian's python3), on the same JPEGs, one thread each.

    python3 tools/bench/compare_data.py [--ember build/ember] [--images DIR] [--limit N] [--write]

--write replaces the "## Data pipeline" section of docs/benchmarks.md (the
other sections are kept).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

from bench_report import cpu_name, write_section

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = ["Decode (JPEG)", "Resize 256", "Resize 256 (no antialias)", "HorizontalFlip", "VerticalFlip", "RandomRotate90",
        "RandomCrop 224", "RandomResizedCrop 224", "RandomResizedCrop 224 (no antialias)", "ColorJitter", "GaussianBlur", "MotionBlur", "OpticalDistortion",
        "GaussNoise", "Rotate", "Normalize", "Augment pipeline (no decode)", "Decode + augment pipeline"]
# Albumentations' published single-core rates (README benchmark, ImageNet images).
PUBLISHED = {"HorizontalFlip": 10000, "RandomResizedCrop 224 (no antialias)": 4000, "ColorJitter": 1200, "GaussianBlur": 2500}


def run(cmd, out):
    print("+", " ".join(cmd), file=sys.stderr)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(cmd, check=True, env=env)
    with open(out) as f:
        return json.load(f)


def table(ember, albu, tv, n):
    def rates(d):
        return {r["op"]: r["images_per_s"] for r in d["results"]}
    e, a, t = rates(ember), rates(albu), rates(tv)
    fmt = lambda v: f"{v:,.0f}" if v else "-"  # noqa: E731
    ratio = lambda x, y: f"{x / y:.2f}x" if x and y else "-"  # noqa: E731
    lines = ["| op (images/s, 1 thread) | Ember | Albumentations | torchvision/PIL | Ember / Albumentations | Ember / torchvision | Albumentations published |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in ROWS:
        ev, av, tvv = e.get(row), a.get(row), t.get(row)

        lines.append(f"| {row} | {fmt(ev)} | {fmt(av)} | {fmt(tvv)} | {ratio(ev, av)} | {ratio(ev, tvv)} | "
                     f"{fmt(PUBLISHED.get(row))} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", default=os.path.join(REPO, "build", "ember"))
    shared = os.environ.get("EMBER_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
    ap.add_argument("--images", default=os.path.join(shared, "cats_and_dogs_filtered", "train", "cats"))
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    venv_python = subprocess.run(["bash", os.path.join(REPO, "tests", "oracle", "albumentations_venv.sh")],
                                 check=True, capture_output=True, text=True).stdout.strip()
    script = os.path.join(REPO, "tools", "bench", "data_pipeline.py")
    common = ["--images", a.images, "--limit", str(a.limit), "--min-time", str(a.min_time)]
    with tempfile.TemporaryDirectory() as tmp:
        ember = run([a.ember, "bench", "data", *common, "--json", f"{tmp}/e.json"], f"{tmp}/e.json")
        albu = run([venv_python, script, "--lib", "albumentations", *common, "--json", f"{tmp}/a.json"], f"{tmp}/a.json")
        tv = run(["/usr/bin/python3", script, "--lib", "torchvision", *common, "--json", f"{tmp}/t.json"], f"{tmp}/t.json")
    t = table(ember, albu, tv, ember["images"])
    v = {**albu.get("versions", {}), **tv.get("versions", {})}
    load = os.getloadavg()[0]
    header = (f"Measured {datetime.date.today().isoformat()} on {cpu_name()} ({os.cpu_count()} cores, load average "
              f"{load:.1f} during the run, about 1 of it the benchmark's own thread; absolute rates vary by tens of "
              "percent between runs on this shared virtual machine, so the ratios are the meaningful part), one thread per "
              f"library, {ember['images']} JPEGs of at least 256x256 from `{os.path.relpath(a.images, REPO)}` held in "
              f"memory; Albumentations {v.get('albumentations')} with OpenCV {v.get('opencv')} (PyPI), torchvision "
              f"{v.get('torchvision')} with Pillow {v.get('pillow')} (Debian). Per-op rows run the op with p=1 on the "
              "decoded images (about 500x375); the pipeline is the source documents' Albumentations training pipeline "
              "(Resize 256, flips and RandomRotate90 at p=0.85, ColorJitter 0.2, RandomCrop 224, OneOf(MotionBlur, "
              "OpticalDistortion, GaussNoise), Normalize, to CHW). Ember's \"Resize 256\" antialiases like PIL; "
              "\"no antialias\" is OpenCV's INTER_LINEAR as in Albumentations. torchvision lacks RandomRotate90 (PIL "
              "transpose stands in), MotionBlur, OpticalDistortion and GaussNoise (its pipeline uses "
              "RandomApply(GaussianBlur(7)) instead of the OneOf). Run `python3 tools/bench/compare_data.py --write` "
              "to refresh.")
    body = f"{header}\n\n{t}\n"
    print(f"## Data pipeline\n\n{body}")
    if a.write:
        write_section("## Data pipeline", body)


if __name__ == "__main__":
    main()
