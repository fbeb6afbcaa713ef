#include "cnnc/train/MetricsLog.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace cnnc::rt {

const char kMetricsHeader[] = "kind,epoch,step,progress,lr,train_loss,"
                              "val_loss,val_accuracy,images_per_second,seconds";

namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

} // namespace

Expected<MetricsLog> MetricsLog::open(const std::string &path,
                                      int64_t everySteps,
                                      std::optional<int64_t> resumedAfter) {
  std::string kept = std::string(kMetricsHeader) + "\n";
  if (resumedAfter) {
    std::ifstream old(path);
    std::string line;
    if (old && std::getline(old, line)) {
      if (line != kMetricsHeader)
        return Error(path + ": not a metrics file of `cnnc train --metrics` "
                            "(its first line is not the header); give "
                            "another --metrics file");
      while (std::getline(old, line)) {
        // kind,epoch,step,...: rows of steps after the checkpoint, and a
        // last line an interrupted write left unfinished, go.
        std::istringstream fields(line);
        std::string kind, epoch, step;
        if (!std::getline(fields, kind, ',') ||
            !std::getline(fields, epoch, ',') ||
            !std::getline(fields, step, ',') ||
            std::count(line.begin(), line.end(), ',') != 9)
          continue;
        char *end = nullptr;
        long long at = std::strtoll(step.c_str(), &end, 10);
        if (end && *end == '\0' && at <= *resumedAfter)
          kept += line + "\n";
      }
    }
  }
  std::ofstream file(path, std::ios::trunc);
  if (!file)
    return Error("cannot write the metrics file '" + path + "'");
  MetricsLog log(std::move(file), path, everySteps);
  log.file_ << kept;
  if (Status s = log.written(); !s)
    return s.error();
  return log;
}

Status MetricsLog::written() {
  file_.flush();
  if (!file_)
    return Error("cannot write the metrics file '" + path_ + "'");
  return Status::success();
}

Status MetricsLog::step(const StepRecord &r) {
  if (r.batch == 1) // a new epoch: its clock starts again
    windowStart_ = 0.0;
  lossSum_ += r.loss * static_cast<double>(r.images);
  images_ += r.images;
  if (everySteps_ <= 0 || r.step % everySteps_ != 0)
    return Status::success();
  const double seconds = r.epochSeconds - windowStart_;
  file_ << "step," << r.epoch << "," << r.step << ","
        << number(static_cast<double>(r.epoch - 1) +
                  static_cast<double>(r.batch) / static_cast<double>(r.batches))
        << "," << number(r.lr) << ","
        << number(lossSum_ / static_cast<double>(images_)) << ",,,"
        << (seconds > 0 ? number(static_cast<double>(images_) / seconds) : "")
        << "," << number(r.epochSeconds) << "\n";
  lossSum_ = 0.0;
  images_ = 0;
  windowStart_ = r.epochSeconds;
  return written();
}

Status MetricsLog::epoch(const EpochSummary &s, int64_t steps) {
  // Steps after the last step row belong to no row but this one.
  lossSum_ = 0.0;
  images_ = 0;
  const bool validated = s.validation.samples > 0;
  file_ << "epoch," << s.epoch << "," << steps << "," << s.epoch << ","
        << number(s.lr) << "," << number(s.trainLoss) << ","
        << (validated ? number(s.validation.loss()) : "") << ","
        << (validated ? number(s.validation.accuracy()) : "") << ","
        << number(s.imagesPerSecond()) << "," << number(s.trainSeconds) << "\n";
  return written();
}

} // namespace cnnc::rt
