"""Calls each training entry point of a model library's C ABI on a batch of
zeros and prints, per function, its status and cnnc_last_error:
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
lib.cnnc_session_destroy(session)
