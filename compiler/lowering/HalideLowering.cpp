// Lowering of a cnn function (`@forward`, `@train_step`) to Halide
// pipelines: the function's arguments become Halide parameters, its fusion
// is planned once (FunctionFusion.h), it is cut into segments that keep
// every fused group whole (Segmentation.h), each op of a segment is lowered
// by its own lowerOp (OpLowerings.h), and the segment is scheduled by the
// target's backend (cnnc/halide/Backend.h) or an autoscheduler.
#include "cnnc/lowering/HalideLowering.h"

#include "Autoscheduler.h"
#include "LoweringContext.h"
#include "OpLowerings.h"

#include "cnn/CnnDialect.h"
#include "cnnc/halide/Backend.h"
#include "cnnc/halide/Bounds.h"
#include "cnnc/lowering/FunctionFusion.h"
#include "cnnc/lowering/ModelAbi.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

using namespace mlir;
namespace shp = cnn::shape;

namespace cnnc {
namespace {

using lowering::FunctionArguments;
using lowering::identifier;
using lowering::LoweringContext;

/// The function's arguments and their Halide declarations in ABI order.
struct DeclaredArguments {
  FunctionArguments values;
  std::vector<Halide::Argument> list;
};

/// Declares `func`'s arguments as `pipeline` lists them: the input and
/// labels, every parameter and momentum buffer as images, the optimizer's
/// hyper-parameters as scalars (with typical values, for the
/// autoschedulers).
void declareArguments(FuncOp func, const ModelAbi &abi,
                      const PipelineAbi &pipeline, int batchEstimate,
                      DeclaredArguments &args) {
  FunctionArguments &a = args.values;
  std::vector<cnn::ParameterOp> parameters;
  func.walk([&](cnn::ParameterOp param) { parameters.push_back(param); });
  a.input = func.getArgument(0);
  Halide::Param<float> lr("lr"), momentum("momentum"),
      weightDecay("weight_decay");
  Halide::Param<bool> nesterov("nesterov"), firstStep("first_step");
  lr.set_estimate(0.01f);
  momentum.set_estimate(0.9f);
  weightDecay.set_estimate(0.0f);
  // Param<bool>::set_estimate would store an int32 Expr (Halide 14), which
  // the autoschedulers then substitute into select conditions.
  for (const Halide::Param<bool> *flag : {&firstStep, &nesterov})
    Halide::Internal::Parameter(flag->parameter())
        .set_estimate(Halide::Internal::make_bool(false));
  a.hyper = {lr, momentum, weightDecay, firstStep, nesterov};

  using Kind = AbiArgument::Kind;
  for (const AbiArgument &arg : pipeline.arguments) {
    switch (arg.kind) {
    case Kind::Input: {
      shp::Shape shape = cnn::shapeOf(a.input);
      const int rank = int(shape.size());
      a.inputImage = Halide::ImageParam(Halide::Float(32), rank, "input");
      hl::constrainToShape(a.inputImage, shape, batchEstimate);
      a.batch = a.inputImage.dim(rank - 1).extent();
      args.list.push_back(a.inputImage);
      break;
    }
    case Kind::Labels:
      a.labels = Halide::ImageParam(Halide::Int(64), 1, "labels");
      hl::constrainToShape(a.labels, {shp::kDynamic}, batchEstimate);
      args.list.push_back(a.labels);
      break;
    case Kind::Parameter:
    case Kind::Momentum: {
      cnn::ParameterOp param = parameters.at(size_t(arg.parameter));
      if (param.getName() != abi.parameters[size_t(arg.parameter)].name)
        throw std::logic_error("lowering: the function's parameters are not "
                               "the ABI's");
      const shp::Shape shape = cnn::shapeOf(param.getResult());
      std::string name = identifier(param.getName());
      if (arg.kind == Kind::Momentum)
        name += "_momentum";
      Halide::ImageParam image(Halide::Float(32), int(shape.size()), name);
      hl::constrainToShape(image, shape);
      if (arg.kind == Kind::Parameter) {
        a.parameters.push_back(param);
        a.parameterImages.push_back(image);
      } else {
        a.momentumIn[param] = image;
      }
      args.list.push_back(image);
      break;
    }
    case Kind::LearningRate:
      args.list.push_back(lr);
      break;
    case Kind::MomentumFactor:
      args.list.push_back(momentum);
      break;
    case Kind::WeightDecay:
      args.list.push_back(weightDecay);
      break;
    case Kind::Nesterov:
      args.list.push_back(nesterov);
      break;
    case Kind::FirstStep:
      args.list.push_back(firstStep);
      break;
    case Kind::RandomSeed: {
      Halide::Param<uint64_t> seed("random_seed");
      seed.set_estimate(0);
      a.randomSeed = seed;
      args.list.push_back(seed);
      break;
    }
    case Kind::StepIndex: {
      Halide::Param<int64_t> step("step_index");
      step.set_estimate(0);
      a.stepIndex = step;
      args.list.push_back(step);
      break;
    }
    case Kind::FirstSample: {
      Halide::Param<int64_t> first("first_sample");
      first.set_estimate(0);
      a.firstSample = first;
      args.list.push_back(first);
      break;
    }
    }
  }
}

Value returnedValue(FuncOp func) {
  auto ret = cast<ReturnOp>(func.getBody().front().getTerminator());
  return ret.getNumOperands() == 1 ? ret.getOperand(0) : Value();
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
using SegmentOutputs = std::function<std::vector<std::pair<int, hl::Tensor>>(
    const LoweringContext &)>;

/// Schedules one lowered segment: the target's backend, with the fusion
/// plan's groups, or the policy's autoscheduler.
void scheduleSegment(LoweringContext &cx, const FunctionFusion &fusion,
                     const hl::Backend &backend, const SchedulePolicy &policy,
                     const Halide::Target &target, Halide::Pipeline &pipeline) {
  if (policy.isAuto()) {
    autoschedule(pipeline, policy, target, backend.machine());
    return;
  }
  const std::vector<fusion::Group> groups = fusion.groupsIn(cx.opsLowered);
  const std::vector<std::optional<size_t>> updates =
      fusion.updatesIn(cx.gradsLowered);
  const std::vector<const hl::ChannelStats *> orphans = cx.orphanStats();
  const std::vector<Halide::Func> outputs = pipeline.outputs();
  const hl::ScheduleRequest request{cx.ops,  cx.grads, groups,
                                    updates, orphans,  outputs};
  backend.schedule(request);
  hl::verifyEveryResultScheduled(request, backend.machine());
}

/// Adds the ops `cx` lowered to the profiler's table (once each: the first
/// op of a prefix names it), keyed by the name their Funcs start with
/// (LoweringContext::funcName). Not by their output Funcs' names, which
/// Halide makes unique: "conv1$3", and in the profiled build of ResNet-18's
/// segmented step also "layer1_0_conv1_conv2d_weight_grad_3", which the
/// op's sums do not start with (they went to the forward conv's row).
void addProfiledOps(const LoweringContext &cx, LoweredPipeline &result) {
  auto add = [&](ProfiledOp entry) {
    for (const ProfiledOp &known : result.profiledOps)
      if (known.funcPrefix == entry.funcPrefix)
        return;
    result.profiledOps.push_back(std::move(entry));
  };
  auto flops = [](Operation *op) -> int64_t {
    if (auto counted = dyn_cast<cnn::FlopCountOp>(op))
      return counted.flopsPerSample();
    return 0;
  };
  for (cnn::ParameterOp param : cx.arguments().parameters)
    add({identifier(param.getName()), param.getName().str(), "parameter", 0});
  for (size_t i = 0; i < cx.ops.size(); ++i) {
    Operation *op = cx.opsLowered[i];
    add({cx.funcName(op), LoweringContext::profileName(op),
         op->getName().stripDialect().str(), flops(op)});
  }
  for (size_t i = 0; i < cx.grads.size(); ++i) {
    Operation *op = cx.gradsLowered[i];
    add({cx.funcName(op), LoweringContext::profileName(op),
         op->getName().stripDialect().str(), flops(op)});
  }
}

/// What a value stored between pipeline segments holds: a value of the
/// function, or the mean or the (biased) variance of a value's batch
/// statistics.
struct Intermediate {
  enum class Statistic { None, Mean, Var };
  Value value;
  Statistic statistic = Statistic::None;
};

/// Adds to `intermediates` (and `result`'s, `reads` and `writes`) the batch
/// statistics that ops of several segments of `plan` read: the segment of
/// the forward batch norm computes them (else the first segment that reads
/// them) and stores their mean and variance, and the later ones read those
/// rather than summing the whole input twice again each. (A segment before
/// the forward op's, where planSegments put a running-statistics update
/// that reads the forward op's input, computes its own.)
void addStatisticsIntermediates(const SegmentPlan &plan,
                                std::vector<Intermediate> &intermediates,
                                LoweredPipeline &result,
                                std::vector<std::vector<int>> &reads,
                                std::vector<std::vector<int>> &writes) {
  struct Readers {
    std::vector<size_t> segments; // in order
    std::optional<size_t> forward;
  };
  llvm::MapVector<Value, Readers> readersOf;
  for (size_t s = 0; s < plan.size(); ++s)
    for (Operation *op : plan[s])
      if (std::optional<Value> input = lowering::batchStatsInputOf(op)) {
        Readers &readers = readersOf[*input];
        if (readers.segments.empty() || readers.segments.back() != s)
          readers.segments.push_back(s);
        if (isa<cnn::BatchNorm2dOp>(op))
          readers.forward = s;
      }
  for (const auto &[input, readers] : readersOf) {
    const size_t writer = readers.forward.value_or(readers.segments.front());
    std::vector<size_t> later;
    for (size_t s : readers.segments)
      if (s > writer)
        later.push_back(s);
    if (later.empty())
      continue;
    const shp::Shape channels{cnn::shapeOf(input).at(1)};
    for (Intermediate::Statistic statistic :
         {Intermediate::Statistic::Mean, Intermediate::Statistic::Var}) {
      const int id = int(intermediates.size());
      intermediates.push_back({input, statistic});
      result.intermediates.push_back({channels});
      writes[writer].push_back(id);
      for (size_t s : later)
        reads[s].push_back(id);
    }
  }
}

/// Lowers `func` as planned by planSegments with segments of about
/// `segmentOps` ops (one segment for the autoschedulers): each segment gets the
/// function's arguments plus an ImageParam per intermediate it reads, and
/// outputs the function outputs it computes (`outputsOf`) plus the
/// intermediates later segments read.
bool lowerInSegments(FuncOp func, const Halide::Target &target,
                     const SchedulePolicy &policy, int segmentOps,
                     int batchEstimate, const DeclaredArguments &args,
                     const SegmentOutputs &outputsOf, LoweredPipeline &result,
                     std::string &error) {
  std::unique_ptr<hl::Backend> backend = hl::selectBackend(target, error);
  if (!backend) {
    error = "target '" + target.to_string() + "' " + error;
    return false;
  }
  if (policy.isAuto() && backend->machine().gpu) {
    error = "the autoschedulers (--schedule auto:" + policy.autoscheduler +
            ") schedule CPU targets only; a GPU target ('" +
            target.to_string() + "') takes --schedule manual";
    return false;
  }
  result.arguments = args.list;
  const FunctionFusion fusion = planFunctionFusion(func);
  SegmentPlan plan = planSegments(fusion, policy.isAuto() ? 0 : segmentOps,
                                  policy.segments.wholeUpTo);
  llvm::DenseMap<Value, size_t> definedIn;
  for (size_t s = 0; s < plan.size(); ++s)
    for (Operation *op : plan[s])
      for (Value v : op->getResults())
        definedIn[v] = s;
  // The intermediates, numbered in the order they are first read: values,
  // then batch statistics.
  llvm::DenseMap<Value, int> intermediateOf;
  std::vector<Intermediate> intermediateValues;
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
          intermediateValues.push_back({v});
          result.intermediates.push_back({cnn::shapeOf(v)});
          writes[def->second].push_back(it->second);
        }
        if (!llvm::is_contained(reads[s], it->second))
          reads[s].push_back(it->second);
      }

  addStatisticsIntermediates(plan, intermediateValues, result, reads, writes);

  for (size_t s = 0; s < plan.size(); ++s) {
    if (plan[s].empty())
      continue;
    LoweringContext cx(args.values, backend->machine());
    PipelineSegment segment;
    segment.arguments = args.list;
    llvm::MapVector<Value, hl::ChannelStats> imported;
    for (int id : reads[s]) {
      const Intermediate &read = intermediateValues[id];
      const shp::Shape &shape = result.intermediates[id].shape;
      Halide::ImageParam image(Halide::Float(32), int(shape.size()),
                               "intermediate" + std::to_string(id));
      hl::constrainToShape(image, shape, batchEstimate);
      Halide::Func values = lowering::readAll(image, image.name() + "_read");
      if (read.statistic == Intermediate::Statistic::None)
        cx.setTensor(read.value, {values, shape});
      else if (read.statistic == Intermediate::Statistic::Mean)
        imported[read.value].mean = values;
      else
        imported[read.value].var = values;
      segment.arguments.push_back(image);
      segment.reads.push_back(id);
    }
    for (auto &[input, stats] : imported) {
      // M = N * H * W, as channelStats counts it.
      const shp::Shape shape = cnn::shapeOf(input);
      stats.count = Halide::cast<float>(cx.batch() * int(shape[2] * shape[3]));
      cx.importBatchStats(input, std::move(stats));
    }
    func.walk([&](cnn::FillOp fill) { lowering::lowerOperation(fill, cx); });
    for (Operation *op : plan[s])
      if (!lowering::lowerOperation(op, cx)) {
        error = "no Halide lowering for op '" +
                op->getName().getStringRef().str() + "'";
        return false;
      }

    std::vector<Halide::Func> outputs;
    std::vector<std::pair<int, hl::Tensor>> functionOutputs = outputsOf(cx);
    std::sort(functionOutputs.begin(), functionOutputs.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    auto addOutput = [&](const hl::Tensor &t, int slot) {
      outputs.push_back(t.func);
      segment.writes.push_back(slot);
      hl::constrainToShape(t.func.output_buffer(), t.shape, batchEstimate);
    };
    for (const auto &[index, t] : functionOutputs)
      addOutput(t, index);
    for (int id : writes[s]) {
      const Intermediate &written = intermediateValues[id];
      const shp::Shape &shape = result.intermediates[id].shape;
      if (written.statistic == Intermediate::Statistic::None) {
        addOutput(cx.tensor(written.value), -1 - id);
        continue;
      }
      // This segment's ops computed them (addStatisticsIntermediates).
      const hl::ChannelStats *stats = cx.existingBatchStats(written.value);
      addOutput({written.statistic == Intermediate::Statistic::Mean
                     ? stats->mean
                     : stats->var,
                 shape},
                -1 - id);
    }
    if (outputs.empty()) {
      error = "a pipeline segment computes nothing that is used";
      return false;
    }
    segment.pipeline = Halide::Pipeline(outputs);
    scheduleSegment(cx, fusion, *backend, policy, target, segment.pipeline);
    addProfiledOps(cx, result);
    result.segments.push_back(std::move(segment));
  }
  std::vector<bool> written(size_t(result.numOutputs), false);
  for (const PipelineSegment &segment : result.segments)
    for (int slot : segment.writes)
      if (slot >= 0)
        written.at(size_t(slot)) = true;
  if (llvm::is_contained(written, false)) {
    error = "the function computes fewer outputs than its ABI lists";
    return false;
  }
  return true;
}

} // namespace

bool lowerForward(ModuleOp module, const ModelAbi &abi,
                  const Halide::Target &target, const SchedulePolicy &policy,
                  LoweredPipeline &result, std::string &error) {
  const int batchEstimate = policy.isAuto() ? policy.batchEstimate : 1;
  return runLowering(module, "forward", error, [&](FuncOp func) {
    DeclaredArguments args;
    args.values.clampBatchReads = policy.isAuto();
    declareArguments(func, abi, abi.forward, batchEstimate, args);
    Value returned = returnedValue(func);
    if (!returned || !returned.getDefiningOp()) {
      error = "func @forward returns nothing computed";
      return false;
    }
    result.numOutputs = int(abi.forward.outputs.size());
    const int logits = abi.forward.outputIndex(AbiOutput::Kind::Logits);
    auto outputsOf = [&](const LoweringContext &cx) {
      std::vector<std::pair<int, hl::Tensor>> outputs;
      if (llvm::is_contained(cx.opsLowered, returned.getDefiningOp()) ||
          llvm::is_contained(cx.gradsLowered, returned.getDefiningOp()))
        outputs.push_back({logits, cx.tensor(returned)});
      return outputs;
    };
    return lowerInSegments(func, target, policy, policy.segments.forward,
                           batchEstimate, args, outputsOf, result, error);
  });
}

bool lowerTrainStep(ModuleOp module, const ModelAbi &abi,
                    const Halide::Target &target, const SchedulePolicy &policy,
                    LoweredPipeline &result, std::string &error) {
  const int batchEstimate = policy.isAuto() ? policy.batchEstimate : 1;
  if (!abi.train) {
    error = "the ABI describes no training step";
    return false;
  }
  const PipelineAbi &step = *abi.train;
  return runLowering(module, "train_step", error, [&](FuncOp func) {
    DeclaredArguments declared;
    declareArguments(func, abi, step, batchEstimate, declared);
    Value loss = returnedValue(func);
    if (!loss) {
      error = "func @train_step must return the loss";
      return false;
    }
    result.numOutputs = int(step.outputs.size());
    using Out = AbiOutput::Kind;
    auto indexOf = [&](Value param) {
      return abi.parameterIndex(
          param.getDefiningOp<cnn::ParameterOp>().getName().str());
    };
    // Each output of the step as (its index in the ABI, the tensor).
    auto outputsOf = [&](const LoweringContext &cx) {
      std::vector<std::pair<int, hl::Tensor>> outputs;
      for (size_t i = 0; i < cx.grads.size(); ++i) {
        Operation *op = cx.gradsLowered[i];
        const hl::LoweredGrad &g = cx.grads[i];
        if (op->getNumResults() == 1 && op->getResult(0) == loss)
          outputs.push_back({step.outputIndex(Out::Loss), g.output});
        if (auto sgd = dyn_cast<cnn::SgdUpdateOp>(op)) {
          const int p = indexOf(sgd.getParam());
          outputs.push_back({step.outputIndex(Out::NewParameter, p), g.output});
          outputs.push_back(
              {step.outputIndex(Out::NewMomentum, p), g.extraOutputs.at(0)});
        }
        if (auto stats = dyn_cast<cnn::BatchNorm2dStatsUpdateOp>(op)) {
          outputs.push_back({step.outputIndex(Out::NewBuffer,
                                              indexOf(stats.getRunningMean())),
                             g.output});
          outputs.push_back(
              {step.outputIndex(Out::NewBuffer, indexOf(stats.getRunningVar())),
               g.extraOutputs.at(0)});
        }
      }
      for (const auto &[index, tensor] : outputs)
        if (index < 0)
          throw std::logic_error("lowering: the training step computes an "
                                 "output the ABI does not list");
      return outputs;
    };
    return lowerInSegments(func, target, policy, policy.segments.train,
                           batchEstimate, declared, outputsOf, result, error);
  });
}

} // namespace cnnc
