/* What the fake model's pipelines (fake_pipelines.c) saw, for
 * WrapperTest.cpp. */
#ifndef CNNC_TEST_FAKE_PIPELINES_H
#define CNNC_TEST_FAKE_PIPELINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fake_record {
  void *train_args[14];
  float lr, momentum, weight_decay;
  bool nesterov, first_step;
  bool fail_train;
  float *intermediate;
  int32_t intermediate_extent;
  int allocations, frees, threads;
  /* Per argument of the last training step: its host_dirty flag when the
     pipeline ran, and the calls the wrapper made on it afterwards. */
  bool host_dirty[14];
  int copies_to_host[14], device_frees[14];
  void *(*custom_malloc)(void *, size_t);
  void (*custom_free)(void *, void *);
};
extern struct fake_record fake_last;

#ifdef __cplusplus
}
#endif

#endif /* CNNC_TEST_FAKE_PIPELINES_H */
