#include "cnnc/recipe/RecipeJson.h"

#include "cnnc/recipe/Suggest.h"

#include <array>
#include <cmath>
#include <map>

namespace cnnc::recipe {

using json = nlohmann::json;

namespace {

/// "'text'", a number, true or false, "a list", "a mapping" or "nothing":
/// a value in messages.
std::string describe(const json &value) {
  switch (value.type()) {
  case json::value_t::string:
    return "'" + value.get<std::string>() + "'";
  case json::value_t::boolean:
    return value.get<bool>() ? "true" : "false";
  case json::value_t::number_integer:
    return std::to_string(value.get<int64_t>());
  case json::value_t::number_unsigned:
    return std::to_string(value.get<uint64_t>());
  case json::value_t::number_float: {
    // 4.0, not 4: "must be an integer, got 4" would puzzle.
    std::string text = formatNumber(value.get<double>());
    bool integral = text.find_first_not_of("-0123456789") == std::string::npos;
    return integral ? text + ".0" : text;
  }
  case json::value_t::array:
    return "a list";
  case json::value_t::object:
    return "a mapping";
  default:
    return "nothing";
  }
}

/// describe(v), and why a quoted number or boolean is not one.
std::string got(const json &v) {
  if (v.is_string()) {
    json text = json::parse(v.get<std::string>(), nullptr, false);
    if (text.is_number() || text.is_boolean())
      return describe(v) + " (quoted, so text: leave out the quotes)";
  }
  return describe(v);
}

using Size = std::array<int64_t, 2>;
using Range = std::array<double, 2>;
/// An object's entries by key.
using Entries = std::map<std::string, const json *>;

const json *find(const Entries &entries, const char *key) {
  auto it = entries.find(key);
  return it == entries.end() ? nullptr : it->second;
}

/// Reads values of the schema's types, appending a problem for each that is
/// not one and going on, so that every mistake is reported.
class Reader {
public:
  explicit Reader(std::vector<Problem> &problems) : problems(problems) {}

  /// `message` follows the name of the value at `path`.
  void named(const std::string &path, const std::string &message) {
    problems.push_back({path, message, /*named=*/true});
  }
  void sentence(const std::string &path, const std::string &message,
                bool atKey = false) {
    problems.push_back({path, message, /*named=*/false, atKey});
  }

  /// The entries of `object` (at `path`, called `context` in messages) whose
  /// keys are `allowed`; the others are reported with the nearest allowed
  /// key.
  Entries entries(const json &object, const std::string &path,
                  const std::vector<std::string> &allowed,
                  const std::string &context) {
    Entries found;
    for (auto it = object.begin(); it != object.end(); ++it) {
      const std::string &key = it.key();
      bool known = false;
      for (const std::string &a : allowed)
        known |= a == key;
      if (known) {
        found[key] = &*it;
        continue;
      }
      std::string message = "unknown key '" + key + "' in " + context;
      if (auto near = nearestMatch(key, allowed))
        message += "; did you mean '" + *near + "'?";
      else
        message += " (expected one of: " + joinNames(allowed) + ")";
      sentence(keyPath(path, key), message, /*atKey=*/true);
    }
    return found;
  }

  std::optional<int64_t> integer(const json &v, const std::string &path,
                                 int64_t min) {
    bool integral = v.is_number_integer() ||
                    (v.is_number_float() && std::isfinite(v.get<double>()) &&
                     std::floor(v.get<double>()) == v.get<double>());
    if (integral &&
        (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(kMaxInteger)
                                : v.get<double>() > double(kMaxInteger))) {
      named(path, "is too large: " + describe(v) + " (at most " +
                      std::to_string(kMaxInteger) + ")");
      return std::nullopt;
    }
    if (!v.is_number_integer()) {
      named(path, "must be an integer, got " + got(v));
      return std::nullopt;
    }
    int64_t value = v.get<int64_t>();
    if (value < min) {
      named(path, "must be " +
                      (min == 0 ? std::string("non-negative")
                                : "at least " + std::to_string(min)) +
                      ", got " + describe(v));
      return std::nullopt;
    }
    return value;
  }

  /// A finite number.
  std::optional<double> real(const json &v, const std::string &path) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      named(path, "must be a number, got " + got(v));
      return std::nullopt;
    }
    return v.get<double>();
  }

  std::optional<double> atLeast(const json &v, const std::string &path,
                                double min) {
    std::optional<double> value = real(v, path);
    if (value && *value < min) {
      named(path,
            "must be at least " + formatNumber(min) + ", got " + describe(v));
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> boolean(const json &v, const std::string &path) {
    if (!v.is_boolean()) {
      named(path, "must be true or false, got " + got(v));
      return std::nullopt;
    }
    return v.get<bool>();
  }

  /// A positive integer, or [h, w] of them.
  std::optional<Size> size(const json &v, const std::string &path) {
    if (!v.is_array()) {
      if (!v.is_number()) {
        named(path, "must be an integer or a list [h, w], got " + got(v));
        return std::nullopt;
      }
      std::optional<int64_t> n = integer(v, path, 1);
      if (!n)
        return std::nullopt;
      return Size{*n, *n};
    }
    if (v.size() != 2) {
      named(path, "must be an integer or a list [h, w], got a list of " +
                      std::to_string(v.size()) + " values");
      return std::nullopt;
    }
    std::optional<int64_t> h = integer(v[0], elementPath(path, 0), 1);
    std::optional<int64_t> w = integer(v[1], elementPath(path, 1), 1);
    if (!h || !w)
      return std::nullopt;
    return Size{*h, *w};
  }

  /// A number or a non-empty list of them (one per channel), each above 0
  /// if `positive`.
  std::optional<std::vector<double>>
  numbers(const json &v, const std::string &path, bool positive) {
    auto one = [&](const json &x, const std::string &at) {
      std::optional<double> value = real(x, at);
      if (value && positive && !(*value > 0)) {
        named(at, "must be above 0, got " + describe(x));
        return std::optional<double>();
      }
      return value;
    };
    if (v.is_number()) {
      std::optional<double> value = one(v, path);
      if (!value)
        return std::nullopt;
      return std::vector<double>{*value};
    }
    if (!v.is_array() || v.empty()) {
      named(path, "must be a number or a list of numbers (one per channel), "
                  "got " +
                      describe(v));
      return std::nullopt;
    }
    std::vector<double> values;
    for (size_t i = 0; i < v.size(); ++i)
      if (std::optional<double> value = one(v[i], elementPath(path, i)))
        values.push_back(*value);
    if (values.size() != v.size())
      return std::nullopt;
    return values;
  }

  /// One non-empty string or a list of them; `rule` says what they are
  /// ("patterns are ...").
  std::vector<std::string> strings(const json &v, const std::string &path,
                                   const std::string &rule) {
    std::vector<std::string> values;
    auto one = [&](const json &x, const std::string &at) {
      if (x.is_string() && !x.get<std::string>().empty())
        values.push_back(x.get<std::string>());
      else
        named(at, rule + ", got " + describe(x));
    };
    if (v.is_array())
      for (size_t i = 0; i < v.size(); ++i)
        one(v[i], elementPath(path, i));
    else
      one(v, path);
    return values;
  }

  /// [min, max] with 0 < min <= max.
  std::optional<Range> range(const json &v, const std::string &path) {
    if (!v.is_array() || v.size() != 2) {
      named(path, "must be a list [min, max], got " + describe(v));
      return std::nullopt;
    }
    std::optional<double> lo = real(v[0], elementPath(path, 0));
    std::optional<double> hi = real(v[1], elementPath(path, 1));
    if (!lo || !hi)
      return std::nullopt;
    if (!(*lo > 0) || *lo > *hi) {
      named(path, "must be [min, max] with 0 < min <= max, got [" +
                      describe(v[0]) + ", " + describe(v[1]) + "]");
      return std::nullopt;
    }
    return Range{*lo, *hi};
  }

private:
  std::vector<Problem> &problems;
};

void readSgd(Reader &r, const json &v, const std::string &path,
             SgdOptions &sgd) {
  if (v.is_null())
    return; // `sgd` alone: every default
  if (!v.is_object()) {
    r.named(path, "must be a mapping such as {lr: 0.01, momentum: 0.9}, got " +
                      describe(v));
    return;
  }
  Entries keys = r.entries(
      v, path, {"lr", "momentum", "weight_decay", "nesterov", "dampening"},
      "sgd arguments");
  auto number = [&](const char *key, double &out) {
    if (const json *x = find(keys, key))
      if (std::optional<double> value = r.real(*x, keyPath(path, key)))
        out = *value;
  };
  number("lr", sgd.lr);
  number("momentum", sgd.momentum);
  number("weight_decay", sgd.weightDecay);
  if (const json *x = find(keys, "nesterov"))
    if (std::optional<bool> value = r.boolean(*x, keyPath(path, "nesterov")))
      sgd.nesterov = *value;
  // torch.optim.SGD's dampening, accepted for familiarity at its default.
  double dampening = 0;
  number("dampening", dampening);
  if (dampening != 0)
    r.named(keyPath(path, "dampening"),
            "must be 0 (SGD without dampening), got " +
                describe(*find(keys, "dampening")));
}

void readOptimizer(Reader &r, const json &v, SgdOptions &sgd) {
  const std::string path = "optimizer";
  if (v.is_string()) {
    if (v.get<std::string>() != "sgd")
      r.sentence(path,
                 "unknown optimizer " + describe(v) + " (supported: sgd)");
    return;
  }
  if (!v.is_object()) {
    r.named(path, "must be 'sgd' or a mapping such as {sgd: {lr: 0.01}}, got " +
                      describe(v));
    return;
  }
  Entries keys = r.entries(v, path, {"sgd"}, "optimizer");
  if (const json *s = find(keys, "sgd"))
    readSgd(r, *s, keyPath(path, "sgd"), sgd);
}

/// The keys of a schedule: one required integer of at least 1 (its length
/// in epochs) and one optional number of at least 0.
struct ScheduleKeys {
  const char *name, *count, *countNote, *number, *example;
};
const ScheduleKeys kStepKeys{"step", "step_size", "", "gamma",
                             "{step_size: 2, gamma: 0.1}"};
const ScheduleKeys kCosineKeys{"cosine", "t_max", " (epochs)", "eta_min",
                               "{t_max: 10, eta_min: 0}"};

void readScheduleBody(Reader &r, const json &body, const ScheduleKeys &keys,
                      int64_t &count, double &number) {
  const std::string at = keyPath("lr_schedule", keys.name);
  if (!body.is_object()) {
    r.named(at, std::string("must be a mapping such as ") + keys.example);
    return;
  }
  const std::string context = std::string(keys.name) + " lr_schedule";
  Entries args = r.entries(body, at, {keys.count, keys.number}, context);
  if (const json *n = find(args, keys.count)) {
    if (auto value = r.integer(*n, keyPath(at, keys.count), 1))
      count = *value;
  } else {
    r.sentence(at, context + " needs '" + keys.count + "'" + keys.countNote);
  }
  if (const json *x = find(args, keys.number))
    if (auto value = r.atLeast(*x, keyPath(at, keys.number), 0))
      number = *value;
}

LrScheduleSpec readLrSchedule(Reader &r, const json &v) {
  LrScheduleSpec schedule;
  if (!v.is_object() || v.size() > 1) {
    r.named("lr_schedule",
            "must be one schedule such as "
            "{step: {step_size: 2, gamma: 0.1}} or {cosine: {t_max: 10}}");
    return schedule;
  }
  Entries keys = r.entries(v, "lr_schedule", {"step", "cosine"}, "lr_schedule");
  if (const json *step = find(keys, "step")) {
    schedule.kind = LrScheduleKind::Step;
    readScheduleBody(r, *step, kStepKeys, schedule.stepSize, schedule.gamma);
  }
  if (const json *cosine = find(keys, "cosine")) {
    schedule.kind = LrScheduleKind::Cosine;
    readScheduleBody(r, *cosine, kCosineKeys, schedule.tMax, schedule.etaMin);
  }
  return schedule;
}

std::optional<NormalizeSpec> readNormalize(Reader &r, const json &v) {
  const std::string path = "normalize";
  if (!v.is_object()) {
    r.named(path, "must be a mapping such as {mean: [0.5], std: [0.5]}");
    return std::nullopt;
  }
  Entries keys = r.entries(v, path, {"mean", "std"}, "normalize");
  std::optional<std::vector<double>> mean, std;
  if (const json *m = find(keys, "mean"))
    mean = r.numbers(*m, keyPath(path, "mean"), /*positive=*/false);
  if (const json *s = find(keys, "std"))
    std = r.numbers(*s, keyPath(path, "std"), /*positive=*/true);
  if (!find(keys, "mean") || !find(keys, "std")) {
    r.sentence(path, "normalize needs both 'mean' and 'std'");
    return std::nullopt;
  }
  if (!mean || !std)
    return std::nullopt;
  if (mean->size() != std->size()) {
    r.sentence(path, "normalize has " + std::to_string(mean->size()) +
                         " means but " + std::to_string(std->size()) + " stds");
    return std::nullopt;
  }
  return NormalizeSpec{*mean, *std};
}

void readRandomCrop(Reader &r, const json &v, const std::string &path,
                    AugmentSpec &augment) {
  RandomCropSpec crop;
  if (!v.is_null()) { // `random_crop` alone: every default
    if (!v.is_object()) {
      r.named(path, "must be a mapping such as {padding: 4}");
      return;
    }
    Entries args = r.entries(v, path, {"size", "padding"}, "random_crop");
    if (const json *s = find(args, "size"))
      if (std::optional<Size> size = r.size(*s, keyPath(path, "size"))) {
        crop.height = (*size)[0];
        crop.width = (*size)[1];
      }
    if (const json *p = find(args, "padding"))
      if (auto value = r.integer(*p, keyPath(path, "padding"), 0))
        crop.padding = *value;
  }
  augment.randomCrop = crop;
}

void readRandomResizedCrop(Reader &r, const json &v, const std::string &path,
                           AugmentSpec &augment) {
  RandomResizedCropSpec crop;
  if (!v.is_null()) { // `random_resized_crop` alone: every default
    if (!v.is_object()) {
      r.named(path, "must be a mapping such as {size: 224, scale: [0.08, "
                    "1.0], ratio: [0.75, 1.3333]}");
      return;
    }
    Entries args =
        r.entries(v, path, {"size", "scale", "ratio"}, "random_resized_crop");
    if (const json *s = find(args, "size"))
      if (std::optional<Size> size = r.size(*s, keyPath(path, "size"))) {
        crop.height = (*size)[0];
        crop.width = (*size)[1];
      }
    if (const json *s = find(args, "scale")) {
      const std::string at = keyPath(path, "scale");
      if (std::optional<Range> scale = r.range(*s, at)) {
        if ((*scale)[1] > 1)
          r.named(at, "is a fraction of the image's area: at most 1, got " +
                          describe((*s)[1]));
        else {
          crop.scaleMin = (*scale)[0];
          crop.scaleMax = (*scale)[1];
        }
      }
    }
    if (const json *s = find(args, "ratio"))
      if (std::optional<Range> ratio = r.range(*s, keyPath(path, "ratio"))) {
        crop.ratioMin = (*ratio)[0];
        crop.ratioMax = (*ratio)[1];
      }
  }
  augment.randomResizedCrop = crop;
}

AugmentSpec readAugment(Reader &r, const json &v) {
  const std::string path = "augment";
  AugmentSpec augment;
  if (!v.is_object()) {
    r.named(path, "must be a mapping such as {random_crop: {padding: 4}, "
                  "horizontal_flip: true}");
    return augment;
  }
  Entries keys = r.entries(
      v, path, {"random_crop", "random_resized_crop", "horizontal_flip"},
      "augment");
  if (const json *c = find(keys, "random_crop"))
    readRandomCrop(r, *c, keyPath(path, "random_crop"), augment);
  if (const json *c = find(keys, "random_resized_crop"))
    readRandomResizedCrop(r, *c, keyPath(path, "random_resized_crop"), augment);
  if (const json *f = find(keys, "horizontal_flip")) {
    if (f->is_boolean())
      augment.horizontalFlip = f->get<bool>() ? 0.5 : 0.0;
    else if (f->is_number() && f->get<double>() >= 0 && f->get<double>() <= 1)
      augment.horizontalFlip = f->get<double>();
    else
      r.named(keyPath(path, "horizontal_flip"),
              "must be true, false or a probability in [0, 1], got " +
                  describe(*f));
  }
  return augment;
}

std::optional<EvalTransformSpec> readEvalTransform(Reader &r, const json &v) {
  const std::string path = "eval_transform";
  if (!v.is_object() || v.empty()) {
    r.named(path, "must be a mapping such as {resize: 256, center_crop: 224}");
    return std::nullopt;
  }
  EvalTransformSpec e;
  Entries keys =
      r.entries(v, path, {"resize", "center_crop"}, "eval_transform");
  if (const json *s = find(keys, "resize")) {
    const std::string at = keyPath(path, "resize");
    if (!s->is_array()) {
      if (auto value = r.integer(*s, at, 1))
        e.resizeShorter = *value;
    } else if (std::optional<Size> size = r.size(*s, at)) {
      {
        e.resizeHeight = (*size)[0];
        e.resizeWidth = (*size)[1];
      }
    }
  }
  if (const json *s = find(keys, "center_crop")) {
    if (s->is_null()) // `center_crop` alone: the input's size
      e.cropHeight = e.cropWidth = kInputSize;
    else if (std::optional<Size> size =
                 r.size(*s, keyPath(path, "center_crop"))) {
      e.cropHeight = (*size)[0];
      e.cropWidth = (*size)[1];
    }
  }
  return e;
}

void readInit(Reader &r, const json &v, TrainingRecipe &recipe) {
  const std::string path = "init";
  if (!v.is_object()) {
    r.named(path,
            "must be a mapping such as "
            "{weights: backbone.safetensors, skip: [fc.weight, fc.bias]}");
    return;
  }
  Entries keys = r.entries(v, path, {"weights", "skip"}, "init");
  if (const json *w = find(keys, "weights")) {
    if (w->is_string() && !w->get<std::string>().empty())
      recipe.initWeights = w->get<std::string>();
    else
      r.named(keyPath(path, "weights"),
              "is the path of a safetensors file, got " + describe(*w));
  } else {
    r.sentence(path, "init needs 'weights', the file to start from");
  }
  if (const json *s = find(keys, "skip"))
    recipe.initSkip =
        r.strings(*s, keyPath(path, "skip"),
                  "patterns are tensor names or globs such as 'fc.*'");
}

} // namespace

TrainingRecipe parseRecipe(const json &value, std::vector<Problem> &problems) {
  TrainingRecipe recipe;
  Reader r(problems);
  if (value.is_null())
    return recipe;
  if (!value.is_object()) {
    r.sentence("", "'train' must be a mapping of batch_size, epochs, "
                   "optimizer, lr_schedule, normalize, augment, "
                   "eval_transform, val_split, keep_best, freeze, "
                   "frozen_batchnorm and init, got " +
                       describe(value));
    return recipe;
  }
  Entries keys =
      r.entries(value, "",
                {"batch_size", "epochs", "optimizer", "lr_schedule",
                 "normalize", "augment", "eval_transform", "val_split",
                 "keep_best", "freeze", "frozen_batchnorm", "init"},
                "train");
  if (const json *v = find(keys, "batch_size"))
    if (auto n = r.integer(*v, "batch_size", 1))
      recipe.batchSize = *n;
  if (const json *v = find(keys, "epochs"))
    if (auto n = r.integer(*v, "epochs", 1))
      recipe.epochs = *n;
  if (const json *v = find(keys, "optimizer")) {
    readOptimizer(r, *v, recipe.sgd);
    checkSgd(recipe.sgd, "optimizer.sgd", problems);
  }
  if (const json *v = find(keys, "lr_schedule"))
    recipe.schedule = readLrSchedule(r, *v);
  if (const json *v = find(keys, "normalize"))
    recipe.normalize = readNormalize(r, *v);
  if (const json *v = find(keys, "augment"))
    recipe.augment = readAugment(r, *v);
  if (const json *v = find(keys, "eval_transform"))
    recipe.evalTransform = readEvalTransform(r, *v);
  if (const json *v = find(keys, "val_split"))
    if (auto x = r.atLeast(*v, "val_split", 0)) {
      if (*x >= 1)
        r.named("val_split", "is the fraction of the training data held out "
                             "for validation: below 1, got " +
                                 describe(*v));
      else
        recipe.valSplit = *x;
    }
  if (const json *v = find(keys, "keep_best"))
    if (auto b = r.boolean(*v, "keep_best"))
      recipe.keepBest = *b;
  if (const json *v = find(keys, "init"))
    readInit(r, *v, recipe);
  if (const json *v = find(keys, "freeze"))
    recipe.freeze = r.strings(
        *v, "freeze", "patterns are parameter names or globs such as 'conv*'");
  if (const json *v = find(keys, "frozen_batchnorm")) {
    if (*v == "eval" || *v == "batch_stats")
      recipe.frozenBatchNorm =
          *v == "eval" ? FrozenBatchNorm::Eval : FrozenBatchNorm::BatchStats;
    else
      r.named("frozen_batchnorm",
              "must be 'eval' (frozen batch norms use and keep their running "
              "statistics) or 'batch_stats' (they normalise with the batch "
              "and update them), got " +
                  describe(*v));
  }
  return recipe;
}

LrScheduleSpec parseLrSchedule(const json &value,
                               std::vector<Problem> &problems) {
  Reader r(problems);
  return readLrSchedule(r, value);
}

json toJson(const LrScheduleSpec &s) {
  json j = json::object();
  if (s.kind == LrScheduleKind::Step)
    j["step"] = {{"step_size", s.stepSize}, {"gamma", s.gamma}};
  else if (s.kind == LrScheduleKind::Cosine)
    j["cosine"] = {{"t_max", s.tMax}, {"eta_min", s.etaMin}};
  return j;
}

json toJson(const TrainingRecipe &recipe) {
  json j = {{"batch_size", recipe.batchSize},
            {"epochs", recipe.epochs},
            {"optimizer",
             {{"sgd",
               {{"lr", recipe.sgd.lr},
                {"momentum", recipe.sgd.momentum},
                {"weight_decay", recipe.sgd.weightDecay},
                {"nesterov", recipe.sgd.nesterov}}}}},
            {"val_split", recipe.valSplit},
            {"keep_best", recipe.keepBest}};
  if (recipe.schedule.kind != LrScheduleKind::Constant)
    j["lr_schedule"] = toJson(recipe.schedule);
  if (recipe.normalize)
    j["normalize"] = {{"mean", recipe.normalize->mean},
                      {"std", recipe.normalize->std}};
  // A size is written once resolveForInput knows it; left out, it is the
  // input's.
  auto size = [](json &object, const char *key, int64_t h, int64_t w) {
    if (h != kInputSize)
      object[key] = json::array({h, w});
  };
  const AugmentSpec &a = recipe.augment;
  json augment = json::object();
  if (a.randomCrop) {
    json crop = {{"padding", a.randomCrop->padding}};
    size(crop, "size", a.randomCrop->height, a.randomCrop->width);
    augment["random_crop"] = crop;
  }
  if (a.randomResizedCrop) {
    const RandomResizedCropSpec &c = *a.randomResizedCrop;
    json crop = {{"scale", {c.scaleMin, c.scaleMax}},
                 {"ratio", {c.ratioMin, c.ratioMax}}};
    size(crop, "size", c.height, c.width);
    augment["random_resized_crop"] = crop;
  }
  if (a.horizontalFlip > 0)
    augment["horizontal_flip"] = a.horizontalFlip;
  if (!augment.empty())
    j["augment"] = augment;
  if (const std::optional<EvalTransformSpec> &e = recipe.evalTransform) {
    json eval = json::object();
    if (e->resizeShorter > 0)
      eval["resize"] = e->resizeShorter;
    else if (e->resizeHeight > 0)
      eval["resize"] = json::array({e->resizeHeight, e->resizeWidth});
    if (e->cropHeight == kInputSize)
      eval["center_crop"] = nullptr;
    else if (e->cropHeight > 0)
      eval["center_crop"] = json::array({e->cropHeight, e->cropWidth});
    j["eval_transform"] = eval;
  }
  if (!recipe.initWeights.empty())
    j["init"] = {{"weights", recipe.initWeights}, {"skip", recipe.initSkip}};
  return j;
}

} // namespace cnnc::recipe
