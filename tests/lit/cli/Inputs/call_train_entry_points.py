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
pointers = (ctypes.c_void_p * max(1, count.value))(
    *[p.ctypes.data for p in parameters])
scratch = (ctypes.c_void_p * max(1, count.value))(
    *[np.empty_like(p).ctypes.data for p in parameters])
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
       lib.cnnc_train_step(*args, pointers, pointers, scratch, scratch,
                           f32(0.1), f32(0), f32(0), i32(0), i32(1),
                           ctypes.byref(loss)))
report("cnnc_gradient_step",
       lib.cnnc_gradient_step(*args, pointers, scratch, scratch,
                              ctypes.c_uint64(0), i64(0), i64(0),
                              ctypes.byref(loss)))
session = ctypes.c_void_p()
assert lib.cnnc_session_create(pointers, ctypes.byref(session)) == 0
report("cnnc_session_train_step",
       lib.cnnc_session_train_step(session, *args, f32(0.1), f32(0), f32(0),
                                   i32(0), ctypes.byref(loss)))
# The session's momentum (zero: created so, and no step with momentum ran).
momentum = [np.full_like(p, 7.0) for p in parameters]
status = lib.cnnc_session_read(
    session, scratch,
    (ctypes.c_void_p * max(1, count.value))(*[m.ctypes.data for m in momentum]))
trainable = []
for i in range(count.value):
    flag = i32()
    assert lib.cnnc_parameter_trainable(i32(i), ctypes.byref(flag)) == 0
    trainable.append(bool(flag.value))
zeros = all(not m.any() for m, t in zip(momentum, trainable) if t)
print("cnnc_session_read", status, "momentum zeros" if zeros else "momentum NOT zero")
lib.cnnc_session_destroy(session)
