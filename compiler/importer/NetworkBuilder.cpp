// NetworkSpec -> cnn dialect. Shapes are checked here, layer by layer, with
// the same shape rules the op verifiers use; after an error the layers that
// depend on the failed one are not checked (their input shapes are unknown),
// the others are.
#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"
#include "cnnc/importer/Importer.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <fnmatch.h>

using namespace mlir;
namespace shp = cnn::shape;

namespace cnnc {
namespace {

/// Activations larger than this per sample (1 GiB of floats) are surely a
/// mistake in the file.
constexpr int64_t kMaxElements = int64_t(1) << 28;

class NetworkBuilder {
public:
  NetworkBuilder(const NetworkSpec &spec, StringRef filename,
                 MLIRContext &context)
      : spec(spec), filename(filename), context(context), builder(&context) {}

  OwningOpRef<ModuleOp> build();

private:
  const NetworkSpec &spec;
  StringRef filename;
  MLIRContext &context;
  OpBuilder builder;
  bool hadError = false;
  Value current;           // the input of the layer being added, then
                           // its result; null after an error
  shp::Shape currentShape; // valid while `current` is

  Location locOf(SourcePos pos) {
    return FileLineColLoc::get(&context, filename, pos.line, pos.column);
  }
  Location layerLoc(const LayerSpec &layer) {
    return NameLoc::get(StringAttr::get(&context, layer.name),
                        locOf(layer.pos));
  }
  void error(Location loc, const Twine &message) {
    hadError = true;
    emitError(loc) << message;
  }
  RankedTensorType tensorType(const shp::Shape &shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }
  /// Which `freeze:` patterns matched some parameter.
  std::vector<bool> freezeUsed;
  std::vector<std::string> parameterNames;

  bool frozen(const LayerSpec &layer, const std::string &name) {
    bool isFrozen = !layer.trainable;
    for (size_t i = 0; i < spec.train.freeze.size(); ++i)
      if (fnmatch(spec.train.freeze[i].glob.c_str(), name.c_str(), 0) == 0) {
        freezeUsed[i] = true;
        isFrozen = true;
      }
    return isFrozen;
  }
  Value parameter(const LayerSpec &layer, StringRef suffix,
                  const shp::Shape &shape) {
    std::string name = layer.name + "." + suffix.str();
    parameterNames.push_back(name);
    return builder.create<cnn::ParameterOp>(
        layerLoc(layer), tensorType(shape), builder.getStringAttr(name),
        frozen(layer, name) ? builder.getUnitAttr() : UnitAttr(), UnitAttr());
  }
  /// A buffer (never trained, so `freeze:` patterns do not apply to it).
  Value buffer(const LayerSpec &layer, StringRef suffix,
               const shp::Shape &shape) {
    std::string name = layer.name + "." + suffix.str();
    parameterNames.push_back(name);
    return builder.create<cnn::ParameterOp>(layerLoc(layer), tensorType(shape),
                                            builder.getStringAttr(name),
                                            UnitAttr(), builder.getUnitAttr());
  }
  void checkFreezePatterns();
  void checkImageTransforms();
  ArrayAttr pairAttr(shp::Pair p) {
    return builder.getI64ArrayAttr({p[0], p[1]});
  }

  void addLayer(const LayerSpec &layer);
  void addConv2d(const LayerSpec &layer);
  void addLinear(const LayerSpec &layer);
  void addPool(const LayerSpec &layer);
  void addAdd(const LayerSpec &layer, ArrayRef<Value> inputs,
              ArrayRef<shp::Shape> shapes);
  std::string inputName(int index) const {
    return index == kNetworkInput ? "input" : spec.layers[index].name;
  }
  void addBatchNorm2d(const LayerSpec &layer);
  /// Accepts a layer's inferred output, or reports the rule's message.
  void accept(const LayerSpec &layer, const shp::ShapeResult &result,
              llvm::function_ref<Value(RankedTensorType)> create);
  DictionaryAttr trainAttr();
};

void NetworkBuilder::accept(
    const LayerSpec &layer, const shp::ShapeResult &result,
    llvm::function_ref<Value(RankedTensorType)> create) {
  if (!result.ok()) {
    error(layerLoc(layer), Twine(layerKindName(layer.kind)) + " '" +
                               layer.name + "': " + result.error);
    current = nullptr;
    return;
  }
  int64_t elements = 1;
  for (size_t i = 1; i < result.shape.size(); ++i)
    elements *= result.shape[i];
  if (elements > kMaxElements) {
    error(layerLoc(layer), Twine(layerKindName(layer.kind)) + " '" +
                               layer.name + "' produces " +
                               shp::format(result.shape) + ", more than " +
                               Twine(kMaxElements) + " values per sample");
    current = nullptr;
    return;
  }
  currentShape = result.shape;
  current = create(tensorType(result.shape));
}

void NetworkBuilder::addConv2d(const LayerSpec &layer) {
  if (currentShape.size() != 4) {
    error(layerLoc(layer), "conv2d '" + layer.name +
                               "' needs an [N, C, H, W] input but gets " +
                               shp::format(currentShape));
    current = nullptr;
    return;
  }
  int64_t inChannels = currentShape[1];
  if (layer.inChannels && *layer.inChannels != inChannels)
    error(locOf(layer.inChannelsPos),
          "in_channels is " + Twine(*layer.inChannels) +
              " but the layer's input has " + Twine(inChannels) +
              " channels (shape " + shp::format(currentShape) + ")");
  shp::Conv2dArgs args{layer.stride, layer.padding, layer.dilation,
                       layer.groups};
  shp::Shape weight = shp::conv2dWeightShape(inChannels, layer.outChannels,
                                             layer.kernel, layer.groups);
  std::optional<shp::Shape> bias;
  if (layer.bias)
    bias = shp::Shape{layer.outChannels};
  accept(layer, shp::conv2d(currentShape, weight, bias, args),
         [&](RankedTensorType type) -> Value {
           Value w = parameter(layer, "weight", weight);
           Value b = bias ? parameter(layer, "bias", *bias) : Value();
           return builder.create<cnn::Conv2dOp>(
               layerLoc(layer), type, current, w, b, pairAttr(layer.stride),
               pairAttr(layer.padding), pairAttr(layer.dilation),
               builder.getI64IntegerAttr(layer.groups));
         });
}

void NetworkBuilder::addLinear(const LayerSpec &layer) {
  if (currentShape.size() != 2) {
    error(layerLoc(layer),
          "linear '" + layer.name + "' needs an [N, features] input but gets " +
              shp::format(currentShape) + "; add a 'flatten' layer before it");
    current = nullptr;
    return;
  }
  int64_t inFeatures = currentShape[1];
  if (layer.inChannels && *layer.inChannels != inFeatures)
    error(locOf(layer.inChannelsPos),
          "in_features is " + Twine(*layer.inChannels) +
              " but the layer's input has " + Twine(inFeatures) +
              " features (shape " + shp::format(currentShape) + ")");
  shp::Shape weight{layer.outChannels, inFeatures};
  std::optional<shp::Shape> bias;
  if (layer.bias)
    bias = shp::Shape{layer.outChannels};
  accept(layer, shp::linear(currentShape, weight, bias),
         [&](RankedTensorType type) -> Value {
           Value w = parameter(layer, "weight", weight);
           Value b = bias ? parameter(layer, "bias", *bias) : Value();
           return builder.create<cnn::LinearOp>(layerLoc(layer), type, current,
                                                w, b);
         });
}

void NetworkBuilder::addPool(const LayerSpec &layer) {
  shp::Pool2dArgs args{layer.kernel, layer.stride, layer.padding,
                       layer.dilation};
  Location loc = layerLoc(layer);
  switch (layer.kind) {
  case LayerKind::MaxPool2d:
    accept(layer, shp::maxPool2d(currentShape, args),
           [&](RankedTensorType type) -> Value {
             return builder.create<cnn::MaxPool2dOp>(
                 loc, type, current, pairAttr(layer.kernel),
                 pairAttr(layer.stride), pairAttr(layer.padding),
                 pairAttr(layer.dilation));
           });
    return;
  case LayerKind::AvgPool2d:
    accept(layer, shp::avgPool2d(currentShape, args),
           [&](RankedTensorType type) -> Value {
             return builder.create<cnn::AvgPool2dOp>(
                 loc, type, current, pairAttr(layer.kernel),
                 pairAttr(layer.stride), pairAttr(layer.padding),
                 builder.getBoolAttr(layer.countIncludePad));
           });
    return;
  default:
    accept(layer, shp::adaptiveAvgPool2d(currentShape, layer.outputSize),
           [&](RankedTensorType type) -> Value {
             return builder.create<cnn::AdaptiveAvgPool2dOp>(
                 loc, type, current, pairAttr(layer.outputSize));
           });
  }
}

void NetworkBuilder::addAdd(const LayerSpec &layer, ArrayRef<Value> inputs,
                            ArrayRef<shp::Shape> shapes) {
  shp::ShapeResult result = shp::add(shapes[0], shapes[1]);
  if (!result.ok()) {
    error(layerLoc(layer),
          "add '" + layer.name + "': the shapes of its inputs differ: " +
              shp::format(shapes[0]) + " from '" + inputName(layer.inputs[0]) +
              "' and " + shp::format(shapes[1]) + " from '" +
              inputName(layer.inputs[1]) + "'");
    current = nullptr;
    return;
  }
  accept(layer, result, [&](RankedTensorType type) -> Value {
    return builder.create<cnn::AddOp>(layerLoc(layer), type, inputs[0],
                                      inputs[1]);
  });
}

void NetworkBuilder::addBatchNorm2d(const LayerSpec &layer) {
  if (currentShape.size() != 4) {
    error(layerLoc(layer), "batchnorm2d '" + layer.name +
                               "' needs an [N, C, H, W] input but gets " +
                               shp::format(currentShape));
    current = nullptr;
    return;
  }
  int64_t channels = currentShape[1];
  if (layer.inChannels && *layer.inChannels != channels)
    error(locOf(layer.inChannelsPos),
          "num_features is " + Twine(*layer.inChannels) +
              " but the layer's input has " + Twine(channels) +
              " channels (shape " + shp::format(currentShape) + ")");
  shp::Shape perChannel{channels};
  accept(layer,
         shp::batchNorm2d(currentShape, {{"weight", perChannel},
                                         {"bias", perChannel},
                                         {"running_mean", perChannel},
                                         {"running_var", perChannel}}),
         [&](RankedTensorType type) -> Value {
           // torchvision's state_dict order: weight, bias, then buffers.
           Value w = parameter(layer, "weight", perChannel);
           Value b = parameter(layer, "bias", perChannel);
           Value mean = buffer(layer, "running_mean", perChannel);
           Value var = buffer(layer, "running_var", perChannel);
           // Eval mode: func @forward is inference; cnn-autodiff switches
           // the training step's copy to batch statistics.
           return builder.create<cnn::BatchNorm2dOp>(
               layerLoc(layer), type, current, w, b, mean, var,
               builder.getF64FloatAttr(layer.eps),
               builder.getF64FloatAttr(layer.momentum),
               builder.getBoolAttr(false));
         });
}

void NetworkBuilder::addLayer(const LayerSpec &layer) {
  Location loc = layerLoc(layer);
  switch (layer.kind) {
  case LayerKind::Conv2d:
    return addConv2d(layer);
  case LayerKind::Linear:
    return addLinear(layer);
  case LayerKind::Relu:
    return accept(layer, shp::elementwise(currentShape),
                  [&](auto type) -> Value {
                    return builder.create<cnn::ReluOp>(loc, type, current);
                  });
  case LayerKind::Tanh:
    return accept(layer, shp::elementwise(currentShape),
                  [&](auto type) -> Value {
                    return builder.create<cnn::TanhOp>(loc, type, current);
                  });
  case LayerKind::Sigmoid:
    return accept(layer, shp::elementwise(currentShape),
                  [&](auto type) -> Value {
                    return builder.create<cnn::SigmoidOp>(loc, type, current);
                  });
  case LayerKind::MaxPool2d:
  case LayerKind::AvgPool2d:
  case LayerKind::AdaptiveAvgPool2d:
    return addPool(layer);
  case LayerKind::Flatten:
    return accept(layer, shp::flatten(currentShape), [&](auto type) -> Value {
      return builder.create<cnn::FlattenOp>(loc, type, current);
    });
  case LayerKind::Add:
    return; // addAdd: it has two inputs
  case LayerKind::BatchNorm2d:
    return addBatchNorm2d(layer);
  }
}

DictionaryAttr NetworkBuilder::trainAttr() {
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

void NetworkBuilder::checkImageTransforms() {
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
      error(locOf(u.pos),
            std::string(u.what) +
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
      error(locOf(pos),
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

void NetworkBuilder::checkFreezePatterns() {
  for (size_t i = 0; i < spec.train.freeze.size(); ++i) {
    if (freezeUsed[i])
      continue;
    std::string names;
    for (const std::string &n : parameterNames)
      names += (names.empty() ? "" : ", ") + n;
    error(locOf(spec.train.freeze[i].pos),
          "freeze pattern '" + spec.train.freeze[i].glob +
              "' matches no parameter (parameters: " + names + ")");
  }
}

OwningOpRef<ModuleOp> NetworkBuilder::build() {
  Location fileLoc = locOf(spec.inputPos);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(fileLoc, StringRef(spec.name));
  module->getOperation()->setAttr("cnn.loss", builder.getStringAttr(spec.loss));
  module->getOperation()->setAttr("cnn.train", trainAttr());
  // Read by cnn-autodiff; compiled into the training step, so not part of
  // the run-time recipe.
  module->getOperation()->setAttr(
      "cnn.frozen_batchnorm",
      builder.getStringAttr(spec.train.frozenBatchNorm));

  shp::Shape inputShape{shp::kDynamic};
  inputShape.insert(inputShape.end(), spec.input.begin(), spec.input.end());
  auto func =
      FuncOp::create(fileLoc, "forward",
                     builder.getFunctionType({tensorType(inputShape)}, {}));
  module->push_back(func);
  builder.setInsertionPointToStart(func.addEntryBlock());

  Value input = func.getArgument(0);
  freezeUsed.assign(spec.train.freeze.size(), false);
  if (spec.input.empty())
    input = nullptr; // 'input' itself was reported
  // Each layer's result, by index (null after an error).
  std::vector<Value> values;
  std::vector<shp::Shape> shapes;
  for (const LayerSpec &layer : spec.layers) {
    SmallVector<Value, 2> inputs;
    SmallVector<shp::Shape, 2> inputShapes;
    for (int index : layer.inputs) {
      inputs.push_back(index == kNetworkInput ? input : values[index]);
      inputShapes.push_back(index == kNetworkInput ? inputShape
                                                   : shapes[index]);
    }
    current = nullptr;
    // Shapes are unknown after an error: the layers that read a failed one
    // were already checked for syntax; their shapes cannot be.
    if (!inputs.empty() && llvm::all_of(inputs, [](Value v) { return !!v; })) {
      current = inputs[0];
      currentShape = inputShapes[0];
      if (layer.kind == LayerKind::Add)
        addAdd(layer, inputs, inputShapes);
      else
        addLayer(layer);
    }
    values.push_back(current);
    shapes.push_back(current ? currentShape : shp::Shape());
  }
  current = values.empty() ? Value() : values.back();
  if (!hadError && current)
    checkFreezePatterns();
  if (spec.train.data.cropPadding >= 0 && spec.input.size() != 3)
    error(locOf(spec.train.data.cropPos),
          "random_crop needs an image input [channels, height, width], but "
          "the input is " +
              shp::format(spec.input));
  checkImageTransforms();
  if (hadError || !current)
    return nullptr;

  builder.create<ReturnOp>(current.getLoc(), current);
  func.setType(
      builder.getFunctionType({tensorType(inputShape)}, {current.getType()}));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

OwningOpRef<ModuleOp> buildNetwork(const NetworkSpec &spec, StringRef filename,
                                   MLIRContext &context) {
  context.getOrLoadDialect<cnn::CnnDialect>();
  context.getOrLoadDialect<StandardOpsDialect>();
  return NetworkBuilder(spec, filename, context).build();
}

} // namespace cnnc
