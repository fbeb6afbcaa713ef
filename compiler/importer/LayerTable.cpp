#include "cnnc/importer/LayerTable.h"

#include <limits>

#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"

namespace cnnc {

namespace shp = cnn::shape;
using mlir::NamedAttribute;
using mlir::Value;

//===----------------------------------------------------------------------===//
// ArgSpec
//===----------------------------------------------------------------------===//

namespace {
ArgSpec makeArg(std::string name, ArgSpec::Type type, double min) {
  ArgSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.min = min;
  return spec;
}
} // namespace

ArgSpec ArgSpec::integer(std::string name, int64_t min) {
  return makeArg(std::move(name), Type::Integer, double(min));
}
ArgSpec ArgSpec::pair(std::string name, int64_t min) {
  return makeArg(std::move(name), Type::Pair, double(min));
}
ArgSpec ArgSpec::flag(std::string name) {
  return makeArg(std::move(name), Type::Flag, 0);
}
ArgSpec ArgSpec::real(std::string name, double min) {
  return makeArg(std::move(name), Type::Real, min);
}

ArgSpec ArgSpec::choice(std::string name, std::vector<std::string> words) {
  ArgSpec spec = makeArg(std::move(name), Type::Choice, 0);
  spec.choices = std::move(words);
  return spec;
}

ArgSpec ArgSpec::defaultsTo(const char *word) && {
  presence = Presence::Defaulted;
  defaultValue.choice = word;
  return std::move(*this);
}

ArgSpec ArgSpec::defaultsTo(int64_t value) && {
  presence = Presence::Defaulted;
  defaultValue.integer = value;
  return std::move(*this);
}
ArgSpec ArgSpec::defaultsTo(shp::Pair value) && {
  presence = Presence::Defaulted;
  defaultValue.pair = value;
  return std::move(*this);
}
ArgSpec ArgSpec::defaultsTo(bool value) && {
  presence = Presence::Defaulted;
  defaultValue.flag = value;
  return std::move(*this);
}
ArgSpec ArgSpec::defaultsTo(double value) && {
  presence = Presence::Defaulted;
  defaultValue.real = value;
  return std::move(*this);
}
ArgSpec ArgSpec::defaultsToArgument(std::string other) && {
  presence = Presence::Defaulted;
  defaultFrom = std::move(other);
  return std::move(*this);
}
ArgSpec ArgSpec::orOneOf(std::vector<std::string> words) && {
  choices = std::move(words);
  return std::move(*this);
}
ArgSpec ArgSpec::optional() && {
  presence = Presence::Optional;
  return std::move(*this);
}
ArgSpec ArgSpec::mustBePositive() && {
  positive = true;
  return std::move(*this);
}
ArgSpec ArgSpec::atMost(double value) && {
  max = value;
  return std::move(*this);
}
ArgSpec ArgSpec::onlyAccepts(int64_t value, std::string message) && {
  onlyValue = ArgValue();
  onlyValue->integer = value;
  onlyValueMessage = std::move(message);
  return std::move(*this);
}
ArgSpec ArgSpec::onlyAccepts(bool value, std::string message) && {
  onlyValue = ArgValue();
  onlyValue->flag = value;
  onlyValueMessage = std::move(message);
  return std::move(*this);
}
ArgSpec ArgSpec::refusesNull(std::string message) && {
  nullMessage = std::move(message);
  return std::move(*this);
}

const ArgSpec *LayerDef::arg(const std::string &argName) const {
  for (const ArgSpec &a : args)
    if (a.name == argName)
      return &a;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// LayerBuilder helpers
//===----------------------------------------------------------------------===//

std::string LayerBuilder::title() const {
  return layer().def->name + " '" + layer().name + "'";
}

bool LayerBuilder::requireInputRank(size_t rank, const char *what,
                                    const char *hint) {
  if (inputShape().size() == rank)
    return true;
  error(title() + " needs " + what + " but gets " + shp::format(inputShape()) +
        hint);
  return false;
}

void LayerBuilder::checkDeclared(const char *arg, int64_t actual,
                                 const char *noun) {
  const ArgValue *declared = args().given(arg);
  if (!declared || declared->integer == actual)
    return;
  errorAt(declared->pos.value_or(layer().pos),
          std::string(arg) + " is " + std::to_string(declared->integer) +
              " but the layer's input has " + std::to_string(actual) + " " +
              noun + " (shape " + shp::format(inputShape()) + ")");
}

mlir::ArrayAttr LayerBuilder::pairAttr(const char *arg) {
  shp::Pair p = args().pair(arg);
  return builder().getI64ArrayAttr({p[0], p[1]});
}

//===----------------------------------------------------------------------===//
// Build functions
//===----------------------------------------------------------------------===//

namespace {

NamedAttribute named(LayerBuilder &b, const char *name, mlir::Attribute value) {
  return b.builder().getNamedAttr(name, value);
}

mlir::ArrayAttr pairAttr(LayerBuilder &b, shp::Pair p) {
  return b.builder().getI64ArrayAttr({p[0], p[1]});
}

/// What a conv2d pads, [begin, end] per axis and the mode: PyTorch's
/// padding 'same' (stride 1 only, as PyTorch), 'valid' (none), or the same
/// number on both sides.
std::optional<shp::Pad2dArgs> convPadding(LayerBuilder &b) {
  const LayerArgs &a = b.args();
  const ArgValue &padding = *a.given("padding");
  shp::Pad2dArgs pad;
  if (padding.choice == "same") {
    if (a.pair("stride") != shp::Pair{1, 1}) {
      b.errorAt(padding.pos.value_or(b.layer().pos),
                "padding 'same' needs stride 1, as in PyTorch (the output "
                "would not keep the input size); give the padding as numbers");
      return std::nullopt;
    }
    pad = shp::samePadding(a.pair("kernel_size"), a.pair("dilation"));
  } else if (padding.choice.empty()) {
    pad.begin = pad.end = padding.pair;
  }
  pad.mode = *shp::padModeNamed(a.choice("padding_mode"));
  return pad;
}

/// A conv2d pads by itself with zeros on both sides alike; otherwise (an
/// even kernel with padding 'same', or padding_mode) a pad2d comes first,
/// as PyTorch's Conv2d calls F.pad.
Value buildConv2d(LayerBuilder &b) {
  if (!b.requireInputRank(4, "an [N, C, H, W] input"))
    return nullptr;
  const LayerArgs &a = b.args();
  const int64_t in = b.inputShape()[1], out = a.integer("out_channels");
  b.checkDeclared("in_channels", in, "channels");
  std::optional<shp::Pad2dArgs> pad = convPadding(b);
  if (!pad)
    return nullptr;
  Value weight = b.parameter(
      "weight", shp::conv2dWeightShape(in, out, a.pair("kernel_size"),
                                       a.integer("groups")));
  Value bias = a.flag("bias") ? b.parameter("bias", {out}) : Value();
  Value input = b.input();
  shp::Pair padding = pad->begin;
  const bool none = pad->begin == shp::Pair{0, 0} && pad->end == pad->begin;
  if (pad->begin != pad->end || (pad->mode != shp::PadMode::Zeros && !none)) {
    input = b.create<cnn::Pad2dOp>(
        {input},
        {named(b, "begin", pairAttr(b, pad->begin)),
         named(b, "end", pairAttr(b, pad->end)),
         named(b, "mode",
               b.builder().getStringAttr(shp::padModeName(pad->mode)))});
    if (!input)
      return nullptr;
    padding = {0, 0};
  }
  return b.create<cnn::Conv2dOp>(
      {input, weight, bias},
      {named(b, "stride", b.pairAttr("stride")),
       named(b, "padding", pairAttr(b, padding)),
       named(b, "dilation", b.pairAttr("dilation")),
       named(b, "groups", b.builder().getI64IntegerAttr(a.integer("groups")))});
}

Value buildLinear(LayerBuilder &b) {
  if (!b.requireInputRank(2, "an [N, features] input",
                          "; add a 'flatten' layer before it"))
    return nullptr;
  const LayerArgs &a = b.args();
  const int64_t in = b.inputShape()[1], out = a.integer("out_features");
  b.checkDeclared("in_features", in, "features");
  Value weight = b.parameter("weight", {out, in});
  Value bias = a.flag("bias") ? b.parameter("bias", {out}) : Value();
  return b.create<cnn::LinearOp>({b.input(), weight, bias});
}

template <typename OpTy> Value buildElementwise(LayerBuilder &b) {
  return b.create<OpTy>({b.input()});
}

Value buildLeakyRelu(LayerBuilder &b) {
  return b.create<cnn::LeakyReluOp>(
      {b.input()},
      {named(b, "negative_slope",
             b.builder().getF64FloatAttr(b.args().real("negative_slope")))});
}

/// The stream of a dropout layer: the 32-bit FNV-1a hash of its full name
/// ("classifier.0"), so that each layer draws its own masks and a layer's
/// masks do not change when others are added, removed or reordered.
int64_t dropoutStream(const std::string &name) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : name)
    hash = (hash ^ c) * 16777619u;
  return hash;
}

Value buildDropout(LayerBuilder &b, bool channelwise) {
  mlir::OpBuilder &ob = b.builder();
  return b.create<cnn::DropoutOp>(
      {b.input()},
      {named(b, "p", ob.getF64FloatAttr(b.args().real("p"))),
       named(b, "channelwise", ob.getBoolAttr(channelwise)),
       named(b, "stream", ob.getI64IntegerAttr(dropoutStream(b.layer().name))),
       named(b, "training", ob.getBoolAttr(false))});
}

Value buildElu(LayerBuilder &b) {
  return b.create<cnn::EluOp>(
      {b.input()},
      {named(b, "alpha", b.builder().getF64FloatAttr(b.args().real("alpha")))});
}

/// hardtanh {min_val, max_val} (its shape rule checks min_val < max_val),
/// and relu6 as hardtanh(0, 6): torch.nn.ReLU6 is a Hardtanh.
Value buildHardtanh(LayerBuilder &b, double lo, double hi) {
  mlir::OpBuilder &ob = b.builder();
  return b.create<cnn::HardtanhOp>(
      {b.input()}, {named(b, "min_val", ob.getF64FloatAttr(lo)),
                    named(b, "max_val", ob.getF64FloatAttr(hi))});
}

/// The window attributes both pools share; ceil_mode a unit attribute,
/// present when true.
std::vector<NamedAttribute> poolWindow(LayerBuilder &b) {
  std::vector<NamedAttribute> attrs{
      named(b, "kernel_size", b.pairAttr("kernel_size")),
      named(b, "stride", b.pairAttr("stride")),
      named(b, "padding", b.pairAttr("padding"))};
  if (b.args().flag("ceil_mode"))
    attrs.push_back(named(b, "ceil_mode", b.builder().getUnitAttr()));
  return attrs;
}

Value buildMaxPool2d(LayerBuilder &b) {
  std::vector<NamedAttribute> attrs = poolWindow(b);
  attrs.push_back(named(b, "dilation", b.pairAttr("dilation")));
  return b.create<cnn::MaxPool2dOp>({b.input()}, attrs);
}

Value buildAvgPool2d(LayerBuilder &b) {
  mlir::OpBuilder &ob = b.builder();
  std::vector<NamedAttribute> attrs = poolWindow(b);
  attrs.push_back(named(b, "count_include_pad",
                        ob.getBoolAttr(b.args().flag("count_include_pad"))));
  if (const ArgValue *divisor = b.args().given("divisor_override"))
    attrs.push_back(
        named(b, "divisor_override", ob.getI64IntegerAttr(divisor->integer)));
  return b.create<cnn::AvgPool2dOp>({b.input()}, attrs);
}

template <typename OpTy> Value buildAdaptivePool2d(LayerBuilder &b) {
  return b.create<OpTy>({b.input()},
                        {named(b, "output_size", b.pairAttr("output_size"))});
}

/// A layer's `dim` as PyTorch reads it (negative counts from the end) for
/// an input of `shape`, as 1 .. rank - 1; reported where it is written
/// when it is out of range or the batch.
std::optional<int64_t> sampleDim(LayerBuilder &b, const shp::Shape &shape) {
  const int64_t rank = int64_t(shape.size());
  const ArgValue &given = *b.args().given("dim");
  const SourcePos at = given.pos.value_or(b.layer().pos);
  const std::string written = "dim " + std::to_string(given.integer);
  if (given.integer < -rank || given.integer >= rank) {
    b.errorAt(at, written + " is out of range for the input " +
                      shp::format(shape) + " (rank " + std::to_string(rank) +
                      ")");
    return std::nullopt;
  }
  const int64_t dim = given.integer < 0 ? given.integer + rank : given.integer;
  if (dim == 0) {
    b.errorAt(at, written + " is the batch of the input " + shp::format(shape) +
                      "; the layer works on each sample (dim 1 .. " +
                      std::to_string(rank - 1) + ")");
    return std::nullopt;
  }
  return dim;
}

/// torch.cat of the listed nodes: a mismatch names each input's shape.
Value buildCat(LayerBuilder &b) {
  std::vector<shp::Shape> shapes;
  std::vector<Value> inputs;
  for (size_t i = 0; i < b.inputCount(); ++i) {
    shapes.push_back(b.inputShape(i));
    inputs.push_back(b.input(i));
  }
  std::optional<int64_t> given = sampleDim(b, shapes[0]);
  if (!given)
    return nullptr;
  const int64_t dim = *given;
  if (shp::ShapeResult joined = shp::cat(shapes, dim); !joined.ok()) {
    std::string list;
    for (size_t i = 0; i < shapes.size(); ++i)
      list += (i ? ", " : "") + shp::format(shapes[i]) + " from '" +
              b.inputName(i) + "'";
    b.error(b.title() + ": " + joined.error + " (inputs: " + list + ")");
    return nullptr;
  }
  return b.create<cnn::CatOp>(
      inputs, {named(b, "dim", b.builder().getI64IntegerAttr(dim))});
}

/// A residual connection: a mismatch names both inputs and their shapes.
Value buildAdd(LayerBuilder &b) {
  const shp::Shape &lhs = b.inputShape(0), &rhs = b.inputShape(1);
  if (!shp::add(lhs, rhs).ok()) {
    b.error(b.title() + ": the shapes of its inputs differ: " +
            shp::format(lhs) + " from '" + b.inputName(0) + "' and " +
            shp::format(rhs) + " from '" + b.inputName(1) + "'");
    return nullptr;
  }
  return b.create<cnn::AddOp>({b.input(0), b.input(1)});
}

Value buildBatchNorm2d(LayerBuilder &b) {
  if (!b.requireInputRank(4, "an [N, C, H, W] input"))
    return nullptr;
  const LayerArgs &a = b.args();
  const int64_t channels = b.inputShape()[1];
  b.checkDeclared("num_features", channels, "channels");
  mlir::OpBuilder &ob = b.builder();
  // What PyTorch has no tensor for is a constant: weight 1 and bias 0
  // without affine, mean 0 and variance 1 without running statistics.
  auto constant = [&](double value) {
    return ob
        .create<cnn::FillOp>(
            b.location(),
            mlir::RankedTensorType::get({channels}, ob.getF32Type()),
            ob.getF64FloatAttr(value), ob.getI64ArrayAttr({channels}))
        .getResult();
  };
  const bool affine = a.flag("affine"), tracked = a.flag("track_running_stats");
  // torchvision's state_dict order: weight, bias, then the buffers.
  Value weight = affine ? b.parameter("weight", {channels}) : constant(1.0);
  Value bias = affine ? b.parameter("bias", {channels}) : constant(0.0);
  Value mean = tracked ? b.buffer("running_mean", {channels}) : constant(0.0);
  Value var = tracked ? b.buffer("running_var", {channels}) : constant(1.0);
  // Eval mode: func @forward is inference; cnn-autodiff switches the
  // training step's copy to batch statistics. Without running statistics
  // PyTorch normalises with the batch's in eval mode too.
  return b.create<cnn::BatchNorm2dOp>(
      {b.input(), weight, bias, mean, var},
      {named(b, "eps", ob.getF64FloatAttr(a.real("eps"))),
       named(b, "momentum", ob.getF64FloatAttr(a.real("momentum"))),
       named(b, "training", ob.getBoolAttr(!tracked))});
}

Value buildFlatten(LayerBuilder &b) {
  return b.create<cnn::FlattenOp>({b.input()});
}

/// softmax and log_softmax along PyTorch's dim.
template <typename OpTy> Value buildSoftmax(LayerBuilder &b) {
  std::optional<int64_t> dim = sampleDim(b, b.inputShape());
  if (!dim)
    return nullptr;
  return b.create<OpTy>({b.input()},
                        {named(b, "dim", b.builder().getI64IntegerAttr(*dim))});
}

/// The YAML name of a layer that builds one OpTy: the op's mnemonic.
template <typename OpTy> std::string nameOf() {
  return OpTy::getOperationName().drop_front(sizeof("cnn.") - 1).str();
}

/// The lowest dim the reader accepts; the build function checks the
/// input's rank.
constexpr int64_t kMostNegativeDim = -(int64_t(1) << 20);

/// A real argument with no lower bound.
constexpr double kAnyReal = -std::numeric_limits<double>::infinity();

std::vector<LayerDef> makeTable() {
  using A = ArgSpec;
  const std::string examplePool = "arguments, e.g. {kernel_size: 2}";
  return {
      {nameOf<cnn::Conv2dOp>(),
       "conv",
       {A::integer("in_channels", 1).optional(), A::integer("out_channels", 1),
        A::pair("kernel_size", 1),
        A::pair("stride", 1).defaultsTo(shp::Pair{1, 1}),
        A::pair("padding", 0)
            .orOneOf({"same", "valid"})
            .defaultsTo(shp::Pair{0, 0}),
        A::pair("dilation", 1).defaultsTo(shp::Pair{1, 1}),
        A::integer("groups", 1).defaultsTo(int64_t(1)),
        A::choice("padding_mode", shp::padModeNames()).defaultsTo("zeros"),
        A::flag("bias").defaultsTo(true),
        A::flag("trainable").defaultsTo(true)},
       1,
       "arguments, e.g. {out_channels: 6, kernel_size: 5}",
       buildConv2d},
      {nameOf<cnn::LinearOp>(),
       "fc",
       {A::integer("in_features", 1).optional(), A::integer("out_features", 1),
        A::flag("bias").defaultsTo(true),
        A::flag("trainable").defaultsTo(true)},
       1,
       "arguments, e.g. {out_features: 10}",
       buildLinear},
      // inplace is accepted for familiarity with torch; it has no effect.
      {nameOf<cnn::ReluOp>(),
       "",
       {A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildElementwise<cnn::ReluOp>},
      {nameOf<cnn::TanhOp>(), "", {}, 1, "", buildElementwise<cnn::TanhOp>},
      {nameOf<cnn::SigmoidOp>(),
       "",
       {},
       1,
       "",
       buildElementwise<cnn::SigmoidOp>},
      // negative_slope and alpha >= 0: the gradients are read from the
      // results (as PyTorch's in-place variants require too).
      {nameOf<cnn::LeakyReluOp>(),
       "",
       {A::real("negative_slope", 0).defaultsTo(0.01),
        A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildLeakyRelu},
      {nameOf<cnn::DropoutOp>(),
       "",
       {A::real("p", 0).defaultsTo(0.5), A::flag("inplace").defaultsTo(false)},
       1,
       "",
       [](LayerBuilder &b) { return buildDropout(b, false); }},
      {"dropout2d",
       "dropout2d_",
       {A::real("p", 0).defaultsTo(0.5), A::flag("inplace").defaultsTo(false)},
       1,
       "",
       [](LayerBuilder &b) { return buildDropout(b, true); }},
      {nameOf<cnn::EluOp>(),
       "",
       {A::real("alpha", 0).defaultsTo(1.0),
        A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildElu},
      {nameOf<cnn::HardtanhOp>(),
       "",
       {A::real("min_val", kAnyReal).defaultsTo(-1.0),
        A::real("max_val", kAnyReal).defaultsTo(1.0),
        A::flag("inplace").defaultsTo(false)},
       1,
       "",
       [](LayerBuilder &b) {
         return buildHardtanh(b, b.args().real("min_val"),
                              b.args().real("max_val"));
       }},
      {"relu6",
       "relu6_",
       {A::flag("inplace").defaultsTo(false)},
       1,
       "",
       [](LayerBuilder &b) { return buildHardtanh(b, 0.0, 6.0); }},
      {nameOf<cnn::HardsigmoidOp>(),
       "",
       {A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildElementwise<cnn::HardsigmoidOp>},
      {nameOf<cnn::SiluOp>(),
       "",
       {A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildElementwise<cnn::SiluOp>},
      {nameOf<cnn::GeluOp>(),
       "",
       {A::choice("approximate", {"none", "tanh"}).defaultsTo("none")},
       1,
       "",
       [](LayerBuilder &b) {
         return b.create<cnn::GeluOp>(
             {b.input()}, {named(b, "approximate",
                                 b.builder().getStringAttr(
                                     b.args().choice("approximate")))});
       }},
      {nameOf<cnn::HardswishOp>(),
       "",
       {A::flag("inplace").defaultsTo(false)},
       1,
       "",
       buildElementwise<cnn::HardswishOp>},
      // dim defaults to 1, PyTorch's implicit choice for [N, C] and
      // [N, C, H, W] inputs.
      {nameOf<cnn::SoftmaxOp>(),
       "",
       {A::integer("dim", kMostNegativeDim).defaultsTo(int64_t(1))},
       1,
       "",
       buildSoftmax<cnn::SoftmaxOp>},
      {nameOf<cnn::LogSoftmaxOp>(),
       "",
       {A::integer("dim", kMostNegativeDim).defaultsTo(int64_t(1))},
       1,
       "",
       buildSoftmax<cnn::LogSoftmaxOp>},
      {nameOf<cnn::MaxPool2dOp>(),
       "pool",
       {A::pair("kernel_size", 1),
        A::pair("stride", 1).defaultsToArgument("kernel_size"),
        A::pair("padding", 0).defaultsTo(shp::Pair{0, 0}),
        A::pair("dilation", 1).defaultsTo(shp::Pair{1, 1}),
        A::flag("ceil_mode").defaultsTo(false)},
       1,
       examplePool,
       buildMaxPool2d},
      {nameOf<cnn::AvgPool2dOp>(),
       "avgpool",
       {A::pair("kernel_size", 1),
        A::pair("stride", 1).defaultsToArgument("kernel_size"),
        A::pair("padding", 0).defaultsTo(shp::Pair{0, 0}),
        A::flag("count_include_pad").defaultsTo(true),
        A::flag("ceil_mode").defaultsTo(false),
        A::integer("divisor_override", 1).optional()},
       1,
       examplePool,
       buildAvgPool2d},
      {nameOf<cnn::AdaptiveAvgPool2dOp>(),
       "adaptive_avgpool",
       {A::pair("output_size", 1).defaultsTo(shp::Pair{1, 1})},
       1,
       "",
       buildAdaptivePool2d<cnn::AdaptiveAvgPool2dOp>},
      {nameOf<cnn::AdaptiveMaxPool2dOp>(),
       "adaptive_maxpool",
       {A::pair("output_size", 1).defaultsTo(shp::Pair{1, 1}),
        A::flag("return_indices")
            .defaultsTo(false)
            .onlyAccepts(false, "adaptive_maxpool2d supports only "
                                "return_indices: false (a layer has one "
                                "output)")},
       1,
       "",
       buildAdaptivePool2d<cnn::AdaptiveMaxPool2dOp>},
      {nameOf<cnn::FlattenOp>(),
       "",
       {A::integer("start_dim", 0)
            .defaultsTo(int64_t(1))
            .onlyAccepts(int64_t(1), "flatten supports only start_dim 1 "
                                     "(keep the batch dimension)")},
       1,
       "",
       buildFlatten},
      {nameOf<cnn::AddOp>(),
       "",
       {},
       2,
       "the two nodes it adds, e.g. {inputs: [conv2, input]}",
       buildAdd},
      {nameOf<cnn::CatOp>(),
       "",
       // dim 1 (the channels) by default: torch.cat's 0 is the batch.
       {A::integer("dim", kMostNegativeDim).defaultsTo(int64_t(1))},
       LayerDef::kTwoOrMore,
       "the nodes it joins, e.g. {inputs: [expand1x1, expand3x3], dim: 1}",
       buildCat},
      {nameOf<cnn::BatchNorm2dOp>(),
       "bn",
       {A::integer("num_features", 1).optional(),
        A::real("eps", 0).mustBePositive().defaultsTo(1e-5),
        A::real("momentum", 0)
            .atMost(1)
            .defaultsTo(0.1)
            .refusesNull("momentum must be a number in [0, 1]; a cumulative "
                         "average (momentum None) is not supported"),
        A::flag("affine").defaultsTo(true),
        A::flag("track_running_stats").defaultsTo(true),
        A::flag("trainable").defaultsTo(true)},
       1,
       "",
       buildBatchNorm2d},
  };
}

} // namespace

const std::vector<LayerDef> &layerTable() {
  static const std::vector<LayerDef> table = makeTable();
  return table;
}

const LayerDef *findLayer(const std::string &name) {
  for (const LayerDef &def : layerTable())
    if (def.name == name)
      return &def;
  return nullptr;
}

} // namespace cnnc
