#include "cnnc/lowering/ModelAbi.h"

#include "cnn/CnnDialect.h"

using namespace mlir;

namespace cnnc {

int PipelineAbi::outputIndex(AbiOutput::Kind kind, int parameter) const {
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].kind == kind && outputs[i].parameter == parameter)
      return int(i);
  return -1;
}

bool ModelAbi::trainable() const {
  for (const AbiParameter &p : parameters)
    if (p.trainable)
      return true;
  return false;
}

int ModelAbi::parameterIndex(const std::string &name) const {
  for (size_t i = 0; i < parameters.size(); ++i)
    if (parameters[i].name == name)
      return int(i);
  return -1;
}

ModelAbi describeAbi(ModuleOp module) {
  ModelAbi abi;
  auto forward = module.lookupSymbol<FuncOp>("forward");
  auto shape = [](Type t) {
    auto r = t.cast<RankedTensorType>();
    return std::vector<int64_t>(r.getShape().begin(), r.getShape().end());
  };
  abi.inputShape = shape(forward.getType().getInput(0));
  abi.outputShape = shape(forward.getType().getResult(0));
  forward.walk([&](cnn::ParameterOp p) {
    const bool trainable = !p.getFrozen() && !p.getBuffer();
    abi.parameters.push_back({p.getName().str(), shape(p.getType()), trainable,
                              p.getBuffer(), trainable});
  });

  using Arg = AbiArgument::Kind;
  using Out = AbiOutput::Kind;
  const int count = int(abi.parameters.size());
  abi.forward.arguments.push_back({Arg::Input});
  for (int i = 0; i < count; ++i)
    abi.forward.arguments.push_back({Arg::Parameter, i});
  abi.forward.outputs.push_back({Out::Logits});
  // PyTorch refuses batch statistics of one value per channel.
  auto oneValuePerChannel = [](cnn::BatchNorm2dOp bn) {
    cnn::shape::Shape input = cnn::shapeOf(bn.getInput());
    return bn.getTraining() && input[2] * input[3] == 1;
  };
  forward.walk([&](cnn::BatchNorm2dOp bn) {
    if (oneValuePerChannel(bn))
      abi.minForwardBatch = 2;
  });

  auto train = module.lookupSymbol<FuncOp>("train_step");
  if (!train)
    return abi;
  // The buffers the step writes, in the order of their updates.
  std::vector<int> updatedBuffers;
  train.walk([&](cnn::BatchNorm2dStatsUpdateOp update) {
    for (Value buffer : {update.getRunningMean(), update.getRunningVar()}) {
      const int i = abi.parameterIndex(
          buffer.getDefiningOp<cnn::ParameterOp>().getName().str());
      abi.parameters.at(size_t(i)).updated = true;
      updatedBuffers.push_back(i);
    }
  });
  train.walk([&](cnn::BatchNorm2dOp bn) {
    if (oneValuePerChannel(bn))
      abi.minTrainBatch = 2;
  });
  PipelineAbi step;
  step.arguments = {{Arg::Input}, {Arg::Labels}};
  for (int i = 0; i < count; ++i)
    step.arguments.push_back({Arg::Parameter, i});
  for (int i = 0; i < count; ++i)
    if (abi.parameters[size_t(i)].trainable)
      step.arguments.push_back({Arg::Momentum, i});
  for (Arg scalar : {Arg::LearningRate, Arg::MomentumFactor, Arg::WeightDecay,
                     Arg::Nesterov, Arg::FirstStep})
    step.arguments.push_back({scalar});
  bool drawsMasks = false;
  train.walk([&](cnn::DropoutOp op) { drawsMasks |= cnn::drawsMask(op); });
  if (drawsMasks)
    for (Arg scalar : {Arg::RandomSeed, Arg::StepIndex, Arg::FirstSample})
      step.arguments.push_back({scalar});
  step.outputs.push_back({Out::Loss});
  for (Out kind : {Out::NewParameter, Out::NewMomentum})
    for (int i = 0; i < count; ++i)
      if (abi.parameters[size_t(i)].trainable)
        step.outputs.push_back({kind, i});
  for (int i : updatedBuffers)
    step.outputs.push_back({Out::NewBuffer, i});
  abi.train = std::move(step);
  return abi;
}

} // namespace cnnc
