#include "RecipeParser.h"

namespace cnnc {

void RecipeParser::parseSgd(const YAML::Node &node) {
  if (node.IsNull())
    return;
  if (!node.IsMap()) {
    reader.error(node,
                 "'sgd' must be a mapping such as {lr: 0.01, momentum: 0.9}");
    return;
  }
  auto keys = reader.keysOf(
      node, {"lr", "momentum", "weight_decay", "nesterov"}, "sgd arguments");
  SgdSpec &sgd = spec.train.sgd;
  if (keys.count("lr"))
    if (auto v = reader.real(keys["lr"].second, "lr", 0))
      sgd.lr = *v;
  if (keys.count("momentum"))
    if (auto v = reader.real(keys["momentum"].second, "momentum", 0))
      sgd.momentum = *v;
  if (keys.count("weight_decay"))
    if (auto v = reader.real(keys["weight_decay"].second, "weight_decay", 0))
      sgd.weightDecay = *v;
  if (keys.count("nesterov"))
    if (auto v = reader.boolean(keys["nesterov"].second, "nesterov"))
      sgd.nesterov = *v;
}

void RecipeParser::parseLrSchedule(const YAML::Node &node) {
  if (!node.IsMap() || node.size() != 1) {
    reader.error(node,
                 "'lr_schedule' must be one schedule such as "
                 "{step: {step_size: 2, gamma: 0.1}} or {cosine: {t_max: 10}}");
    return;
  }
  auto keys = reader.keysOf(node, {"step", "cosine"}, "lr_schedule");
  if (keys.count("step")) {
    const YAML::Node &step = keys["step"].second;
    if (!step.IsMap()) {
      reader.error(
          step, "'step' must be a mapping such as {step_size: 2, gamma: 0.1}");
      return;
    }
    auto args = reader.keysOf(step, {"step_size", "gamma"}, "step lr_schedule");
    if (!args.count("step_size")) {
      reader.error(step, "step lr_schedule needs 'step_size'");
      return;
    }
    if (auto v = reader.integer(args["step_size"].second, "step_size", 1))
      spec.train.stepLr.stepSize = *v;
    if (args.count("gamma"))
      if (auto v = reader.real(args["gamma"].second, "gamma", 0))
        spec.train.stepLr.gamma = *v;
  }
  if (keys.count("cosine")) {
    const YAML::Node &cosine = keys["cosine"].second;
    if (!cosine.IsMap()) {
      reader.error(
          cosine, "'cosine' must be a mapping such as {t_max: 10, eta_min: 0}");
      return;
    }
    auto args =
        reader.keysOf(cosine, {"t_max", "eta_min"}, "cosine lr_schedule");
    if (!args.count("t_max")) {
      reader.error(cosine, "cosine lr_schedule needs 't_max' (epochs)");
      return;
    }
    if (auto v = reader.integer(args["t_max"].second, "t_max", 1))
      spec.train.cosineLr.tMax = *v;
    if (args.count("eta_min"))
      if (auto v = reader.real(args["eta_min"].second, "eta_min", 0))
        spec.train.cosineLr.etaMin = *v;
  }
}

void RecipeParser::parseNormalize(const YAML::Node &node) {
  if (!node.IsMap()) {
    reader.error(
        node,
        "'normalize' must be a mapping such as {mean: [0.5], std: [0.5]}");
    return;
  }
  auto keys = reader.keysOf(node, {"mean", "std"}, "normalize");
  if (!keys.count("mean") || !keys.count("std")) {
    reader.error(node, "normalize needs both 'mean' and 'std'");
    return;
  }
  auto mean = reader.reals(keys["mean"].second, "mean", -1e30);
  auto std = reader.reals(keys["std"].second, "std", 1e-12);
  if (!mean || !std)
    return;
  if (mean->size() != std->size()) {
    reader.error(node, "normalize has " + std::to_string(mean->size()) +
                           " means but " + std::to_string(std->size()) +
                           " stds");
    return;
  }
  spec.train.data.mean = *mean;
  spec.train.data.std = *std;
}

void RecipeParser::parseAugment(const YAML::Node &node) {
  if (!node.IsMap()) {
    reader.error(node, "'augment' must be a mapping such as "
                       "{random_crop: {padding: 4}, horizontal_flip: true}");
    return;
  }
  auto keys = reader.keysOf(
      node, {"random_crop", "random_resized_crop", "horizontal_flip"},
      "augment");
  if (keys.count("random_crop")) {
    const YAML::Node &crop = keys["random_crop"].second;
    if (!crop.IsMap()) {
      reader.error(crop,
                   "'random_crop' must be a mapping such as {padding: 4}");
    } else {
      auto args = reader.keysOf(crop, {"padding"}, "random_crop");
      spec.train.data.cropPadding = 0;
      spec.train.data.cropPos = reader.posOf(keys["random_crop"].first);
      if (args.count("padding"))
        if (auto v = reader.integer(args["padding"].second, "padding", 0))
          spec.train.data.cropPadding = *v;
    }
  }
  if (keys.count("random_resized_crop"))
    parseRandomResizedCrop(keys["random_resized_crop"].first,
                           keys["random_resized_crop"].second);
  if (keys.count("horizontal_flip"))
    if (auto v =
            reader.boolean(keys["horizontal_flip"].second, "horizontal_flip"))
      spec.train.data.horizontalFlip = *v;
}

bool RecipeParser::parseRange(const YAML::Node &node, const std::string &what,
                              double (&out)[2]) {
  if (!node.IsSequence() || node.size() != 2) {
    reader.error(node, "'" + what + "' must be a list [min, max], got " +
                           reader.describe(node));
    return false;
  }
  auto lo = reader.real(node[0], what, 0), hi = reader.real(node[1], what, 0);
  if (!lo || !hi)
    return false;
  if (!(*lo > 0) || *lo > *hi) {
    reader.error(node, "'" + what +
                           "' must be [min, max] with 0 < min <= max, got [" +
                           node[0].Scalar() + ", " + node[1].Scalar() + "]");
    return false;
  }
  out[0] = *lo;
  out[1] = *hi;
  return true;
}

void RecipeParser::parseRandomResizedCrop(const YAML::Node &key,
                                          const YAML::Node &node) {
  DataPrepSpec &d = spec.train.data;
  d.resizedCrop = true;
  d.resizedCropPos = reader.posOf(key);
  if (node.IsNull())
    return; // all defaults: the input's size, torchvision's scale and ratio
  if (!node.IsMap()) {
    reader.error(node,
                 "'random_resized_crop' must be a mapping such as "
                 "{size: 224, scale: [0.08, 1.0], ratio: [0.75, 1.3333]}");
    return;
  }
  auto args =
      reader.keysOf(node, {"size", "scale", "ratio"}, "random_resized_crop");
  if (args.count("size")) {
    d.resizedCropSizePos = reader.posOf(args["size"].second);
    if (auto v = reader.pair(args["size"].second, "size", 1))
      d.resizedCropSize = *v;
  }
  if (args.count("scale") &&
      parseRange(args["scale"].second, "scale", d.scale) && d.scale[1] > 1)
    reader.error(args["scale"].second,
                 "'scale' is a fraction of the image's area: at most 1, got " +
                     args["scale"].second[1].Scalar());
  if (args.count("ratio"))
    parseRange(args["ratio"].second, "ratio", d.ratio);
}

void RecipeParser::parseEvalTransform(const YAML::Node &node) {
  DataPrepSpec &d = spec.train.data;
  d.evalTransform = true;
  d.evalTransformPos = reader.posOf(node);
  if (!node.IsMap() || node.size() == 0) {
    reader.error(node, "'eval_transform' must be a mapping such as "
                       "{resize: 256, center_crop: 224}");
    return;
  }
  auto keys = reader.keysOf(node, {"resize", "center_crop"}, "eval_transform");
  if (keys.count("resize")) {
    const YAML::Node &r = keys["resize"].second;
    d.resizePos = reader.posOf(r);
    if (r.IsScalar()) {
      if (auto v = reader.integer(r, "resize", 1))
        d.resize = {*v};
    } else if (auto v = reader.pair(r, "resize", 1)) {
      d.resize = {(*v)[0], (*v)[1]};
    }
  }
  if (keys.count("center_crop")) {
    d.centerCropPos = reader.posOf(keys["center_crop"].second);
    if (auto v = reader.pair(keys["center_crop"].second, "center_crop", 1))
      d.centerCrop = *v;
  }
}

void RecipeParser::parseFreeze(const YAML::Node &node) {
  auto add = [&](const YAML::Node &item) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      reader.error(item,
                   "'freeze' patterns are parameter names or globs such as "
                   "'conv*', got " +
                       reader.describe(item));
      return;
    }
    spec.train.freeze.push_back({item.Scalar(), reader.posOf(item)});
  };
  if (node.IsSequence()) {
    for (const YAML::Node &item : node)
      add(item);
  } else {
    add(node);
  }
}

void RecipeParser::parseTrain(const YAML::Node &node) {
  if (!node.IsMap()) {
    reader.error(node,
                 "'train' must be a mapping of batch_size, epochs, optimizer, "
                 "lr_schedule, normalize, augment, eval_transform, val_split, "
                 "keep_best, freeze, frozen_batchnorm and init");
    return;
  }
  auto keys =
      reader.keysOf(node,
                    {"batch_size", "epochs", "optimizer", "lr_schedule",
                     "normalize", "augment", "eval_transform", "val_split",
                     "keep_best", "freeze", "frozen_batchnorm", "init"},
                    "train");
  if (keys.count("batch_size"))
    if (auto v = reader.integer(keys["batch_size"].second, "batch_size", 1))
      spec.train.batchSize = *v;
  if (keys.count("epochs"))
    if (auto v = reader.integer(keys["epochs"].second, "epochs", 1))
      spec.train.epochs = *v;
  if (keys.count("optimizer")) {
    const YAML::Node &opt = keys["optimizer"].second;
    if (opt.IsScalar()) {
      if (opt.Scalar() != "sgd")
        reader.error(opt, "unknown optimizer '" + opt.Scalar() +
                              "' (supported: sgd)");
    } else if (opt.IsMap()) {
      auto optimizers = reader.keysOf(opt, {"sgd"}, "optimizer");
      if (optimizers.count("sgd"))
        parseSgd(optimizers["sgd"].second);
    } else {
      reader.error(opt,
                   "'optimizer' must be a mapping such as {sgd: {lr: 0.01}}");
    }
  }
  if (keys.count("lr_schedule"))
    parseLrSchedule(keys["lr_schedule"].second);
  if (keys.count("normalize"))
    parseNormalize(keys["normalize"].second);
  if (keys.count("augment"))
    parseAugment(keys["augment"].second);
  if (keys.count("eval_transform"))
    parseEvalTransform(keys["eval_transform"].second);
  if (keys.count("val_split"))
    if (auto v = reader.real(keys["val_split"].second, "val_split", 0)) {
      if (*v >= 1)
        reader.error(
            keys["val_split"].second,
            "'val_split' is the fraction of the training data held out for "
            "validation: below 1, got " +
                keys["val_split"].second.Scalar());
      else
        spec.train.valSplit = *v;
    }
  if (keys.count("keep_best"))
    if (auto v = reader.boolean(keys["keep_best"].second, "keep_best"))
      spec.train.keepBest = *v;
  if (keys.count("freeze"))
    parseFreeze(keys["freeze"].second);
  if (keys.count("frozen_batchnorm")) {
    const YAML::Node &mode = keys["frozen_batchnorm"].second;
    if (mode.IsScalar() &&
        (mode.Scalar() == "eval" || mode.Scalar() == "batch_stats"))
      spec.train.frozenBatchNorm = mode.Scalar();
    else
      reader.error(mode,
                   "'frozen_batchnorm' must be 'eval' (frozen batch norms use "
                   "and keep their running statistics) or 'batch_stats' (they "
                   "normalise with the batch and update them), got " +
                       reader.describe(mode));
  }
  if (keys.count("init"))
    parseInit(keys["init"].second);
}

void RecipeParser::parseInit(const YAML::Node &node) {
  if (!node.IsMap()) {
    reader.error(node,
                 "'init' must be a mapping such as "
                 "{weights: backbone.safetensors, skip: [fc.weight, fc.bias]}");
    return;
  }
  auto keys = reader.keysOf(node, {"weights", "skip"}, "init");
  if (!keys.count("weights")) {
    reader.error(node, "init needs 'weights', the file to start from");
  } else if (const YAML::Node &w = keys["weights"].second;
             !w.IsScalar() || w.Scalar().empty()) {
    reader.error(w, "'weights' is the path of a safetensors file, got " +
                        reader.describe(w));
  } else {
    spec.train.initWeights = w.Scalar();
  }
  if (!keys.count("skip"))
    return;
  const YAML::Node &skip = keys["skip"].second;
  auto add = [&](const YAML::Node &item) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      reader.error(
          item,
          "'skip' patterns are tensor names or globs such as 'fc.*', got " +
              reader.describe(item));
      return;
    }
    spec.train.initSkip.push_back(item.Scalar());
  };
  if (skip.IsSequence()) {
    for (const YAML::Node &item : skip)
      add(item);
  } else {
    add(skip);
  }
}

} // namespace cnnc
