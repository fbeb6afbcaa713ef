// NetworkSpec -> cnn dialect. Each layer is built by its entry of the layer
// table (LayerTable.h); every op's shape is checked by its shape rule as it
// is built. After an error the layers that depend on the failed one are not
// checked (their input shapes are unknown), the others are.
#include "RecipeAttr.h"

#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"
#include "cnnc/importer/Importer.h"
#include "cnnc/importer/LayerTable.h"

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

  Location locOf(SourcePos pos) {
    auto [file, at] = locateSource(spec.sources, pos, filename.str());
    return FileLineColLoc::get(&context, file, at.line, at.column);
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
  std::string nodeName(int index) const {
    return index == kNetworkInput ? "input" : spec.layers[index].name;
  }
  /// A parameter ({frozen} by its layer's `trainable: false` or a `freeze:`
  /// pattern) or a buffer, named <layer>.<suffix>.
  Value parameter(const LayerSpec &layer, StringRef suffix,
                  const shp::Shape &shape, bool isBuffer);

  const NetworkSpec &spec;
  StringRef filename;
  MLIRContext &context;
  OpBuilder builder;
  bool hadError = false;

private:
  /// Which `freeze:` patterns matched some parameter.
  std::vector<bool> freezeUsed;
  std::vector<std::string> parameterNames;

  void checkFreezePatterns();
};

/// The builder a layer table entry builds one layer with.
class OneLayer : public LayerBuilder {
public:
  OneLayer(NetworkBuilder &network, const LayerSpec &spec,
           ArrayRef<Value> inputs, ArrayRef<shp::Shape> shapes)
      : network(network), spec(spec), inputs(inputs), shapes(shapes) {}

  const LayerSpec &layer() const override { return spec; }
  OpBuilder &builder() override { return network.builder; }
  Location location() override { return network.layerLoc(spec); }
  Value input(size_t index) override { return inputs[index]; }
  const shp::Shape &inputShape(size_t index) override { return shapes[index]; }
  size_t inputCount() override { return inputs.size(); }
  std::string inputName(size_t index) override {
    return network.nodeName(spec.inputs[index]);
  }
  Value parameter(StringRef suffix, const shp::Shape &shape) override {
    return network.parameter(spec, suffix, shape, /*isBuffer=*/false);
  }
  Value buffer(StringRef suffix, const shp::Shape &shape) override {
    return network.parameter(spec, suffix, shape, /*isBuffer=*/true);
  }
  void error(const std::string &message) override {
    network.error(location(), message);
  }
  void errorAt(SourcePos pos, const std::string &message) override {
    network.error(network.locOf(pos), message);
  }
  bool accept(const shp::ShapeResult &result) override {
    if (!result.ok()) {
      error(title() + ": " + result.error);
      return false;
    }
    int64_t elements = 1;
    for (size_t i = 1; i < result.shape.size(); ++i)
      elements *= result.shape[i];
    if (elements > kMaxElements) {
      error(title() + " produces " + shp::format(result.shape) +
            ", more than " + std::to_string(kMaxElements) +
            " values per sample");
      return false;
    }
    return true;
  }

private:
  NetworkBuilder &network;
  const LayerSpec &spec;
  ArrayRef<Value> inputs;
  ArrayRef<shp::Shape> shapes;
};

Value NetworkBuilder::parameter(const LayerSpec &layer, StringRef suffix,
                                const shp::Shape &shape, bool isBuffer) {
  std::string name = layer.name + "." + suffix.str();
  parameterNames.push_back(name);
  bool frozen = false;
  // Buffers are never trained, so `freeze:` patterns do not apply to them.
  if (!isBuffer) {
    const ArgValue *trainable = layer.args.given("trainable");
    frozen = trainable && !trainable->flag;
    for (size_t i = 0; i < spec.train.freeze.size(); ++i)
      if (fnmatch(spec.train.freeze[i].c_str(), name.c_str(), 0) == 0) {
        freezeUsed[i] = true;
        frozen = true;
      }
  }
  return builder.create<cnn::ParameterOp>(
      layerLoc(layer), tensorType(shape), builder.getStringAttr(name),
      frozen ? builder.getUnitAttr() : UnitAttr(),
      isBuffer ? builder.getUnitAttr() : UnitAttr());
}

void NetworkBuilder::checkFreezePatterns() {
  for (size_t i = 0; i < spec.train.freeze.size(); ++i) {
    if (freezeUsed[i])
      continue;
    std::string names;
    for (const std::string &n : parameterNames)
      names += (names.empty() ? "" : ", ") + n;
    error(locOf(spec.trainPositions.at(recipe::elementPath("freeze", i))),
          "freeze pattern '" + spec.train.freeze[i] +
              "' matches no parameter (parameters: " + names + ")");
  }
}

OwningOpRef<ModuleOp> NetworkBuilder::build() {
  Location fileLoc = locOf(spec.inputPos);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(fileLoc, StringRef(spec.name));
  module->getOperation()->setAttr("cnn.loss", builder.getStringAttr(spec.loss));
  module->getOperation()->setAttr("cnn.train", recipeAttribute(spec, builder));
  // Read by cnn-autodiff; compiled into the training step, so not part of
  // the run-time recipe.
  module->getOperation()->setAttr(
      "cnn.frozen_batchnorm", builder.getStringAttr(recipe::frozenBatchNormName(
                                  spec.train.frozenBatchNorm)));

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
    // Shapes are unknown after an error: the layers that read a failed one
    // were already checked for syntax; their shapes cannot be.
    Value result;
    if (!inputs.empty() && llvm::all_of(inputs, [](Value v) { return !!v; })) {
      OneLayer one(*this, layer, inputs, inputShapes);
      result = layer.def->build(one);
    }
    values.push_back(result);
    shapes.push_back(result ? cnn::shapeOf(result) : shp::Shape());
  }
  Value output = values.empty() ? Value() : values.back();
  if (!hadError && output)
    checkFreezePatterns();
  checkRecipeAgainstInput(spec, [&](SourcePos pos, const std::string &text) {
    error(locOf(pos), text);
  });
  if (hadError || !output)
    return nullptr;

  builder.create<ReturnOp>(output.getLoc(), output);
  func.setType(
      builder.getFunctionType({tensorType(inputShape)}, {output.getType()}));
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
