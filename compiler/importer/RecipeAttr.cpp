// The `train:` recipe on its way into the library: checked against the
// network's input, then stored as the module's `cnn.train` attribute, which
// the library returns as JSON (cnnc_training_recipe).
#include "RecipeAttr.h"

namespace cnnc {

namespace shp = cnn::shape;
using namespace mlir;

DictionaryAttr recipeAttribute(const NetworkSpec &spec, Builder &builder) {
  const TrainSpec &t = spec.train;
  auto dict = [&](ArrayRef<NamedAttribute> entries) {
    return builder.getDictionaryAttr(entries);
  };
  auto named = [&](StringRef name, Attribute value) {
    return builder.getNamedAttr(name, value);
  };
  SmallVector<NamedAttribute> entries = {
      named("batch_size", builder.getI64IntegerAttr(t.batchSize)),
      named("epochs", builder.getI64IntegerAttr(t.epochs)),
      named("optimizer",
            dict({named("sgd",
                        dict({named("lr", builder.getF64FloatAttr(t.sgd.lr)),
                              named("momentum",
                                    builder.getF64FloatAttr(t.sgd.momentum)),
                              named("weight_decay",
                                    builder.getF64FloatAttr(t.sgd.weightDecay)),
                              named("nesterov",
                                    builder.getBoolAttr(t.sgd.nesterov))}))})),
  };
  if (t.stepLr.stepSize > 0)
    entries.push_back(named(
        "lr_schedule",
        dict({named("step", dict({named("step_size", builder.getI64IntegerAttr(
                                                         t.stepLr.stepSize)),
                                  named("gamma", builder.getF64FloatAttr(
                                                     t.stepLr.gamma))}))})));
  else if (t.cosineLr.tMax > 0)
    entries.push_back(named(
        "lr_schedule",
        dict({named(
            "cosine",
            dict({named("t_max", builder.getI64IntegerAttr(t.cosineLr.tMax)),
                  named("eta_min",
                        builder.getF64FloatAttr(t.cosineLr.etaMin))}))})));
  if (!t.data.mean.empty())
    entries.push_back(
        named("normalize",
              dict({named("mean", builder.getF64ArrayAttr(t.data.mean)),
                    named("std", builder.getF64ArrayAttr(t.data.std))})));
  SmallVector<NamedAttribute> augment;
  // RandomCrop keeps the input's size: pad, then crop a random window.
  if (t.data.cropPadding >= 0 && spec.input.size() == 3)
    augment.push_back(named(
        "random_crop", dict({named("size", builder.getI64ArrayAttr(
                                               {spec.input[1], spec.input[2]})),
                             named("padding", builder.getI64IntegerAttr(
                                                  t.data.cropPadding))})));
  // RandomResizedCrop and the eval-time crop produce the input's size.
  auto inputSize = [&](const cnn::shape::Pair &size) {
    return builder.getI64ArrayAttr(
        size[0] > 0 ? ArrayRef<int64_t>(size)
                    : ArrayRef<int64_t>(spec.input).drop_front());
  };
  if (t.data.resizedCrop && spec.input.size() == 3)
    augment.push_back(
        named("random_resized_crop",
              dict({named("size", inputSize(t.data.resizedCropSize)),
                    named("scale", builder.getF64ArrayAttr(t.data.scale)),
                    named("ratio", builder.getF64ArrayAttr(t.data.ratio))})));
  if (t.data.horizontalFlip)
    augment.push_back(named("horizontal_flip", builder.getBoolAttr(true)));
  if (!augment.empty())
    entries.push_back(named("augment", dict(augment)));
  if (t.data.evalTransform && spec.input.size() == 3) {
    SmallVector<NamedAttribute> eval;
    if (t.data.resize.size() == 1)
      eval.push_back(
          named("resize", builder.getI64IntegerAttr(t.data.resize[0])));
    else if (t.data.resize.size() == 2)
      eval.push_back(named("resize", builder.getI64ArrayAttr(t.data.resize)));
    if (t.data.centerCrop[0] > 0)
      eval.push_back(named("center_crop", inputSize(t.data.centerCrop)));
    entries.push_back(named("eval_transform", dict(eval)));
  }
  if (t.valSplit > 0)
    entries.push_back(named("val_split", builder.getF64FloatAttr(t.valSplit)));
  if (!t.keepBest)
    entries.push_back(named("keep_best", builder.getBoolAttr(false)));
  if (!t.initWeights.empty()) {
    SmallVector<Attribute> skip;
    for (const std::string &glob : t.initSkip)
      skip.push_back(builder.getStringAttr(glob));
    entries.push_back(named(
        "init", dict({named("weights", builder.getStringAttr(t.initWeights)),
                      named("skip", builder.getArrayAttr(skip))})));
  }
  return dict(entries);
}

void checkRecipeAgainstInput(const NetworkSpec &spec,
                             const RecipeErrorFn &error) {
  // RandomCrop pads and crops at the input's own size.
  if (spec.train.data.cropPadding >= 0 && spec.input.size() != 3)
    error(spec.train.data.cropPos,
          "random_crop needs an image input [channels, height, width], but "
          "the input is " +
              shp::format(spec.input));
  const DataPrepSpec &d = spec.train.data;
  struct Use {
    bool used;
    SourcePos pos;
    const char *what;
  };
  for (const Use &u :
       {Use{d.resizedCrop, d.resizedCropPos, "random_resized_crop"},
        Use{d.evalTransform, d.evalTransformPos, "eval_transform"}})
    if (u.used && spec.input.size() != 3 && !spec.input.empty())
      error(u.pos, std::string(u.what) +
                       " needs an image input [channels, height, width], but "
                       "the input is " +
                       shp::format(spec.input));
  if (spec.input.size() != 3)
    return;
  // Every transform must produce the network's input: a size written out
  // must be the input's height and width.
  const cnn::shape::Pair input{spec.input[1], spec.input[2]};
  auto check = [&](const cnn::shape::Pair &size, SourcePos pos,
                   const std::string &what) {
    if (size[0] > 0 && size != input)
      error(pos,
            what + " " + std::to_string(size[0]) + "x" +
                std::to_string(size[1]) + " is not the network's input size " +
                std::to_string(input[0]) + "x" + std::to_string(input[1]) +
                ": the transforms must produce the input (omit the size to "
                "use the input's)");
  };
  if (d.resizedCrop)
    check(d.resizedCropSize, d.resizedCropSizePos, "random_resized_crop size");
  if (d.evalTransform) {
    check(d.centerCrop, d.centerCropPos, "center_crop");
    if (d.centerCrop[0] == 0 && d.resize.size() == 2)
      check({d.resize[0], d.resize[1]}, d.resizePos, "resize");
  }
}

} // namespace cnnc
