#include "LoweringContext.h"

#include "OpLowerings.h"

#include <cctype>

using namespace mlir;

namespace cnnc::lowering {

std::string identifier(llvm::StringRef name) {
  std::string s;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

Halide::Func readAll(const Halide::ImageParam &param, const std::string &name,
                     bool clampBatch) {
  Halide::Func f(name);
  std::vector<Halide::Var> vars(param.dimensions());
  std::vector<Halide::Expr> args(vars.begin(), vars.end());
  if (clampBatch) {
    const int n = param.dimensions() - 1;
    args[n] = Halide::clamp(args[n], 0, param.dim(n).extent() - 1);
  }
  f(vars) = param(args);
  return f;
}

LoweringContext::LoweringContext(const FunctionArguments &args,
                                 const hl::MachineModel &machine)
    : args(args), target(machine) {
  tensors[args.input] = {
      readAll(args.inputImage, "input_read", args.clampBatchReads),
      cnn::shapeOf(args.input)};
  for (cnn::ParameterOp param : args.parameters)
    lowerOp(param, *this);
  if (args.labels.defined())
    labelsRead = readAll(args.labels, "labels_read");
}

const hl::Tensor &LoweringContext::tensor(Value v) const {
  auto it = tensors.find(v);
  if (it == tensors.end())
    throw std::logic_error("lowering: a value is read before it is lowered");
  return it->second;
}

std::optional<hl::Tensor> LoweringContext::optionalTensor(Value v) const {
  if (!v)
    return std::nullopt;
  return tensor(v);
}

std::string LoweringContext::profileName(Operation *op) {
  std::string layer = op->getName().stripDialect().str();
  if (auto name = op->getLoc().dyn_cast<NameLoc>())
    layer = name.getName().str();
  if (op->hasTrait<cnn::OpTrait::NotDifferentiable>())
    layer += " " + op->getName().stripDialect().str();
  return layer;
}

std::string LoweringContext::layerName(Operation *op) const {
  if (auto name = op->getLoc().dyn_cast<NameLoc>())
    return identifier(name.getName().strref());
  return identifier(op->getName().stripDialect());
}

std::string LoweringContext::funcName(Operation *op) const {
  // A layer's SGD updates (weight, bias) are named after their parameters.
  if (auto sgd = dyn_cast<cnn::SgdUpdateOp>(op))
    return identifier(
               sgd.getParam().getDefiningOp<cnn::ParameterOp>().getName()) +
           "_sgd";
  if (op->hasTrait<cnn::OpTrait::NotDifferentiable>())
    return layerName(op) + "_" + op->getName().stripDialect().str();
  return layerName(op);
}

hl::Tensor LoweringContext::momentum(cnn::ParameterOp param) {
  return {readAll(args.momentumIn.find(param)->second,
                  identifier(param.getName()) + "_momentum_read"),
          cnn::shapeOf(param.getResult())};
}

const hl::ChannelStats *LoweringContext::batchStats(bool training, Value input,
                                                    Operation *op) {
  if (!training)
    return nullptr;
  auto it = stats.find(input);
  if (it == stats.end())
    it = stats
             .insert({input, hl::channelStats(tensor(input), args.batch,
                                              layerName(op) + "_stats")})
             .first;
  return &it->second;
}

void LoweringContext::define(Operation *op, hl::LoweredOp lowered) {
  if (op->getNumResults() == 1)
    tensors[op->getResult(0)] = lowered.output;
  ops.push_back(std::move(lowered));
  opsLowered.push_back(op);
}

void LoweringContext::define(Operation *op, hl::LoweredGrad lowered) {
  if (op->getNumResults() == 1)
    tensors[op->getResult(0)] = lowered.output;
  grads.push_back(std::move(lowered));
  gradsLowered.push_back(op);
}

std::vector<const hl::ChannelStats *> LoweringContext::orphanStats() const {
  std::vector<const hl::ChannelStats *> orphans;
  for (const auto &[input, s] : stats)
    if (!statsOfForwardOps.contains(input) && !statsImported.contains(input))
      orphans.push_back(&s);
  return orphans;
}

} // namespace cnnc::lowering
