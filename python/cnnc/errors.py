"""The exception the package raises when a library call fails."""

# cnnc_status values (runtime/include/cnnc/model_abi.h) by name.
STATUS_NAMES = {
    0: "CNNC_OK",
    1: "CNNC_ERROR_NULL_ARGUMENT",
    2: "CNNC_ERROR_BAD_SHAPE",
    3: "CNNC_ERROR_OUT_OF_RANGE",
    4: "CNNC_ERROR_BAD_CAPACITY",
    5: "CNNC_ERROR_RUNTIME",
    6: "CNNC_ERROR_BAD_LABEL",
}


class Error(RuntimeError):
    """A call into a model library returned a status other than CNNC_OK.

    `status` is the cnnc_status value, `status_name` its C name,
    `status_string` the library's description of it (cnnc_status_string) and
    `detail` what the compiled pipeline reported for CNNC_ERROR_RUNTIME
    (cnnc_last_error; "" otherwise)."""

    def __init__(self, function, status, status_string, detail="", library=""):
        self.function = function
        self.status = status
        self.status_name = STATUS_NAMES.get(status, f"status {status}")
        self.status_string = status_string
        self.detail = detail
        self.library = library
        message = f"{function}: {status_string} ({self.status_name})"
        if detail:
            message += f": {detail}"
        if library:
            message = f"{library}: {message}"
        super().__init__(message)
