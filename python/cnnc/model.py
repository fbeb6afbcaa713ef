"""cnnc.Model: a generated model library driven from Python."""
import collections
import json

import numpy as np

from . import init as _init
from . import safetensors as _safetensors
from ._abi import Library, c_int64_p, float_pointer, float_pointers

ParameterInfo = collections.namedtuple(
    "ParameterInfo", "name shape kind trainable updated")
ParameterInfo.__doc__ = """One entry of the library's parameter list: its
PyTorch state_dict name, shape, kind ("parameter" or "buffer", a batch
norm's running statistics), whether the optimizer trains it and whether a
training step writes it (trainable parameters and the running statistics of
batch norms in training mode; none in a library compiled with
--inference-only)."""

_RUNNING_MEAN = ".running_mean"
_RUNNING_VAR = ".running_var"
_COUNTER = ".num_batches_tracked"


class Model:
    """A network compiled by `cnnc NET.yaml -o NET.so`, with its parameters
    and optimizer state held in numpy arrays.

    The arrays of state_dict() are the memory the library reads and writes:
    forward() and train_step() pass pointers to them (no copies), and a
    training step updates them in place, as torch.optim does, so references
    to them stay valid. The SGD momentum buffers and the step count live in
    the Model too; `seed` picks the dropout masks of the steps.

    Model(path) starts from `cnnc init`'s weights for `seed` (0 by default),
    Model(path, weights=FILE) from a safetensors file. A library compiled
    with `--prefix NAME` is loaded with prefix="NAME"."""

    def __init__(self, path, weights=None, seed=0, prefix="cnnc"):
        self._lib = Library(str(path), prefix)
        lib = self._lib
        self.path = str(path)
        self.name = lib.query_string("cnnc_model_name")
        self.input_shape = lib.query_shape("cnnc_input_shape")
        self.output_shape = lib.query_shape("cnnc_output_shape")
        self.recipe = json.loads(lib.query_string("cnnc_training_recipe") or "{}")
        self.info = (json.loads(lib.query_string("cnnc_library_info"))
                     if lib.has("cnnc_library_info") else None)
        self.parameter_info = []
        for i in range(lib.query_int("cnnc_num_parameters")):
            self.parameter_info.append(ParameterInfo(
                name=lib.query_string("cnnc_parameter_name", i),
                shape=lib.query_shape("cnnc_parameter_shape", i),
                kind="buffer" if lib.query_int("cnnc_parameter_kind", i) else "parameter",
                trainable=bool(lib.query_int("cnnc_parameter_trainable", i)),
                updated=bool(lib.query_int("cnnc_parameter_updated", i))))
        self._values = [np.zeros(p.shape, np.float32) for p in self.parameter_info]
        # A batch norm's num_batches_tracked, beside its running_mean, and
        # whether training steps count it.
        self._counters = collections.OrderedDict()
        self._counted = []
        for p in self.parameter_info:
            if p.name.endswith(_RUNNING_MEAN):
                name = p.name[:-len(_RUNNING_MEAN)] + _COUNTER
                self._counters[name] = np.zeros((), np.int64)
                if p.updated:
                    self._counted.append(name)
        self._momentum = [np.zeros_like(v) if p.trainable else None
                          for p, v in zip(self.parameter_info, self._values)]
        self._scratch = None  # the step's output buffers, made on first use
        self._num_threads = 0
        self.seed = seed
        self.steps = 0
        if weights is not None:
            self.load(weights)
        else:
            self.init(seed)

    def __repr__(self):
        count = sum(int(np.prod(p.shape)) for p in self.parameter_info
                    if p.kind == "parameter")
        return (f"cnnc.Model({self.name!r}, input {list(self.input_shape)}, "
                f"output {list(self.output_shape)}, {count} parameters, "
                f"device {self.device!r})")

    # What the library is.

    @property
    def device(self):
        """Where the compiled pipelines run: "cpu", "cuda" or "opencl"."""
        return self.info.get("device", "cpu") if self.info else "cpu"

    @property
    def num_classes(self):
        return self.output_shape[-1]

    @property
    def num_threads(self):
        """Threads the compiled code may use; 0 means one per core. The
        setting belongs to the library, so it holds for every Model of the
        same file in this process."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, threads):
        self._lib.call("cnnc_set_num_threads", int(threads))
        self._num_threads = int(threads)

    # The parameters.

    def state_dict(self):
        """name -> numpy array, in the library's order, as PyTorch's
        state_dict: parameters, batch norms' running statistics and, after
        each running_var, its num_batches_tracked (an int64 scalar). The
        arrays are the live ones."""
        state = collections.OrderedDict()
        for p, value in zip(self.parameter_info, self._values):
            state[p.name] = value
            if p.name.endswith(_RUNNING_VAR):
                counter = p.name[:-len(_RUNNING_VAR)] + _COUNTER
                if counter in self._counters:
                    state[counter] = self._counters[counter]
        return state

    def load_state_dict(self, state, strict=True):
        """Copies the values of `state` (name -> array-like, a torch
        state_dict included) into the model's arrays. Every problem is
        reported at once in a KeyError or ValueError: a missing or unexpected
        name (with strict; num_batches_tracked may be missing), a wrong shape,
        a non-finite value."""
        own = self.state_dict()
        problems = []
        values = {}
        for name, value in state.items():
            if name not in own:
                if strict:
                    problems.append(f"unexpected tensor '{name}'; the network "
                                    "has no such parameter")
                continue
            # Converted now, so that nothing is copied unless all of it can be.
            try:
                array = np.asarray(value, dtype=own[name].dtype)
            except (TypeError, ValueError) as e:
                problems.append(f"'{name}' is not numeric ({e})")
                continue
            if array.shape != own[name].shape:
                problems.append(f"'{name}' has shape {list(array.shape)}, the "
                                f"network's is {list(own[name].shape)}")
                continue
            values[name] = array
        if strict:
            problems += [f"missing tensor '{p.name}' {list(p.shape)}"
                         for p in self.parameter_info if p.name not in state]
        if problems:
            raise ValueError("; ".join(problems))
        for name, array in values.items():
            np.copyto(own[name], array)
        self.reset_optimizer()

    def init(self, seed=0):
        """PyTorch's default initialisation, bit for bit what
        `cnnc init NET.so --seed SEED` writes; zero momentum, step 0."""
        values = _init.default_parameters(
            [(p.name, p.shape) for p in self.parameter_info], seed)
        values.update({name: np.zeros((), np.int64) for name in self._counters})
        self.load_state_dict(values)

    def load(self, path, strict=True):
        """The values of a safetensors file (`cnnc init`, `cnnc train`,
        torch's safetensors.save_file of a state_dict); see load_state_dict."""
        tensors, _ = _safetensors.load_file(path)
        try:
            self.load_state_dict(tensors, strict)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def save(self, path, metadata=None):
        """Writes state_dict() to a safetensors file (atomically) that
        `cnnc run`, `cnnc train --weights` and PyTorch's load_state_dict
        (strict) read."""
        info = {"format": "pt", "network": self.name}
        info.update(metadata or {})
        _safetensors.save_file(path, self.state_dict(), info)

    # Running it.

    def _batch(self, x, what="input"):
        x = np.ascontiguousarray(x, dtype=np.float32)
        sample = tuple(self.input_shape[1:])
        if x.ndim != len(self.input_shape) or x.shape[1:] != sample \
                or x.shape[0] < 1:
            hint = " (add the batch dimension: x[None])" if x.shape == sample else ""
            raise ValueError(f"{what} has shape {list(x.shape)}; {self.name} "
                             f"takes [N, {', '.join(map(str, sample))}] with "
                             f"N >= 1{hint}")
        return x

    def forward(self, x, out=None):
        """The logits of the batch `x` [N, C, H, W] (float32; other dtypes
        are converted), in eval mode (batch norms use their running
        statistics, dropout is off). `out`, if given, receives them: a
        C-contiguous float32 array of the output's shape."""
        x = self._batch(x)
        shape = (x.shape[0],) + tuple(self.output_shape[1:])
        if out is None:
            out = np.empty(shape, np.float32)
        elif out.shape != shape or out.dtype != np.float32 or \
                not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writable C-contiguous float32 "
                             f"array of shape {list(shape)}")
        self._lib.call("cnnc_forward", x.shape[0], float_pointer(x),
                       float_pointers(self._values), float_pointer(out))
        return out

    __call__ = forward

    def train_step(self, x, y, lr, momentum=0.0, weight_decay=0.0,
                   nesterov=False):
        """One SGD step on the batch (x, y): forward in training mode, mean
        softmax cross-entropy, backward and torch.optim.SGD's update with
        these settings, in place. Returns the batch's mean loss (before the
        update). `y` holds N class indices."""
        x = self._batch(x)
        y = np.ascontiguousarray(y, dtype=np.int64)
        if y.shape != (x.shape[0],):
            raise ValueError(f"labels have shape {list(y.shape)}; the batch "
                             f"needs [{x.shape[0]}]")
        lr, momentum, weight_decay = float(lr), float(momentum), float(weight_decay)
        for what, value in (("lr", lr), ("momentum", momentum),
                            ("weight_decay", weight_decay)):
            if not value >= 0 or value == float("inf"):
                raise ValueError(f"{what} must be a finite number >= 0, not {value}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov needs a momentum above 0 (as in torch.optim.SGD)")
        if self._scratch is None:
            self._scratch = (
                [np.empty_like(v) if p.updated else None
                 for p, v in zip(self.parameter_info, self._values)],
                [np.empty_like(m) if m is not None else None for m in self._momentum])
        new_values, new_momentum = self._scratch
        loss = np.zeros((), np.float32)
        self._lib.call(
            "cnnc_train_step_seeded", x.shape[0], float_pointer(x),
            y.ctypes.data_as(c_int64_p), float_pointers(self._values),
            float_pointers(self._momentum), float_pointers(new_values),
            float_pointers(new_momentum), lr, momentum, weight_decay,
            int(bool(nesterov)), int(self.steps == 0),
            int(self.seed) & 0xFFFFFFFFFFFFFFFF, self.steps,
            float_pointer(loss))
        for value, new in zip(self._values + self._momentum,
                              new_values + new_momentum):
            if new is not None:
                np.copyto(value, new)
        for name in self._counted:
            self._counters[name] += 1
        self.steps += 1
        return float(loss)

    def reset_optimizer(self):
        """Zero momentum and step 0: the next step is torch's first."""
        for m in self._momentum:
            if m is not None:
                m.fill(0)
        self.steps = 0

    @property
    def momentum_buffers(self):
        """name -> the SGD momentum buffer of each trainable parameter (live
        arrays, updated in place by train_step)."""
        return collections.OrderedDict(
            (p.name, m) for p, m in zip(self.parameter_info, self._momentum)
            if m is not None)
