// Walks func @forward in order and maps each cnn op to its Halide algorithm.
// Adding an op means adding one case here that calls its builder.
#include "cnnc/lowering/HalideLowering.h"

#include "cnn/CnnDialect.h"
#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/Ops.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

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

class ForwardLowering {
public:
  bool run(FuncOp func, const Halide::Target &target, SchedulePolicy policy,
           LoweredPipeline &result, std::string &error);

private:
  llvm::DenseMap<Value, hl::Tensor> tensors;
  std::vector<hl::LoweredOp> ops;

  hl::Tensor &tensor(Value v) { return tensors.find(v)->second; }
  std::optional<hl::Tensor> optionalTensor(Value v) {
    if (!v)
      return std::nullopt;
    return tensor(v);
  }
  bool lowerOp(Operation *op, std::string &error);
};

bool ForwardLowering::lowerOp(Operation *op, std::string &error) {
  std::string name = layerName(op);
  std::optional<hl::LoweredOp> lowered =
      llvm::TypeSwitch<Operation *, std::optional<hl::LoweredOp>>(op)
          .Case([&](cnn::Conv2dOp conv) {
            shp::Conv2dArgs args{pairOf(conv.getStride()),
                                 pairOf(conv.getPadding()),
                                 pairOf(conv.getDilation()),
                                 static_cast<int64_t>(conv.getGroups())};
            return hl::conv2d(tensor(conv.getInput()), tensor(conv.getWeight()),
                              optionalTensor(conv.getBias()), args, name);
          })
          .Case([&](cnn::LinearOp linear) {
            return hl::linear(tensor(linear.getInput()),
                              tensor(linear.getWeight()),
                              optionalTensor(linear.getBias()), name);
          })
          .Case([&](cnn::ReluOp relu) {
            return hl::activation(hl::OpKind::Relu, tensor(relu.getInput()), name);
          })
          .Case([&](cnn::TanhOp tanh) {
            return hl::activation(hl::OpKind::Tanh, tensor(tanh.getInput()), name);
          })
          .Case([&](cnn::SigmoidOp sigmoid) {
            return hl::activation(hl::OpKind::Sigmoid,
                                  tensor(sigmoid.getInput()), name);
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
          .Default([](Operation *) { return std::nullopt; });
  if (!lowered) {
    error = "no Halide lowering for op '" +
            op->getName().getStringRef().str() + "'";
    return false;
  }
  tensors[op->getResult(0)] = lowered->output;
  ops.push_back(std::move(*lowered));
  return true;
}

bool ForwardLowering::run(FuncOp func, const Halide::Target &target,
                          SchedulePolicy, LoweredPipeline &result,
                          std::string &error) {
  Value input = func.getArgument(0);
  shp::Shape inputShape = shapeOf(input);
  Halide::ImageParam inputParam(Halide::Float(32),
                                static_cast<int>(inputShape.size()), "input");
  hl::constrainToShape(inputParam, inputShape);
  result.arguments.push_back(inputParam);
  tensors[input] = {readAll(inputParam, "input_read"), inputShape};

  Value returned;
  for (Operation &op : func.getBody().front()) {
    if (auto param = dyn_cast<cnn::ParameterOp>(op)) {
      shp::Shape shape = shapeOf(param.getResult());
      std::string name = identifier(param.getName());
      Halide::ImageParam image(Halide::Float(32),
                               static_cast<int>(shape.size()), name);
      hl::constrainToShape(image, shape);
      result.arguments.push_back(image);
      tensors[param.getResult()] = {readAll(image, name + "_read"), shape};
      continue;
    }
    if (auto ret = dyn_cast<ReturnOp>(op)) {
      returned = ret.getOperand(0);
      continue;
    }
    if (!lowerOp(&op, error))
      return false;
  }
  if (!returned || ops.empty()) {
    error = "func @forward returns nothing computed";
    return false;
  }

  hl::Tensor output = tensor(returned);
  // Apply the schedule policy to every op at once.
  hl::applyDefaultCpuSchedule(ops, target, {output.func});
  hl::constrainToShape(output.func.output_buffer(), output.shape);
  result.pipeline = Halide::Pipeline(output.func);
  return true;
}

} // namespace

bool lowerForward(ModuleOp module, const Halide::Target &target,
                  SchedulePolicy policy, LoweredPipeline &result,
                  std::string &error) {
  auto func = module.lookupSymbol<FuncOp>("forward");
  if (!func) {
    error = "the module has no func @forward";
    return false;
  }
  try {
    return ForwardLowering().run(func, target, policy, result, error);
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
  } catch (const std::exception &e) {
    error = e.what();
  }
  return false;
}

} // namespace cnnc
