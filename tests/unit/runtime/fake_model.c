/* A stand-in for a generated model library, implementing the whole C ABI of
 * cnnc/model_abi.h by hand, so the runtime is tested without the compiler:
 * input [N, 2, 2, 2] -> flatten -> linear 8 -> 3, parameters fc.weight [3, 8]
 * and fc.bias [3].
 *
 * It is a real (if tiny) trainable softmax classifier: cnnc_train_step
 * computes the mean softmax cross-entropy, its gradient and PyTorch's SGD
 * update exactly as model_abi.h specifies, so the runtime's training loop can
 * be tested for learning and for exactness.
 *
 * Build variants (compile definitions) give other libraries:
 *   FAKE_ABI_VERSION=n   report another ABI version
 *   FAKE_OMIT_FORWARD    leave cnnc_forward out
 *   FAKE_FROZEN_BIAS     fc.bias is frozen (cnnc_parameter_trainable = 0)
 *   FAKE_HEAD            parameters head.weight / head.bias (another network)
 *   FAKE_NORMALIZE       a recipe with normalize {mean [1], std [2]}
 */
#include "cnnc/model_abi.h"

#include <math.h>
#include <stddef.h>

#ifndef FAKE_ABI_VERSION
#define FAKE_ABI_VERSION CNNC_ABI_VERSION
#endif

#define EXPORT __attribute__((visibility("default")))

enum { IN_FEATURES = 8, OUT_FEATURES = 3, NUM_PARAMS = 2 };

static const int64_t kInput[] = {-1, 2, 2, 2};
static const int64_t kOutput[] = {-1, OUT_FEATURES};
#ifdef FAKE_HEAD
#define FAKE_PREFIX "head"
#else
#define FAKE_PREFIX "fc"
#endif
#ifdef FAKE_NORMALIZE
#define FAKE_RECIPE                                                            \
  "{\"batch_size\": 2, \"normalize\": {\"mean\": [1.0], \"std\": [2.0]}}"
#else
#define FAKE_RECIPE                                                            \
  "{\"batch_size\": 4, \"epochs\": 2, \"optimizer\": {\"sgd\": {\"lr\": 0.1, " \
  "\"momentum\": 0.9, \"weight_decay\": 0.0001, \"nesterov\": false}}, "       \
  "\"lr_schedule\": {\"step\": {\"step_size\": 1, \"gamma\": 0.5}}}"
#endif
#ifdef FAKE_FROZEN_BIAS
static const int32_t kTrainable[NUM_PARAMS] = {1, 0};
#else
static const int32_t kTrainable[NUM_PARAMS] = {1, 1};
#endif
static const char *const kParamNames[NUM_PARAMS] = {FAKE_PREFIX ".weight",
                                                    FAKE_PREFIX ".bias"};
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
  *name = "fake_linear";
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_input_shape(int64_t *dims, int32_t capacity,
                                    int32_t *rank) {
  return copyShape(kInput, 4, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_output_shape(int64_t *dims, int32_t capacity,
                                     int32_t *rank) {
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

EXPORT cnnc_status cnnc_parameter_shape(int32_t index, int64_t *dims,
                                        int32_t capacity, int32_t *rank) {
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  return index == 0 ? copyShape(kWeightShape, 2, dims, capacity, rank)
                    : copyShape(kBiasShape, 1, dims, capacity, rank);
}

EXPORT cnnc_status cnnc_parameter_trainable(int32_t index, int32_t *trainable) {
  if (!trainable)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *trainable = kTrainable[index];
  return CNNC_OK;
}

/* No buffers: every parameter is a learned one, updated when trainable. */
EXPORT cnnc_status cnnc_parameter_kind(int32_t index, int32_t *kind) {
  if (!kind)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PARAMS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *kind = CNNC_KIND_PARAMETER;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_parameter_updated(int32_t index, int32_t *updated) {
  return cnnc_parameter_trainable(index, updated);
}

EXPORT cnnc_status cnnc_training_recipe(const char **json) {
  if (!json)
    return CNNC_ERROR_NULL_ARGUMENT;
  *json = FAKE_RECIPE;
  return CNNC_OK;
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

/* The number of cnnc_train_step calls, for the tests to read. */
EXPORT int64_t fake_train_steps = 0;

/* PyTorch's SGD for one tensor of n elements (see model_abi.h). */
static void sgd(int64_t n, const float *p, const float *grad, const float *v,
                float *p_new, float *v_new, float lr, float mu, float wd,
                int32_t nesterov, int32_t first_step) {
  for (int64_t k = 0; k < n; ++k) {
    float g = grad[k] + wd * p[k];
    float d = g;
    if (mu != 0.0f) {
      float vk = first_step ? g : mu * v[k] + g;
      v_new[k] = vk;
      d = nesterov ? g + mu * vk : vk;
    }
    p_new[k] = p[k] - lr * d;
  }
}

EXPORT cnnc_status
cnnc_train_step(int64_t batch, const float *input, const int64_t *labels,
                const float *const *parameters, const float *const *momentum,
                float *const *new_parameters, float *const *new_momentum,
                float lr, float momentum_factor, float weight_decay,
                int32_t nesterov, int32_t first_step, float *loss) {
  if (!input || !labels || !parameters || !momentum || !new_parameters ||
      !new_momentum || !loss || !parameters[0] || !parameters[1])
    return CNNC_ERROR_NULL_ARGUMENT;
  if (batch < 1)
    return CNNC_ERROR_BAD_SHAPE;
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kTrainable[i] &&
        (!new_parameters[i] ||
         (momentum_factor != 0.0f && (!momentum[i] || !new_momentum[i]))))
      return CNNC_ERROR_NULL_ARGUMENT;
  for (int64_t n = 0; n < batch; ++n)
    if (labels[n] < 0 || labels[n] >= OUT_FEATURES)
      return CNNC_ERROR_BAD_LABEL;

  const float *w = parameters[0], *b = parameters[1];
  double gw[OUT_FEATURES * IN_FEATURES] = {0}, gb[OUT_FEATURES] = {0};
  double total = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const float *x = input + n * IN_FEATURES;
    double z[OUT_FEATURES], m = -INFINITY, sum = 0;
    for (int o = 0; o < OUT_FEATURES; ++o) {
      float acc = b[o];
      for (int i = 0; i < IN_FEATURES; ++i)
        acc += x[i] * w[o * IN_FEATURES + i];
      z[o] = acc;
      if (z[o] > m)
        m = z[o];
    }
    for (int o = 0; o < OUT_FEATURES; ++o)
      sum += exp(z[o] - m);
    total += m + log(sum) - z[labels[n]];
    for (int o = 0; o < OUT_FEATURES; ++o) {
      double dz =
          (exp(z[o] - m) / sum - (o == labels[n] ? 1.0 : 0.0)) / (double)batch;
      gb[o] += dz;
      for (int i = 0; i < IN_FEATURES; ++i)
        gw[o * IN_FEATURES + i] += dz * x[i];
    }
  }
  float gradW[OUT_FEATURES * IN_FEATURES], gradB[OUT_FEATURES];
  for (int k = 0; k < OUT_FEATURES * IN_FEATURES; ++k)
    gradW[k] = (float)gw[k];
  for (int k = 0; k < OUT_FEATURES; ++k)
    gradB[k] = (float)gb[k];
  const float *grads[NUM_PARAMS] = {gradW, gradB};
  const int64_t sizes[NUM_PARAMS] = {OUT_FEATURES * IN_FEATURES, OUT_FEATURES};
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kTrainable[i])
      sgd(sizes[i], parameters[i], grads[i], momentum[i], new_parameters[i],
          new_momentum[i], lr, momentum_factor, weight_decay, nesterov,
          first_step);
  *loss = (float)(total / (double)batch);
  ++fake_train_steps;
  return CNNC_OK;
}
