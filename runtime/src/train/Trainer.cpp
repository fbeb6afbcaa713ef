#include "cnnc/train/Trainer.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/NonFinite.h"
#include "cnnc/data/BatchPrefetcher.h"
#include "cnnc/data/DataLoader.h"
#include "cnnc/train/LrSchedule.h"
#include "cnnc/train/Optimizer.h"
#include "cnnc/train/Progress.h"

#include <chrono>
#include <cmath>
#include <cstdio>

namespace cnnc::rt {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string fixed(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// One line per parameter or momentum tensor that holds NaN or infinite
// values, in the model's parameter order.
std::vector<std::string> nonFiniteState(const ModelLibrary &model,
                                        const std::vector<Tensor> &parameters,
                                        const std::vector<Tensor> &momentum) {
  auto pointers = [](const std::vector<Tensor> &tensors) {
    std::vector<const Tensor *> result;
    for (const Tensor &t : tensors)
      result.push_back(&t);
    return result;
  };
  std::vector<std::string> lines =
      nonFiniteParameters(model.parameters(), pointers(parameters));
  for (std::string &line :
       nonFiniteParameters(model.parameters(), pointers(momentum)))
    lines.push_back("the momentum of " + line);
  return lines;
}

// The validation counts of every process's shard, summed.
Status sumAcrossProcesses(EvalResult &result, dist::Communicator &comm) {
  int64_t counts[2] = {result.samples, result.correct};
  if (Status s = comm.sum(counts, 2); !s)
    return s;
  result.samples = counts[0];
  result.correct = counts[1];
  if (Status s = comm.sum(&result.lossSum, 1); !s)
    return s;
  return comm.sum(result.confusion.data(), result.confusion.size());
}

std::string joinLines(const std::vector<std::string> &lines) {
  std::string text;
  for (const std::string &line : lines)
    text += (text.empty() ? "" : "\n") + line;
  return text;
}

} // namespace

std::string formatEpochSummary(const EpochSummary &s) {
  return "epoch " + std::to_string(s.epoch) + "/" + std::to_string(s.epochs) +
         ": train loss " + fixed("%.4f", s.trainLoss) + ", val loss " +
         fixed("%.4f", s.validation.loss()) + ", val accuracy " +
         fixed("%.2f", 100.0 * s.validation.accuracy()) + "% (" +
         std::to_string(s.validation.correct) + "/" +
         std::to_string(s.validation.samples) + "), lr " + fixed("%.6g", s.lr) +
         ", " + fixed("%.2f", s.seconds) + " s, " +
         fixed("%.0f", s.imagesPerSecond()) + " images/s" +
         (s.best ? " (best)" : "");
}

Status train(const ModelLibrary &model, data::DataLoader &trainLoader,
             const data::DataLoader &validation, TrainingCheckpoint &state,
             Progress &progress, const EpochHook &afterEpoch,
             const StepHook &afterStep, dist::Communicator *comm) {
  const data::LoaderOptions &o = trainLoader.options();
  if (o.batchSize != state.batchSize || o.shuffle != state.shuffle ||
      o.seed != state.seed || o.dropLast)
    return Error(
        "internal error: the training DataLoader does not match the settings");
  if (Status s = validateSgd(state.sgd); !s)
    return s;
  // NaN in, NaN out: refuse at once rather than after a wasted epoch.
  if (std::vector<std::string> bad =
          nonFiniteState(model, state.parameters, state.momentum);
      !bad.empty())
    return Error("training cannot start from non-finite values:\n" +
                 joinLines(bad));
  Expected<SgdOptimizer> created = SgdOptimizer::create(
      model, state.parameters, state.momentum, state.steps, state.seed, comm);
  if (!created)
    return created.error();
  SgdOptimizer &optimizer = *created;
  const std::string &labelSource = trainLoader.dataset().labelsSource;

  for (int64_t e = state.epochsCompleted; e < state.epochs; ++e) {
    const auto start = std::chrono::steady_clock::now();
    EpochSummary summary;
    summary.epoch = e + 1;
    summary.epochs = state.epochs;
    summary.lr = learningRate(state.schedule, state.sgd.lr, e);
    trainLoader.setEpoch(e);
    const int64_t batches = trainLoader.numBatches();
    progress.startEpoch(e + 1, state.epochs, batches);
    double lossSum = 0.0;
    // The next batch is prepared while the step runs.
    data::BatchPrefetcher prefetcher(trainLoader);
    for (int64_t b = 0; b < batches; ++b) {
      Expected<const data::Batch *> next = prefetcher.next();
      if (!next)
        return next.error();
      const data::Batch &batch = **next;
      Expected<float> loss =
          optimizer.step(batch.images, batch.labels, summary.lr, state.sgd,
                         labelSource, batch.firstInGlobalBatch);
      if (!loss)
        return loss.error();
      if (!std::isfinite(*loss)) {
        progress.endEpoch();
        return Error("training diverged: the loss is " + fixed("%g", *loss) +
                     " at epoch " + std::to_string(e + 1) + ", batch " +
                     std::to_string(b + 1) + " (learning rate " +
                     fixed("%g", summary.lr) + "); try a lower learning rate");
      }
      const int64_t images = optimizer.lastBatchSize();
      lossSum += static_cast<double>(*loss) * static_cast<double>(images);
      summary.trainImages += images;
      progress.update(b + 1, lossSum / static_cast<double>(summary.trainImages),
                      summary.trainImages, secondsSince(start));
      if (afterStep) {
        StepRecord record;
        record.epoch = e + 1;
        record.batch = b + 1;
        record.batches = batches;
        record.step = optimizer.steps();
        record.lr = summary.lr;
        record.loss = *loss;
        record.images = images;
        record.epochSeconds = secondsSince(start);
        if (Status s = afterStep(record); !s) {
          progress.endEpoch();
          return s;
        }
      }
    }
    progress.endEpoch();
    summary.trainSeconds = secondsSince(start);
    summary.trainLoss = summary.trainImages
                            ? lossSum / static_cast<double>(summary.trainImages)
                            : 0.0;

    Expected<EvalResult> val = evaluate(
        model, [&](const Tensor &images) { return optimizer.forward(images); },
        validation);
    if (!val)
      return val.error();
    if (comm)
      if (Status s = sumAcrossProcesses(*val, *comm); !s)
        return s;
    if (Status s = optimizer.syncToHost(); !s)
      return s;
    Expected<std::optional<uint64_t>> agreed = optimizer.checkInSync();
    if (!agreed)
      return agreed.error();
    summary.checksum = *agreed;
    summary.validation = std::move(*val);
    summary.seconds = secondsSince(start);

    // A step can overflow the weights while its loss is still finite; such
    // an epoch must not reach a checkpoint or the final weights.
    if (std::vector<std::string> bad =
            nonFiniteState(model, optimizer.parameters(), optimizer.momentum());
        !bad.empty())
      return Error("training diverged in epoch " + std::to_string(e + 1) +
                   " (learning rate " + fixed("%g", summary.lr) +
                   "): nothing of it was written; try a lower learning "
                   "rate\n" +
                   joinLines(bad));

    // Update the state only now: it always describes whole epochs.
    state.parameters = optimizer.parameters();
    state.momentum = optimizer.momentum();
    state.steps = optimizer.steps();
    state.epochsCompleted = e + 1;
    summary.best = state.bestEpoch == 0 ||
                   summary.validation.accuracy() > state.bestAccuracy;
    if (summary.best) {
      state.bestParameters = state.parameters;
      state.bestAccuracy = summary.validation.accuracy();
      state.bestEpoch = e + 1;
    }
    if (afterEpoch)
      if (Status s = afterEpoch(summary, state); !s)
        return s;
  }
  return Status::success();
}

} // namespace cnnc::rt
