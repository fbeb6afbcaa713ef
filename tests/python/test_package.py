#!/usr/bin/env python3
"""The Python package (python/cnnc) against PyTorch and the cnnc command
line: metadata, `cnnc init`'s weights bit for bit, safetensors files both
ways, forward and SGD steps (momentum, weight decay, Nesterov, batch-norm
running statistics and counters) against torch, the in-place and zero-copy
contract, errors as exceptions, thread counts, several models in one process
and, with --opencl, a GPU-backend library (run by pocl on the CPU).

usage: test_package.py CNNC LENET_LIBRARY WORKDIR [--opencl] [unittest args]
"""
import os
import subprocess
import sys
import threading
import unittest

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import cnnc  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from torch_models import BatchNormNet, Net  # noqa: E402

TOLERANCE = 1e-4  # as tests/e2e/torch_parity.py and train_parity.py
CNNC = LENET = WORKDIR = None
OPENCL = False
LIBRARIES = {}


def run(*args):
    result = subprocess.run([CNNC, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"cnnc {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def library(name):
    """The LeNet library built with the tests, or tests/e2e/NAME.yaml
    compiled once into WORKDIR."""
    if name == "lenet":
        return LENET
    if name not in LIBRARIES:
        path = os.path.join(WORKDIR, name + ".so")
        extra = ["--target", "host-opencl"] if name.endswith("_opencl") else []
        yaml = name[:-len("_opencl")] if extra else name
        source = os.path.join(ROOT, "examples", "lenet.yaml") if yaml == "lenet" \
            else os.path.join(ROOT, "tests", "e2e", yaml + ".yaml")
        run(source, "-o", path, *extra)
        LIBRARIES[name] = path
    return LIBRARIES[name]


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def torch_model(factory, model):
    """The hand-written torch.nn twin of `model`, with its weights."""
    net = factory()
    net.load_state_dict({k: torch.from_numpy(np.array(v))
                         for k, v in model.state_dict().items()})
    return net


class Metadata(unittest.TestCase):
    def test_lenet_describes_itself(self):
        model = cnnc.Model(library("lenet"))
        self.assertEqual(model.name, "lenet")
        self.assertEqual(model.input_shape, (-1, 3, 32, 32))
        self.assertEqual(model.output_shape, (-1, 10))
        self.assertEqual(model.num_classes, 10)
        self.assertEqual(model.device, "cpu")
        want = {k: tuple(v.shape) for k, v in Net().state_dict().items()}
        self.assertEqual({p.name: p.shape for p in model.parameter_info}, want)
        self.assertEqual(list(model.state_dict()), list(want))
        self.assertTrue(all(p.kind == "parameter" and p.trainable and p.updated
                            for p in model.parameter_info))
        # examples/lenet.yaml's train: section.
        self.assertEqual(model.recipe["batch_size"], 4)
        self.assertEqual(model.recipe["optimizer"]["sgd"]["lr"], 0.001)
        self.assertIn("lenet", repr(model))

    def test_batch_norm_buffers_and_counters(self):
        model = cnnc.Model(library("batchnorm"))
        kinds = {p.name: (p.kind, p.trainable, p.updated) for p in model.parameter_info}
        self.assertEqual(kinds["bn1.running_mean"], ("buffer", False, True))
        self.assertEqual(kinds["bn1.weight"], ("parameter", True, True))
        # The same keys, in the same order, as torch's state_dict.
        self.assertEqual(list(model.state_dict()), list(BatchNormNet().state_dict()))
        self.assertEqual(model.state_dict()["bn2.num_batches_tracked"].dtype, np.int64)


class Weights(unittest.TestCase):
    def test_init_is_cnnc_init_bit_for_bit(self):
        for name in ("lenet", "batchnorm"):
            for seed in (0, 0x5EED20261205F00D):
                path = os.path.join(WORKDIR, f"init_{name}_{seed}.safetensors")
                run("init", library(name), "-o", path, "--seed", str(seed))
                want = read_safetensors(path)
                got = cnnc.Model(library(name), seed=seed).state_dict()
                self.assertEqual(sorted(got), sorted(want))
                for key, value in got.items():
                    self.assertEqual(value.dtype, want[key].dtype, key)
                    np.testing.assert_array_equal(value, want[key], err_msg=key)

    def test_saved_files_are_read_by_cnnc_and_torch(self):
        model = cnnc.Model(library("batchnorm"), seed=4)
        x = np.random.RandomState(0).rand(5, 3, 12, 12).astype(np.float32)
        model.train_step(x, [0, 1, 2, 3, 4], 0.1, 0.9)
        path = os.path.join(WORKDIR, "saved.safetensors")
        model.save(path)
        np.save(os.path.join(WORKDIR, "x.npy"), x)
        run("run", library("batchnorm"), "--weights", path, "--input",
            os.path.join(WORKDIR, "x.npy"), "-o", os.path.join(WORKDIR, "y.npy"))
        np.testing.assert_array_equal(np.load(os.path.join(WORKDIR, "y.npy")),
                                      model.forward(x))
        # strict load_state_dict: num_batches_tracked counted the step.
        saved = read_safetensors(path)
        self.assertEqual(int(saved["bn1.num_batches_tracked"]), 1)
        net = BatchNormNet()
        net.load_state_dict({k: torch.from_numpy(v) for k, v in saved.items()})
        _, metadata = cnnc.load_file(path)
        self.assertEqual(metadata["network"], "bn_net")

    def test_load_reads_torch_weights_and_lists_every_problem(self):
        net = BatchNormNet()
        path = os.path.join(WORKDIR, "torch.safetensors")
        write_safetensors(path, {k: v.numpy() for k, v in net.state_dict().items()})
        model = cnnc.Model(library("batchnorm"), weights=path)
        for key, value in net.state_dict().items():
            np.testing.assert_array_equal(model.state_dict()[key], value.numpy())
        bad = {k: v.numpy() for k, v in net.state_dict().items()}
        bad["fc.weight"] = np.zeros((3, 3), np.float32)
        bad["extra"] = np.zeros(2, np.float32)
        del bad["conv1.weight"]
        write_safetensors(path, bad)
        with self.assertRaises(ValueError) as caught:
            model.load(path)
        message = str(caught.exception)
        for part in (path, "'fc.weight' has shape [3, 3]", "unexpected tensor 'extra'",
                     "missing tensor 'conv1.weight'"):
            self.assertIn(part, message)
        # Nothing is copied unless everything can be: conv1.weight keeps
        # its value when fc.bias is not numeric.
        before = model.state_dict()["conv1.weight"].copy()
        model.steps = 1
        mixed = {k: v.numpy() for k, v in net.state_dict().items()}
        mixed["conv1.weight"] = np.full_like(mixed["conv1.weight"], 7.0)
        mixed["fc.bias"] = np.array(["a"] * 5)
        with self.assertRaisesRegex(ValueError, "'fc.bias' is not numeric"):
            model.load_state_dict(mixed)
        np.testing.assert_array_equal(model.state_dict()["conv1.weight"], before)
        self.assertEqual(model.steps, 1)
        with open(path, "wb") as f:
            f.write(b"\x0a\x00\x00\x00\x00\x00\x00\x00{not json}")
        with self.assertRaisesRegex(ValueError, "not JSON"):
            model.load(path)


class Running(unittest.TestCase):
    def test_forward_matches_torch(self):
        model = cnnc.Model(library("lenet"), seed=1)
        net = torch_model(Net, model)
        for batch in (1, 3, 8):
            x = np.random.RandomState(batch).randn(batch, 3, 32, 32).astype(np.float32)
            want = net(torch.from_numpy(x)).detach().numpy()
            self.assertLessEqual(relative(model.forward(x), want), TOLERANCE)
            # float64 input is converted; `out` is filled in place.
            out = np.empty((batch, 10), np.float32)
            self.assertIs(model(x.astype(np.float64), out=out), out)
            np.testing.assert_array_equal(out, model.forward(x))

    def test_train_steps_match_torch_sgd(self):
        rng = np.random.RandomState(7)
        for setting in (dict(lr=0.05, momentum=0.9, weight_decay=0.0, nesterov=False),
                        dict(lr=0.02, momentum=0.9, weight_decay=5e-3, nesterov=True),
                        dict(lr=0.1, momentum=0.0, weight_decay=1e-2, nesterov=False)):
            model = cnnc.Model(library("batchnorm"), seed=2)
            net = torch_model(BatchNormNet, model)
            optimizer = torch.optim.SGD(net.parameters(), **setting)
            for step in range(3):
                x = rng.randn(6, 3, 12, 12).astype(np.float32)
                y = rng.randint(0, 5, 6)
                loss = model.train_step(x, y, **setting)
                optimizer.zero_grad()
                want = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
                want.backward()
                optimizer.step()
                self.assertLessEqual(relative(loss, want.item()), TOLERANCE)
            self.assertEqual(model.steps, 3)
            for key, value in net.state_dict().items():
                got = model.state_dict()[key]
                if key.endswith("num_batches_tracked"):
                    self.assertEqual(int(got), int(value), key)
                else:
                    self.assertLessEqual(relative(got, value.numpy()), TOLERANCE,
                                         f"{key} {setting}")
            if setting["momentum"]:
                for name, p in net.named_parameters():
                    buffer = optimizer.state[p]["momentum_buffer"].numpy()
                    self.assertLessEqual(relative(model.momentum_buffers[name], buffer),
                                         TOLERANCE, f"momentum of {name}")

    def test_arrays_are_live_and_updated_in_place(self):
        model = cnnc.Model(library("lenet"), seed=3)
        state = model.state_dict()
        before = {k: v.copy() for k, v in state.items()}
        x = np.random.RandomState(2).randn(4, 3, 32, 32).astype(np.float32)
        model.train_step(x, [1, 2, 3, 4], 0.1, 0.9)
        after = model.state_dict()
        for key in state:
            self.assertIs(after[key], state[key])
            self.assertFalse(np.array_equal(state[key], before[key]), key)
        # forward reads the arrays themselves: no copy to refresh.
        logits = model.forward(x)
        state["fc3.bias"] += 1.0
        np.testing.assert_allclose(model.forward(x), logits + 1.0, rtol=1e-6, atol=1e-6)
        model.load_state_dict(before)
        self.assertEqual(model.steps, 0)
        np.testing.assert_array_equal(state["conv1.weight"], before["conv1.weight"])

    def test_thread_counts_give_the_same_bits(self):
        x = np.random.RandomState(4).randn(16, 3, 32, 32).astype(np.float32)
        results = []
        for threads in (1, 2, 0):
            model = cnnc.Model(library("lenet"), seed=5)
            model.num_threads = threads
            self.assertEqual(model.num_threads, threads)
            loss = model.train_step(x, np.arange(16) % 10, 0.05, 0.9)
            results.append((loss, model.forward(x), model.state_dict()["conv1.weight"].copy()))
        for loss, logits, weight in results[1:]:
            self.assertEqual(loss, results[0][0])
            np.testing.assert_array_equal(logits, results[0][1])
            np.testing.assert_array_equal(weight, results[0][2])

    def test_concurrent_forwards_of_one_model(self):
        model = cnnc.Model(library("lenet"), seed=8)
        inputs = [np.random.RandomState(k).randn(3, 3, 32, 32).astype(np.float32)
                  for k in range(8)]
        want = [model.forward(x) for x in inputs]
        got = [None] * len(inputs)

        def work(k):
            for _ in range(5):
                got[k] = model.forward(inputs[k])

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)

    def test_two_networks_in_one_process(self):
        lenet, bn = cnnc.Model(library("lenet"), seed=1), cnnc.Model(library("batchnorm"), seed=1)
        x1 = np.random.RandomState(1).randn(2, 3, 32, 32).astype(np.float32)
        x2 = np.random.RandomState(2).randn(2, 3, 12, 12).astype(np.float32)
        want1 = torch_model(Net, lenet)(torch.from_numpy(x1)).detach().numpy()
        net2 = torch_model(BatchNormNet, bn).eval()
        want2 = net2(torch.from_numpy(x2)).detach().numpy()
        for _ in range(2):  # interleaved
            self.assertLessEqual(relative(lenet.forward(x1), want1), TOLERANCE)
            self.assertLessEqual(relative(bn.forward(x2), want2), TOLERANCE)
        # A library compiled with --prefix (examples/embed/prefixed) beside
        # the unprefixed one: the same network, the same logits.
        prefixed = os.path.join(os.path.dirname(LENET), "prefixed", "liblenet.so")
        other_name = cnnc.Model(prefixed, seed=1, prefix="lenet")
        np.testing.assert_array_equal(other_name.forward(x1), lenet.forward(x1))
        with self.assertRaisesRegex(OSError, "prefix=NAME"):
            cnnc.Model(prefixed)
        # Two Models of one library keep their own state.
        other = cnnc.Model(library("lenet"), seed=9)
        other.train_step(x1, [0, 1], 0.1)
        self.assertLessEqual(relative(lenet.forward(x1), want1), TOLERANCE)


class Errors(unittest.TestCase):
    def test_library_statuses_raise_cnnc_error(self):
        model = cnnc.Model(library("lenet"))
        x = np.zeros((2, 3, 32, 32), np.float32)
        with self.assertRaises(cnnc.Error) as caught:
            model.train_step(x, [0, 10], 0.1)
        error = caught.exception
        self.assertEqual(error.status, 6)
        self.assertEqual(error.status_name, "CNNC_ERROR_BAD_LABEL")
        self.assertIn("label", error.status_string)
        self.assertIn(error.status_string, str(error))
        self.assertIn("cnnc_train_step_seeded", str(error))
        self.assertEqual(model.steps, 0)  # nothing happened
        with self.assertRaises(cnnc.Error) as caught:
            model.num_threads = -1
        self.assertEqual(caught.exception.status_name, "CNNC_ERROR_BAD_SHAPE")
        self.assertEqual(model.num_threads, 0)

    def test_arguments_are_checked_before_the_call(self):
        model = cnnc.Model(library("lenet"))
        x = np.zeros((2, 3, 32, 32), np.float32)
        cases = [
            (lambda: model.forward(x[0]), "add the batch dimension"),
            (lambda: model.forward(np.zeros((2, 3, 28, 28))), r"\[N, 3, 32, 32\]"),
            (lambda: model.forward(x[:0]), "N >= 1"),
            (lambda: model.forward(x, out=np.empty((2, 9), np.float32)), "out must"),
            (lambda: model.train_step(x, [0], 0.1), "labels have shape"),
            (lambda: model.train_step(x, [0, 1], -0.1), "lr must"),
            (lambda: model.train_step(x, [0, 1], float("nan")), "lr must"),
            (lambda: model.train_step(x, [0, 1], 0.1, nesterov=True), "nesterov"),
        ]
        for call, message in cases:
            with self.assertRaisesRegex(ValueError, message):
                call()

    def test_files_that_are_not_model_libraries(self):
        with self.assertRaisesRegex(OSError, "cannot load"):
            cnnc.Model(os.path.join(WORKDIR, "missing.so"))
        with self.assertRaisesRegex(OSError, "not a cnnc model library"):
            cnnc.Model(ctypes_library())


def ctypes_library():
    """A shared library that is not a model: the C library."""
    import ctypes.util
    return ctypes.util.find_library("c")


@unittest.skipUnless(OPENCL or "--opencl" in sys.argv, "GPU backend not asked for")
class OpenCL(unittest.TestCase):
    def test_gpu_library_matches_the_cpu_one(self):
        gpu = cnnc.Model(library("lenet_opencl"), seed=6)
        cpu = cnnc.Model(library("lenet"), seed=6)
        self.assertEqual(gpu.device, "opencl")
        rng = np.random.RandomState(3)
        for _ in range(2):
            x = rng.randn(5, 3, 32, 32).astype(np.float32)
            y = rng.randint(0, 10, 5)
            self.assertLessEqual(relative(gpu.forward(x), cpu.forward(x)), TOLERANCE)
            self.assertLessEqual(relative(gpu.train_step(x, y, 0.05, 0.9),
                                          cpu.train_step(x, y, 0.05, 0.9)), TOLERANCE)
        for key, value in cpu.state_dict().items():
            self.assertLessEqual(relative(gpu.state_dict()[key], value), TOLERANCE, key)


if __name__ == "__main__":
    CNNC, LENET, WORKDIR = (os.path.abspath(a) for a in sys.argv[1:4])
    OPENCL = "--opencl" in sys.argv
    os.makedirs(WORKDIR, exist_ok=True)
    unittest.main(argv=[sys.argv[0]] + [a for a in sys.argv[4:] if a != "--opencl"],
                  verbosity=2)
