#include "cnnc/train/Checkpoint.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/Safetensors.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace cnnc::rt {

namespace {

const char kMarker[] = "cnnc_checkpoint";

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The tensor names of a checkpoint of `model`, or an error when two coincide.
Status checkNamesDistinct(const ModelLibrary &model) {
  std::set<std::string> names;
  for (size_t i = 0; i < model.parameters().size(); ++i) {
    const std::string &p = model.parameters()[i].name;
    for (const std::string &n : {p, momentumTensorName(p), bestTensorName(p)})
      if (!names.insert(n).second)
        return Error(model.path() +
                     ": the parameter names make checkpoint tensor '" + n +
                     "' ambiguous");
  }
  return Status::success();
}

class MetadataReader {
public:
  MetadataReader(const std::map<std::string, std::string> &m, std::string path)
      : m_(m), path_(std::move(path)) {}

  Expected<std::string> text(const std::string &key) const {
    auto it = m_.find(key);
    if (it == m_.end())
      return Error(path_ + ": the checkpoint's metadata has no '" + key + "'");
    return it->second;
  }
  Expected<int64_t> integer(const std::string &key, int64_t min) const {
    Expected<std::string> t = text(key);
    if (!t)
      return t.error();
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(t->c_str(), &end, 10);
    if (t->empty() || *end || errno == ERANGE || v < min)
      return bad(key, *t);
    return static_cast<int64_t>(v);
  }
  Expected<uint64_t> unsignedInteger(const std::string &key) const {
    Expected<std::string> t = text(key);
    if (!t)
      return t.error();
    errno = 0;
    char *end = nullptr;
    unsigned long long v = std::strtoull(t->c_str(), &end, 10);
    if (t->empty() || (*t)[0] == '-' || *end || errno == ERANGE)
      return bad(key, *t);
    return static_cast<uint64_t>(v);
  }
  Expected<double> real(const std::string &key) const {
    Expected<std::string> t = text(key);
    if (!t)
      return t.error();
    char *end = nullptr;
    double v = std::strtod(t->c_str(), &end);
    if (t->empty() || *end || !std::isfinite(v))
      return bad(key, *t);
    return v;
  }
  Expected<bool> boolean(const std::string &key) const {
    Expected<std::string> t = text(key);
    if (!t)
      return t.error();
    if (*t != "true" && *t != "false")
      return bad(key, *t);
    return *t == "true";
  }

private:
  Error bad(const std::string &key, const std::string &value) const {
    return Error(path_ + ": the checkpoint's metadata '" + key +
                 "' is invalid: '" + value + "'");
  }
  const std::map<std::string, std::string> &m_;
  std::string path_;
};

#define CNNC_READ(var, expr)                                                   \
  do {                                                                         \
    auto r_ = (expr);                                                          \
    if (!r_)                                                                   \
      return r_.error();                                                       \
    var = *r_;                                                                 \
  } while (0)

} // namespace

std::string momentumTensorName(const std::string &name) {
  return "optimizer." + name + ".momentum_buffer";
}
std::string bestTensorName(const std::string &name) { return "best." + name; }

Status saveCheckpoint(const std::string &path, const ModelLibrary &model,
                      const TrainingCheckpoint &c) {
  if (Status s = checkNamesDistinct(model); !s)
    return s;
  const std::vector<ParameterSpec> &specs = model.parameters();
  const std::vector<bool> &trainable = model.trainable();
  if (c.parameters.size() != specs.size() ||
      c.momentum.size() != specs.size() ||
      (!c.bestParameters.empty() && c.bestParameters.size() != specs.size()))
    return Error(path +
                 ": the checkpoint does not hold one tensor per parameter");
  TensorMap tensors;
  for (size_t i = 0; i < specs.size(); ++i) {
    tensors.emplace(specs[i].name, c.parameters[i]);
    if (trainable[i])
      tensors.emplace(momentumTensorName(specs[i].name), c.momentum[i]);
    if (!c.bestParameters.empty())
      tensors.emplace(bestTensorName(specs[i].name), c.bestParameters[i]);
  }
  std::map<std::string, std::string> meta{
      {"format", "pt"},
      {kMarker, "1"},
      {"network", model.name()},
      {"epochs_completed", std::to_string(c.epochsCompleted)},
      {"steps", std::to_string(c.steps)},
      {"seed", std::to_string(c.seed)},
      {"epochs", std::to_string(c.epochs)},
      {"batch_size", std::to_string(c.batchSize)},
      {"lr", exact(c.sgd.lr)},
      {"momentum", exact(c.sgd.momentum)},
      {"weight_decay", exact(c.sgd.weightDecay)},
      {"nesterov", c.sgd.nesterov ? "true" : "false"},
      {"shuffle", c.shuffle ? "true" : "false"},
      {"lr_schedule", scheduleToJson(c.schedule)},
      {"best_accuracy", exact(c.bestAccuracy)},
      {"best_epoch", std::to_string(c.bestEpoch)},
      {"val_split", exact(c.valSplit)}};
  return writeSafetensors(path, tensors, meta);
}

Expected<TrainingCheckpoint> loadCheckpoint(const std::string &path,
                                            const ModelLibrary &model) {
  if (Status s = checkNamesDistinct(model); !s)
    return s.error();
  Expected<SafetensorsFile> file = readSafetensors(path);
  if (!file)
    return file.error();
  const std::map<std::string, std::string> &meta = file->metadata;
  if (!meta.count(kMarker))
    return Error(
        path +
        ": not a cnnc training checkpoint (it has no optimizer state); "
        "to start training from these weights, pass --weights " +
        path);
  MetadataReader r(meta, path);
  TrainingCheckpoint c;
  CNNC_READ(c.network, r.text("network"));
  CNNC_READ(c.bestEpoch, r.integer("best_epoch", 0));

  // Which tensors this network needs, and what differs.
  const std::vector<ParameterSpec> &specs = model.parameters();
  const std::vector<bool> &trainable = model.trainable();
  std::string problems;
  std::set<std::string> expected;
  auto need = [&](const std::string &name, const Shape &shape) {
    expected.insert(name);
    auto it = file->tensors.find(name);
    if (it == file->tensors.end())
      problems += "\n" + path + ": tensor '" + name + "' is missing";
    else if (it->second.dtype() != DType::F32 || it->second.shape() != shape)
      problems += "\n" + path + ": tensor '" + name + "' is " +
                  dtypeName(it->second.dtype()) + " " +
                  shapeToString(it->second.shape()) +
                  " but the network expects F32 " + shapeToString(shape);
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    need(specs[i].name, specs[i].shape);
    if (trainable[i])
      need(momentumTensorName(specs[i].name), specs[i].shape);
    if (c.bestEpoch > 0)
      need(bestTensorName(specs[i].name), specs[i].shape);
  }
  for (const auto &[name, tensor] : file->tensors)
    if (!expected.count(name))
      problems += "\n" + path + ": unexpected tensor '" + name + "'";
  if (!problems.empty())
    return Error(path + ": this checkpoint of the network '" + c.network +
                 "' does not fit the network '" + model.name() + "' in " +
                 model.path() + problems);

  CNNC_READ(c.epochsCompleted, r.integer("epochs_completed", 0));
  CNNC_READ(c.steps, r.integer("steps", 0));
  CNNC_READ(c.seed, r.unsignedInteger("seed"));
  CNNC_READ(c.epochs, r.integer("epochs", 1));
  CNNC_READ(c.batchSize, r.integer("batch_size", 1));
  CNNC_READ(c.sgd.lr, r.real("lr"));
  CNNC_READ(c.sgd.momentum, r.real("momentum"));
  CNNC_READ(c.sgd.weightDecay, r.real("weight_decay"));
  CNNC_READ(c.sgd.nesterov, r.boolean("nesterov"));
  CNNC_READ(c.shuffle, r.boolean("shuffle"));
  CNNC_READ(c.bestAccuracy, r.real("best_accuracy"));
  if (meta.count("val_split"))
    CNNC_READ(c.valSplit, r.real("val_split"));
  std::string schedule;
  CNNC_READ(schedule, r.text("lr_schedule"));
  CNNC_READ(c.schedule, scheduleFromJson(schedule, path));
  if (Status s = validateSgd(c.sgd); !s)
    return Error(path + ": " + s.message());
  if (c.bestEpoch > c.epochsCompleted)
    return Error(path + ": the checkpoint's best epoch " +
                 std::to_string(c.bestEpoch) +
                 " comes after the epochs it completed (" +
                 std::to_string(c.epochsCompleted) + ")");

  for (size_t i = 0; i < specs.size(); ++i) {
    TensorMap &t = file->tensors;
    c.parameters.push_back(std::move(t.at(specs[i].name)));
    c.momentum.push_back(
        trainable[i] ? std::move(t.at(momentumTensorName(specs[i].name)))
                     : Tensor());
    if (c.bestEpoch > 0)
      c.bestParameters.push_back(
          std::move(t.at(bestTensorName(specs[i].name))));
  }
  return c;
}

} // namespace cnnc::rt
