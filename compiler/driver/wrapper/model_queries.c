/* The queries of the C ABI (cnnc/model_abi.h): the model's name, shapes,
 * parameters and recipe, answered from its tables (model_tables.h, which
 * the including file has included before this one). No Halide: the runtime's
 * test stand-in for a library (tests/unit/runtime/fake_model.c) answers its
 * queries with this file too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cnnc/model_abi.h"

#ifndef EXPORT
#define EXPORT __attribute__((visibility("default")))
#endif

/* The version the library reports; a test stand-in reports another to test
   the runtime's refusal. */
#ifndef MODEL_ABI_VERSION
#define MODEL_ABI_VERSION CNNC_ABI_VERSION
#endif

EXPORT uint32_t cnnc_abi_version(void) { return MODEL_ABI_VERSION; }

EXPORT const char *cnnc_status_string(int32_t status) {
  switch (status) {
  case CNNC_OK:
    return "ok";
  case CNNC_ERROR_NULL_ARGUMENT:
    return "a required pointer was NULL";
  case CNNC_ERROR_BAD_SHAPE:
    return "a batch size or a shape does not fit";
  case CNNC_ERROR_OUT_OF_RANGE:
    return "an index is out of range";
  case CNNC_ERROR_BAD_CAPACITY:
    return "an output array is too small";
  case CNNC_ERROR_RUNTIME:
    return "the compiled pipeline failed";
  case CNNC_ERROR_BAD_LABEL:
    return "a label is outside [0, number of classes)";
  default:
    return "unknown status";
  }
}

EXPORT cnnc_status cnnc_model_name(const char **name) {
  if (!name)
    return CNNC_ERROR_NULL_ARGUMENT;
  *name = kName;
  return CNNC_OK;
}

static cnnc_status copy_dims(const int64_t *src, int32_t n, int64_t *dims,
                             int32_t capacity, int32_t *rank) {
  if (!dims || !rank)
    return CNNC_ERROR_NULL_ARGUMENT;
  *rank = n;
  if (capacity < n)
    return CNNC_ERROR_BAD_CAPACITY;
  memcpy(dims, src, sizeof(int64_t) * (size_t)n);
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_input_shape(int64_t *dims, int32_t capacity,
                                    int32_t *rank) {
  return copy_dims(kInputDims, kInputRank, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_output_shape(int64_t *dims, int32_t capacity,
                                     int32_t *rank) {
  return copy_dims(kOutputDims, kOutputRank, dims, capacity, rank);
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

EXPORT cnnc_status cnnc_parameter_shape(int32_t index, int64_t *dims,
                                        int32_t capacity, int32_t *rank) {
  if (!dims || !rank)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  return copy_dims(kParamDims[index], kParamRanks[index], dims, capacity, rank);
}

EXPORT cnnc_status cnnc_parameter_trainable(int32_t index, int32_t *trainable) {
  if (!trainable)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *trainable = kParamTrainable[index];
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_parameter_kind(int32_t index, int32_t *kind) {
  if (!kind)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *kind = kParamKind[index];
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_parameter_updated(int32_t index, int32_t *updated) {
  if (!updated)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *updated = kParamUpdated[index];
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_training_recipe(const char **json) {
  if (!json)
    return CNNC_ERROR_NULL_ARGUMENT;
  *json = kRecipe;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_library_info(const char **json) {
  if (!json)
    return CNNC_ERROR_NULL_ARGUMENT;
  *json = kLibraryInfo;
  return CNNC_OK;
}
