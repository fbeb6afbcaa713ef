"""Prints the parameters a model library's training step updates
(cnnc_parameter_updated), then calls each training entry point of its C ABI
on a batch of zeros and prints, per function, its status and
cnnc_last_error:
    call_train_entry_points.py LIBRARY.so"""
import ctypes
import sys

import numpy as np

lib = ctypes.CDLL(sys.argv[1])
i32, i64, f32 = ctypes.c_int32, ctypes.c_int64, ctypes.c_float
lib.cnnc_last_error.restype = ctypes.c_char_p


def shape(function, *index):
    dims = (i64 * 4)()
    rank = i32()
    assert function(*index, dims, 4, ctypes.byref(rank)) == 0
    return [dims[d] for d in range(rank.value)]


count = i32()
assert lib.cnnc_num_parameters(ctypes.byref(count)) == 0
parameters = [np.zeros(shape(lib.cnnc_parameter_shape, i32(i)), np.float32)
              for i in range(count.value)]


def pointer_array(arrays):
    return (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])


pointers = pointer_array(parameters)
# Outputs of their own for each role (the ABI forbids aliasing them).
new_parameters, new_momentum = (
    [[np.empty_like(p) for p in parameters] for _ in range(2)])
updated = []
for i in range(count.value):
    name, flag = ctypes.c_char_p(), i32()
    assert lib.cnnc_parameter_name(i32(i), ctypes.byref(name)) == 0
    assert lib.cnnc_parameter_updated(i32(i), ctypes.byref(flag)) == 0
    if flag.value:
        updated.append(name.value.decode())
print("updated:", " ".join(updated) or "(none)")
batch = 2
x = np.zeros([batch] + shape(lib.cnnc_input_shape)[1:], np.float32)
labels = np.zeros(batch, np.int64)
loss = f32()
args = (i64(batch), x.ctypes.data_as(ctypes.c_void_p),
        labels.ctypes.data_as(ctypes.c_void_p))


def report(name, status):
    print(name, status, lib.cnnc_last_error().decode())


report("cnnc_train_step",
       lib.cnnc_train_step(*args, pointers, pointers,
                           pointer_array(new_parameters),
                           pointer_array(new_momentum),
                           f32(0.1), f32(0), f32(0), i32(0), i32(1),
                           ctypes.byref(loss)))
report("cnnc_gradient_step",
       lib.cnnc_gradient_step(*args, pointers, pointer_array(new_parameters),
                              pointer_array(new_momentum),
                              ctypes.c_uint64(0), i64(0), i64(0),
                              ctypes.byref(loss)))
session = ctypes.c_void_p()
assert lib.cnnc_session_create(pointers, ctypes.byref(session)) == 0
report("cnnc_session_train_step",
       lib.cnnc_session_train_step(session, *args, f32(0.1), f32(0), f32(0),
                                   i32(0), ctypes.byref(loss)))
# The session's momentum: sevens written, read back into -1s (the
# entries of trainable parameters).
sevens = [np.full_like(p, 7.0) for p in parameters]
written = lib.cnnc_session_write(session, pointers, pointer_array(sevens), i64(0))
momentum = [np.full_like(p, -1.0) for p in parameters]
read = lib.cnnc_session_read(session, pointer_array(new_parameters),
                             pointer_array(momentum))
trainable = []
for i in range(count.value):
    flag = i32()
    assert lib.cnnc_parameter_trainable(i32(i), ctypes.byref(flag)) == 0
    trainable.append(bool(flag.value))
values = {float(v) for m, t in zip(momentum, trainable) if t for v in np.unique(m)}
print("cnnc_session_write", written, "cnnc_session_read", read,
      "momentum", " ".join(f"{v:g}" for v in sorted(values)))
lib.cnnc_session_destroy(session)
