// A process killed (SIGKILL) while writing a checkpoint never leaves a
// partial file in its place: the previous file stays intact and readable.
#include "TrainTestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/Checkpoint.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cnnc::rt {
namespace {

using namespace std::chrono_literals;

class AtomicWriteKillTest : public test::TempDirTest {};

// 32 MiB in 64 tensors, all holding `value`.
TensorMap bigTensors(float value) {
  TensorMap m;
  for (int i = 0; i < 64; ++i) {
    Tensor t(DType::F32, {128, 1024});
    std::fill(t.f32(), t.f32() + t.numElements(), value);
    m.emplace("t" + std::to_string(100 + i), std::move(t));
  }
  return m;
}

// Whether some file in `dir` is being written: larger than 0 bytes but
// clearly smaller than a whole file of `fullSize` bytes.
bool writeInProgress(const std::filesystem::path &dir, uintmax_t fullSize) {
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
    uintmax_t size = std::filesystem::file_size(e.path(), ec);
    if (!ec && size > 0 && size + 4096 < fullSize)
      return true;
  }
  return false;
}

TEST_F(AtomicWriteKillTest, KilledWhileRewritingLeavesAWholeFile) {
  const std::string file = path("ckpt.safetensors");
  ASSERT_TRUE(
      writeSafetensors(file, bigTensors(1.0f), {{"version", "1"}}).ok());
  const uintmax_t fullSize = std::filesystem::file_size(file);
  int caughtMidWrite = 0;
  for (int round = 0; round < 4; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int k = 2;; ++k) {
        TensorMap m = bigTensors(static_cast<float>(k));
        if (!writeSafetensors(file, m, {{"version", std::to_string(k)}}).ok())
          _exit(2);
      }
    }
    // Kill it in the middle of a write: as soon as some file (the temporary
    // one, or the checkpoint itself were it written in place) is partial.
    auto deadline = std::chrono::steady_clock::now() + 3s;
    bool midWrite = false;
    while (!(midWrite = writeInProgress(dir_, fullSize)) &&
           std::chrono::steady_clock::now() < deadline) {
    }
    caughtMidWrite += midWrite;
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the writer stopped by itself: " << status;

    // The file is whole: it parses and every value is the one its metadata
    // names.
    Expected<SafetensorsFile> f = readSafetensors(file);
    ASSERT_TRUE(f.ok()) << f.message();
    const float v = std::stof(f->metadata.at("version"));
    ASSERT_EQ(f->tensors.size(), 64u);
    for (const auto &[name, t] : f->tensors)
      ASSERT_EQ(std::count(t.f32(), t.f32() + t.numElements(), v),
                t.numElements())
          << name;
  }
  // The test saw the writes it interrupted (else it tested nothing).
  EXPECT_GE(caughtMidWrite, 2);
}

TEST_F(AtomicWriteKillTest, KilledTrainingLeavesAResumableCheckpoint) {
  // Enough data for the fake model to spend a little time per epoch.
  const int64_t n = 3000;
  std::string data =
      test::writeNpyData(path("x.npy"), path("y.npy"), test::separableImages(n),
                         test::cyclicLabels(n));
  const std::string out = path("w.safetensors"),
                    ckpt = path("w.ckpt.safetensors");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::ostringstream sink;
    _exit(runTrainCommand(
        {CNNC_FAKE_MODEL, "--data", data, "-o", out, "--epochs", "100000"},
        sink, sink));
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!std::filesystem::exists(ckpt) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(
      30ms); // several more epochs, checkpoints being rewritten
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  Expected<ModelLibrary> model = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(model.ok());
  Expected<TrainingCheckpoint> c = loadCheckpoint(ckpt, *model);
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_GE(c->epochsCompleted, 1);
  EXPECT_EQ(c->steps, c->epochsCompleted * (n / 4));
  // The best weights it names are on disk, whole.
  EXPECT_TRUE(readSafetensors(path("w.best.safetensors")).ok());

  // And it resumes for one more epoch.
  test::CommandResult r = test::runTrain(
      {CNNC_FAKE_MODEL, "--data", data, "-o", out, "--resume", ckpt, "--epochs",
       std::to_string(c->epochsCompleted + 1)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(readSafetensors(out).ok());
}

} // namespace
} // namespace cnnc::rt
