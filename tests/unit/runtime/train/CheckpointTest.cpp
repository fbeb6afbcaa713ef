// Training checkpoints: round trip, and what is rejected.
#include "TrainTestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/Checkpoint.h"

namespace cnnc::rt {
namespace {

class CheckpointTest : public test::TempDirTest {
protected:
  static Tensor filled(Shape shape, float start) {
    Tensor t(DType::F32, std::move(shape));
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.f32()[i] = start + 0.001f * static_cast<float>(i);
    return t;
  }
  static TrainingCheckpoint sample(bool frozenBias) {
    TrainingCheckpoint c;
    c.parameters = {filled({3, 8}, 1), filled({3}, 2)};
    c.momentum = {filled({3, 8}, 3), frozenBias ? Tensor() : filled({3}, 4)};
    c.bestParameters = {filled({3, 8}, 5), filled({3}, 6)};
    c.epochsCompleted = 3;
    c.steps = 36;
    c.seed = 18446744073709551615ull;
    c.bestAccuracy = 2.0 / 3.0;
    c.bestEpoch = 2;
    c.epochs = 5;
    c.batchSize = 4;
    c.sgd = {0.1, 0.9, 1e-4, true};
    c.schedule = {LrScheduleKind::Cosine, 1, 0.1, 7, 1e-6};
    c.shuffle = false;
    return c;
  }
};

TEST_F(CheckpointTest, RoundTripsEverythingExactly) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  TrainingCheckpoint c = sample(false);
  ASSERT_TRUE(saveCheckpoint(path("c.safetensors"), *m, c).ok());

  Expected<SafetensorsFile> raw = readSafetensors(path("c.safetensors"));
  ASSERT_TRUE(raw.ok());
  for (const char *name :
       {"fc.weight", "fc.bias", "optimizer.fc.weight.momentum_buffer",
        "optimizer.fc.bias.momentum_buffer", "best.fc.weight", "best.fc.bias"})
    EXPECT_TRUE(raw->tensors.count(name)) << name;
  EXPECT_EQ(raw->metadata.at("network"), "fake_linear");
  EXPECT_EQ(raw->metadata.at("epochs_completed"), "3");

  Expected<TrainingCheckpoint> back = loadCheckpoint(path("c.safetensors"), *m);
  ASSERT_TRUE(back.ok()) << back.message();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(test::sameTensor(back->parameters[i], c.parameters[i]));
    EXPECT_TRUE(test::sameTensor(back->momentum[i], c.momentum[i]));
    EXPECT_TRUE(test::sameTensor(back->bestParameters[i], c.bestParameters[i]));
  }
  EXPECT_EQ(back->network, "fake_linear");
  EXPECT_EQ(back->epochsCompleted, 3);
  EXPECT_EQ(back->steps, 36);
  EXPECT_EQ(back->seed, c.seed);
  EXPECT_EQ(back->bestAccuracy, c.bestAccuracy); // exactly
  EXPECT_EQ(back->bestEpoch, 2);
  EXPECT_EQ(back->epochs, 5);
  EXPECT_EQ(back->batchSize, 4);
  EXPECT_EQ(back->sgd.lr, 0.1);
  EXPECT_EQ(back->sgd.momentum, 0.9);
  EXPECT_EQ(back->sgd.weightDecay, 1e-4);
  EXPECT_TRUE(back->sgd.nesterov);
  EXPECT_EQ(back->schedule.kind, LrScheduleKind::Cosine);
  EXPECT_EQ(back->schedule.tMax, 7);
  EXPECT_EQ(back->schedule.etaMin, 1e-6);
  EXPECT_FALSE(back->shuffle);
}

TEST_F(CheckpointTest, FrozenParametersHaveNoMomentumBuffer) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL_FROZEN);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_TRUE(saveCheckpoint(path("c.safetensors"), *m, sample(true)).ok());
  Expected<SafetensorsFile> raw = readSafetensors(path("c.safetensors"));
  EXPECT_FALSE(raw->tensors.count("optimizer.fc.bias.momentum_buffer"));
  Expected<TrainingCheckpoint> back = loadCheckpoint(path("c.safetensors"), *m);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->momentum[1].numElements(), 0);
}

TEST_F(CheckpointTest, ACheckpointOfAnotherNetworkIsRejected) {
  Expected<ModelLibrary> head = ModelLibrary::load(CNNC_FAKE_MODEL_HEAD);
  Expected<ModelLibrary> fc = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(head.ok() && fc.ok());
  ASSERT_TRUE(saveCheckpoint(path("c.safetensors"), *head, sample(false)).ok());
  Expected<TrainingCheckpoint> r = loadCheckpoint(path("c.safetensors"), *fc);
  EXPECT_ERROR_CONTAINS(r, "does not fit the network 'fake_linear'");
  EXPECT_ERROR_CONTAINS(r, path("c.safetensors") +
                               ": tensor 'fc.weight' is missing");
  EXPECT_ERROR_CONTAINS(r, "unexpected tensor 'head.weight'");
}

TEST_F(CheckpointTest, AWeightsFileIsNotACheckpoint) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  TensorMap w;
  w.emplace("fc.weight", filled({3, 8}, 0));
  w.emplace("fc.bias", filled({3}, 0));
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), w).ok());
  EXPECT_ERROR_CONTAINS(loadCheckpoint(path("w.safetensors"), *m),
                        "not a cnnc training checkpoint");
  EXPECT_ERROR_CONTAINS(loadCheckpoint(path("w.safetensors"), *m), "--weights");
  EXPECT_ERROR_CONTAINS(loadCheckpoint(path("none.safetensors"), *m),
                        "no such file");
}

TEST_F(CheckpointTest, ShapeMismatchAndBadMetadataAreReported) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  TrainingCheckpoint c = sample(false);
  ASSERT_TRUE(saveCheckpoint(path("c.safetensors"), *m, c).ok());
  Expected<SafetensorsFile> raw = readSafetensors(path("c.safetensors"));
  raw->tensors["fc.bias"] = filled({4}, 0);
  ASSERT_TRUE(
      writeSafetensors(path("d.safetensors"), raw->tensors, raw->metadata)
          .ok());
  EXPECT_ERROR_CONTAINS(
      loadCheckpoint(path("d.safetensors"), *m),
      "tensor 'fc.bias' is F32 [4] but the network expects F32 [3]");
  raw = readSafetensors(path("c.safetensors"));
  raw->metadata["steps"] = "-3";
  ASSERT_TRUE(
      writeSafetensors(path("e.safetensors"), raw->tensors, raw->metadata)
          .ok());
  EXPECT_ERROR_CONTAINS(loadCheckpoint(path("e.safetensors"), *m),
                        "the checkpoint's metadata 'steps' is invalid: '-3'");
}

} // namespace
} // namespace cnnc::rt
