#include "cnnc/driver/Summary.h"

#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"
#include "cnnc/halide/MachineModel.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

using namespace mlir;

namespace cnnc {
namespace {

std::vector<int64_t> shapeOf(Value v) {
  auto type = v.getType().cast<RankedTensorType>();
  return {type.getShape().begin(), type.getShape().end()};
}

int64_t elements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i)
    n *= shape[i];
  return n;
}

std::string layerName(Operation *op) {
  if (auto name = op->getLoc().dyn_cast<NameLoc>())
    return name.getName().str();
  return op->getName().stripDialect().str();
}

int64_t at(ArrayAttr attr, int i) {
  return attr[i].cast<IntegerAttr>().getInt();
}

/// Advances the receptive field through a sliding window.
void window(LayerSummary &s, ArrayAttr kernel, ArrayAttr stride,
            ArrayAttr dilation) {
  for (int i = 0; i < 2; ++i) {
    if (s.receptiveField[i] < 0)
      continue;
    int64_t span = (dilation ? at(dilation, i) : 1) * (at(kernel, i) - 1) + 1;
    s.receptiveField[i] += (span - 1) * s.jump[i];
    s.jump[i] *= at(stride, i);
  }
}

void wholeInput(LayerSummary &s) {
  s.receptiveField[0] = s.receptiveField[1] = -1;
}

} // namespace

NetworkSummary summarize(ModuleOp module) {
  NetworkSummary summary;
  summary.name = module.getName() ? module.getName()->str() : "network";
  auto func = module.lookupSymbol<FuncOp>("forward");
  if (!func)
    return summary;
  summary.inputShape = shapeOf(func.getArgument(0));

  LayerSummary inputState;
  inputState.receptiveField[0] = inputState.receptiveField[1] = 1;
  inputState.jump[0] = inputState.jump[1] = 1;
  // The receptive field and stride product of each value: an op starts from
  // its data input's; an add or a cat sees the largest field of its inputs.
  llvm::DenseMap<Value, LayerSummary> states;
  states[func.getArgument(0)] = inputState;
  // The layer that produced each value (-1: the network's input).
  llvm::DenseMap<Value, int> producers;
  producers[func.getArgument(0)] = -1;
  for (Operation &op : func.getBody().front()) {
    if (isa<cnn::ParameterOp, cnn::FillOp, ReturnOp>(op) ||
        op.getNumResults() != 1)
      continue;
    LayerSummary s = states.lookup(op.getOperand(0));
    if (isa<cnn::AddOp, cnn::CatOp>(op)) {
      for (Value operand : op.getOperands().drop_front()) {
        LayerSummary other = states.lookup(operand);
        for (int i = 0; i < 2; ++i) {
          bool whole = s.receptiveField[i] < 0 || other.receptiveField[i] < 0;
          s.receptiveField[i] =
              whole ? -1
                    : std::max(s.receptiveField[i], other.receptiveField[i]);
          s.jump[i] = std::max(s.jump[i], other.jump[i]);
        }
      }
    }
    s.name = layerName(&op);
    s.kind = op.getName().stripDialect().str();
    s.inputs.clear();
    for (Value operand : op.getOperands())
      if (auto it = producers.find(operand); it != producers.end())
        s.inputs.push_back(it->second);
    s.outputShape = shapeOf(op.getResult(0));
    s.parameters = 0;
    // Buffers (running statistics) are state, not parameters, as in
    // PyTorch's parameter count.
    for (Value operand : op.getOperands())
      if (auto param = operand.getDefiningOp<cnn::ParameterOp>();
          param && !param.getBuffer()) {
        auto shape = shapeOf(operand);
        int64_t n = 1;
        for (int64_t d : shape)
          n *= d;
        s.parameters += n;
      }
    int64_t out = elements(s.outputShape);
    llvm::TypeSwitch<Operation *>(&op)
        .Case([&](cnn::Conv2dOp conv) {
          auto w = shapeOf(conv.getWeight());
          s.flops = conv.flopsPerSample();
          window(s, Builder(&op).getI64ArrayAttr({w[2], w[3]}),
                 conv.getStride(), conv.getDilation());
        })
        .Case([&](cnn::LinearOp linear) { s.flops = linear.flopsPerSample(); })
        .Case([&](cnn::MaxPool2dOp pool) {
          s.flops =
              out * at(pool.getKernelSize(), 0) * at(pool.getKernelSize(), 1);
          window(s, pool.getKernelSize(), pool.getStride(), pool.getDilation());
        })
        .Case([&](cnn::AvgPool2dOp pool) {
          s.flops =
              out * at(pool.getKernelSize(), 0) * at(pool.getKernelSize(), 1);
          window(s, pool.getKernelSize(), pool.getStride(), nullptr);
        })
        .Case<cnn::AdaptiveAvgPool2dOp, cnn::AdaptiveMaxPool2dOp>(
            [&](auto pool) {
              s.flops = elements(shapeOf(pool.getInput()));
              auto in = shapeOf(pool.getInput());
              if (at(pool.getOutputSize(), 0) == 1 &&
                  at(pool.getOutputSize(), 1) == 1)
                wholeInput(s);
              else
                for (int i = 0; i < 2; ++i)
                  if (s.receptiveField[i] > 0) {
                    // Windows of about ceil(in / out) cells, about in / out
                    // apart.
                    int64_t o = at(pool.getOutputSize(), i);
                    int64_t k = (in[2 + i] + o - 1) / o;
                    s.receptiveField[i] += (k - 1) * s.jump[i];
                    s.jump[i] *= std::max<int64_t>(1, in[2 + i] / o);
                  }
            })
        // Along a spatial dim, each output reads the whole row or column.
        .Case<cnn::SoftmaxOp, cnn::LogSoftmaxOp>([&](auto softmax) {
          s.flops = out;
          const int64_t dim = softmax.getDim();
          if (s.outputShape.size() == 4 && dim >= 2)
            s.receptiveField[dim - 2] = -1;
        })
        // Copies, and dropout (the identity in inference): no arithmetic.
        .Case<cnn::FlattenOp, cnn::Pad2dOp, cnn::CatOp, cnn::DropoutOp>(
            [&](Operation *) { s.flops = 0; })
        .Default([&](Operation *) { s.flops = out; });
    if (s.outputShape.size() == 2)
      wholeInput(s);
    states[op.getResult(0)] = s;
    producers[op.getResult(0)] = static_cast<int>(summary.layers.size());
    summary.totalParameters += s.parameters;
    summary.totalFlops += s.flops;
    summary.layers.push_back(std::move(s));
  }
  return summary;
}

namespace {

std::string fieldText(const LayerSummary &s) {
  if (s.receptiveField[0] < 0 && s.receptiveField[1] < 0)
    return "all";
  auto axis = [](int64_t field) {
    return field < 0 ? std::string("all") : std::to_string(field);
  };
  return axis(s.receptiveField[0]) + "x" + axis(s.receptiveField[1]);
}

std::string jumpText(const LayerSummary &s) {
  if (s.receptiveField[0] < 0 && s.receptiveField[1] < 0)
    return "-";
  return std::to_string(s.jump[0]) + "x" + std::to_string(s.jump[1]);
}
} // namespace

void printSummary(const NetworkSummary &summary, std::ostream &os) {
  os << "network " << summary.name << ", input "
     << cnn::shape::format(summary.inputShape) << " (? = batch)\n\n";
  // Qualified names (layer1.0.downsample.0) widen the first column.
  size_t nameWidth = 20;
  for (const LayerSummary &s : summary.layers)
    nameWidth = std::max(nameWidth, s.name.size() + 2);
  const size_t rule = 84 + nameWidth;
  os << std::left << std::setw(int(nameWidth)) << "layer" << std::setw(20)
     << "op" << std::setw(20) << "output" << std::right << std::setw(12)
     << "params" << std::setw(14) << "FLOPs" << std::setw(10) << "RF"
     << std::setw(8) << "stride"
     << "\n";
  os << std::string(rule, '-') << "\n";
  for (const LayerSummary &s : summary.layers) {
    os << std::left << std::setw(int(nameWidth)) << s.name << std::setw(20)
       << s.kind << std::setw(20) << cnn::shape::format(s.outputShape)
       << std::right << std::setw(12) << withCommas(s.parameters)
       << std::setw(14) << withCommas(s.flops) << std::setw(10) << fieldText(s)
       << std::setw(8) << jumpText(s) << "\n";
  }
  os << std::string(rule, '-') << "\n";
  os << "total parameters: " << withCommas(summary.totalParameters) << " ("
     << std::fixed << std::setprecision(1)
     << summary.totalParameters * 4.0 / 1024.0 << " KiB as float32)\n";
  os << "total FLOPs per sample: " << withCommas(summary.totalFlops)
     << " (a multiply-add counts 2)\n";
  os << "RF: receptive field in input pixels (h x w); stride: product of "
        "strides so far; output size = (H - k + 2p) / s + 1\n";
}

namespace {

int64_t elements(const std::vector<int64_t> &shape, int64_t batch) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d < 0 ? batch : d;
  return n;
}

/// "1.2 MiB", "964.0 KiB".
std::string bytesText(int64_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (bytes >= int64_t(1) << 30)
    os << double(bytes) / double(int64_t(1) << 30) << " GiB";
  else if (bytes >= int64_t(1) << 20)
    os << double(bytes) / double(int64_t(1) << 20) << " MiB";
  else
    os << double(bytes) / 1024.0 << " KiB";
  return os.str();
}

/// Whether a GPU library may transpose `weights` (a convolution's,
/// [O, I / groups, kH, kW]) for a warp-tiled kernel (docs/gpu.md): not 1x1,
/// and its output channels or its input gradient's fill warps.
bool transposedForWarps(const std::vector<int64_t> &weights) {
  const int64_t lanes = hl::GpuModel().warpLanes;
  return weights.size() == 4 && weights[2] * weights[3] > 1 &&
         (weights[0] % lanes == 0 || weights[1] % lanes == 0);
}

} // namespace

MemoryEstimate estimateMemory(const NetworkSummary &summary,
                              const ModelAbi &abi, int64_t batch, bool gpu) {
  MemoryEstimate m;
  m.batch = batch;
  const int64_t f32 = 4;
  int64_t weightGradients = 0;
  for (const AbiParameter &p : abi.parameters) {
    const int64_t bytes = elements(p.shape, batch) * f32;
    m.parameters += bytes;
    m.session += bytes * (p.updated ? 2 : 1) + (p.trainable ? 2 * bytes : 0);
    if (p.trainable)
      weightGradients += bytes;
    if (gpu && transposedForWarps(p.shape))
      m.transposedWeights = std::max(m.transposedWeights, bytes);
  }
  int64_t activations = elements(summary.inputShape, batch);
  for (const LayerSummary &layer : summary.layers) {
    activations += elements(layer.outputShape, batch);
    // Sums over [N, C, H, W] (a convolution's or batch norm's parameter
    // gradients, a batch norm's C statistics): parts of its H rows at most
    // (of its W columns where H is 1). A linear layer's are not split.
    if (gpu && layer.outputShape.size() == 4) {
      const int64_t C = layer.outputShape[1], H = layer.outputShape[2],
                    W = layer.outputShape[3];
      m.partialSums = std::max(m.partialSums, std::max(layer.parameters, C) *
                                                  (H > 1 ? H : W) * f32);
    }
  }
  m.forward = activations * f32 + m.transposedWeights;
  m.trainStep = 2 * activations * f32 + weightGradients + m.transposedWeights +
                m.partialSums;
  return m;
}

void printMemory(const MemoryEstimate &m, const std::string &where,
                 std::ostream &os) {
  os << where << " at batch " << m.batch << ", float32:\n"
     << "  parameters " << bytesText(m.parameters) << ", a training session "
     << bytesText(m.session) << " (parameters and momentum, double-buffered)\n"
     << "  forward pass at most " << bytesText(m.forward)
     << " (the input and every layer's output), training step at most "
     << bytesText(m.trainStep) << " (and their gradients)\n";
  if (m.transposedWeights)
    os << "  both including up to " << bytesText(m.transposedWeights)
       << " for a convolution's weights, transposed while it runs\n";
  if (m.partialSums)
    os << "  the training step including up to " << bytesText(m.partialSums)
       << " for a layer's gradients summed in parts of its rows\n";
}

std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n), s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      s += ',';
    s += digits[i];
  }
  return s;
}

} // namespace cnnc
