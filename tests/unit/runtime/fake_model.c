/* A stand-in for a generated model library, implementing the whole C ABI of
 * cnnc/model_abi.h by hand, so the runtime is tested without the compiler:
 * input [N, 2, 2, 2] -> flatten -> linear 8 -> 3, parameters fc.weight [3, 8]
 * and fc.bias [3].
 *
 * Build variants (compile definitions) give broken libraries to test errors:
 *   FAKE_ABI_VERSION=n   report another ABI version
 *   FAKE_OMIT_FORWARD    leave cnnc_forward out
 */
#include "cnnc/model_abi.h"

#include <stddef.h>

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION CNNC_ABI_VERSION
#endif

#define EXPORT __attribute__((visibility("default")))

enum { IN_FEATURES = 8, OUT_FEATURES = 3, NUM_PARAMS = 2 };

static const int64_t kInput[] = {-1, 2, 2, 2};
static const int64_t kOutput[] = {-1, OUT_FEATURES};
static const char *const kParamNames[NUM_PARAMS] = {"fc.weight", "fc.bias"};
static const int64_t kWeightShape[] = {OUT_FEATURES, IN_FEATURES};
static const int64_t kBiasShape[] = {OUT_FEATURES};

/* The last value given to cnnc_set_num_threads, for the tests to read. */
EXPORT int32_t fake_num_threads = -1;

static cnnc_status copyShape(const int64_t *shape, int32_t n, int64_t *dims,
                             int32_t capacity, int32_t *rank) {
  if (!dims || !rank)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (capacity < n)
    return CNNC_ERROR_BAD_CAPACITY;
  for (int32_t i = 0; i < n; ++i)
    dims[i] = shape[i];
  *rank = n;
  return CNNC_OK;
}

EXPORT uint32_t cnnc_abi_version(void) { return FAKE_ABI_VERSION; }

EXPORT const char *cnnc_status_string(int32_t status) {
  switch (status) {
  case CNNC_OK: return "ok";
  case CNNC_ERROR_NULL_ARGUMENT: return "a required pointer was NULL";
  case CNNC_ERROR_BAD_SHAPE: return "a batch size or a shape does not fit";
  case CNNC_ERROR_OUT_OF_RANGE: return "an index is out of range";
  case CNNC_ERROR_BAD_CAPACITY: return "an output array is too small";
  case CNNC_ERROR_RUNTIME: return "the compiled pipeline failed";
  default: return "unknown status";
  }
}

EXPORT cnnc_status cnnc_model_name(const char **name) {
  if (!name)
    return CNNC_ERROR_NULL_ARGUMENT;
  *name = "fake_linear";
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_input_shape(int64_t *dims, int32_t capacity, int32_t *rank) {
  return copyShape(kInput, 4, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_output_shape(int64_t *dims, int32_t capacity, int32_t *rank) {
  return copyShape(kOutput, 2, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_num_parameters(int32_t *count) {
  if (!count)
    return CNNC_ERROR_NULL_ARGUMENT;
  *count = NUM_PARAMS;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_parameter_name(int32_t index, const char **name) {
  if (!name)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *name = kParamNames[index];
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_parameter_shape(int32_t index, int64_t *dims, int32_t capacity,
                                        int32_t *rank) {
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  return index == 0 ? copyShape(kWeightShape, 2, dims, capacity, rank)
                    : copyShape(kBiasShape, 1, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_set_num_threads(int32_t threads) {
  if (threads < 0)
    return CNNC_ERROR_OUT_OF_RANGE;
  fake_num_threads = threads;
  return CNNC_OK;
}

#ifndef FAKE_OMIT_FORWARD
EXPORT cnnc_status cnnc_forward(int64_t batch, const float *input,
                                const float *const *parameters, float *output) {
  if (!input || !parameters || !output || !parameters[0] || !parameters[1])
    return CNNC_ERROR_NULL_ARGUMENT;
  if (batch < 1)
    return CNNC_ERROR_BAD_SHAPE;
  const float *w = parameters[0], *b = parameters[1];
  for (int64_t n = 0; n < batch; ++n)
    for (int o = 0; o < OUT_FEATURES; ++o) {
      float acc = b[o];
      for (int i = 0; i < IN_FEATURES; ++i)
        acc += input[n * IN_FEATURES + i] * w[o * IN_FEATURES + i];
      output[n * OUT_FEATURES + o] = acc;
    }
  return CNNC_OK;
}
#endif
