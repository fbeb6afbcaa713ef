// The generic C wrapper of generated libraries (compiler/driver/wrapper),
// compiled with a fake model's tables and pipelines: arguments and outputs
// are marshalled in the order the tables list them, scalars by address,
// bad calls are refused before any pipeline runs, buffers move between host
// and device as a GPU pipeline needs, and a pipeline lowered in segments
// runs them in order through intermediates it allocates and frees.
#include "cnnc/model_abi.h"
#include "fake_pipelines.h"

#include "HalideRuntime.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

const float kW[6] = {1, 2, 3, 4, 5, 6};
const float kM[3] = {0.5f, -1, 2};

TEST(Wrapper, DescribesTheModelFromItsTables) {
  const char *name = nullptr;
  ASSERT_EQ(cnnc_model_name(&name), CNNC_OK);
  EXPECT_STREQ(name, "fake");
  int32_t count = 0, kind = -1, updated = -1;
  ASSERT_EQ(cnnc_num_parameters(&count), CNNC_OK);
  EXPECT_EQ(count, 2);
  ASSERT_EQ(cnnc_parameter_kind(1, &kind), CNNC_OK);
  EXPECT_EQ(kind, CNNC_KIND_BUFFER);
  ASSERT_EQ(cnnc_parameter_updated(1, &updated), CNNC_OK);
  EXPECT_EQ(updated, 1);
  int64_t dims[CNNC_MAX_RANK];
  int32_t rank = 0;
  ASSERT_EQ(cnnc_parameter_shape(0, dims, CNNC_MAX_RANK, &rank), CNNC_OK);
  EXPECT_EQ(rank, 2);
  EXPECT_EQ(dims[0], 3);
  EXPECT_EQ(cnnc_parameter_shape(2, dims, CNNC_MAX_RANK, &rank),
            CNNC_ERROR_OUT_OF_RANGE);
  const char *recipe = nullptr;
  ASSERT_EQ(cnnc_training_recipe(&recipe), CNNC_OK);
  EXPECT_STREQ(recipe, "{\"batch_size\": 4}");
}

TEST(Wrapper, ForwardRunsTheSegmentsThroughAnIntermediate) {
  const float x[4] = {1, 0, 0, 1}; // two samples
  float logits[6] = {0};
  const float *params[2] = {kW, kM};
  const int allocations = fake_last.allocations, frees = fake_last.frees;
  ASSERT_EQ(cnnc_forward(2, x, params, logits), CNNC_OK);
  // Sample 0 picks w's first column, sample 1 its second; plus m.
  const float want[6] = {1.5f, 2, 7, 2.5f, 3, 8};
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(logits[i], want[i]) << i;
  // The intermediate has the batch's extent, and is freed after its last
  // reader (through the library's allocator).
  EXPECT_EQ(fake_last.intermediate_extent, 2);
  EXPECT_EQ(fake_last.allocations, allocations + 1);
  EXPECT_EQ(fake_last.frees, frees + 1);
}

TEST(Wrapper, ForwardRefusesBadCalls) {
  const float x[2] = {1, 2};
  float logits[3];
  const float *params[2] = {kW, kM};
  const float *missing[2] = {kW, nullptr};
  const int allocations = fake_last.allocations;
  EXPECT_EQ(cnnc_forward(1, nullptr, params, logits), CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_forward(1, x, missing, logits), CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_forward(0, x, params, logits), CNNC_ERROR_BAD_SHAPE);
  EXPECT_EQ(cnnc_forward(int64_t(1) << 40, x, params, logits),
            CNNC_ERROR_BAD_SHAPE);
  EXPECT_EQ(fake_last.allocations, allocations); // nothing ran
}

struct TrainCall {
  float x[4] = {1, 2, 3, 4};
  int64_t labels[2] = {0, 2};
  float vw[6] = {0};
  float newW[6], newVw[6], newM[3];
  const float *params[2] = {kW, kM};
  const float *momentum[2] = {vw, nullptr}; // the buffer has none
  float *newParams[2] = {newW, newM};
  float *newMomentum[2] = {newVw, nullptr};
  float loss = 0;

  cnnc_status run(int64_t batch = 2) {
    return cnnc_train_step(batch, x, labels, params, momentum, newParams,
                           newMomentum, 0.1f, 0.9f, 0.01f, 1, 0, &loss);
  }
};

void *bufferHost(void *arg) {
  return static_cast<halide_buffer_t *>(arg)->host;
}

TEST(Wrapper, TrainStepPassesEverySlotInTheTablesOrder) {
  TrainCall call;
  ASSERT_EQ(call.run(), CNNC_OK);
  EXPECT_FLOAT_EQ(call.loss, 1.5f);
  void **args = fake_last.train_args;
  EXPECT_EQ(bufferHost(args[0]), call.x);
  EXPECT_EQ(bufferHost(args[1]), call.labels);
  EXPECT_EQ(static_cast<halide_buffer_t *>(args[1])->type.bits, 64);
  EXPECT_EQ(bufferHost(args[2]), kW);
  EXPECT_EQ(bufferHost(args[3]), kM);
  EXPECT_EQ(bufferHost(args[4]), call.vw);
  EXPECT_FLOAT_EQ(fake_last.lr, 0.1f);
  EXPECT_FLOAT_EQ(fake_last.momentum, 0.9f);
  EXPECT_FLOAT_EQ(fake_last.weight_decay, 0.01f);
  EXPECT_TRUE(fake_last.nesterov);
  EXPECT_FALSE(fake_last.first_step);
  EXPECT_EQ(bufferHost(args[10]), &call.loss);
  EXPECT_EQ(static_cast<halide_buffer_t *>(args[10])->dimensions, 0);
  EXPECT_EQ(bufferHost(args[11]), call.newW);
  EXPECT_EQ(bufferHost(args[12]), call.newVw);
  EXPECT_EQ(bufferHost(args[13]), call.newM);
  halide_buffer_t *w = static_cast<halide_buffer_t *>(args[2]);
  ASSERT_EQ(w->dimensions, 2);
  EXPECT_EQ(w->dim[0].extent, 2); // innermost first: [3, 2] is (2, 3)
  EXPECT_EQ(w->dim[1].extent, 3);
  EXPECT_EQ(w->dim[1].stride, 2);
}

// What a GPU library needs (and a CPU library ignores): arguments marked as
// written on the host, so the pipeline copies them to the device; results
// copied back; device memory given back.
TEST(Wrapper, TrainStepMovesBuffersBetweenHostAndDevice) {
  TrainCall call;
  ASSERT_EQ(call.run(), CNNC_OK);
  for (int i = 0; i < 14; ++i) {
    SCOPED_TRACE("argument " + std::to_string(i));
    const bool scalar = i >= 5 && i <= 9, result = i >= 10;
    EXPECT_EQ(fake_last.host_dirty[i], !scalar && !result);
    EXPECT_EQ(fake_last.copies_to_host[i], result ? 1 : 0);
    EXPECT_EQ(fake_last.device_frees[i], scalar ? 0 : 1);
  }
}

TEST(Wrapper, TrainStepRefusesBadCalls) {
  TrainCall call;
  call.labels[1] = 3; // 3 classes
  EXPECT_EQ(call.run(), CNNC_ERROR_BAD_LABEL);
  call.labels[1] = 2;
  EXPECT_EQ(call.run(1), CNNC_ERROR_BAD_SHAPE); // below MIN_TRAIN_BATCH
  call.momentum[0] = nullptr; // a trainable parameter needs its momentum
  EXPECT_EQ(call.run(), CNNC_ERROR_NULL_ARGUMENT);
  call.momentum[0] = call.vw;
  call.newParams[1] = nullptr; // an updated buffer needs its new value
  EXPECT_EQ(call.run(), CNNC_ERROR_NULL_ARGUMENT);
  call.newParams[1] = call.newM;
  fake_last.fail_train = true;
  EXPECT_EQ(call.run(), CNNC_ERROR_RUNTIME);
  fake_last.fail_train = false;
  EXPECT_EQ(call.run(), CNNC_OK);
}

TEST(Wrapper, ThreadsGoToTheHalideRuntime) {
  EXPECT_EQ(cnnc_set_num_threads(3), CNNC_OK);
  EXPECT_EQ(fake_last.threads, 3);
  EXPECT_EQ(cnnc_set_num_threads(-1), CNNC_ERROR_BAD_SHAPE);
}

} // namespace
