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
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstdlib>
#include <functional>
#include <map>
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
/// With `clampBatch`, reads past the batch (the outermost dim) are clamped
/// into it.
Halide::Func readAll(const Halide::ImageParam &param, const std::string &name,
                     bool clampBatch = false) {
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

/// The function's arguments as Halide parameters, in ABI order. Declared
/// once and shared by the pipelines of all its segments.
struct FunctionArguments {
  Value input;
  Halide::ImageParam inputImage;
  std::vector<cnn::ParameterOp> parameters;
  std::vector<Halide::ImageParam> parameterImages;
  Halide::Expr batch;
  // Training only.
  Halide::ImageParam labels;
  hl::SgdHyper hyper;
  llvm::DenseMap<Operation *, Halide::ImageParam> momentumIn;
  /// Pixels per chunk of the conv weight gradients' row sums (0: whole
  /// rows): the target's natural vector, so that rows vectorise with no tail.
  int weightGradRowChunk = 0;
  /// Whether the input is read through a clamp on the batch: Adams2019
  /// splits loops over the batch into whole vectors (RoundUp), computing
  /// (and dropping) images outside the batch, which would read outside the
  /// input buffer. Only for autoscheduled pipelines.
  bool clampBatchReads = false;

  std::vector<Halide::Argument> list;

  /// Declares the input image and every parameter.
  void declare(FuncOp func, int batchEstimate);
};

void FunctionArguments::declare(FuncOp func, int batchEstimate) {
  input = func.getArgument(0);
  shp::Shape inputShape = shapeOf(input);
  int rank = static_cast<int>(inputShape.size());
  inputImage = Halide::ImageParam(Halide::Float(32), rank, "input");
  hl::constrainToShape(inputImage, inputShape, batchEstimate);
  list.push_back(inputImage);
  batch = inputImage.dim(rank - 1).extent();

  func.walk([&](cnn::ParameterOp param) { parameters.push_back(param); });
  for (cnn::ParameterOp param : parameters) {
    shp::Shape shape = shapeOf(param.getResult());
    Halide::ImageParam image(Halide::Float(32), static_cast<int>(shape.size()),
                             identifier(param.getName()));
    hl::constrainToShape(image, shape);
    list.push_back(image);
    parameterImages.push_back(image);
  }
}

/// Lowers the ops of one segment of a cnn function. Forward ops become
/// LoweredOps, training ops LoweredGrads; each family is then scheduled by
/// its own policy. Values from outside the segment must be in `tensors`
/// before lowerOps: the arguments are, the caller adds the intermediates.
class FunctionLowering {
public:
  explicit FunctionLowering(const FunctionArguments &args) : args(args) {
    tensors[args.input] = {
        readAll(args.inputImage, "input_read", args.clampBatchReads),
        shapeOf(args.input)};
    for (size_t i = 0; i < args.parameters.size(); ++i) {
      cnn::ParameterOp param = args.parameters[i];
      Value v = param.getResult();
      tensors[v] = {readAll(args.parameterImages[i],
                            args.parameterImages[i].name() + "_read"),
                    shapeOf(v)};
    }
    if (args.labels.defined())
      labelsRead = readAll(args.labels, "labels_read");
  }

  /// Lowers `body` in order; `error` set on failure.
  bool lowerOps(const std::vector<Operation *> &body, std::string &error);

  const FunctionArguments &args;
  llvm::DenseMap<Value, hl::Tensor> tensors;
  std::vector<hl::LoweredOp> ops;
  std::vector<hl::LoweredGrad> grads;
  /// The op each of `grads` lowers.
  std::vector<Operation *> gradOps;
  /// Every op lowered here.
  std::set<Operation *> lowered;
  Halide::Func labelsRead;
  /// Batch statistics per normalised value: a training batchnorm2d, its
  /// gradients and its running-stat update share one computation (within a
  /// segment; another segment computes them again from the stored input).
  llvm::DenseMap<Value, hl::ChannelStats> batchStats;
  /// The inputs whose statistics a training batchnorm2d of this segment
  /// computes, and so schedules (its `stored`); the others (read only by
  /// gradients or running-stat updates here) are scheduled by
  /// scheduleOrphanStats.
  llvm::DenseSet<Value> statsOfForwardOps;

  /// Stores the batch statistics no forward op of this segment schedules:
  /// left inline, every element of a gradient would sum over the batch.
  void scheduleOrphanStats(const Halide::Target &target) {
    const int natural = target.natural_vector_size<float>();
    for (auto &[input, stats] : batchStats)
      if (!statsOfForwardOps.contains(input))
        for (Halide::Func f : {stats.sum, stats.mean, stats.centred, stats.var})
          hl::storePerChannel(f, natural);
  }

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
               .insert({input, hl::channelStats(tensor(input), args.batch,
                                                layerName(op) + "_stats")})
               .first;
    return &it->second;
  }
  std::optional<hl::LoweredOp> lowerForwardOp(Operation *op);
  std::optional<hl::LoweredGrad> lowerTrainingOp(Operation *op);
};

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
        shp::Pool2dArgs args{
            pairOf(pool.getKernelSize()), pairOf(pool.getStride()),
            pairOf(pool.getPadding()), pairOf(pool.getDilation())};
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
        if (bn.getTraining())
          statsOfForwardOps.insert(bn.getInput());
        return hl::batchNorm2d(
            tensor(bn.getInput()), tensor(bn.getWeight()), tensor(bn.getBias()),
            tensor(bn.getRunningMean()), tensor(bn.getRunningVar()),
            bn.getEps().convertToDouble(),
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
                                       args.batch, name);
      })
      .Case([&](cnn::CrossEntropyGradOp ce) {
        return hl::softmaxCrossEntropyGrad(tensor(ce.getLogits()), labelsRead,
                                           args.batch, 1.0f, name);
      })
      .Case([&](cnn::Conv2dInputGradOp g) {
        return hl::conv2dInputGrad(tensor(g.getGrad()), tensor(g.getWeight()),
                                   resultShape(),
                                   convArgs(g.getStride(), g.getPadding(),
                                            g.getDilation(), g.getGroups()),
                                   name);
      })
      .Case([&](cnn::Conv2dWeightGradOp g) {
        return hl::conv2dWeightGrad(tensor(g.getInput()), tensor(g.getGrad()),
                                    resultShape(),
                                    convArgs(g.getStride(), g.getPadding(),
                                             g.getDilation(), g.getGroups()),
                                    args.batch, name, args.weightGradRowChunk);
      })
      .Case([&](cnn::BiasGradOp g) {
        return hl::biasGrad(tensor(g.getGrad()), args.batch, name);
      })
      .Case([&](cnn::LinearInputGradOp g) {
        return hl::linearInputGrad(tensor(g.getGrad()), tensor(g.getWeight()),
                                   name);
      })
      .Case([&](cnn::LinearWeightGradOp g) {
        return hl::linearWeightGrad(tensor(g.getInput()), tensor(g.getGrad()),
                                    args.batch, name);
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
        shp::Pool2dArgs args{pairOf(g.getKernelSize()),
                             pairOf(g.getStride()),
                             pairOf(g.getPadding()),
                             {1, 1}};
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
            statsIf(g.getTraining(), g.getInput(), op), args.batch, name);
      })
      .Case([&](cnn::BatchNorm2dWeightGradOp g) {
        return hl::batchNorm2dWeightGrad(
            tensor(g.getInput()), tensor(g.getGrad()),
            tensor(g.getRunningMean()), tensor(g.getRunningVar()),
            g.getEps().convertToDouble(),
            statsIf(g.getTraining(), g.getInput(), op), args.batch, name);
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
            readAll(args.momentumIn.find(param)->second,
                    identifier(param.getName()) + "_momentum_read"),
            tensor(update.getParam()).shape};
        return hl::sgdUpdate(tensor(update.getParam()),
                             tensor(update.getGrad()), &velocity, args.hyper,
                             identifier(param.getName()) + "_sgd");
      })
      .Default([](Operation *) { return std::nullopt; });
}

bool FunctionLowering::lowerOps(const std::vector<Operation *> &body,
                                std::string &error) {
  for (Operation *op : body) {
    lowered.insert(op);
    if (auto forward = lowerForwardOp(op)) {
      tensors[op->getResult(0)] = forward->output;
      ops.push_back(std::move(*forward));
      continue;
    }
    if (auto training = lowerTrainingOp(op)) {
      if (op->getNumResults() == 1)
        tensors[op->getResult(0)] = training->output;
      grads.push_back(std::move(*training));
      gradOps.push_back(op);
      continue;
    }
    error = "no Halide lowering for op '" + op->getName().getStringRef().str() +
            "'";
    return false;
  }
  return true;
}

Value returnedValue(FuncOp func) {
  auto ret = cast<ReturnOp>(func.getBody().front().getTerminator());
  return ret.getNumOperands() == 1 ? ret.getOperand(0) : Value();
}

/// The plugin file of each autoscheduler offered.
const std::vector<std::pair<std::string, std::string>> &pluginFiles() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"Mullapudi2016", "libautoschedule_mullapudi2016.so"},
      {"Li2018", "libautoschedule_li2018.so"},
      {"Adams2019", "libautoschedule_adams2019.so"},
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
  // Adams2019's default beam search (32 wide) took more than 120 s on
  // lenet's forward pipeline, greedy 14 s: greedy unless the user says.
  if (policy.autoscheduler == "Adams2019")
    ::setenv("HL_BEAM_SIZE", "1", /*overwrite=*/0);
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

/// The function outputs a segment computes, each with its index among the
/// function's outputs.
using SegmentOutputs =
    std::function<std::vector<std::pair<int, hl::Tensor>>(FunctionLowering &)>;

/// Lowers `func` as planned by planSegments (one segment for the
/// autoschedulers): each segment gets the function's arguments plus an
/// ImageParam per intermediate it reads, and outputs the function outputs it
/// computes (`outputsOf`) plus the intermediates later segments read.
bool lowerInSegments(FuncOp func, const Halide::Target &target,
                     const SchedulePolicy &policy, int batchEstimate,
                     const FunctionArguments &args,
                     const SegmentOutputs &outputsOf, LoweredPipeline &result,
                     std::string &error) {
  result.arguments = args.list;
  SegmentPlan plan =
      planSegments(func, policy.isAuto() ? 0 : policy.segmentOps);
  llvm::DenseMap<Value, size_t> definedIn;
  for (size_t s = 0; s < plan.size(); ++s)
    for (Operation *op : plan[s])
      for (Value v : op->getResults())
        definedIn[v] = s;
  // The intermediates, numbered in the order they are first read.
  llvm::DenseMap<Value, int> intermediateOf;
  std::vector<Value> intermediateValues;
  std::vector<std::vector<int>> reads(plan.size()), writes(plan.size());
  for (size_t s = 0; s < plan.size(); ++s)
    for (Operation *op : plan[s])
      for (Value v : op->getOperands()) {
        auto def = definedIn.find(v);
        if (def == definedIn.end() || def->second == s)
          continue;
        auto [it, isNew] =
            intermediateOf.insert({v, int(intermediateValues.size())});
        if (isNew) {
          auto type = v.getType().cast<RankedTensorType>();
          if (!type.getElementType().isF32()) {
            error = "a value of a type other than f32 crosses pipeline "
                    "segments";
            return false;
          }
          intermediateValues.push_back(v);
          result.intermediates.push_back({shapeOf(v)});
          writes[def->second].push_back(it->second);
        }
        if (!llvm::is_contained(reads[s], it->second))
          reads[s].push_back(it->second);
      }

  for (size_t s = 0; s < plan.size(); ++s) {
    if (plan[s].empty())
      continue;
    FunctionLowering lowering(args);
    PipelineSegment segment;
    segment.arguments = args.list;
    for (int id : reads[s]) {
      Value v = intermediateValues[id];
      const shp::Shape &shape = result.intermediates[id].shape;
      Halide::ImageParam image(Halide::Float(32), int(shape.size()),
                               "intermediate" + std::to_string(id));
      hl::constrainToShape(image, shape, batchEstimate);
      lowering.tensors[v] = {readAll(image, image.name() + "_read"), shape};
      segment.arguments.push_back(image);
      segment.reads.push_back(id);
    }
    if (!lowering.lowerOps(plan[s], error))
      return false;

    std::vector<Halide::Func> outputs;
    std::vector<std::pair<int, hl::Tensor>> functionOutputs =
        outputsOf(lowering);
    std::sort(functionOutputs.begin(), functionOutputs.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    auto addOutput = [&](const hl::Tensor &t, int slot) {
      outputs.push_back(t.func);
      segment.writes.push_back(slot);
      hl::constrainToShape(t.func.output_buffer(), t.shape, batchEstimate);
    };
    for (const auto &[index, t] : functionOutputs)
      addOutput(t, index);
    for (int id : writes[s])
      addOutput(lowering.tensor(intermediateValues[id]), -1 - id);
    if (outputs.empty()) {
      error = "a pipeline segment computes nothing that is used";
      return false;
    }

    if (!policy.isAuto()) {
      // Forward values the backward ops read must be stored, not fused
      // away, as must everything the segment outputs.
      std::vector<Halide::Func> stored = outputs;
      for (const hl::LoweredGrad &g : lowering.grads)
        for (const hl::Tensor &t : g.inputs)
          stored.push_back(t.func);
      hl::applyDefaultCpuSchedule(lowering.ops, target, stored);
      hl::applyDefaultGradientSchedule(lowering.grads, target);
      lowering.scheduleOrphanStats(target);
    }
    segment.pipeline = Halide::Pipeline(outputs);
    if (policy.isAuto())
      autoschedule(segment.pipeline, policy, target);
    result.segments.push_back(std::move(segment));
  }
  return true;
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
    FunctionArguments args;
    args.clampBatchReads = policy.isAuto();
    args.declare(func, batchEstimate);
    Value returned = returnedValue(func);
    if (!returned || !returned.getDefiningOp()) {
      error = "func @forward returns nothing computed";
      return false;
    }
    result.numOutputs = 1;
    auto outputsOf = [&](FunctionLowering &lowering) {
      std::vector<std::pair<int, hl::Tensor>> outputs;
      if (lowering.lowered.count(returned.getDefiningOp()))
        outputs.push_back({0, lowering.tensor(returned)});
      return outputs;
    };
    return lowerInSegments(func, target, policy, batchEstimate, args, outputsOf,
                           result, error);
  });
}

bool lowerTrainStep(ModuleOp module, const Halide::Target &target,
                    const SchedulePolicy &policy, LoweredPipeline &result,
                    std::string &error) {
  const int batchEstimate = policy.isAuto() ? policy.batchEstimate : 1;
  return runLowering(module, "train_step", error, [&](FuncOp func) {
    FunctionArguments args;
    args.declare(func, batchEstimate);
    args.weightGradRowChunk = target.natural_vector_size<float>();
    args.labels = Halide::ImageParam(Halide::Int(64), 1, "labels");
    hl::constrainToShape(args.labels, {shp::kDynamic}, batchEstimate);
    // The labels come right after the input in the ABI.
    args.list.insert(args.list.begin() + 1, args.labels);

    std::vector<cnn::ParameterOp> trainable;
    for (cnn::ParameterOp param : args.parameters)
      if (!param.getFrozen() && !param.getBuffer())
        trainable.push_back(param);
    for (cnn::ParameterOp param : trainable) {
      shp::Shape shape = shapeOf(param.getResult());
      Halide::ImageParam momentum(Halide::Float(32),
                                  static_cast<int>(shape.size()),
                                  identifier(param.getName()) + "_momentum");
      hl::constrainToShape(momentum, shape);
      args.momentumIn[param] = momentum;
      args.list.push_back(momentum);
    }
    Halide::Param<float> lr("lr"), momentum("momentum"),
        weightDecay("weight_decay");
    Halide::Param<bool> nesterov("nesterov"), firstStep("first_step");
    // Typical values, for the autoschedulers.
    lr.set_estimate(0.01f);
    momentum.set_estimate(0.9f);
    weightDecay.set_estimate(0.0f);
    // Param<bool>::set_estimate would store an int32 Expr (Halide 14), which
    // the autoschedulers then substitute into select conditions.
    for (const Halide::Param<bool> *flag : {&firstStep, &nesterov})
      Halide::Internal::Parameter(flag->parameter())
          .set_estimate(Halide::Internal::make_bool(false));
    args.hyper = {lr, momentum, weightDecay, firstStep, nesterov};
    for (Halide::Argument a :
         {Halide::Argument(lr), Halide::Argument(momentum),
          Halide::Argument(weightDecay), Halide::Argument(nesterov),
          Halide::Argument(firstStep)})
      args.list.push_back(a);

    Value loss = returnedValue(func);
    if (!loss) {
      error = "func @train_step must return the loss";
      return false;
    }
    // Outputs: the loss, the new value of each trainable parameter (in
    // cnn.sgd_update order), their new momentum, then each running-stat
    // update's new mean and var.
    std::map<Operation *, int> sgdIndex, statsIndex;
    func.walk([&](cnn::SgdUpdateOp op) {
      int k = int(sgdIndex.size());
      sgdIndex[op] = k;
    });
    func.walk([&](cnn::BatchNorm2dStatsUpdateOp op) {
      int k = int(statsIndex.size());
      statsIndex[op] = k;
    });
    const int updates = int(sgdIndex.size());
    result.numOutputs = 1 + 2 * updates + 2 * int(statsIndex.size());
    auto outputsOf = [&](FunctionLowering &lowering) {
      std::vector<std::pair<int, hl::Tensor>> outputs;
      for (size_t i = 0; i < lowering.grads.size(); ++i) {
        Operation *op = lowering.gradOps[i];
        const hl::LoweredGrad &g = lowering.grads[i];
        if (op->getNumResults() == 1 && op->getResult(0) == loss)
          outputs.push_back({0, g.output});
        if (auto it = sgdIndex.find(op); it != sgdIndex.end()) {
          outputs.push_back({1 + it->second, g.output});
          outputs.push_back({1 + updates + it->second, g.extraOutputs.at(0)});
        }
        if (auto it = statsIndex.find(op); it != statsIndex.end()) {
          outputs.push_back({1 + 2 * updates + 2 * it->second, g.output});
          outputs.push_back(
              {2 + 2 * updates + 2 * it->second, g.extraOutputs.at(0)});
        }
      }
      return outputs;
    };
    return lowerInSegments(func, target, policy, batchEstimate, args, outputsOf,
                           result, error);
  });
}

} // namespace cnnc
