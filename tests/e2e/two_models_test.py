#!/usr/bin/env python3
"""examples/embed/two_models.c: LeNet and FeedForwardNet, compiled with
--prefix lenet / --prefix ffn, in one program, linked statically from two
archives and as two shared libraries: each model's logits equal PyTorch's
for the same weights.

usage: two_models_test.py WORKDIR PROGRAM...
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
from torch_models import FeedForwardNet, Net  # noqa: E402

TOLERANCE = 1e-4  # as torch_parity.py; the program prints 6 digits


def main():
    workdir, programs = sys.argv[1], sys.argv[2:]
    os.makedirs(workdir, exist_ok=True)
    torch.manual_seed(11)
    nets = {"lenet": Net(), "feedforward": FeedForwardNet()}
    paths = {}
    for name, net in nets.items():
        paths[name] = os.path.join(workdir, name + ".safetensors")
        write_safetensors(paths[name], {k: v.numpy() for k, v in net.state_dict().items()})
    images = np.random.RandomState(2).rand(3, 3, 32, 32).astype(np.float32)
    np.save(os.path.join(workdir, "images.npy"), images)
    want = {name: net(torch.from_numpy(images)).detach().numpy()
            for name, net in nets.items()}
    for program in programs:
        result = subprocess.run([program, paths["lenet"], paths["feedforward"],
                                 os.path.join(workdir, "images.npy")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{program} failed:\n{result.stdout}{result.stderr}")
        seen = {name: 0 for name in nets}
        for line in result.stdout.strip().splitlines():
            head, values = line.split("logits")
            name = head.split(":")[0]
            image = int(head.split("image")[1].split("->")[0])
            got = np.array([float(v) for v in values.split()], dtype=np.float32)
            error = np.abs(got - want[name][image]).max() / np.abs(want[name][image]).max()
            if not error <= TOLERANCE:
                sys.exit(f"{program}: {name} image {image}: relative error {error:.2e}\n{line}")
            seen[name] += 1
        if seen != {name: 3 for name in nets}:
            sys.exit(f"{program}: expected 3 lines per model, got {seen}:\n{result.stdout}")
        print(f"{os.path.basename(program)}: both models match PyTorch")


if __name__ == "__main__":
    main()
