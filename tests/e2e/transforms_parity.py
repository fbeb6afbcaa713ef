#!/usr/bin/env python3
"""cnnc's image pipeline against torchvision 0.14 and PIL, the reference of
folder: data:
  - decoding: PNG (RGB, L, 1-bit, RGBA, LA, P with transparency, 16-bit RGB)
    and JPEG (RGB, L, progressive) equal PIL's Image.open(f).convert('RGB')
    / 255 exactly (same libjpeg, integer PNG samples);
  - Resize(shorter side) + CenterCrop, and the resampling of
    RandomResizedCrop's box, agree with torchvision on PIL images within
    1/255 + 1e-5: PIL computes in uint8 and rounds after each of its two
    passes (0.5/255 each), cnnc computes the same filter in float (see
    runtime/include/cnnc/data/Resample.h);
  - RandomResizedCrop's boxes equal torchvision's get_params given the same
    uniform draws (torch.empty(1).uniform_ and torch.randint replaced by
    stand-ins that return them), including the fallback;
  - folder: lists the files and class indices of torchvision's ImageFolder.

usage: transforms_parity.py TRANSFORM_PROBE WORKDIR"""
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.datasets import ImageFolder

TOLERANCE = 1.0 / 255 + 1e-5


def probe(*args, stdin=None):
    result = subprocess.run([PROBE, *map(str, args)], input=stdin, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"transform_probe {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout


def probe_array(*args):
    out = os.path.join(WORK, "out.npy")
    probe(*args, out)
    return np.load(out)


def png16_rgb(path, pixels):
    """A 16-bit RGB PNG (PIL cannot write one)."""
    h, w, _ = pixels.shape

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_images(rng):
    """Files of every kind the decoder handles, of assorted sizes."""
    files = []

    def smooth(h, w):
        # Natural-ish content: a gradient plus noise, so resampling matters.
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                         ((x + y) * 7) % 256], axis=-1)
        return np.clip(base + rng.randint(-40, 40, size=(h, w, 3)), 0, 255).astype(np.uint8)

    def save(name, image, **kw):
        path = os.path.join(WORK, name)
        image.save(path, **kw)
        files.append(path)

    save("rgb_375x500.png", Image.fromarray(smooth(375, 500)))
    save("rgb_500x333.jpg", Image.fromarray(smooth(500, 333)), quality=90)
    save("rgb_61x47.png", Image.fromarray(smooth(61, 47)))  # upsampled by Resize(256)
    save("gray_300x300.png", Image.fromarray(smooth(300, 300)[..., 0]))
    save("gray_257x401.jpg", Image.fromarray(smooth(257, 401)[..., 1]), quality=85)
    save("progressive_230x260.jpg", Image.fromarray(smooth(230, 260)), quality=80,
         progressive=True)
    save("bits_90x120.png", Image.fromarray(smooth(90, 120)[..., 0] > 128))
    rgba = np.dstack([smooth(240, 320), rng.randint(0, 256, size=(240, 320)).astype(np.uint8)])
    save("rgba_240x320.png", Image.fromarray(rgba, "RGBA"))
    la = np.dstack([smooth(200, 150)[..., 2], rng.randint(0, 256, (200, 150)).astype(np.uint8)])
    save("la_200x150.png", Image.fromarray(la, "LA"))
    palette = Image.fromarray(smooth(280, 260)).quantize(colors=37)
    save("palette_280x260.png", palette, transparency=3)
    path = os.path.join(WORK, "rgb16_120x90.png")
    png16_rgb(path, rng.randint(0, 65536, size=(120, 90, 3)))
    files.append(path)
    return files


def check_decoding(files):
    worst = 0.0
    for path in files:
        ours = probe_array("decode", path)
        ref = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
        ref = torch.from_numpy(ref.copy()).div(255).numpy()  # ToTensor's arithmetic
        if ours.shape != ref.shape:
            sys.exit(f"{path}: decoded shape {ours.shape}, PIL {ref.shape}")
        worst = max(worst, float(np.abs(ours - ref).max()))
        if worst != 0.0:
            sys.exit(f"{path}: decoding differs from PIL's convert('RGB') by {worst}")
    print(f"decoding: {len(files)} files equal PIL's exactly")


def check_eval_transform(files):
    worst = 0.0
    cases = [(256, 224), (40, 32), (300, 320)]  # 300 -> 320: CenterCrop pads too
    for path in files:
        rgb = Image.open(path).convert("RGB")
        for resize, crop in cases:
            ref = T.Compose([T.Resize(resize), T.CenterCrop(crop), T.ToTensor()])(rgb).numpy()
            ours = probe_array("eval", path, resize, crop)
            if ours.shape != ref.shape:
                sys.exit(f"{path}: Resize({resize}) + CenterCrop({crop}) gives {ours.shape}, "
                         f"torchvision {ref.shape}")
            err = float(np.abs(ours - ref).max())
            worst = max(worst, err)
            if err > TOLERANCE:
                sys.exit(f"{path}: Resize({resize}) + CenterCrop({crop}) differs from "
                         f"torchvision by {err} (> {TOLERANCE})")
    print(f"Resize + CenterCrop: {len(files) * len(cases)} cases, worst |cnnc - torchvision| "
          f"= {worst:.3g} ({worst * 255:.3f}/255)")


def check_resized_crops(files, rng):
    worst = 0.0
    count = 0
    for path in files:
        rgb = Image.open(path).convert("RGB")
        w, h = rgb.size
        for _ in range(4):
            ch, cw = rng.randint(1, h + 1), rng.randint(1, w + 1)
            top, left = rng.randint(0, h - ch + 1), rng.randint(0, w - cw + 1)
            size = int(rng.choice([7, 32, 224]))
            ref = F.to_tensor(F.resized_crop(rgb, top, left, ch, cw, [size, size])).numpy()
            ours = probe_array("resized-crop", path, top, left, ch, cw, size)
            err = float(np.abs(ours - ref).max())
            worst = max(worst, err)
            count += 1
            if err > TOLERANCE:
                sys.exit(f"{path}: crop ({top}, {left}, {ch}, {cw}) resized to {size} differs "
                         f"from torchvision by {err} (> {TOLERANCE})")
    print(f"RandomResizedCrop resampling: {count} boxes, worst |cnnc - torchvision| = "
          f"{worst:.3g} ({worst * 255:.3f}/255)")


class Draws:
    """Stand-ins for the torch calls of RandomResizedCrop.get_params that
    return given uniforms, with the arithmetic transform_probe uses."""

    def __init__(self, uniforms):
        self.u = list(uniforms)

    def empty(self, *size):
        draws = self

        class Uniform:
            def uniform_(self, lo, hi):
                return torch.tensor([float(lo) + (float(hi) - float(lo)) * draws.u.pop(0)],
                                    dtype=torch.float32)
        return Uniform()

    def randint(self, lo, hi, size):
        return torch.tensor([lo + int(self.u.pop(0) * (hi - lo))])


def check_boxes(rng):
    cases = []
    for k in range(3000):
        h, w = int(rng.randint(1, 600)), int(rng.randint(1, 600))
        if k % 10 == 0:  # strips, where the attempts fail and the fallback decides
            h, w = (int(rng.randint(1, 20)), int(rng.randint(200, 600)))[::1 if k % 20 else -1]
        s0 = float(rng.choice([0.08, rng.uniform(0.01, 1.0)]))
        s1 = float(rng.choice([1.0, rng.uniform(s0, 1.0)]))
        r0 = float(rng.choice([3.0 / 4.0, rng.uniform(0.2, 1.0)]))
        r1 = float(rng.choice([4.0 / 3.0, rng.uniform(r0, 5.0)]))
        u = rng.uniform(0.0, 1.0, size=22)
        if k % 7 == 0:
            u[:20] = rng.uniform(0.95, 1.0, size=20)  # large areas: more rejections
        cases.append((h, w, s0, s1, r0, r1, u))
    lines = "".join(" ".join(repr(x) for x in (h, w, s0, s1, r0, r1, *map(float, u))) + "\n"
                    for h, w, s0, s1, r0, r1, u in cases)
    ours = [tuple(map(int, line.split())) for line in probe("boxes", stdin=lines).splitlines()]
    empty, randint = torch.empty, torch.randint
    fallbacks = 0
    try:
        for (h, w, s0, s1, r0, r1, u), got in zip(cases, ours):
            draws = Draws(map(float, u))
            torch.empty, torch.randint = draws.empty, draws.randint
            ref = T.RandomResizedCrop.get_params(Image.new("RGB", (w, h)), [s0, s1], [r0, r1])
            torch.empty, torch.randint = empty, randint
            fallbacks += len(draws.u) == 2  # all 20 uniforms used, no randint
            if tuple(ref) != got:
                sys.exit(f"RandomResizedCrop box for {h}x{w}, scale ({s0}, {s1}), ratio "
                         f"({r0}, {r1}): cnnc {got}, torchvision {tuple(ref)}")
    finally:
        torch.empty, torch.randint = empty, randint
    if len(ours) != len(cases) or fallbacks < 50:
        sys.exit(f"{len(ours)} boxes for {len(cases)} cases, {fallbacks} fallbacks")
    print(f"RandomResizedCrop boxes: {len(cases)} equal torchvision's, {fallbacks} by the "
          f"fallback")


def check_folder():
    root = os.path.join(WORK, "folder")
    shutil.rmtree(root, ignore_errors=True)
    names = ["b/x.png", "b/A.JPG", "a/sub/1.png", "a/sub-2/2.png", "a/sub/deep/3.png",
             "a/z.jpeg", "a/Z.png", "c c/only.png"]
    for i, name in enumerate(names):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.new("RGB", (3 + i, 2), (i, i, i)).save(path, "JPEG" if "jp" in name.lower()
                                                     else "PNG")
    with open(os.path.join(root, "a", "notes.txt"), "w") as f:
        f.write("ignored by both")
    ours = [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1])
            for line in probe("folder", root).splitlines()]
    ref = [(label, path) for path, label in ImageFolder(root).samples]
    if ours != ref:
        sys.exit(f"folder listing differs from ImageFolder:\ncnnc  {ours}\ntorch {ref}")
    print(f"folder: {len(ours)} files and labels equal ImageFolder's")


def main():
    global PROBE, WORK
    PROBE, WORK = sys.argv[1], sys.argv[2]
    os.makedirs(WORK, exist_ok=True)
    rng = np.random.RandomState(0)
    files = make_images(rng)
    check_decoding(files)
    check_eval_transform(files)
    check_resized_crops(files, rng)
    check_boxes(rng)
    check_folder()


if __name__ == "__main__":
    main()
