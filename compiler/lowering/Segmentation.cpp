#include "cnnc/lowering/Segmentation.h"

#include "cnn/CnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>

using namespace mlir;

namespace cnnc {

SegmentPlan planSegments(const FunctionFusion &fusion, int segmentOps,
                         int wholeUpTo) {
  std::vector<Operation *> computing, sinks;
  for (Operation *op : fusion.ops)
    (op->getNumResults() == 0 ? sinks : computing).push_back(op);
  if (segmentOps <= 0 || fusion.ops.size() <= size_t(std::max(wholeUpTo, 0)))
    return SegmentPlan{fusion.ops};

  // The last position in `computing` of an op computed with each op.
  llvm::DenseMap<Operation *, size_t> position;
  for (size_t i = 0; i < computing.size(); ++i)
    position[computing[i]] = i;
  std::vector<size_t> reach(computing.size());
  for (size_t i = 0; i < computing.size(); ++i) {
    reach[i] = i;
    for (int node : fusion.plan.bundle(fusion.nodeOf.lookup(computing[i])))
      if (auto it = position.find(fusion.ops[size_t(node)]);
          it != position.end())
        reach[i] = std::max(reach[i], it->second);
  }

  SegmentPlan plan;
  llvm::DenseMap<Operation *, size_t> segmentOf;
  size_t first = 0, furthest = 0;
  for (size_t i = 0; i < computing.size(); ++i) {
    furthest = i == first ? reach[i] : std::max(furthest, reach[i]);
    const size_t size = i + 1 - first;
    const bool last = i + 1 == computing.size();
    const bool clean = furthest <= i;
    if (last || (size >= size_t(segmentOps) &&
                 (clean || size >= 2 * size_t(segmentOps)))) {
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
