// Walks a cnn function in order and maps each op to its Halide algorithm:
// forward ops to compiler/halide/Ops.h, training ops to Gradients.h. Adding
// an op means adding one case here that calls its builder.
#include "cnnc/lowering/HalideLowering.h"

#include "cnn/CnnDialect.h"
#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"
#include "cnnc/halide/Gradients.h"
#include "cnnc/halide/Ops.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstdlib>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <thread>

using namespace mlir;
namespace shp = cnn::shape;

namespace cnnc {
namespace {

shp::Shape shapeOf(Value v) {
  auto type = v.getType().cast<RankedTensorType>();
  return {type.getShape().begin(), type.getShape().end()};
}

shp::Pair pairOf(ArrayAttr attr) {
  return {attr[0].cast<IntegerAttr>().getInt(),
          attr[1].cast<IntegerAttr>().getInt()};
}

shp::Conv2dArgs convArgs(ArrayAttr stride, ArrayAttr padding,
                         ArrayAttr dilation, int64_t groups) {
  return {pairOf(stride), pairOf(padding), pairOf(dilation), groups};
}

/// Halide Func names must be identifiers: "conv1.weight" -> "conv1_weight".
std::string identifier(StringRef name) {
  std::string s;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

std::string layerName(Operation *op) {
  if (auto name = op->getLoc().dyn_cast<NameLoc>())
    return identifier(name.getName().strref());
  return identifier(op->getName().stripDialect());
}

/// A Func that reads a whole image parameter: [N, C, H, W] -> f(x, y, c, n).
Halide::Func readAll(const Halide::ImageParam &param, const std::string &name) {
  Halide::Func f(name);
  std::vector<Halide::Var> vars(param.dimensions());
  std::vector<Halide::Expr> args(vars.begin(), vars.end());
  f(vars) = param(args);
  return f;
}

/// Lowers one cnn function. Forward ops become LoweredOps, training ops
/// LoweredGrads; each family is then scheduled by its own policy.
class FunctionLowering {
public:
  explicit FunctionLowering(FuncOp func) : func(func) {}

  /// Declares the input image and every parameter as ImageParams.
  void declareInputs(LoweredPipeline &result, int batchEstimate);
  /// Lowers every op but the return; `error` set on failure.
  bool lowerBody(std::string &error);

  FuncOp func;
  llvm::DenseMap<Value, hl::Tensor> tensors;
  std::vector<hl::LoweredOp> ops;
  std::vector<hl::LoweredGrad> grads;
  std::vector<cnn::ParameterOp> parameters;
  Halide::Expr batch;
  // Training only.
  Halide::ImageParam labels;
  Halide::Func labelsRead;
  hl::SgdHyper hyper;
  Halide::Param<bool> nesterov{"nesterov"};
  llvm::DenseMap<Operation *, Halide::ImageParam> momentumIn;
  /// Batch statistics per normalised value: a training batchnorm2d, its
  /// gradients and its running-stat update share one computation.
  llvm::DenseMap<Value, hl::ChannelStats> batchStats;

  hl::Tensor &tensor(Value v) { return tensors.find(v)->second; }
  std::optional<hl::Tensor> optionalTensor(Value v) {
    if (!v)
      return std::nullopt;
    return tensor(v);
  }

private:
  /// The batch statistics of `input` in training mode, else null; `op`
  /// (the batch norm or one of its gradients) names them.
  const hl::ChannelStats *statsIf(bool training, Value input, Operation *op) {
    if (!training)
      return nullptr;
    auto it = batchStats.find(input);
    if (it == batchStats.end())
      it = batchStats
               .insert({input, hl::channelStats(tensor(input), batch,
                                                layerName(op) + "_stats")})
               .first;
    return &it->second;
  }
  std::optional<hl::LoweredOp> lowerForwardOp(Operation *op);
  std::optional<hl::LoweredGrad> lowerTrainingOp(Operation *op);
};

void FunctionLowering::declareInputs(LoweredPipeline &result,
                                     int batchEstimate) {
  Value input = func.getArgument(0);
  shp::Shape inputShape = shapeOf(input);
  int rank = static_cast<int>(inputShape.size());
  Halide::ImageParam inputParam(Halide::Float(32), rank, "input");
  hl::constrainToShape(inputParam, inputShape, batchEstimate);
  result.arguments.push_back(inputParam);
  tensors[input] = {readAll(inputParam, "input_read"), inputShape};
  batch = inputParam.dim(rank - 1).extent();

  func.walk([&](cnn::ParameterOp param) { parameters.push_back(param); });
  for (cnn::ParameterOp param : parameters) {
    shp::Shape shape = shapeOf(param.getResult());
    std::string name = identifier(param.getName());
    Halide::ImageParam image(Halide::Float(32),
                             static_cast<int>(shape.size()), name);
    hl::constrainToShape(image, shape);
    result.arguments.push_back(image);
    tensors[param.getResult()] = {readAll(image, name + "_read"), shape};
  }
}

std::optional<hl::LoweredOp> FunctionLowering::lowerForwardOp(Operation *op) {
  std::string name = layerName(op);
  return llvm::TypeSwitch<Operation *, std::optional<hl::LoweredOp>>(op)
      .Case([&](cnn::Conv2dOp conv) {
        return hl::conv2d(tensor(conv.getInput()), tensor(conv.getWeight()),
                          optionalTensor(conv.getBias()),
                          convArgs(conv.getStride(), conv.getPadding(),
                                   conv.getDilation(), conv.getGroups()),
                          name);
      })
      .Case([&](cnn::LinearOp linear) {
        return hl::linear(tensor(linear.getInput()), tensor(linear.getWeight()),
                          optionalTensor(linear.getBias()), name);
      })
      .Case([&](cnn::ReluOp relu) {
        return hl::activation(hl::OpKind::Relu, tensor(relu.getInput()), name);
      })
      .Case([&](cnn::TanhOp tanh) {
        return hl::activation(hl::OpKind::Tanh, tensor(tanh.getInput()), name);
      })
      .Case([&](cnn::SigmoidOp sigmoid) {
        return hl::activation(hl::OpKind::Sigmoid, tensor(sigmoid.getInput()),
                              name);
      })
      .Case([&](cnn::MaxPool2dOp pool) {
        shp::Pool2dArgs args{pairOf(pool.getKernelSize()),
                             pairOf(pool.getStride()),
                             pairOf(pool.getPadding()),
                             pairOf(pool.getDilation())};
        return hl::maxPool2d(tensor(pool.getInput()), args, name);
      })
      .Case([&](cnn::AvgPool2dOp pool) {
        shp::Pool2dArgs args{pairOf(pool.getKernelSize()),
                             pairOf(pool.getStride()),
                             pairOf(pool.getPadding()),
                             {1, 1}};
        return hl::avgPool2d(tensor(pool.getInput()), args,
                             pool.getCountIncludePad(), name);
      })
      .Case([&](cnn::AdaptiveAvgPool2dOp pool) {
        return hl::adaptiveAvgPool2d(tensor(pool.getInput()),
                                     pairOf(pool.getOutputSize()), name);
      })
      .Case([&](cnn::FlattenOp flatten) {
        return hl::flatten(tensor(flatten.getInput()), name);
      })
      .Case([&](cnn::AddOp add) {
        return hl::add(tensor(add.getLhs()), tensor(add.getRhs()), name);
      })
      .Case([&](cnn::BatchNorm2dOp bn) {
        return hl::batchNorm2d(
            tensor(bn.getInput()), tensor(bn.getWeight()),
            tensor(bn.getBias()), tensor(bn.getRunningMean()),
            tensor(bn.getRunningVar()), bn.getEps().convertToDouble(),
            statsIf(bn.getTraining(), bn.getInput(), op), name);
      })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<hl::LoweredGrad>
FunctionLowering::lowerTrainingOp(Operation *op) {
  std::string name = layerName(op) + "_" + op->getName().stripDialect().str();
  auto resultShape = [&] { return shapeOf(op->getResult(0)); };
  return llvm::TypeSwitch<Operation *, std::optional<hl::LoweredGrad>>(op)
      .Case([&](cnn::CrossEntropyOp ce) {
        return hl::softmaxCrossEntropy(tensor(ce.getLogits()), labelsRead,
                                       batch, name);
      })
      .Case([&](cnn::CrossEntropyGradOp ce) {
        return hl::softmaxCrossEntropyGrad(tensor(ce.getLogits()), labelsRead,
                                           batch, 1.0f, name);
      })
      .Case([&](cnn::Conv2dInputGradOp g) {
        return hl::conv2dInputGrad(
            tensor(g.getGrad()), tensor(g.getWeight()), resultShape(),
            convArgs(g.getStride(), g.getPadding(), g.getDilation(),
                     g.getGroups()),
            name);
      })
      .Case([&](cnn::Conv2dWeightGradOp g) {
        return hl::conv2dWeightGrad(
            tensor(g.getInput()), tensor(g.getGrad()), resultShape(),
            convArgs(g.getStride(), g.getPadding(), g.getDilation(),
                     g.getGroups()),
            batch, name);
      })
      .Case([&](cnn::BiasGradOp g) {
        return hl::biasGrad(tensor(g.getGrad()), batch, name);
      })
      .Case([&](cnn::LinearInputGradOp g) {
        return hl::linearInputGrad(tensor(g.getGrad()), tensor(g.getWeight()),
                                   name);
      })
      .Case([&](cnn::LinearWeightGradOp g) {
        return hl::linearWeightGrad(tensor(g.getInput()), tensor(g.getGrad()),
                                    batch, name);
      })
      // y > 0 exactly where x > 0, so ReLU's rule may read the stored y.
      .Case([&](cnn::ReluGradOp g) {
        return hl::activationGrad(hl::GradKind::ReluGrad,
                                  tensor(g.getResultValue()),
                                  tensor(g.getGrad()), name);
      })
      .Case([&](cnn::TanhGradOp g) {
        return hl::activationGrad(hl::GradKind::TanhGrad,
                                  tensor(g.getResultValue()),
                                  tensor(g.getGrad()), name);
      })
      .Case([&](cnn::SigmoidGradOp g) {
        return hl::activationGrad(hl::GradKind::SigmoidGrad,
                                  tensor(g.getResultValue()),
                                  tensor(g.getGrad()), name);
      })
      .Case([&](cnn::MaxPool2dGradOp g) {
        shp::Pool2dArgs args{pairOf(g.getKernelSize()), pairOf(g.getStride()),
                             pairOf(g.getPadding()), pairOf(g.getDilation())};
        return hl::maxPool2dGrad(tensor(g.getInput()), tensor(g.getGrad()),
                                 args, name);
      })
      .Case([&](cnn::AvgPool2dGradOp g) {
        shp::Pool2dArgs args{pairOf(g.getKernelSize()), pairOf(g.getStride()),
                             pairOf(g.getPadding()), {1, 1}};
        return hl::avgPool2dGrad(tensor(g.getGrad()), resultShape(), args,
                                 g.getCountIncludePad(), name);
      })
      .Case([&](cnn::AdaptiveAvgPool2dGradOp g) {
        return hl::adaptiveAvgPool2dGrad(tensor(g.getGrad()), resultShape(),
                                         name);
      })
      .Case([&](cnn::UnflattenOp g) {
        return hl::flattenGrad(tensor(g.getInput()), resultShape(), name);
      })
      .Case([&](cnn::BatchNorm2dInputGradOp g) {
        return hl::batchNorm2dInputGrad(
            tensor(g.getInput()), tensor(g.getGrad()), tensor(g.getWeight()),
            tensor(g.getRunningMean()), tensor(g.getRunningVar()),
            g.getEps().convertToDouble(),
            statsIf(g.getTraining(), g.getInput(), op), batch, name);
      })
      .Case([&](cnn::BatchNorm2dWeightGradOp g) {
        return hl::batchNorm2dWeightGrad(
            tensor(g.getInput()), tensor(g.getGrad()),
            tensor(g.getRunningMean()), tensor(g.getRunningVar()),
            g.getEps().convertToDouble(),
            statsIf(g.getTraining(), g.getInput(), op), batch, name);
      })
      .Case([&](cnn::BatchNorm2dStatsUpdateOp update) {
        return hl::batchNorm2dStatsUpdate(
            tensor(update.getRunningMean()), tensor(update.getRunningVar()),
            *statsIf(true, update.getInput(), op),
            update.getMomentum().convertToDouble(), name);
      })
      .Case([&](cnn::SgdUpdateOp update) {
        auto param = update.getParam().getDefiningOp<cnn::ParameterOp>();
        hl::Tensor velocity{
            readAll(momentumIn[param], identifier(param.getName()) +
                                           "_momentum_read"),
            tensor(update.getParam()).shape};
        return hl::sgdUpdate(tensor(update.getParam()),
                             tensor(update.getGrad()), &velocity, hyper,
                             identifier(param.getName()) + "_sgd");
      })
      .Default([](Operation *) { return std::nullopt; });
}

bool FunctionLowering::lowerBody(std::string &error) {
  for (Operation &op : func.getBody().front()) {
    if (isa<cnn::ParameterOp, ReturnOp>(op))
      continue;
    if (auto lowered = lowerForwardOp(&op)) {
      tensors[op.getResult(0)] = lowered->output;
      ops.push_back(std::move(*lowered));
      continue;
    }
    if (auto lowered = lowerTrainingOp(&op)) {
      if (op.getNumResults() == 1)
        tensors[op.getResult(0)] = lowered->output;
      grads.push_back(std::move(*lowered));
      continue;
    }
    error = "no Halide lowering for op '" + op.getName().getStringRef().str() +
            "'";
    return false;
  }
  return true;
}

Value returnedValue(FuncOp func) {
  auto ret = cast<ReturnOp>(func.getBody().front().getTerminator());
  return ret.getNumOperands() == 1 ? ret.getOperand(0) : Value();
}

/// The plugin file of each autoscheduler offered. Halide 14 also ships
/// Adams2019, but its forward schedule of tests/e2e/general.yaml gave wrong
/// results (relative error 5.5e-2 at batch 64), so it is not offered.
const std::vector<std::pair<std::string, std::string>> &pluginFiles() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"Mullapudi2016", "libautoschedule_mullapudi2016.so"},
      {"Li2018", "libautoschedule_li2018.so"},
  };
  return files;
}

/// Loads the plugin that registers `name` (once per process). Throws
/// std::runtime_error with a clear message when it cannot.
void loadAutoscheduler(const std::string &name) {
  static std::mutex mutex;
  static std::set<std::string> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded.count(name))
    return;
  std::string file;
  for (const auto &entry : pluginFiles())
    if (entry.first == name)
      file = entry.second;
  if (file.empty()) {
    std::string valid;
    for (const std::string &n : availableAutoschedulers())
      valid += (valid.empty() ? "" : ", ") + n;
    throw std::runtime_error("unknown autoscheduler '" + name +
                             "' (available: " + valid + ")");
  }
  const char *env = std::getenv("CNNC_AUTOSCHEDULER_DIR");
  std::string dir = env && *env ? env : CNNC_HALIDE_AUTOSCHEDULER_DIR;
  std::string path = dir + "/" + file;
  struct stat st;
  if (dir.empty() || ::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(
        "the Halide autoscheduler plugin " + file + " was not found" +
        (dir.empty() ? std::string(" (no directory was found at configure "
                                   "time)")
                     : " in " + dir) +
        "; install libhalide14-dev's plugins or set CNNC_AUTOSCHEDULER_DIR");
  Halide::load_plugin(path);
  loaded.insert(name);
}

/// Runs the policy's autoscheduler on `pipeline` (estimates must be set).
void autoschedule(Halide::Pipeline &pipeline, const SchedulePolicy &policy,
                  const Halide::Target &target) {
  loadAutoscheduler(policy.autoscheduler);
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  // Halide's generic() values for the cache (16 MiB) and balance (40), with
  // this machine's parallelism.
  Halide::MachineParams params(cores > 0 ? cores : 16, 16 * 1024 * 1024, 40);
  Halide::AutoSchedulerResults results =
      pipeline.auto_schedule(policy.autoscheduler, target, params);
  if (const char *dump = std::getenv("CNNC_DUMP_SCHEDULE"); dump && *dump)
    llvm::errs() << results.schedule_source << "\n";
}

bool runLowering(ModuleOp module, StringRef name, std::string &error,
                 llvm::function_ref<bool(FuncOp)> lower) {
  auto func = module.lookupSymbol<FuncOp>(name);
  if (!func) {
    error = "the module has no func @" + name.str();
    return false;
  }
  try {
    return lower(func);
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
  } catch (const std::exception &e) {
    error = e.what();
  }
  return false;
}

} // namespace

const std::vector<std::string> &availableAutoschedulers() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto &entry : pluginFiles())
      n.push_back(entry.first);
    return n;
  }();
  return names;
}

bool lowerForward(ModuleOp module, const Halide::Target &target,
                  const SchedulePolicy &policy, LoweredPipeline &result,
                  std::string &error) {
  const int batchEstimate = policy.isAuto() ? policy.batchEstimate : 1;
  return runLowering(module, "forward", error, [&](FuncOp func) {
    FunctionLowering lowering(func);
    lowering.declareInputs(result, batchEstimate);
    if (!lowering.lowerBody(error))
      return false;
    Value returned = returnedValue(func);
    if (!returned || lowering.ops.empty()) {
      error = "func @forward returns nothing computed";
      return false;
    }
    hl::Tensor output = lowering.tensor(returned);
    if (!policy.isAuto())
      hl::applyDefaultCpuSchedule(lowering.ops, target, {output.func});
    hl::constrainToShape(output.func.output_buffer(), output.shape,
                         batchEstimate);
    result.pipeline = Halide::Pipeline(output.func);
    if (policy.isAuto())
      autoschedule(result.pipeline, policy, target);
    return true;
  });
}

bool lowerTrainStep(ModuleOp module, const Halide::Target &target,
                    const SchedulePolicy &policy, LoweredPipeline &result,
                    std::string &error) {
  const int batchEstimate = policy.isAuto() ? policy.batchEstimate : 1;
  return runLowering(module, "train_step", error, [&](FuncOp func) {
    FunctionLowering lowering(func);
    lowering.declareInputs(result, batchEstimate);
    lowering.labels = Halide::ImageParam(Halide::Int(64), 1, "labels");
    hl::constrainToShape(lowering.labels, {shp::kDynamic}, batchEstimate);
    result.arguments.push_back(lowering.labels);
    lowering.labelsRead = readAll(lowering.labels, "labels_read");
    // The labels come right after the input in the ABI.
    std::rotate(result.arguments.begin() + 1, result.arguments.end() - 1,
                result.arguments.end());

    std::vector<cnn::ParameterOp> trainable;
    for (cnn::ParameterOp param : lowering.parameters)
      if (!param.getFrozen() && !param.getBuffer())
        trainable.push_back(param);
    for (cnn::ParameterOp param : trainable) {
      shp::Shape shape = shapeOf(param.getResult());
      Halide::ImageParam momentum(Halide::Float(32),
                                  static_cast<int>(shape.size()),
                                  identifier(param.getName()) + "_momentum");
      hl::constrainToShape(momentum, shape);
      lowering.momentumIn[param] = momentum;
      result.arguments.push_back(momentum);
    }
    Halide::Param<float> momentum("momentum"), weightDecay("weight_decay");
    Halide::Param<bool> firstStep("first_step");
    Halide::Param<float> lr("lr");
    // Typical values, for the autoschedulers.
    lr.set_estimate(0.01f);
    momentum.set_estimate(0.9f);
    weightDecay.set_estimate(0.0f);
    // Param<bool>::set_estimate would store an int32 Expr (Halide 14), which
    // the autoschedulers then substitute into select conditions.
    for (const Halide::Param<bool> *flag : {&firstStep, &lowering.nesterov})
      Halide::Internal::Parameter(flag->parameter())
          .set_estimate(Halide::Internal::make_bool(false));
    lowering.hyper.lr = lr;
    lowering.hyper.momentum = momentum;
    lowering.hyper.weightDecay = weightDecay;
    lowering.hyper.firstStep = firstStep;
    lowering.hyper.nesterov = lowering.nesterov;
    for (Halide::Argument a :
         {Halide::Argument(lowering.hyper.lr), Halide::Argument(momentum),
          Halide::Argument(weightDecay), Halide::Argument(lowering.nesterov),
          Halide::Argument(firstStep)})
      result.arguments.push_back(a);

    if (!lowering.lowerBody(error))
      return false;
    Value loss = returnedValue(func);
    if (!loss) {
      error = "func @train_step must return the loss";
      return false;
    }

    // Forward values the backward ops read must be stored, not fused away.
    std::vector<Halide::Func> saved;
    for (const hl::LoweredGrad &g : lowering.grads)
      for (const hl::Tensor &t : g.inputs)
        saved.push_back(t.func);
    if (!policy.isAuto()) {
      hl::applyDefaultCpuSchedule(lowering.ops, target, saved);
      hl::applyDefaultGradientSchedule(lowering.grads, target);
    }

    std::vector<Halide::Func> outputs{lowering.tensor(loss).func};
    hl::constrainToShape(outputs[0].output_buffer(), {});
    std::vector<Halide::Func> newMomentum;
    for (const hl::LoweredGrad &g : lowering.grads) {
      if (g.kind != hl::GradKind::SgdUpdate)
        continue;
      outputs.push_back(g.output.func);
      hl::constrainToShape(g.output.func.output_buffer(), g.output.shape,
                           batchEstimate);
      newMomentum.push_back(g.extraOutputs.at(0).func);
      hl::constrainToShape(newMomentum.back().output_buffer(), g.output.shape,
                           batchEstimate);
    }
    outputs.insert(outputs.end(), newMomentum.begin(), newMomentum.end());
    // The running statistics of each training batch norm, mean then var.
    for (const hl::LoweredGrad &g : lowering.grads) {
      if (g.kind != hl::GradKind::BatchNorm2dStatsUpdate)
        continue;
      for (const hl::Tensor &t : {g.output, g.extraOutputs.at(0)}) {
        outputs.push_back(t.func);
        hl::constrainToShape(t.func.output_buffer(), t.shape, batchEstimate);
      }
    }
    result.pipeline = Halide::Pipeline(outputs);
    if (policy.isAuto())
      autoschedule(result.pipeline, policy, target);
    return true;
  });
}

} // namespace cnnc
