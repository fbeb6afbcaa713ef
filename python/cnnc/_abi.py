"""ctypes declarations of the generated library's C ABI
(runtime/include/cnnc/model_abi.h) and the call wrapper that turns a status
into an exception."""
import ctypes

from .errors import Error

ABI_VERSION = 6
MAX_RANK = 4

c_float_p = ctypes.POINTER(ctypes.c_float)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_float_pp = ctypes.POINTER(c_float_p)
_status = ctypes.c_int32
_out_i32 = ctypes.POINTER(ctypes.c_int32)
_out_str = ctypes.POINTER(ctypes.c_char_p)

# name: (result type, argument types). Optional ones may be missing in
# libraries built before them.
_PROTOTYPES = {
    "cnnc_abi_version": (ctypes.c_uint32, []),
    "cnnc_status_string": (ctypes.c_char_p, [ctypes.c_int32]),
    "cnnc_model_name": (_status, [_out_str]),
    "cnnc_input_shape": (_status, [c_int64_p, ctypes.c_int32, _out_i32]),
    "cnnc_output_shape": (_status, [c_int64_p, ctypes.c_int32, _out_i32]),
    "cnnc_num_parameters": (_status, [_out_i32]),
    "cnnc_parameter_name": (_status, [ctypes.c_int32, _out_str]),
    "cnnc_parameter_shape": (_status, [ctypes.c_int32, c_int64_p,
                                       ctypes.c_int32, _out_i32]),
    "cnnc_parameter_trainable": (_status, [ctypes.c_int32, _out_i32]),
    "cnnc_parameter_kind": (_status, [ctypes.c_int32, _out_i32]),
    "cnnc_parameter_updated": (_status, [ctypes.c_int32, _out_i32]),
    "cnnc_training_recipe": (_status, [_out_str]),
    "cnnc_set_num_threads": (_status, [ctypes.c_int32]),
    "cnnc_forward": (_status, [ctypes.c_int64, c_float_p, c_float_pp,
                               c_float_p]),
    "cnnc_train_step_seeded": (_status, [
        ctypes.c_int64, c_float_p, c_int64_p, c_float_pp, c_float_pp,
        c_float_pp, c_float_pp, ctypes.c_float, ctypes.c_float,
        ctypes.c_float, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64,
        ctypes.c_int64, c_float_p]),
}
_OPTIONAL = {
    "cnnc_last_error": (ctypes.c_char_p, []),
    "cnnc_library_info": (_status, [_out_str]),
}


class Library:
    """A loaded model library: its functions with their prototypes (under
    their cnnc_* names, whatever `prefix` the library was compiled with),
    and `call`, which raises Error for a status other than CNNC_OK.

    ctypes loads with RTLD_LOCAL, so libraries of different models live side
    by side in one process (each exports the same cnnc_* names)."""

    def __init__(self, path, prefix="cnnc"):
        self.path = path
        try:
            self._dll = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        except OSError as e:
            raise OSError(f"{path}: cannot load the model library: {e}") from None
        self.functions = {}
        for name, (restype, argtypes) in {**_PROTOTYPES, **_OPTIONAL}.items():
            # A library compiled with --prefix NAME names them NAME_*.
            symbol = prefix + name[len("cnnc"):]
            try:
                function = getattr(self._dll, symbol)
            except AttributeError:
                if name in _OPTIONAL:
                    continue
                hint = "" if prefix != "cnnc" else \
                    " (pass prefix=NAME for a library compiled with --prefix NAME)"
                raise OSError(f"{path}: not a cnnc model library (no symbol "
                              f"{symbol}){hint}") from None
            function.restype, function.argtypes = restype, argtypes
            self.functions[name] = function
        version = self.functions["cnnc_abi_version"]()
        if version != ABI_VERSION:
            raise OSError(f"{path}: built for cnnc ABI {version}, this package "
                          f"speaks ABI {ABI_VERSION}; recompile the network "
                          "with this cnnc")

    def has(self, name):
        return name in self.functions

    def status_string(self, status):
        return self.functions["cnnc_status_string"](status).decode()

    def last_error(self):
        if not self.has("cnnc_last_error"):
            return ""
        return (self.functions["cnnc_last_error"]() or b"").decode(errors="replace")

    def call(self, name, *args):
        status = self.functions[name](*args)
        if status != 0:
            detail = self.last_error() if status == 5 else ""
            raise Error(name, status, self.status_string(status), detail,
                        self.path)

    def query_string(self, name, *args):
        value = ctypes.c_char_p()
        self.call(name, *args, ctypes.byref(value))
        return (value.value or b"").decode()

    def query_int(self, name, *args):
        value = ctypes.c_int32()
        self.call(name, *args, ctypes.byref(value))
        return value.value

    def query_shape(self, name, *args):
        dims = (ctypes.c_int64 * MAX_RANK)()
        rank = ctypes.c_int32()
        self.call(name, *args, dims, MAX_RANK, ctypes.byref(rank))
        return tuple(dims[i] for i in range(rank.value))


def float_pointer(array):
    return None if array is None else array.ctypes.data_as(c_float_p)


def float_pointers(arrays):
    """A C array of float pointers (NULL for None) to `arrays`."""
    return (c_float_p * max(len(arrays), 1))(*[float_pointer(a) for a in arrays])
