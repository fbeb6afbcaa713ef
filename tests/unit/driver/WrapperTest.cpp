// The generic C wrapper of generated libraries (compiler/driver/wrapper),
// compiled with a fake model's tables and pipelines: arguments and outputs
// are marshalled in the order the tables list them, scalars by address,
// bad calls are refused before any pipeline runs, buffers move between host
// and device as a GPU pipeline needs, and a pipeline lowered in segments
// runs them in order through intermediates it allocates and frees.
#include "ForkTestUtil.h"
#include "cnnc/model_abi.h"
#include "fake_pipelines.h"

#include "HalideRuntime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
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

TEST(Wrapper, TrainStepPassesEverySlotInTheTablesOrder) {
  TrainCall call;
  ASSERT_EQ(call.run(), CNNC_OK);
  EXPECT_FLOAT_EQ(call.loss, 1.5f);
  const halide_buffer_t *args = fake_last.train_buffers;
  EXPECT_EQ(args[0].host, reinterpret_cast<uint8_t *>(call.x));
  EXPECT_EQ(args[1].host, reinterpret_cast<uint8_t *>(call.labels));
  EXPECT_EQ(args[1].type.bits, 64);
  EXPECT_EQ(args[2].host, reinterpret_cast<const uint8_t *>(kW));
  EXPECT_EQ(args[3].host, reinterpret_cast<const uint8_t *>(kM));
  EXPECT_EQ(args[4].host, reinterpret_cast<uint8_t *>(call.vw));
  EXPECT_FLOAT_EQ(fake_last.lr, 0.1f);
  EXPECT_FLOAT_EQ(fake_last.momentum, 0.9f);
  EXPECT_FLOAT_EQ(fake_last.weight_decay, 0.01f);
  EXPECT_TRUE(fake_last.nesterov);
  EXPECT_FALSE(fake_last.first_step);
  EXPECT_EQ(args[10].host, reinterpret_cast<uint8_t *>(&call.loss));
  EXPECT_EQ(args[10].dimensions, 0);
  EXPECT_EQ(args[11].host, reinterpret_cast<uint8_t *>(call.newW));
  EXPECT_EQ(args[12].host, reinterpret_cast<uint8_t *>(call.newVw));
  EXPECT_EQ(args[13].host, reinterpret_cast<uint8_t *>(call.newM));
  const halide_buffer_t &w = args[2];
  ASSERT_EQ(w.dimensions, 2);
  EXPECT_EQ(w.dim[0].extent, 2); // innermost first: [3, 2] is (2, 3)
  EXPECT_EQ(w.dim[1].extent, 3);
  EXPECT_EQ(w.dim[1].stride, 2);
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

// The gradient step is the fused pipeline with hyper-parameters under which
// its new momentum is the gradient (v = g on torch's first step, no weight
// decay) and its new parameters are discarded (lr 0).
TEST(Wrapper, GradientStepReadsTheGradientFromTheFusedStep) {
  const float x[4] = {1, 2, 3, 4};
  const int64_t labels[2] = {0, 2};
  const float *params[2] = {kW, kM};
  float grad[6] = {0}, newM[3] = {0}, loss = 0;
  float *gradients[2] = {grad, nullptr};
  float *newBuffers[2] = {nullptr, newM};
  const int allocations = fake_last.allocations, frees = fake_last.frees;
  ASSERT_EQ(cnnc_gradient_step(2, x, labels, params, gradients, newBuffers, 7,
                               3, 0, &loss),
            CNNC_OK);
  EXPECT_FLOAT_EQ(loss, 1.5f);
  EXPECT_FLOAT_EQ(fake_last.lr, 0.0f);
  EXPECT_FLOAT_EQ(fake_last.momentum, 1.0f);
  EXPECT_FLOAT_EQ(fake_last.weight_decay, 0.0f);
  EXPECT_FALSE(fake_last.nesterov);
  EXPECT_TRUE(fake_last.first_step);
  const halide_buffer_t *args = fake_last.train_buffers;
  EXPECT_EQ(args[4].host, reinterpret_cast<const uint8_t *>(kW));
  EXPECT_EQ(args[12].host, reinterpret_cast<uint8_t *>(grad));
  EXPECT_EQ(args[13].host, reinterpret_cast<uint8_t *>(newM));
  // The discarded new parameters: scratch from the library's allocator,
  // given back.
  EXPECT_NE(args[11].host, nullptr);
  EXPECT_NE(args[11].host, reinterpret_cast<const uint8_t *>(kW));
  EXPECT_EQ(fake_last.allocations, allocations + 1);
  EXPECT_EQ(fake_last.frees, frees + 1);
  for (float g : grad)
    EXPECT_EQ(g, 1.0f); // the fake's gradient
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(newM[k], kM[k] + 1);
}

TEST(Wrapper, GradientStepRefusesBadCalls) {
  const float x[4] = {1, 2, 3, 4};
  const int64_t labels[2] = {0, 2}, bad[2] = {0, 3};
  const float *params[2] = {kW, kM};
  float grad[6], newM[3], loss;
  float *gradients[2] = {grad, nullptr}, *noGradient[2] = {nullptr, nullptr};
  float *newBuffers[2] = {nullptr, newM}, *noBuffer[2] = {nullptr, nullptr};
  EXPECT_EQ(cnnc_gradient_step(2, x, labels, params, noGradient, newBuffers, 0,
                               0, 0, &loss),
            CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_gradient_step(2, x, labels, params, gradients, noBuffer, 0, 0,
                               0, &loss),
            CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_gradient_step(2, x, labels, nullptr, gradients, newBuffers, 0,
                               0, 0, &loss),
            CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_gradient_step(2, x, bad, params, gradients, newBuffers, 0, 0,
                               0, &loss),
            CNNC_ERROR_BAD_LABEL);
  EXPECT_EQ(cnnc_gradient_step(0, x, labels, params, gradients, newBuffers, 0,
                               0, 0, &loss),
            CNNC_ERROR_BAD_SHAPE);
}

// PyTorch's SGD, element by element, in place or not.
TEST(Wrapper, SgdUpdateIsTorchsRule) {
  const float grad[6] = {0.5f, -1, 2, 0, 1, -0.25f};
  const float v0[6] = {1, 1, -1, 2, 0, 3};
  const float lr = 0.1f, mu = 0.9f, wd = 0.01f;
  for (int nesterov = 0; nesterov <= 1; ++nesterov)
    for (int first = 0; first <= 1; ++first) {
      SCOPED_TRACE("nesterov " + std::to_string(nesterov) + ", first " +
                   std::to_string(first));
      float w[6], v[6];
      std::memcpy(w, kW, sizeof w);
      std::memcpy(v, v0, sizeof v);
      float *wp[2] = {w, nullptr}, *vp[2] = {v, nullptr};
      const float *g[2] = {grad, nullptr};
      ASSERT_EQ(cnnc_sgd_update(wp, vp, g, wp, vp, lr, mu, wd, nesterov, first),
                CNNC_OK);
      for (int k = 0; k < 6; ++k) {
        const float gk = grad[k] + wd * kW[k];
        const float vk = first ? gk : mu * v0[k] + gk;
        const float d = nesterov ? gk + mu * vk : vk;
        EXPECT_EQ(v[k], vk) << k;
        EXPECT_EQ(w[k], kW[k] - lr * d) << k;
      }
    }
  // Without momentum the buffers are neither needed nor written.
  float w[6];
  float *wp[2] = {w, nullptr};
  const float *p[2] = {kW, kM}, *g[2] = {grad, nullptr};
  ASSERT_EQ(cnnc_sgd_update(p, nullptr, g, wp, nullptr, lr, 0, 0, 0, 0),
            CNNC_OK);
  for (int k = 0; k < 6; ++k)
    EXPECT_EQ(w[k], kW[k] - lr * grad[k]) << k;
  EXPECT_EQ(cnnc_sgd_update(p, nullptr, g, wp, nullptr, lr, mu, 0, 0, 0),
            CNNC_ERROR_NULL_ARGUMENT);
  const float *noGradient[2] = {nullptr, nullptr};
  EXPECT_EQ(
      cnnc_sgd_update(p, nullptr, noGradient, wp, nullptr, lr, 0, 0, 0, 0),
      CNNC_ERROR_NULL_ARGUMENT);
}

// cnnc_last_error: the message Halide reported during the failed call, or
// its error code when it reported none (never an older call's message),
// and per thread.
TEST(Wrapper, LastErrorDescribesTheCallingThreadsLastFailure) {
  TrainCall call;
  fake_last.fail_train = true;
  fake_last.fail_message = "out of memory in the fake step";
  EXPECT_EQ(call.run(), CNNC_ERROR_RUNTIME);
  EXPECT_STREQ(cnnc_last_error(), "out of memory in the fake step");
  std::string other;
  std::thread([&] { other = cnnc_last_error(); }).join();
  EXPECT_EQ(other, "");
  fake_last.fail_message = nullptr;
  EXPECT_EQ(call.run(), CNNC_ERROR_RUNTIME);
  EXPECT_STREQ(cnnc_last_error(), "Halide error code -1");
  fake_last.fail_train = false;
  EXPECT_EQ(call.run(), CNNC_OK);
  EXPECT_STREQ(cnnc_last_error(), "Halide error code -1"); // until the next
}

// A fork while another thread reports a Halide error (under the library's
// error lock): the child can still fail a call and read its message.
TEST(Wrapper, AForkDuringAnErrorReportLeavesTheChildAbleToReportErrors) {
  std::atomic<bool> stop{false};
  std::thread reporting([&stop] {
    while (!stop.load())
      halide_error(nullptr, "reported on another thread");
  });
  const cnnc::test::ForkOutcome outcome = cnnc::test::forkRepeatedly(100, [] {
    TrainCall call;
    fake_last.fail_train = true;
    fake_last.fail_message = "failed in the child";
    const bool ok = call.run() == CNNC_ERROR_RUNTIME &&
                    std::strcmp(cnnc_last_error(), "failed in the child") == 0;
    return ok ? 0 : 1;
  });
  stop = true;
  reporting.join();
  EXPECT_EQ(outcome.hung, 0) << "a child hung on the error lock";
  EXPECT_EQ(outcome.failed, 0);
}

// A session keeps the state between steps: a step reads the buffers the
// previous one wrote (on a GPU, left on the device: not marked, not copied
// back), copies back only the loss, and is torch's first only once.
TEST(Wrapper, SessionKeepsTheStateBetweenSteps) {
  const float *params[2] = {kW, kM};
  cnnc_session *session = nullptr;
  ASSERT_EQ(cnnc_session_create(params, &session), CNNC_OK);
  const float x[4] = {1, 2, 3, 4};
  const int64_t labels[2] = {0, 2};
  float loss = 0;
  ASSERT_EQ(
      cnnc_session_train_step(session, 2, x, labels, 0.5f, 0.9f, 0, 0, &loss),
      CNNC_OK);
  EXPECT_TRUE(fake_last.first_step);
  void *written[3] = {fake_last.train_args[11], fake_last.train_args[12],
                      fake_last.train_args[13]};
  ASSERT_EQ(
      cnnc_session_train_step(session, 2, x, labels, 0.5f, 0.9f, 0, 0, &loss),
      CNNC_OK);
  EXPECT_FALSE(fake_last.first_step);
  EXPECT_FLOAT_EQ(loss, 1.5f);
  EXPECT_EQ(fake_last.train_args[2], written[0]); // w
  EXPECT_EQ(fake_last.train_args[4], written[1]); // its momentum
  EXPECT_EQ(fake_last.train_args[3], written[2]); // m
  for (int i = 0; i < 14; ++i) {
    SCOPED_TRACE("argument " + std::to_string(i));
    const bool perCall = i == 0 || i == 1 || i == 10; // input, labels, loss
    EXPECT_EQ(fake_last.host_dirty[i], i == 0 || i == 1);
    EXPECT_EQ(fake_last.copies_to_host[i], i == 10 ? 1 : 0);
    EXPECT_EQ(fake_last.device_frees[i], perCall ? 1 : 0);
  }

  float w[6], m[3], v[6];
  float *out[2] = {w, m}, *momentum[2] = {v, nullptr};
  ASSERT_EQ(cnnc_session_read(session, out, momentum), CNNC_OK);
  for (int k = 0; k < 6; ++k) {
    EXPECT_FLOAT_EQ(v[k], 1.9f);                 // 0.9 * 1 + 1
    EXPECT_FLOAT_EQ(w[k], kW[k] - 0.5f - 0.95f); // lr * v, twice
  }
  for (int k = 0; k < 3; ++k)
    EXPECT_FLOAT_EQ(m[k], kM[k] + 2);

  // The forward pass reads the session's parameters.
  float logits[6], expected[6];
  const float *current[2] = {w, m};
  ASSERT_EQ(cnnc_session_forward(session, 2, x, logits), CNNC_OK);
  ASSERT_EQ(cnnc_forward(2, x, current, expected), CNNC_OK);
  for (int k = 0; k < 6; ++k)
    EXPECT_FLOAT_EQ(logits[k], expected[k]);

  // A failed step leaves the state as it was.
  fake_last.fail_train = true;
  EXPECT_EQ(
      cnnc_session_train_step(session, 2, x, labels, 0.5f, 0.9f, 0, 0, &loss),
      CNNC_ERROR_RUNTIME);
  fake_last.fail_train = false;
  float w2[6], m2[3];
  float *again[2] = {w2, m2};
  ASSERT_EQ(cnnc_session_read(session, again, nullptr), CNNC_OK);
  for (int k = 0; k < 6; ++k)
    EXPECT_EQ(w2[k], w[k]);

  // Written state, and a step count of 0: the next step is a first one.
  const float zeros[6] = {0};
  const float *restart[2] = {zeros, nullptr};
  ASSERT_EQ(cnnc_session_write(session, params, restart, 0), CNNC_OK);
  ASSERT_EQ(
      cnnc_session_train_step(session, 2, x, labels, 0.5f, 0.9f, 0, 0, &loss),
      CNNC_OK);
  EXPECT_TRUE(fake_last.first_step);
  ASSERT_EQ(cnnc_session_read(session, out, nullptr), CNNC_OK);
  EXPECT_FLOAT_EQ(w[0], kW[0] - 0.5f);
  cnnc_session_destroy(session);
}

TEST(Wrapper, SessionRefusesBadCalls) {
  const float *params[2] = {kW, kM};
  const float *missing[2] = {kW, nullptr};
  cnnc_session *session = nullptr;
  EXPECT_EQ(cnnc_session_create(missing, &session), CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cnnc_session_create(params, nullptr), CNNC_ERROR_NULL_ARGUMENT);
  ASSERT_EQ(cnnc_session_create(params, &session), CNNC_OK);
  const float x[4] = {1, 2, 3, 4};
  const int64_t labels[2] = {0, 3}, good[2] = {0, 1};
  float loss;
  EXPECT_EQ(cnnc_session_train_step(nullptr, 2, x, good, 0.1f, 0, 0, 0, &loss),
            CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(
      cnnc_session_train_step(session, 2, x, labels, 0.1f, 0, 0, 0, &loss),
      CNNC_ERROR_BAD_LABEL);
  EXPECT_EQ(cnnc_session_train_step(session, 1, x, good, 0.1f, 0, 0, 0, &loss),
            CNNC_ERROR_BAD_SHAPE); // below MIN_TRAIN_BATCH
  EXPECT_EQ(cnnc_session_write(session, params, nullptr, -1),
            CNNC_ERROR_OUT_OF_RANGE);
  float w[6];
  float *out[2] = {w, nullptr};
  EXPECT_EQ(cnnc_session_read(session, out, nullptr), CNNC_ERROR_NULL_ARGUMENT);
  cnnc_session_destroy(session);
  cnnc_session_destroy(nullptr);
}

TEST(Wrapper, ThreadsGoToTheHalideRuntime) {
  EXPECT_EQ(cnnc_set_num_threads(3), CNNC_OK);
  EXPECT_EQ(fake_last.threads, 3);
  EXPECT_EQ(cnnc_set_num_threads(-1), CNNC_ERROR_BAD_SHAPE);
}

/// Counts the runs of each iteration and the threads they ran on.
struct LoopRecord {
  std::atomic<int> runs[256];
  std::mutex lock;
  std::set<std::thread::id> threads;
  size_t awaited = 1; // threads each iteration waits for (10 s at most)
};

int recordIteration(void *, int index, uint8_t *closure) {
  auto *record = reinterpret_cast<LoopRecord *>(closure);
  record->runs[index].fetch_add(1);
  std::unique_lock<std::mutex> hold(record->lock);
  record->threads.insert(std::this_thread::get_id());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (record->threads.size() < record->awaited &&
         std::chrono::steady_clock::now() < deadline) {
    hold.unlock();
    std::this_thread::yield();
    hold.lock();
  }
  return 0;
}

TEST(Wrapper, ParallelLoopsRunOnTheLibrarysPoolWithItsThreadCount) {
  ASSERT_NE(fake_last.custom_do_par_for, nullptr);
  for (int threads : {1, 2}) {
    ASSERT_EQ(cnnc_set_num_threads(threads), CNNC_OK);
    LoopRecord record{};
    record.awaited = size_t(threads);
    ASSERT_EQ(fake_last.custom_do_par_for(nullptr, recordIteration, 0, 256,
                                          reinterpret_cast<uint8_t *>(&record)),
              0);
    for (int i = 0; i < 256; ++i)
      EXPECT_EQ(record.runs[i].load(), 1) << "iteration " << i;
    EXPECT_EQ(record.threads.size(), size_t(threads));
  }
}

} // namespace
