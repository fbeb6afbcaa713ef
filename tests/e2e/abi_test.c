/* The C ABI of a generated library (examples/lenet.yaml) under misuse: every
 * bad call returns an error status; nothing aborts. A training session
 * computes exactly what the pointer-based steps compute. Prints "N passed,
 * M failed" and exits non-zero on any failure. */
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Zero-filled memory for a huge batch, mapped lazily (MAP_NORESERVE):
   the calls fail before touching most of it, and a sanitizer's calloc
   would write every page. NULL if the mapping fails. */
static void *huge_zeros(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void free_huge(void *p, size_t bytes) {
  if (p)
    munmap(p, bytes);
}

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

/* Parameter-shaped arrays: small values in `fill`, zeros otherwise. */
static void alloc_like_parameters(int32_t count, float **arrays, int fill) {
  for (int32_t i = 0; i < count; ++i) {
    const size_t n = parameter_size(i);
    arrays[i] = calloc(n, sizeof(float));
    for (size_t k = 0; fill && k < n; ++k)
      arrays[i][k] = (float)((k * 7 + (size_t)i) % 19) / 190.0f - 0.05f;
  }
}

static void free_arrays(int32_t count, float **arrays) {
  for (int32_t i = 0; i < count; ++i)
    free(arrays[i]);
}

/* Whether the first `count` arrays of `a` and `b` hold the same bits. */
static int same_arrays(int32_t count, float *const *a, float *const *b) {
  int same = 1;
  for (int32_t i = 0; i < count; ++i)
    same &= memcmp(a[i], b[i], parameter_size(i) * sizeof(float)) == 0;
  return same;
}

enum { MISUSE_BATCH = 3 };

static float *misuse_input(int64_t batch) {
  float *x = calloc((size_t)batch * 3 * 32 * 32, sizeof(float));
  for (int64_t k = 0; x && k < batch * 3 * 32 * 32; ++k)
    x[k] = (float)((k * 29) % 97) / 97.0f - 0.5f;
  return x;
}

/* Every misuse of cnnc_train_step returns its status, writes nothing the
   caller sees as a result, and leaves the library usable: a good step
   afterwards gives the bits of a good step before. */
static void train_step_misuse(int32_t count) {
  float *params[16] = {0}, *v[16] = {0}, *p_new[16] = {0}, *v_new[16] = {0},
        *p_ref[16] = {0}, *v_ref[16] = {0};
  alloc_like_parameters(count, params, 1);
  alloc_like_parameters(count, v, 1);
  alloc_like_parameters(count, p_new, 0);
  alloc_like_parameters(count, v_new, 0);
  alloc_like_parameters(count, p_ref, 0);
  alloc_like_parameters(count, v_ref, 0);
  const float *const *p = (const float *const *)params;
  const float *const *m = (const float *const *)v;
  float *x = misuse_input(MISUSE_BATCH);
  int64_t labels[MISUSE_BATCH] = {1, 7, 4};
  float loss_ref = 0, loss = -1;
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_ref, v_ref, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss_ref) == CNNC_OK);

  EXPECT(cnnc_train_step(MISUSE_BATCH, NULL, labels, p, m, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, NULL, p, m, p_new, v_new, 0.05f, 0.9f,
                         1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, NULL, m, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, NULL, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, NULL, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_new, NULL, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  /* A NULL entry of each pointer array. */
  float **arrays[] = {params, v, p_new, v_new};
  for (int a = 0; a < 4; ++a) {
    float *kept = arrays[a][count - 1];
    arrays[a][count - 1] = NULL;
    EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_new, v_new, 0.05f,
                           0.9f, 1e-4f, 0, 0,
                           &loss) == CNNC_ERROR_NULL_ARGUMENT);
    arrays[a][count - 1] = kept;
  }
  const int64_t bad_batches[] = {0, -1, INT64_MIN, (int64_t)1 << 40, INT64_MAX};
  for (size_t b = 0; b < sizeof bad_batches / sizeof *bad_batches; ++b)
    EXPECT(cnnc_train_step(bad_batches[b], x, labels, p, m, p_new, v_new, 0.05f,
                           0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_BAD_SHAPE);
  const int64_t bad_labels[] = {-1, 10, INT64_MAX};
  for (int b = 0; b < 3; ++b) {
    labels[2] = bad_labels[b];
    EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_new, v_new, 0.05f,
                           0.9f, 1e-4f, 0, 0, &loss) == CNNC_ERROR_BAD_LABEL);
  }
  labels[2] = 4;
  EXPECT(loss == -1);
  /* A batch whose intermediates exceed Halide's 2 GiB allocation limit: an
     allocation failure, reported as a status (labels all 0, a valid
     class). */
  const int64_t huge = 600000;
  const size_t input_bytes = (size_t)huge * 3 * 32 * 32 * sizeof(float),
               label_bytes = (size_t)huge * sizeof(int64_t);
  float *big_input = huge_zeros(input_bytes);
  int64_t *big_labels = huge_zeros(label_bytes);
  EXPECT(big_input && big_labels);
  if (big_input && big_labels)
    EXPECT(cnnc_train_step(huge, big_input, big_labels, p, m, p_new, v_new,
                           0.05f, 0.9f, 1e-4f, 0, 0,
                           &loss) == CNNC_ERROR_RUNTIME &&
           cnnc_last_error()[0] != '\0');
  free_huge(big_input, input_bytes);
  free_huge(big_labels, label_bytes);

  /* Still usable, and exactly as before. */
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels, p, m, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &loss) == CNNC_OK);
  EXPECT(loss == loss_ref);
  EXPECT(same_arrays(count, p_new, p_ref) && same_arrays(count, v_new, v_ref));
  /* The seeded step of a network without dropout is the same step. */
  EXPECT(cnnc_train_step_seeded(MISUSE_BATCH, x, labels, p, m, p_new, v_new,
                                0.05f, 0.9f, 1e-4f, 0, 0, 12345, 67,
                                &loss) == CNNC_OK &&
         loss == loss_ref);
  EXPECT(cnnc_train_step_seeded(MISUSE_BATCH, x, NULL, p, m, p_new, v_new,
                                0.05f, 0.9f, 1e-4f, 0, 0, 1, 0,
                                &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_train_step_seeded(-4, x, labels, p, m, p_new, v_new, 0.05f, 0.9f,
                                1e-4f, 0, 0, 1, 0,
                                &loss) == CNNC_ERROR_BAD_SHAPE);
  free(x);
  float **all[] = {params, v, p_new, v_new, p_ref, v_ref};
  for (int a = 0; a < 6; ++a)
    free_arrays(count, all[a]);
}

/* Every session call with a NULL session or a bad argument returns its
   status and leaves the session's state as it was: after the errors, its
   parameters and momentum read back unchanged and its next step is the one
   it would have taken. */
static void session_misuse(int32_t count) {
  float *params[16] = {0}, *read_p[16] = {0}, *read_v[16] = {0},
        *before_p[16] = {0}, *before_v[16] = {0};
  alloc_like_parameters(count, params, 1);
  alloc_like_parameters(count, read_p, 0);
  alloc_like_parameters(count, read_v, 0);
  alloc_like_parameters(count, before_p, 0);
  alloc_like_parameters(count, before_v, 0);
  float *x = misuse_input(MISUSE_BATCH);
  int64_t labels[MISUSE_BATCH] = {2, 0, 9};
  float loss = 0, out[MISUSE_BATCH * 10];

  cnnc_session_destroy(NULL); /* ignored */
  EXPECT(cnnc_session_train_step(NULL, MISUSE_BATCH, x, labels, 0.05f, 0.9f, 0,
                                 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_forward(NULL, MISUSE_BATCH, x, out) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_read(NULL, read_p, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_write(NULL, (const float *const *)params, NULL, 0) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_set_seed(NULL, 1) == CNNC_ERROR_NULL_ARGUMENT);

  cnnc_session *session = NULL;
  float *kept = params[0];
  params[0] = NULL;
  EXPECT(cnnc_session_create((const float *const *)params, &session) ==
             CNNC_ERROR_NULL_ARGUMENT &&
         session == NULL);
  params[0] = kept;
  EXPECT(cnnc_session_create((const float *const *)params, NULL) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_create((const float *const *)params, &session) ==
         CNNC_OK);
  if (!session)
    return;
  /* One good step, then the state to compare with. */
  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, x, labels, 0.05f, 0.9f,
                                 1e-4f, 0, &loss) == CNNC_OK);
  EXPECT(cnnc_session_read(session, before_p, before_v) == CNNC_OK);

  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, NULL, labels, 0.05f,
                                 0.9f, 0, 0,
                                 &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, x, NULL, 0.05f, 0.9f, 0,
                                 0, &loss) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, x, labels, 0.05f, 0.9f,
                                 0, 0, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_train_step(session, 0, x, labels, 0.05f, 0.9f, 0, 0,
                                 &loss) == CNNC_ERROR_BAD_SHAPE);
  EXPECT(cnnc_session_train_step(session, (int64_t)1 << 40, x, labels, 0.05f,
                                 0.9f, 0, 0, &loss) == CNNC_ERROR_BAD_SHAPE);
  labels[1] = 10;
  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, x, labels, 0.05f, 0.9f,
                                 0, 0, &loss) == CNNC_ERROR_BAD_LABEL);
  labels[1] = 0;
  const int64_t huge = 600000;
  const size_t input_bytes = (size_t)huge * 3 * 32 * 32 * sizeof(float),
               label_bytes = (size_t)huge * sizeof(int64_t),
               output_bytes = (size_t)huge * 10 * sizeof(float);
  float *big_input = huge_zeros(input_bytes);
  int64_t *big_labels = huge_zeros(label_bytes);
  float *big_output = huge_zeros(output_bytes);
  EXPECT(big_input && big_labels && big_output);
  if (big_input && big_labels && big_output) {
    EXPECT(cnnc_session_train_step(session, huge, big_input, big_labels, 0.05f,
                                   0.9f, 0, 0, &loss) == CNNC_ERROR_RUNTIME);
    EXPECT(cnnc_session_forward(session, huge, big_input, big_output) ==
           CNNC_ERROR_RUNTIME);
  }
  free_huge(big_input, input_bytes);
  free_huge(big_labels, label_bytes);
  free_huge(big_output, output_bytes);
  EXPECT(cnnc_session_forward(session, MISUSE_BATCH, NULL, out) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_forward(session, MISUSE_BATCH, x, NULL) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_forward(session, -2, x, out) == CNNC_ERROR_BAD_SHAPE);
  EXPECT(cnnc_session_read(session, NULL, NULL) == CNNC_ERROR_NULL_ARGUMENT);
  kept = read_v[0];
  read_v[0] = NULL;
  EXPECT(cnnc_session_read(session, read_p, read_v) ==
         CNNC_ERROR_NULL_ARGUMENT);
  read_v[0] = kept;
  EXPECT(cnnc_session_write(session, NULL, NULL, 0) ==
         CNNC_ERROR_NULL_ARGUMENT);
  EXPECT(cnnc_session_write(session, (const float *const *)params, NULL, -1) ==
         CNNC_ERROR_OUT_OF_RANGE);
  kept = params[count - 1];
  params[count - 1] = NULL;
  EXPECT(cnnc_session_write(session, (const float *const *)params, NULL, 0) ==
         CNNC_ERROR_NULL_ARGUMENT);
  params[count - 1] = kept;

  EXPECT(cnnc_session_read(session, read_p, read_v) == CNNC_OK);
  EXPECT(same_arrays(count, read_p, before_p) &&
         same_arrays(count, read_v, before_v));
  /* The next step is the second: the pointer-based second step from the
     state read gives the same loss and parameters. */
  float *p_new[16] = {0}, *v_new[16] = {0};
  alloc_like_parameters(count, p_new, 0);
  alloc_like_parameters(count, v_new, 0);
  float pointer_loss = 0;
  EXPECT(cnnc_train_step(MISUSE_BATCH, x, labels,
                         (const float *const *)before_p,
                         (const float *const *)before_v, p_new, v_new, 0.05f,
                         0.9f, 1e-4f, 0, 0, &pointer_loss) == CNNC_OK);
  EXPECT(cnnc_session_train_step(session, MISUSE_BATCH, x, labels, 0.05f, 0.9f,
                                 1e-4f, 0, &loss) == CNNC_OK &&
         loss == pointer_loss);
  EXPECT(cnnc_session_read(session, read_p, read_v) == CNNC_OK);
  EXPECT(same_arrays(count, read_p, p_new) &&
         same_arrays(count, read_v, v_new));
  cnnc_session_destroy(session);
  free(x);
  float **all[] = {params, read_p, read_v, before_p, before_v, p_new, v_new};
  for (int a = 0; a < 7; ++a)
    free_arrays(count, all[a]);
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
     default handler would abort). */
  const int64_t huge = 600000;
  const size_t input_bytes = (size_t)huge * 3 * 32 * 32 * sizeof(float),
               output_bytes = (size_t)huge * 10 * sizeof(float);
  float *big_input = huge_zeros(input_bytes);
  float *big_output = huge_zeros(output_bytes);
  EXPECT(big_input && big_output);
  if (big_input && big_output)
    EXPECT(cnnc_forward(huge, big_input, p, big_output) == CNNC_ERROR_RUNTIME &&
           cnnc_last_error()[0] != '\0');
  free_huge(big_input, input_bytes);
  free_huge(big_output, output_bytes);

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
  train_step_misuse(count);
  session_misuse(count);
  /* Every status has a description, unknown ones too. */
  for (int32_t status = -1; status <= CNNC_ERROR_BAD_LABEL + 1; ++status)
    EXPECT(cnnc_status_string(status) != NULL &&
           cnnc_status_string(status)[0] != '\0');

  for (int32_t i = 0; i < count; ++i)
    free(params[i]);
  free(input);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
