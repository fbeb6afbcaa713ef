/* The C ABI of a generated library (examples/lenet.yaml) under misuse: every
 * bad call returns an error status; nothing aborts. A training session
 * computes exactly what the pointer-based steps compute. Prints "N passed,
 * M failed" and exits non-zero on any failure. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (cond) {                                                                \
      ++passed;                                                                \
    } else {                                                                   \
      ++failed;                                                                \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                          \
  } while (0)

static size_t parameter_size(int32_t i) {
  int64_t dims[CNNC_MAX_RANK];
  int32_t rank = 0;
  cnnc_parameter_shape(i, dims, CNNC_MAX_RANK, &rank);
  size_t n = 1;
  for (int32_t d = 0; d < rank; ++d)
    n *= (size_t)dims[d];
  return n;
}

/* Three SGD steps with momentum through a session and through the
   pointer-based call (double buffered here): the same losses and, bit for
   bit, the same parameters and momentum; the session's forward pass uses
   its parameters. `params` are filled with small values first. */
static void sessions_match_pointer_steps(int32_t count, float **params) {
  enum { BATCH = 4 };
  float *x = calloc(BATCH * 3 * 32 * 32, sizeof(float));
  for (int k = 0; k < BATCH * 3 * 32 * 32; ++k)
    x[k] = (float)((k * 37) % 101) / 101.0f - 0.5f;
  const int64_t labels[BATCH] = {0, 3, 9, 3};
  float *v[16] = {0}, *p_new[16] = {0}, *v_new[16] = {0};
  for (int32_t i = 0; i < count; ++i) {
    const size_t n = parameter_size(i);
    for (size_t k = 0; k < n; ++k)
      params[i][k] = (float)((k * 13 + (size_t)i) % 17) / 170.0f - 0.05f;
    v[i] = calloc(n, sizeof(float));
    p_new[i] = calloc(n, sizeof(float));
    v_new[i] = calloc(n, sizeof(float));
  }
  cnnc_session *session = NULL;
  EXPECT(cnnc_session_create(NULL, &session) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_create((const float *const *)params, &session) ==
         CNNC_OK);
  float loss = 0, session_loss = 0;
  EXPECT(cnnc_session_train_step(session, BATCH, NULL, labels, 0.1f, 0.9f,
                                 1e-3f, 1, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  int same = 1;
  for (int step = 0; step < 3; ++step) {
    EXPECT(cnnc_train_step(BATCH, x, labels, (const float *const *)params,
                           (const float *const *)v, p_new, v_new, 0.1f, 0.9f,
                           1e-3f, 1, step == 0, &loss) == CNNC_OK);
    EXPECT(cnnc_session_train_step(session, BATCH, x, labels, 0.1f, 0.9f, 1e-3f,
                                   1, &session_loss) == CNNC_OK);
    same &= loss == session_loss;
    for (int32_t i = 0; i < count; ++i) {
      float *t = params[i];
      params[i] = p_new[i];
      p_new[i] = t;
      t = v[i];
      v[i] = v_new[i];
      v_new[i] = t;
    }
  }
  EXPECT(same);
  /* Read into the spare buffers and compare. */
  EXPECT(cnnc_session_read(session, p_new, v_new) == CNNC_OK);
  for (int32_t i = 0; i < count; ++i)
    for (size_t k = 0; k < parameter_size(i); ++k)
      same &= p_new[i][k] == params[i][k] && v_new[i][k] == v[i][k];
  EXPECT(same);
  float logits[BATCH * 10], session_logits[BATCH * 10];
  EXPECT(cnnc_forward(BATCH, x, (const float *const *)params, logits) ==
         CNNC_OK);
  EXPECT(cnnc_session_forward(session, BATCH, x, session_logits) == CNNC_OK);
  for (int k = 0; k < BATCH * 10; ++k)
    same &= logits[k] == session_logits[k];
  EXPECT(same);
  cnnc_session_destroy(session);
  for (int32_t i = 0; i < count; ++i) {
    free(v[i]);
    free(p_new[i]);
    free(v_new[i]);
  }
  free(x);
}

int main(void) {
  EXPECT(cnnc_abi_version() == CNNC_ABI_VERSION);
  EXPECT(cnnc_status_string(12345) != NULL);

  const char *name = NULL;
  EXPECT(cnnc_model_name(NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_model_name(&name) == CNNC_OK && name != NULL);

  int64_t dims[CNNC_MAX_RANK];
  int32_t rank = -1;
  EXPECT(cnnc_input_shape(NULL, 4, &rank) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_input_shape(dims, 4, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_input_shape(dims, 2, &rank) == CNNC_ERROR_BAD_CAPACITY &&
         rank == 4);
  EXPECT(cnnc_input_shape(dims, 4, &rank) == CNNC_OK && rank == 4 &&
         dims[0] == -1 && dims[1] == 3 && dims[2] == 32 && dims[3] == 32);
  EXPECT(cnnc_output_shape(dims, 4, &rank) == CNNC_OK && rank == 2 &&
         dims[0] == -1 && dims[1] == 10);

  int32_t count = 0;
  EXPECT(cnnc_num_parameters(NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_num_parameters(&count) == CNNC_OK && count == 10);
  EXPECT(cnnc_parameter_name(-1, &name) == CNNC_ERROR_OUT_OF_RANGE);
  EXPECT(cnnc_parameter_name(count, &name) == CNNC_ERROR_OUT_OF_RANGE);
  EXPECT(cnnc_parameter_name(0, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_parameter_shape(count, dims, 4, &rank) ==
         CNNC_ERROR_OUT_OF_RANGE);
  EXPECT(cnnc_parameter_shape(0, dims, 1, &rank) == CNNC_ERROR_BAD_CAPACITY);
  /* ABI 3: LeNet has no buffers; every parameter is learned and updated. */
  int32_t kind = -1, updated = -1;
  EXPECT(cnnc_parameter_kind(0, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_parameter_kind(count, &kind) == CNNC_ERROR_OUT_OF_RANGE);
  EXPECT(cnnc_parameter_updated(-1, &updated) == CNNC_ERROR_OUT_OF_RANGE);
  EXPECT(cnnc_parameter_updated(0, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  for (int32_t i = 0; i < count; ++i) {
    EXPECT(cnnc_parameter_kind(i, &kind) == CNNC_OK &&
           kind == CNNC_KIND_PARAMETER);
    EXPECT(cnnc_parameter_updated(i, &updated) == CNNC_OK && updated == 1);
  }
  /* What the library was built for: the host CPU, and the FLOPs of LeNet's
     convolutions and linear layers as `cnnc summary` counts them (conv1
     710,304 + conv2 481,600 + fc1 96,120 + fc2 20,244 + fc3 1,690 per
     sample); the training step's backward pass adds the input and weight
     gradients (conv1's input gradient is not computed). */
  const char *info = NULL;
  EXPECT(cnnc_library_info(NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_library_info(&info) == CNNC_OK && info != NULL);
  if (info) {
    EXPECT(strstr(info, "\"device\":\"cpu\"") != NULL);
    EXPECT(strstr(info, "\"target\":\"") != NULL);
    EXPECT(strstr(info, "\"forward_flops_per_sample\":1309958,") != NULL);
    const char *train = strstr(info, "\"train_step_flops_per_sample\":");
    EXPECT(train != NULL);
    if (train) {
      const long long flops = atoll(strchr(train, ':') + 1);
      EXPECT(flops > 2 * 1309958LL && flops < 3 * 1309958LL);
    }
  }
  EXPECT(cnnc_set_num_threads(-3) == CNNC_ERROR_BAD_SHAPE);
  EXPECT(cnnc_set_num_threads(1) == CNNC_OK);

  /* Parameters of the right sizes, all zero: the logits equal fc3's zero bias.
   */
  float *params[16] = {0};
  for (int32_t i = 0; i < count; ++i) {
    cnnc_parameter_shape(i, dims, 4, &rank);
    size_t n = 1;
    for (int32_t d = 0; d < rank; ++d)
      n *= (size_t)dims[d];
    params[i] = calloc(n, sizeof(float));
  }
  const float *const *p = (const float *const *)params;
  float *input = calloc(2 * 3 * 32 * 32, sizeof(float));
  float output[2 * 10];
  EXPECT(cnnc_forward(2, NULL, p, output) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_forward(2, input, NULL, output) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_forward(2, input, p, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_forward(0, input, p, output) == CNNC_ERROR_BAD_SHAPE);
  EXPECT(cnnc_forward(-5, input, p, output) == CNNC_ERROR_BAD_SHAPE);
  /* A batch whose element count overflows int32 is refused, not run. */
  EXPECT(cnnc_forward((int64_t)1 << 40, input, p, output) ==
         CNNC_ERROR_BAD_SHAPE);
  /* A batch whose input fits (Halide limits an input to 2^31 - 1 elements)
     but whose intermediates exceed Halide's 2 GiB limit on an allocation
     (pool1's output, 1176 floats a sample; conv1 is fused into that pool):
     Halide reports an error, which must come back as a status (Halide's
     default handler would abort). calloc maps zero pages lazily. */
  const int64_t huge = 600000;
  float *big_input = calloc((size_t)huge * 3 * 32 * 32, sizeof(float));
  float *big_output = calloc((size_t)huge * 10, sizeof(float));
  if (big_input && big_output)
    EXPECT(cnnc_forward(huge, big_input, p, big_output) == CNNC_ERROR_RUNTIME &&
           cnnc_last_error()[0] != '\0');
  free(big_input);
  free(big_output);

  float *missing = params[3];
  params[3] = NULL;
  EXPECT(cnnc_forward(2, input, p, output) == CNNC_ERROR_NULL_ARGUMENT);
  params[3] = missing;
  EXPECT(cnnc_forward(2, input, p, output) == CNNC_OK);
  int zeros = 1;
  for (int i = 0; i < 20; ++i)
    zeros &= output[i] == 0.0f;
  EXPECT(zeros);

  sessions_match_pointer_steps(count, params);

  for (int32_t i = 0; i < count; ++i)
    free(params[i]);
  free(input);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
