/* A stand-in for a generated model library, implementing the C ABI of
 * cnnc/model_abi.h without the compiler, so the runtime is tested without
 * it: its queries are the generated libraries' own (model_queries.c, on the
 * tables below), its computations are written by hand. The model is
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
 *   FAKE_WRONG_GRADIENT  the step's fc.bias gradient is 1.5 times the true
 *                        one (for the gradient check to catch)
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnc/model_abi.h"

#ifdef FAKE_ABI_VERSION
#define MODEL_ABI_VERSION FAKE_ABI_VERSION
#endif

#define EXPORT __attribute__((visibility("default")))

enum { IN_FEATURES = 8, OUT_FEATURES = 3 };

/* The tables a generated library's model_tables.h defines, which the
   generated libraries' own queries (model_queries.c) answer from. */
static const char *const kName = "fake_linear";
static const int64_t kInputDims[] = {-1, 2, 2, 2};
static const int64_t kOutputDims[] = {-1, OUT_FEATURES};
static const int32_t kInputRank = 4, kOutputRank = 2;
#define NUM_PARAMS 2
#ifdef FAKE_HEAD
#define FAKE_PREFIX "head"
#else
#define FAKE_PREFIX "fc"
#endif
static const char *const kParamNames[NUM_PARAMS] = {FAKE_PREFIX ".weight",
                                                    FAKE_PREFIX ".bias"};
static const int32_t kParamRanks[NUM_PARAMS] = {2, 1};
static const int64_t kParamDims[NUM_PARAMS][CNNC_MAX_RANK] = {
    {OUT_FEATURES, IN_FEATURES}, {OUT_FEATURES}};
/* No buffers: every parameter is a learned one, updated when trainable. */
static const int32_t kParamKind[NUM_PARAMS] = {CNNC_KIND_PARAMETER,
                                               CNNC_KIND_PARAMETER};
#ifdef FAKE_FROZEN_BIAS
static const int32_t kParamTrainable[NUM_PARAMS] = {1, 0};
static const int32_t kParamUpdated[NUM_PARAMS] = {1, 0};
#else
static const int32_t kParamTrainable[NUM_PARAMS] = {1, 1};
static const int32_t kParamUpdated[NUM_PARAMS] = {1, 1};
#endif
/* FAKE_DEVICE: a GPU library's info (the pipelines still run here). */
#ifndef FAKE_DEVICE
#define FAKE_DEVICE "cpu"
#endif
static const char *const kLibraryInfo =
    "{\"target\": \"fake\", \"device\": \"" FAKE_DEVICE "\", "
    "\"forward_flops_per_sample\": 12, \"train_step_flops_per_sample\": 36}";
#ifdef FAKE_NORMALIZE
static const char *const kRecipe =
    "{\"batch_size\": 2, \"normalize\": {\"mean\": [1.0], \"std\": [2.0]}}";
#else
static const char *const kRecipe =
    "{\"batch_size\": 4, \"epochs\": 2, \"optimizer\": {\"sgd\": {\"lr\": 0.1, "
    "\"momentum\": 0.9, \"weight_decay\": 0.0001, \"nesterov\": false}}, "
    "\"lr_schedule\": {\"step\": {\"step_size\": 1, \"gamma\": 0.5}}}";
#endif

#include "model_queries.c"

/* The last value given to cnnc_set_num_threads, for the tests to read. */
EXPORT int32_t fake_num_threads = -1;

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

/* The dropout seed and step index of the last step (the network has no
   dropout: they are only recorded, for the tests to read). */
EXPORT uint64_t fake_last_seed = 0;
EXPORT int64_t fake_last_step_index = -1;

EXPORT cnnc_status cnnc_train_step_seeded(
    int64_t batch, const float *input, const int64_t *labels,
    const float *const *parameters, const float *const *momentum,
    float *const *new_parameters, float *const *new_momentum, float lr,
    float momentum_factor, float weight_decay, int32_t nesterov,
    int32_t first_step, uint64_t seed, int64_t step, float *loss) {
  if (!input || !labels || !parameters || !momentum || !new_parameters ||
      !new_momentum || !loss || !parameters[0] || !parameters[1])
    return CNNC_ERROR_NULL_ARGUMENT;
  if (batch < 1)
    return CNNC_ERROR_BAD_SHAPE;
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kParamTrainable[i] &&
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
#ifdef FAKE_WRONG_GRADIENT
    gradB[k] = (float)(1.5 * gb[k]);
#else
    gradB[k] = (float)gb[k];
#endif
  const float *grads[NUM_PARAMS] = {gradW, gradB};
  const int64_t sizes[NUM_PARAMS] = {OUT_FEATURES * IN_FEATURES, OUT_FEATURES};
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kParamTrainable[i])
      sgd(sizes[i], parameters[i], grads[i], momentum[i], new_parameters[i],
          new_momentum[i], lr, momentum_factor, weight_decay, nesterov,
          first_step);
  *loss = (float)(total / (double)batch);
  ++fake_train_steps;
  fake_last_seed = seed;
  fake_last_step_index = step;
  return CNNC_OK;
}
