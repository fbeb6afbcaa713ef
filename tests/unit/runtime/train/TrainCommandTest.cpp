// `cnnc train` end to end against the fake classifier.
#include "TrainTestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/Checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace cnnc::rt {
namespace {

using test::CommandResult;
using test::contains;
using test::runTrain;

class TrainCommandTest : public test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    data_ =
        test::writeNpyData(path("x.npy"), path("y.npy"),
                           test::separableImages(48), test::cyclicLabels(48));
  }
  std::vector<std::string> args(const char *model, const std::string &out,
                                std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {model, "--data", data_, "-o", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  TensorMap tensors(const std::string &name) {
    Expected<SafetensorsFile> f = readSafetensors(path(name));
    EXPECT_TRUE(f.ok()) << f.message();
    return f.ok() ? f->tensors : TensorMap{};
  }
  static void expectSame(const TensorMap &a, const TensorMap &b,
                         const std::string &what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (const auto &[name, t] : a) {
      ASSERT_TRUE(b.count(name)) << what << ": " << name;
      EXPECT_TRUE(test::sameTensor(t, b.at(name))) << what << ": " << name;
    }
  }
  std::string data_;
};

TEST_F(TrainCommandTest, LearnsASeparableSetAndWritesAllFiles) {
  CommandResult r =
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors", {"--epochs", "4"}));
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_TRUE(
      contains(r.out, "training 'fake_linear' (27 parameters, 27 trainable)"));
  EXPECT_TRUE(contains(r.out,
                       "SGD(lr=0.1, momentum=0.9, weight_decay=0.0001, "
                       "nesterov=False), StepLR(step_size=1, gamma=0.5), "
                       "batch size 4, epochs 4, seed 0"));
  EXPECT_TRUE(contains(r.out, "epoch 1/4: batch 12/12 (100%)"));
  EXPECT_TRUE(contains(r.out, "epoch 2/4: train loss "));
  EXPECT_TRUE(contains(r.out, "lr 0.05, "));   // StepLR after one epoch
  EXPECT_TRUE(contains(r.out, "lr 0.0125, ")); // and after three
  EXPECT_TRUE(contains(r.out, "val accuracy 100.00% (48/48)")) << r.out;
  EXPECT_TRUE(contains(r.err, "note: npy data has no test split")) << r.err;
  // Progress to a string stream: plain lines, no '\r' or other control
  // characters.
  EXPECT_FALSE(test::hasControlCharacters(r.out));
  EXPECT_FALSE(test::hasControlCharacters(r.err));

  for (const char *f :
       {"w.safetensors", "w.best.safetensors", "w.ckpt.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(path(f))) << f;
  Expected<SafetensorsFile> out = readSafetensors(path("w.safetensors"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->tensors.size(), 2u);
  // Epoch 1 already reached 100%, and only a strictly better epoch replaces
  // the best: the output is epoch 1's, as the lecture's best_model_wts.
  EXPECT_EQ(out->metadata.at("epoch"), "1");
  EXPECT_TRUE(
      contains(r.out, "kept epoch 1 of 4, the best val accuracy (100.00%)"))
      << r.out;

  // The weights classify the set: cnnc eval agrees.
  CommandResult e = test::runEval(
      {CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--data", data_});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(contains(e.out, "accuracy 100.00% (48/48)")) << e.out;
}

TEST_F(TrainCommandTest, KeepBestChoosesTheOutputWeights) {
  CommandResult kept =
      runTrain(args(CNNC_FAKE_MODEL, "kept.safetensors", {"--epochs", "3"}));
  ASSERT_EQ(kept.code, 0) << kept.err;
  expectSame(tensors("kept.safetensors"), tensors("kept.best.safetensors"),
             "kept");

  CommandResult last = runTrain(args(CNNC_FAKE_MODEL, "last.safetensors",
                                     {"--epochs", "3", "--no-keep-best"}));
  ASSERT_EQ(last.code, 0) << last.err;
  EXPECT_FALSE(contains(last.out, "kept epoch")) << last.out;
  EXPECT_TRUE(
      contains(last.out, "wrote " + path("last.safetensors") + " (epoch 3)"));
  // The last epoch's weights are the checkpoint's.
  TensorMap out = tensors("last.safetensors"),
            ckpt = tensors("last.ckpt.safetensors");
  for (const auto &[name, t] : out)
    EXPECT_TRUE(test::sameTensor(t, ckpt.at(name))) << name;
  EXPECT_FALSE(test::sameTensor(out.at("fc.weight"),
                                tensors("kept.safetensors").at("fc.weight")));

  CommandResult both = runTrain(args(CNNC_FAKE_MODEL, "x.safetensors",
                                     {"--keep-best", "--no-keep-best"}));
  EXPECT_EQ(both.code, 1);
  EXPECT_TRUE(contains(both.err,
                       "--keep-best and --no-keep-best contradict each other"));
}

TEST_F(TrainCommandTest, ValSplitHoldsOutASeededPart) {
  const std::vector<std::string> flags = {"--val-split", "0.25", "--seed", "3"};
  std::vector<std::string> full =
      args(CNNC_FAKE_MODEL, "full.safetensors", flags);
  full.insert(full.end(), {"--epochs", "3"});
  CommandResult a = runTrain(full);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_TRUE(contains(
      a.out, "(36 images)\nvalidating on 12 of its 48 images (val split "
             "0.25, seed 3; eval transforms)"))
      << a.out;
  EXPECT_TRUE(contains(a.out, "epoch 1/3: batch 9/9 (100%)"))
      << a.out; // 36 train images
  EXPECT_TRUE(contains(a.out, "/12), lr")) << a.out;
  EXPECT_FALSE(contains(a.err, "no test split")) << a.err;

  // The split is part of the checkpoint: a resumed run splits alike.
  std::vector<std::string> first =
      args(CNNC_FAKE_MODEL, "part.safetensors", flags);
  first.insert(first.end(), {"--epochs", "1"});
  ASSERT_EQ(runTrain(first).code, 0);
  CommandResult b =
      runTrain({CNNC_FAKE_MODEL, "--data", data_, "-o", path("res.safetensors"),
                "--resume", path("part.ckpt.safetensors"), "--epochs", "3"});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(contains(b.out, "validating on 12 of its 48 images")) << b.out;
  expectSame(tensors("full.ckpt.safetensors"), tensors("res.ckpt.safetensors"),
             "checkpoint");

  CommandResult both =
      runTrain(args(CNNC_FAKE_MODEL, "x.safetensors",
                    {"--val-split", "0.2", "--val-data", data_}));
  EXPECT_EQ(both.code, 1);
  EXPECT_TRUE(contains(
      both.err, "--val-data and --val-split both choose the validation data"));
  CommandResult all = runTrain(
      args(CNNC_FAKE_MODEL, "x.safetensors", {"--val-split", "0.999"}));
  EXPECT_EQ(all.code, 1);
  EXPECT_TRUE(contains(
      all.err, "a validation split of 0.999000 of 48 images leaves no image to "
               "train on"))
      << all.err;
}

TEST_F(TrainCommandTest, ResumeEqualsAnUninterruptedRunBitForBit) {
  const std::vector<std::string> flags = {"--seed", "5", "--batch-size", "5"};
  std::vector<std::string> full =
      args(CNNC_FAKE_MODEL, "full.safetensors", flags);
  full.insert(full.end(), {"--epochs", "3"});
  CommandResult a = runTrain(full);
  ASSERT_EQ(a.code, 0) << a.err;

  std::vector<std::string> first =
      args(CNNC_FAKE_MODEL, "part.safetensors", flags);
  first.insert(first.end(), {"--epochs", "1"});
  CommandResult b1 = runTrain(first);
  ASSERT_EQ(b1.code, 0) << b1.err;
  // Resume into other file names: everything must come from the checkpoint.
  CommandResult b2 =
      runTrain({CNNC_FAKE_MODEL, "--data", data_, "-o", path("res.safetensors"),
                "--resume", path("part.ckpt.safetensors"), "--epochs", "3"});
  ASSERT_EQ(b2.code, 0) << b2.err;
  EXPECT_TRUE(contains(b2.out, "resuming from " +
                                   path("part.ckpt.safetensors") +
                                   " after epoch 1 (step 10)"))
      << b2.out;
  EXPECT_TRUE(contains(b2.out, "batch size 5, epochs 3, seed 5"));
  EXPECT_FALSE(contains(b2.out, "epoch 1/3:"));
  EXPECT_FALSE(contains(b2.err, "note: --")) << b2.err;

  expectSame(tensors("full.safetensors"), tensors("res.safetensors"), "final");
  expectSame(tensors("full.best.safetensors"), tensors("res.best.safetensors"),
             "best");
  expectSame(tensors("full.ckpt.safetensors"), tensors("res.ckpt.safetensors"),
             "checkpoint");
  // The epoch summaries of epochs 2 and 3 agree too (losses, accuracies, lr).
  auto summary = [](const std::string &out, const std::string &epoch) {
    size_t at = out.find("epoch " + epoch + "/3: train loss");
    return out.substr(at, out.find(", lr", at) - at);
  };
  EXPECT_EQ(summary(a.out, "3"), summary(b2.out, "3"));
}

TEST_F(TrainCommandTest,
       ACheckpointOfAnotherNetworkIsRejectedAndNothingIsWritten) {
  CommandResult other = runTrain(
      args(CNNC_FAKE_MODEL_HEAD, "head.safetensors", {"--epochs", "1"}));
  ASSERT_EQ(other.code, 0) << other.err;
  CommandResult r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                                  {"--resume", path("head.ckpt.safetensors")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(
      r.err, "cnnc train: error: " + path("head.ckpt.safetensors") +
                 ": this checkpoint of the network 'fake_linear' does not fit"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "tensor 'fc.weight' is missing"));
  EXPECT_FALSE(std::filesystem::exists(path("w.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(path("w.ckpt.safetensors")));

  // A plain weights file is pointed to --weights.
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--resume", path("head.safetensors")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "not a cnnc training checkpoint")) << r.err;
}

TEST_F(TrainCommandTest, AFailedResumeLeavesTheCheckpointAsItWas) {
  ASSERT_EQ(
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors", {"--epochs", "1"})).code,
      0);
  std::string before = test::readBytes(path("w.ckpt.safetensors"));
  // Bad labels in the new data: rejected before anything is written.
  data_ = test::writeNpyData(path("x2.npy"), path("y2.npy"),
                             test::separableImages(6), test::cyclicLabels(6));
  Tensor bad = test::cyclicLabels(6);
  bad.i64()[4] = 7;
  ASSERT_TRUE(writeNpy(path("y2.npy"), bad).ok());
  CommandResult r =
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--resume", path("w.ckpt.safetensors"), "--epochs", "2"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(test::readBytes(path("w.ckpt.safetensors")), before);
}

TEST_F(TrainCommandTest, LabelsOutOfRangeNameTheFile) {
  Tensor y = test::cyclicLabels(48);
  y.i64()[7] = 3; // the network has 3 outputs
  ASSERT_TRUE(writeNpy(path("y.npy"), y).ok());
  CommandResult r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      contains(r.err, "cnnc train: error: " + path("y.npy") +
                          ": label 3 at index 7 is out of range for a network "
                          "with 3 outputs"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("w.ckpt.safetensors")));
}

TEST_F(TrainCommandTest, ImageShapeMismatchNamesTheFile) {
  Tensor x(DType::F32, {4, 2, 2, 3});
  data_ = test::writeNpyData(path("x3.npy"), path("y3.npy"), x,
                             test::cyclicLabels(4));
  CommandResult r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, path("x3.npy") + ": images are [2, 2, 3]"))
      << r.err;
}

TEST_F(TrainCommandTest, FlagsOverrideTheRecipeAndWeightsSeedTheRun) {
  std::ostringstream initOut, initErr;
  ASSERT_EQ(runInitCommand({CNNC_FAKE_MODEL, "-o", path("init.safetensors"),
                            "--seed", "3"},
                           initOut, initErr),
            0)
      << initErr.str();
  CommandResult r =
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--weights", path("init.safetensors"), "--epochs", "1",
                     "--lr", "0.02", "--momentum", "0.5", "--weight-decay", "0",
                     "--nesterov", "--no-shuffle", "--batch-size", "48",
                     "--checkpoint", path("my.ckpt"), "--threads", "2"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(
      r.out, "SGD(lr=0.02, momentum=0.5, weight_decay=0, nesterov=True)"));
  EXPECT_TRUE(contains(r.out, "batch size 48, epochs 1, seed 0, no shuffle"));
  EXPECT_TRUE(std::filesystem::exists(path("my.ckpt")));
  EXPECT_FALSE(std::filesystem::exists(path("w.ckpt.safetensors")));

  // One full batch without shuffle from known weights: one exact SGD step.
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  Expected<TrainingCheckpoint> c = loadCheckpoint(path("my.ckpt"), *m);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->steps, 1);
  EXPECT_FALSE(c->shuffle);
  TensorMap init = readSafetensors(path("init.safetensors"))->tensors;
  // Nesterov on the first step: d = g + mu * g, so p - p_new = lr * 1.5 * g =
  // lr * 1.5 * v.
  for (int k = 0; k < 24; ++k)
    EXPECT_NEAR(init.at("fc.weight").f32()[k] - c->parameters[0].f32()[k],
                0.02 * 1.5 * c->momentum[0].f32()[k], 1e-7);
}

TEST_F(TrainCommandTest,
       ResumingAFinishedRunWritesItsWeightsAndOverridesAreNoted) {
  ASSERT_EQ(
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors", {"--epochs", "2"})).code,
      0);
  // Killed after the last checkpoint but before the final write: resuming
  // finishes it.
  std::filesystem::remove(path("w.safetensors"));
  std::filesystem::remove(path("w.best.safetensors"));
  CommandResult r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                                  {"--resume", path("w.ckpt.safetensors")}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(contains(r.out, "train loss"));
  EXPECT_TRUE(std::filesystem::exists(path("w.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(path("w.best.safetensors")));

  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--resume", path("w.ckpt.safetensors"), "--epochs", "3",
                     "--lr", "0.2"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "note: --lr 0.2 replaces the checkpoint's 0.1"))
      << r.err;
  EXPECT_TRUE(contains(r.out, "epoch 3/3: train loss"));

  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--resume", path("w.ckpt.safetensors"), "--epochs", "2"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      contains(r.err, "already completed 3 epochs, more than --epochs 2"))
      << r.err;
}

// A step whose update overflows the weights while its loss is still finite
// (one batch per epoch, a huge weight decay): the epoch ends with infinite
// weights, which must reach no file.
TEST_F(TrainCommandTest, AnEpochEndingWithNonFiniteWeightsWritesNothing) {
  CommandResult r =
      runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--batch-size", "48", "--epochs", "2", "--lr", "1e37",
                     "--weight-decay", "1000", "--momentum", "0"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cnnc train: error: training diverged in epoch "
                              "1 (learning rate 1e+37): nothing of it was "
                              "written; try a lower learning rate\n"
                              "cnnc train: error: tensor 'fc.weight' holds "))
      << r.err;
  EXPECT_FALSE(contains(r.out, "epoch 1/2: train loss")) << r.out;
  for (const char *f :
       {"w.safetensors", "w.best.safetensors", "w.ckpt.safetensors"})
    EXPECT_FALSE(std::filesystem::exists(path(f))) << f;
}

TEST_F(TrainCommandTest, TrainingDoesNotStartFromNonFiniteWeights) {
  std::ostringstream initOut, initErr;
  ASSERT_EQ(runInitCommand({CNNC_FAKE_MODEL, "-o", path("init.safetensors")},
                           initOut, initErr),
            0);
  TensorMap init = tensors("init.safetensors");
  init.at("fc.bias").f32()[1] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(writeSafetensors(path("init.safetensors"), init).ok());
  CommandResult r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                                  {"--weights", path("init.safetensors")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cnnc train: error: training cannot start from "
                              "non-finite values:\ncnnc train: error: tensor "
                              "'fc.bias' holds 1 NaN value, the first at [1]"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("w.ckpt.safetensors")));
}

TEST_F(TrainCommandTest, UsageErrors) {
  CommandResult r = runTrain({CNNC_FAKE_MODEL, "--data", data_});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "missing -o")) << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors", {"--lr", "-1"}));
  EXPECT_TRUE(contains(r.err, "option '--lr' needs a number above 0")) << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors", {"--nesterov=1"}));
  EXPECT_TRUE(contains(r.err, "takes no value")) << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--weights", "a", "--resume", "b"}));
  EXPECT_TRUE(contains(r.err, "drop --weights")) << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "nodir/w.safetensors"));
  EXPECT_TRUE(contains(r.err, "does not exist")) << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--momentum", "0", "--nesterov"}));
  EXPECT_TRUE(contains(r.err, "Nesterov momentum needs a momentum above 0"))
      << r.err;
  r = runTrain({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "usage: cnnc train"));
}

} // namespace
} // namespace cnnc::rt

namespace cnnc::rt {
namespace {

// The rows of a metrics CSV, each split at commas.
std::vector<std::vector<std::string>> csvRows(const std::string &file) {
  std::ifstream in(file);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, ',');)
      fields.push_back(field);
    if (!line.empty() && line.back() == ',')
      fields.push_back("");
    rows.push_back(fields);
  }
  return rows;
}

TEST_F(TrainCommandTest, MetricsHoldStepAndEpochRowsAndResumeAppends) {
  // 48 samples in batches of 4: 12 steps per epoch, a step row every 5.
  CommandResult r = runTrain(args(
      CNNC_FAKE_MODEL, "w.safetensors",
      {"--epochs", "2", "--metrics", path("m.csv"), "--metrics-every", "5"}));
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = csvRows(path("m.csv"));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"kind", "epoch", "step", "progress", "lr",
                                      "train_loss", "val_loss", "val_accuracy",
                                      "images_per_second", "seconds"}));
  std::vector<std::string> kinds, steps;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 10u) << i;
    kinds.push_back(rows[i][0]);
    steps.push_back(rows[i][2]);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"step", "step", "epoch", "step",
                                             "step", "epoch"}));
  EXPECT_EQ(steps,
            (std::vector<std::string>{"5", "10", "12", "15", "20", "24"}));
  // Step 5 of 12 in epoch 1; the lr halves after it (StepLR, gamma 0.5).
  EXPECT_EQ(rows[1][3], "0.416666667");
  EXPECT_EQ(rows[1][4], "0.1");
  EXPECT_EQ(rows[4][4], "0.05");
  EXPECT_EQ(rows[1][6], ""); // no validation in a step row
  // The epoch rows say what the summary lines say.
  EXPECT_EQ(rows[3][7], "1"); // val accuracy 100.00% (48/48)
  EXPECT_TRUE(contains(r.out, "val accuracy 100.00% (48/48)"));
  char loss[32];
  std::snprintf(loss, sizeof loss, "train loss %.4f", std::stod(rows[3][5]));
  EXPECT_TRUE(contains(r.out, loss)) << loss << "\n" << r.out;

  // A resumed run adds its rows after the first run's; rows an interrupted
  // run wrote after its checkpoint (step 30 here), and an unfinished line,
  // are dropped.
  {
    std::ofstream more(path("m.csv"), std::ios::app);
    more << "step,3,30,2.5,0.025,0.1,,,100,1\nstep,3,3";
  }
  CommandResult resumed =
      runTrain({CNNC_FAKE_MODEL, "--data", data_, "-o", path("w.safetensors"),
                "--resume", path("w.ckpt.safetensors"), "--epochs", "3",
                "--metrics", path("m.csv"), "--metrics-every", "5"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  auto more = csvRows(path("m.csv"));
  ASSERT_EQ(more.size(), rows.size() + 4); // steps 25, 30, 35; epoch 3
  EXPECT_EQ(more[rows.size()][2], "25");
  EXPECT_EQ(more.back()[0], "epoch");
  EXPECT_EQ(more.back()[2], "36");

  // Resuming into a file that is not a metrics file is refused.
  {
    std::ofstream other(path("other.csv"));
    other << "a,b\n1,2\n";
  }
  CommandResult refused =
      runTrain({CNNC_FAKE_MODEL, "--data", data_, "-o", path("w2.safetensors"),
                "--resume", path("w.ckpt.safetensors"), "--epochs", "4",
                "--metrics", path("other.csv")});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(contains(refused.err, "not a metrics file")) << refused.err;
}

TEST_F(TrainCommandTest, MetricsEveryNeedsAMetricsFile) {
  CommandResult r = runTrain(
      args(CNNC_FAKE_MODEL, "w.safetensors", {"--metrics-every", "3"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--metrics-every needs --metrics FILE.csv"))
      << r.err;
  r = runTrain(args(CNNC_FAKE_MODEL, "w.safetensors",
                    {"--metrics", path("no/such/dir/m.csv")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no/such/dir")) << r.err;
}

} // namespace
} // namespace cnnc::rt
