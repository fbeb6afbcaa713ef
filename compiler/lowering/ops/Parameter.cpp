// A parameter (weight, bias or buffer) is an argument of the pipeline: its
// tensor reads the argument's buffer. A constant (cnn.fill) is a pure Func,
// lowered in every pipeline segment that reads it.
#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::ParameterOp op, LoweringContext &cx) {
  const FunctionArguments &args = cx.arguments();
  for (size_t i = 0; i < args.parameters.size(); ++i)
    if (args.parameters[i] == op)
      cx.setTensor(op.getResult(),
                   {readAll(args.parameterImages[i],
                            args.parameterImages[i].name() + "_read"),
                    cnn::shapeOf(op.getResult())});
}

void lowerOp(cnn::FillOp op, LoweringContext &cx) {
  cx.setTensor(op.getResult(),
               hl::filled(cnn::shapeOf(op.getResult()),
                          float(op.getValue().convertToDouble()),
                          cx.funcName(op)));
}

} // namespace cnnc::lowering
