#include "cnnc/train/Recipe.h"

#include "cnnc/ModelLibrary.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <set>

namespace cnnc::rt {

namespace {

using json = nlohmann::json;

// JSON text for messages; never throws (invalid UTF-8 is replaced).
std::string show(const json &v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Reads one JSON object, remembering the path for messages
// ("net.so: training recipe: optimizer.sgd.lr must be a number").
class Reader {
public:
  Reader(const json &object, std::string source, std::string prefix)
      : object_(object), source_(std::move(source)),
        prefix_(std::move(prefix)) {}

  Error error(const std::string &key, const std::string &problem) const {
    return Error(source_ + ": training recipe: " + prefix_ + key + " " +
                 problem);
  }

  // The value of `key`, or null when it is absent or null.
  const json *get(const std::string &key) {
    seen_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null())
      return nullptr;
    return &*it;
  }

  Status number(const std::string &key, double &out) {
    const json *v = get(key);
    if (!v)
      return Status::success();
    if (!v->is_number() || !std::isfinite(v->get<double>()))
      return error(key, "must be a finite number, not " + show(*v));
    out = v->get<double>();
    return Status::success();
  }

  Status integer(const std::string &key, int64_t &out, int64_t min) {
    const json *v = get(key);
    if (!v)
      return Status::success();
    if (!v->is_number_integer() || v->get<int64_t>() < min)
      return error(key, "must be an integer of at least " +
                            std::to_string(min) + ", not " + show(*v));
    out = v->get<int64_t>();
    return Status::success();
  }

  Status boolean(const std::string &key, bool &out) {
    const json *v = get(key);
    if (!v)
      return Status::success();
    if (!v->is_boolean())
      return error(key, "must be true or false, not " + show(*v));
    out = v->get<bool>();
    return Status::success();
  }

  // An object value of `key`, or null when absent.
  Expected<const json *> object(const std::string &key) {
    const json *v = get(key);
    if (v && !v->is_object())
      return error(key, "must be an object, not " + show(*v));
    return v;
  }

  // Every key was read.
  Status noOtherKeys() const {
    for (auto it = object_.begin(); it != object_.end(); ++it)
      if (!seen_.count(it.key()))
        return Error(source_ + ": training recipe: unknown key '" + prefix_ +
                     it.key() + "'");
    return Status::success();
  }

  // The single key of a one-key object such as {"sgd": {...}}.
  Expected<std::string> onlyKey(const std::string &what) const {
    if (object_.size() != 1)
      return Error(source_ + ": training recipe: " + what +
                   " must hold exactly one entry, like {\"" +
                   (what == "optimizer" ? "sgd" : "step") + "\": {...}}");
    return object_.begin().key();
  }

  Reader child(const json &object, const std::string &key) const {
    return Reader(object, source_, prefix_ + key + ".");
  }

private:
  const json &object_;
  std::string source_, prefix_;
  std::set<std::string> seen_;
};

#define CNNC_TRY(expr)                                                         \
  do {                                                                         \
    if (Status s_ = (expr); !s_)                                               \
      return s_.error();                                                       \
  } while (0)

Status parseSgd(Reader &r, SgdOptions &sgd) {
  CNNC_TRY(r.number("lr", sgd.lr));
  CNNC_TRY(r.number("momentum", sgd.momentum));
  CNNC_TRY(r.number("weight_decay", sgd.weightDecay));
  CNNC_TRY(r.boolean("nesterov", sgd.nesterov));
  double dampening = 0;
  CNNC_TRY(r.number("dampening", dampening));
  if (dampening != 0)
    return r.error("dampening", "is not supported (only 0)");
  return r.noOtherKeys();
}

Status parseSchedule(const json &value, Reader &parent,
                     LrScheduleSpec &schedule) {
  Reader outer = parent.child(value, "lr_schedule");
  if (value.empty())
    return Status::success();
  Expected<std::string> kind = outer.onlyKey("lr_schedule");
  if (!kind)
    return kind.error();
  Expected<const json *> body = outer.object(*kind);
  if (!body)
    return body.error();
  static const json empty = json::object();
  Reader r = outer.child(*body ? **body : empty, *kind);
  if (*kind == "step") {
    schedule.kind = LrScheduleKind::Step;
    if (!*body || !(*body)->contains("step_size"))
      return r.error("step_size", "is required (StepLR has no default)");
    CNNC_TRY(r.integer("step_size", schedule.stepSize, 1));
    CNNC_TRY(r.number("gamma", schedule.gamma));
    if (schedule.gamma < 0)
      return r.error("gamma", "must not be negative");
  } else if (*kind == "cosine") {
    schedule.kind = LrScheduleKind::Cosine;
    if (!*body || !(*body)->contains("t_max"))
      return r.error("t_max", "is required (CosineAnnealingLR has no default)");
    CNNC_TRY(r.integer("t_max", schedule.tMax, 1));
    CNNC_TRY(r.number("eta_min", schedule.etaMin));
  } else {
    return Error(parent.error("lr_schedule", "").message() + "'" + *kind +
                 "' is not supported; use step or cosine");
  }
  return r.noOtherKeys();
}

Status parseFloats(Reader &r, const std::string &key, std::vector<float> &out) {
  const json *v = r.get(key);
  if (!v)
    return r.error(key, "is required");
  if (!v->is_array() || v->empty())
    return r.error(key, "must be a non-empty list of numbers, not " + show(*v));
  for (const json &x : *v) {
    if (!x.is_number() || !std::isfinite(x.get<double>()))
      return r.error(key, "must hold finite numbers, not " + show(x));
    out.push_back(static_cast<float>(x.get<double>()));
  }
  return Status::success();
}

// A positive integer or [h, w] of them.
Status parseSize(Reader &r, const std::string &key, int64_t &height,
                 int64_t &width) {
  const json *size = r.get(key);
  if (!size)
    return r.error(key, "is required");
  if (size->is_number_integer() && size->get<int64_t>() >= 1) {
    height = width = size->get<int64_t>();
  } else if (size->is_array() && size->size() == 2 &&
             (*size)[0].is_number_integer() && (*size)[1].is_number_integer() &&
             (*size)[0].get<int64_t>() >= 1 && (*size)[1].get<int64_t>() >= 1) {
    height = (*size)[0].get<int64_t>();
    width = (*size)[1].get<int64_t>();
  } else {
    return r.error(key,
                   "must be a positive integer or [h, w], not " + show(*size));
  }
  return Status::success();
}

// [min, max] with 0 < min <= max (and max <= `limit`).
Status parseRange(Reader &r, const std::string &key, double &lo, double &hi,
                  double limit) {
  const json *v = r.get(key);
  if (!v)
    return Status::success();
  if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number() ||
      !(*v)[1].is_number() || !((*v)[0].get<double>() > 0) ||
      (*v)[0].get<double>() > (*v)[1].get<double>() ||
      !((*v)[1].get<double>() <= limit))
    return r.error(key,
                   "must be [min, max] with 0 < min <= max" +
                       (std::isfinite(limit) ? " <= " + number(limit) : "") +
                       ", not " + show(*v));
  lo = (*v)[0].get<double>();
  hi = (*v)[1].get<double>();
  return Status::success();
}

Status parseResizedCrop(Reader &c, RandomResizedCropSpec &spec) {
  CNNC_TRY(parseSize(c, "size", spec.height, spec.width));
  CNNC_TRY(parseRange(c, "scale", spec.scaleMin, spec.scaleMax, 1.0));
  CNNC_TRY(parseRange(c, "ratio", spec.ratioMin, spec.ratioMax, HUGE_VAL));
  return c.noOtherKeys();
}

Status parseEvalTransform(Reader &r, EvalTransformSpec &spec) {
  if (const json *resize = r.get("resize")) {
    if (resize->is_number_integer() && resize->get<int64_t>() >= 1)
      spec.resizeShorter = resize->get<int64_t>();
    else
      CNNC_TRY(parseSize(r, "resize", spec.resizeHeight, spec.resizeWidth));
  }
  if (r.get("center_crop"))
    CNNC_TRY(parseSize(r, "center_crop", spec.cropHeight, spec.cropWidth));
  return r.noOtherKeys();
}

Status parseAugment(Reader &r, AugmentSpec &augment) {
  Expected<const json *> crop = r.object("random_crop");
  if (!crop)
    return crop.error();
  if (*crop) {
    Reader c = r.child(**crop, "random_crop");
    RandomCropSpec spec;
    CNNC_TRY(parseSize(c, "size", spec.height, spec.width));
    CNNC_TRY(c.integer("padding", spec.padding, 0));
    CNNC_TRY(c.noOtherKeys());
    augment.randomCrop = spec;
  }
  Expected<const json *> resized = r.object("random_resized_crop");
  if (!resized)
    return resized.error();
  if (*resized) {
    Reader c = r.child(**resized, "random_resized_crop");
    RandomResizedCropSpec spec;
    CNNC_TRY(parseResizedCrop(c, spec));
    augment.randomResizedCrop = spec;
  }
  if (const json *flip = r.get("horizontal_flip")) {
    if (flip->is_boolean())
      augment.horizontalFlip = flip->get<bool>() ? 0.5 : 0.0;
    else if (flip->is_number() && flip->get<double>() >= 0 &&
             flip->get<double>() <= 1)
      augment.horizontalFlip = flip->get<double>();
    else
      return r.error("horizontal_flip",
                     "must be true, false or a probability, not " +
                         show(*flip));
  }
  return r.noOtherKeys();
}

} // namespace

Status validateSgd(const SgdOptions &sgd) {
  if (!std::isfinite(sgd.lr) || sgd.lr <= 0)
    return Error("the learning rate must be a positive number, not " +
                 number(sgd.lr));
  if (!std::isfinite(sgd.momentum) || sgd.momentum < 0)
    return Error("the momentum must be 0 or more, not " + number(sgd.momentum));
  if (!std::isfinite(sgd.weightDecay) || sgd.weightDecay < 0)
    return Error("the weight decay must be 0 or more, not " +
                 number(sgd.weightDecay));
  if (sgd.nesterov && sgd.momentum == 0)
    return Error("Nesterov momentum needs a momentum above 0");
  return Status::success();
}

Expected<TrainingRecipe> parseTrainingRecipe(const std::string &text,
                                             const std::string &source) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return Error(source + ": the training recipe is not valid JSON: " + text);
  if (root.is_null())
    root = json::object();
  if (!root.is_object())
    return Error(source + ": the training recipe must be a JSON object, not " +
                 text);

  TrainingRecipe recipe;
  Reader r(root, source, "");
  CNNC_TRY(r.integer("batch_size", recipe.batchSize, 1));
  CNNC_TRY(r.integer("epochs", recipe.epochs, 1));
  if (const json *loss = r.get("loss"))
    if (*loss != "cross_entropy")
      return r.error("loss", "must be \"cross_entropy\", not " + show(*loss));

  Expected<const json *> optimizer = r.object("optimizer");
  if (!optimizer)
    return optimizer.error();
  if (*optimizer && !(*optimizer)->empty()) {
    Reader o = r.child(**optimizer, "optimizer");
    Expected<std::string> kind = o.onlyKey("optimizer");
    if (!kind)
      return kind.error();
    if (*kind != "sgd")
      return r.error("optimizer", "'" + *kind + "' is not supported; use sgd");
    Expected<const json *> sgd = o.object("sgd");
    if (!sgd)
      return sgd.error();
    if (*sgd) {
      Reader s = o.child(**sgd, "sgd");
      CNNC_TRY(parseSgd(s, recipe.sgd));
    }
  }
  if (Status s = validateSgd(recipe.sgd); !s)
    return Error(source + ": training recipe: " + s.message());

  Expected<const json *> schedule = r.object("lr_schedule");
  if (!schedule)
    return schedule.error();
  if (*schedule)
    CNNC_TRY(parseSchedule(**schedule, r, recipe.schedule));

  Expected<const json *> normalize = r.object("normalize");
  if (!normalize)
    return normalize.error();
  if (*normalize) {
    Reader n = r.child(**normalize, "normalize");
    NormalizeSpec spec;
    CNNC_TRY(parseFloats(n, "mean", spec.mean));
    CNNC_TRY(parseFloats(n, "std", spec.std));
    for (float s : spec.std)
      if (!(s > 0))
        return n.error("std", "must hold positive numbers");
    CNNC_TRY(n.noOtherKeys());
    recipe.normalize = std::move(spec);
  }

  Expected<const json *> augment = r.object("augment");
  if (!augment)
    return augment.error();
  if (*augment) {
    Reader a = r.child(**augment, "augment");
    CNNC_TRY(parseAugment(a, recipe.augment));
  }

  Expected<const json *> evalTransform = r.object("eval_transform");
  if (!evalTransform)
    return evalTransform.error();
  if (*evalTransform) {
    Reader e = r.child(**evalTransform, "eval_transform");
    EvalTransformSpec spec;
    CNNC_TRY(parseEvalTransform(e, spec));
    recipe.evalTransform = spec;
  }
  CNNC_TRY(r.number("val_split", recipe.valSplit));
  if (!(recipe.valSplit >= 0 && recipe.valSplit < 1))
    return r.error("val_split",
                   "must be in [0, 1), not " + number(recipe.valSplit));
  CNNC_TRY(r.boolean("keep_best", recipe.keepBest));

  Expected<const json *> init = r.object("init");
  if (!init)
    return init.error();
  if (*init) {
    Reader i = r.child(**init, "init");
    const json *weights = i.get("weights");
    if (!weights || !weights->is_string() ||
        weights->get<std::string>().empty())
      return i.error("weights", "must be the path of a weights file");
    recipe.initWeights = weights->get<std::string>();
    if (const json *skip = i.get("skip")) {
      if (!skip->is_array())
        return i.error("skip", "must be a list of tensor names or globs");
      for (const json &glob : *skip) {
        if (!glob.is_string() || glob.get<std::string>().empty())
          return i.error("skip", "must be a list of tensor names or globs");
        recipe.initSkip.push_back(glob.get<std::string>());
      }
    }
    CNNC_TRY(i.noOtherKeys());
  }
  CNNC_TRY(r.noOtherKeys());
  return recipe;
}

Expected<TrainingRecipe> trainingRecipe(const ModelLibrary &model) {
  return parseTrainingRecipe(model.trainingRecipeJson(), model.path());
}

std::string describeSchedule(const LrScheduleSpec &s) {
  switch (s.kind) {
  case LrScheduleKind::Constant:
    return "constant";
  case LrScheduleKind::Step:
    return "StepLR(step_size=" + std::to_string(s.stepSize) +
           ", gamma=" + number(s.gamma) + ")";
  case LrScheduleKind::Cosine:
    return "CosineAnnealingLR(T_max=" + std::to_string(s.tMax) +
           ", eta_min=" + number(s.etaMin) + ")";
  }
  return "?";
}

std::string scheduleToJson(const LrScheduleSpec &s) {
  json j = json::object();
  if (s.kind == LrScheduleKind::Step)
    j["step"] = {{"step_size", s.stepSize}, {"gamma", s.gamma}};
  else if (s.kind == LrScheduleKind::Cosine)
    j["cosine"] = {{"t_max", s.tMax}, {"eta_min", s.etaMin}};
  return show(j);
}

Expected<LrScheduleSpec> scheduleFromJson(const std::string &text,
                                          const std::string &source) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object())
    return Error(source +
                 ": the learning-rate schedule is not a JSON object: " + text);
  LrScheduleSpec spec;
  json root = json::object();
  Reader r(root, source, "");
  if (Status s = parseSchedule(value, r, spec); !s)
    return s.error();
  return spec;
}

} // namespace cnnc::rt
