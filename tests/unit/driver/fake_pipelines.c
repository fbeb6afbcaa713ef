/* The fake model's Halide pipelines and the Halide runtime functions the
 * wrapper calls, for WrapperTest.cpp: they compute small known results and
 * record what they were passed. */
#include "fake_pipelines.h"

#include <stdlib.h>
#include <string.h>

#include "HalideRuntime.h"

struct fake_record fake_last;

static float *host(void *buffer) {
  return (float *)((struct halide_buffer_t *)buffer)->host;
}

static int32_t extent(void *buffer, int dim) {
  return ((struct halide_buffer_t *)buffer)->dim[dim].extent;
}

/* t[n][o] = sum_k x[n][k] * w[o][k]; args: input, w, m, then t. */
int fake_forward_s0_argv(void **args) {
  const float *x = host(args[0]), *w = host(args[1]);
  float *t = host(args[3]);
  const int32_t batch = extent(args[0], 1);
  fake_last.intermediate_extent = extent(args[3], 1);
  fake_last.intermediate = t;
  for (int32_t n = 0; n < batch; ++n)
    for (int o = 0; o < 3; ++o)
      t[n * 3 + o] = x[n * 2] * w[o * 2] + x[n * 2 + 1] * w[o * 2 + 1];
  return 0;
}

/* logits[n][o] = t[n][o] + m[o]; args: input, w, m, t, then logits. */
int fake_forward_s1_argv(void **args) {
  const float *m = host(args[2]), *t = host(args[3]);
  float *logits = host(args[4]);
  const int32_t batch = extent(args[0], 1);
  if (t != fake_last.intermediate)
    return -1; /* not the buffer the first segment wrote */
  for (int32_t n = 0; n < batch; ++n)
    for (int o = 0; o < 3; ++o)
      logits[n * 3 + o] = t[n * 3 + o] + m[o];
  return 0;
}

/* The argument of the last training step that `buffer` is, or -1. */
static int train_arg(const struct halide_buffer_t *buffer) {
  for (int i = 0; i < 14; ++i)
    if (fake_last.train_args[i] == buffer)
      return i;
  return -1;
}

int fake_train_argv(void **args) {
  memcpy(fake_last.train_args, args, sizeof(void *) * 14);
  for (int i = 0; i < 14; ++i) {
    const struct halide_buffer_t *b = (struct halide_buffer_t *)args[i];
    /* Arguments 5 to 9 are scalars. */
    const bool buffer = i < 5 || i > 9;
    fake_last.host_dirty[i] =
        buffer && (b->flags & halide_buffer_flag_host_dirty);
    if (buffer) {
      fake_last.train_buffers[i] = *b;
      memcpy(fake_last.train_dims[i], b->dim,
             sizeof(halide_dimension_t) * (size_t)b->dimensions);
      fake_last.train_buffers[i].dim = fake_last.train_dims[i];
      /* As a GPU pipeline does once it has copied a buffer to the device. */
      ((struct halide_buffer_t *)b)->flags &=
          ~(uint64_t)halide_buffer_flag_host_dirty;
    }
    fake_last.copies_to_host[i] = fake_last.device_frees[i] = 0;
  }
  fake_last.lr = *(float *)args[5];
  fake_last.momentum = *(float *)args[6];
  fake_last.weight_decay = *(float *)args[7];
  fake_last.nesterov = *(bool *)args[8];
  fake_last.first_step = *(bool *)args[9];
  if (fake_last.fail_train) {
    if (fake_last.fail_message)
      halide_error(NULL, fake_last.fail_message);
    return -1;
  }
  *host(args[10]) = 1.5f; /* the loss */
  /* SGD on a gradient of ones: w (args 2, 6 values) with its momentum
     (args 4), and m (args 3, 3 values) counts the steps. */
  const float *w = host(args[2]), *m = host(args[3]), *v = host(args[4]);
  float *w_new = host(args[11]), *v_new = host(args[12]),
        *m_new = host(args[13]);
  for (int k = 0; k < 6; ++k) {
    v_new[k] = fake_last.first_step ? 1 : fake_last.momentum * v[k] + 1;
    w_new[k] = w[k] - fake_last.lr * v_new[k];
  }
  for (int k = 0; k < 3; ++k)
    m_new[k] = m[k] + 1;
  return 0;
}

/* The Halide runtime functions the wrapper calls (a library carries its
   own compiled runtime). */
static halide_error_handler_t fake_error_handler;
halide_error_handler_t halide_set_error_handler(halide_error_handler_t h) {
  fake_error_handler = h;
  return NULL;
}
void halide_error(void *user_context, const char *message) {
  if (fake_error_handler)
    fake_error_handler(user_context, message);
}
halide_malloc_t halide_set_custom_malloc(halide_malloc_t user_malloc) {
  fake_last.custom_malloc = user_malloc;
  return NULL;
}
halide_free_t halide_set_custom_free(halide_free_t user_free) {
  fake_last.custom_free = user_free;
  return NULL;
}
halide_do_par_for_t halide_set_custom_do_par_for(halide_do_par_for_t f) {
  fake_last.custom_do_par_for = f;
  return NULL;
}
int halide_set_num_threads(int n) {
  fake_last.threads = n;
  return n;
}
void *halide_malloc(void *user_context, size_t size) {
  ++fake_last.allocations;
  return fake_last.custom_malloc(user_context, size);
}
int halide_copy_to_host(void *user_context, struct halide_buffer_t *buf) {
  (void)user_context;
  int i = train_arg(buf);
  if (i >= 0)
    ++fake_last.copies_to_host[i];
  return 0;
}
int halide_device_free(void *user_context, struct halide_buffer_t *buf) {
  (void)user_context;
  int i = train_arg(buf);
  if (i >= 0)
    ++fake_last.device_frees[i];
  return 0;
}
void halide_free(void *user_context, void *ptr) {
  ++fake_last.frees;
  fake_last.custom_free(user_context, ptr);
}
