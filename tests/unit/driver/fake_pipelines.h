/* What the fake model's pipelines (fake_pipelines.c) saw, for
 * WrapperTest.cpp. */
#ifndef CNNC_TEST_FAKE_PIPELINES_H
#define CNNC_TEST_FAKE_PIPELINES_H

#include "HalideRuntime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fake_record {
  /* The last training step's argv, and copies of its buffers as they were
     during the call (the wrapper's own end with it). */
  void *train_args[14];
  struct halide_buffer_t train_buffers[14];
  halide_dimension_t train_dims[14][4];
  float lr, momentum, weight_decay;
  bool nesterov, first_step;
  bool fail_train;
  const char *fail_message; /* reported through halide_error when failing */
  float *intermediate;
  int32_t intermediate_extent;
  int allocations, frees, threads;
  /* Per argument of the last training step: its host_dirty flag when the
     pipeline ran, and the calls the wrapper made on it afterwards. */
  bool host_dirty[14];
  int copies_to_host[14], device_frees[14];
  void *(*custom_malloc)(void *, size_t);
  void (*custom_free)(void *, void *);
  int (*custom_do_par_for)(void *, int (*)(void *, int, uint8_t *), int, int,
                           uint8_t *);
};
extern struct fake_record fake_last;

#ifdef __cplusplus
}
#endif

#endif /* CNNC_TEST_FAKE_PIPELINES_H */
