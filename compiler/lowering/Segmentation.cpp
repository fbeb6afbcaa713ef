#include "cnnc/lowering/Segmentation.h"

#include "cnn/CnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>

using namespace mlir;

namespace cnnc {
namespace {

/// Readers into which the default schedules fuse a producer that has no
/// other reader (CpuSchedule.cpp: element-wise chains, conv into pool).
bool fusesProducer(Operation *reader) {
  return isa<cnn::ReluOp, cnn::TanhOp, cnn::SigmoidOp, cnn::AddOp,
             cnn::BatchNorm2dOp, cnn::MaxPool2dOp, cnn::AvgPool2dOp>(reader);
}

/// Whether cutting after `ops[last]` would split a producer from the only
/// reader it is fused into. Only the values of the segment being closed
/// (ops[first..last]) can: earlier ones are already stored.
bool splitsFusion(const std::vector<Operation *> &ops, size_t first,
                  size_t last) {
  for (size_t i = first; i <= last; ++i)
    for (Value v : ops[i]->getResults()) {
      if (!v.hasOneUse())
        continue;
      Operation *reader = *v.getUsers().begin();
      auto it = std::find(ops.begin() + last + 1, ops.end(), reader);
      if (it != ops.end() && fusesProducer(reader))
        return true;
    }
  return false;
}

} // namespace

SegmentPlan planSegments(FuncOp func, int segmentOps) {
  std::vector<Operation *> computing, sinks;
  for (Operation &op : func.getBody().front()) {
    if (isa<cnn::ParameterOp, ReturnOp>(op))
      continue;
    (op.getNumResults() == 0 ? sinks : computing).push_back(&op);
  }
  const size_t total = computing.size() + sinks.size();
  if (segmentOps <= 0 || total <= 2 * size_t(segmentOps)) {
    SegmentPlan one(1);
    for (Operation &op : func.getBody().front())
      if (!isa<cnn::ParameterOp, ReturnOp>(op))
        one[0].push_back(&op);
    return one;
  }

  SegmentPlan plan;
  llvm::DenseMap<Operation *, size_t> segmentOf;
  size_t first = 0;
  for (size_t i = 0; i < computing.size(); ++i) {
    const size_t size = i + 1 - first;
    const bool last = i + 1 == computing.size();
    // Past twice the size without a clean cut, cut anyway: a stored value
    // costs less than a pipeline that does not compile.
    if (last ||
        (size >= size_t(segmentOps) && (!splitsFusion(computing, first, i) ||
                                        size >= 2 * size_t(segmentOps)))) {
      plan.emplace_back(computing.begin() + first, computing.begin() + i + 1);
      for (size_t j = first; j <= i; ++j)
        segmentOf[computing[j]] = plan.size() - 1;
      first = i + 1;
    }
  }
  if (plan.empty())
    plan.emplace_back();
  for (Operation *sink : sinks) {
    size_t at = 0;
    for (Value operand : sink->getOperands())
      if (Operation *def = operand.getDefiningOp())
        if (auto it = segmentOf.find(def); it != segmentOf.end())
          at = std::max(at, it->second);
    plan[at].push_back(sink);
  }
  return plan;
}

} // namespace cnnc
