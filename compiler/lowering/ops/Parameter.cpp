// A parameter (weight, bias or buffer) is an argument of the pipeline: its
// tensor reads the argument's buffer.
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

} // namespace cnnc::lowering
