#include "cnnc/lowering/FunctionFusion.h"

#include "cnn/CnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"

using namespace mlir;

namespace cnnc {
namespace {

bool pads(ArrayAttr padding) {
  cnn::shape::Pair p = cnn::pairOf(padding);
  return p[0] > 0 || p[1] > 0;
}

fusion::Node nodeOf(Operation *op) {
  fusion::Node node;
  if (auto conv = dyn_cast<cnn::Conv2dOp>(op)) {
    node.role = fusion::Role::Convolution;
    node.padded = pads(conv.getPadding());
  } else if (auto pool = dyn_cast<cnn::MaxPool2dOp>(op)) {
    node.role = fusion::Role::Pool;
    node.padded = cnn::shape::poolReadsOutside(cnn::shapeOf(pool.getInput()),
                                               cnn::maxPoolArgsOf(pool));
  } else if (auto pool = dyn_cast<cnn::AvgPool2dOp>(op)) {
    node.role = fusion::Role::Pool;
    node.padded = cnn::shape::poolReadsOutside(cnn::shapeOf(pool.getInput()),
                                               cnn::avgPoolArgsOf(pool));
  } else if (auto bn = dyn_cast<cnn::BatchNorm2dOp>(op);
             bn && bn.getTraining()) {
    // Its batch statistics read all of its input first.
    node.role = fusion::Role::Forward;
  } else if (op->hasTrait<cnn::OpTrait::Pointwise>()) {
    node.role = fusion::Role::Pointwise;
  } else if (isa<cnn::Conv2dWeightGradOp, cnn::LinearWeightGradOp,
                 cnn::BiasGradOp>(op)) {
    node.role = fusion::Role::WeightGradient;
  } else if (isa<cnn::SgdUpdateOp>(op)) {
    node.role = fusion::Role::Update;
  } else if (op->hasTrait<cnn::OpTrait::NotDifferentiable>()) {
    node.role = fusion::Role::Backward;
  }
  return node;
}

} // namespace

FunctionFusion planFunctionFusion(FuncOp func) {
  FunctionFusion result;
  std::vector<fusion::Node> nodes;
  for (Operation &op : func.getBody().front()) {
    // Parameters and constants are lowered in every segment that reads them.
    if (isa<cnn::ParameterOp, cnn::FillOp, ReturnOp>(op))
      continue;
    result.nodeOf[&op] = int(result.ops.size());
    result.ops.push_back(&op);
    fusion::Node node = nodeOf(&op);
    for (Value operand : op.getOperands())
      if (Operation *def = operand.getDefiningOp())
        if (auto it = result.nodeOf.find(def); it != result.nodeOf.end())
          node.operands.push_back(it->second);
    for (Value v : op.getResults())
      for (Operation *user : v.getUsers())
        node.isOutput |= isa<ReturnOp>(user);
    nodes.push_back(std::move(node));
  }
  result.plan = fusion::plan(nodes);
  return result;
}

std::vector<fusion::Group>
FunctionFusion::groupsIn(const std::vector<Operation *> &ops) const {
  llvm::DenseMap<int, int> local; // node -> index in ops
  for (size_t i = 0; i < ops.size(); ++i)
    local[nodeOf.lookup(ops[i])] = int(i);
  std::vector<fusion::Group> groups;
  llvm::DenseMap<int, int> localGroup; // plan group -> index in `groups`
  std::vector<bool> whole;             // whether the group was not split
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const fusion::Group &planned = plan.groups[g];
    std::vector<int> members{planned.anchor};
    members.insert(members.end(), planned.chain.begin(), planned.chain.end());
    fusion::Group part;
    bool started = false;
    size_t inside = 0;
    for (int member : members) {
      auto it = local.find(member);
      if (it == local.end())
        continue;
      ++inside;
      if (!started)
        part.anchor = it->second;
      else
        part.chain.push_back(it->second);
      started = true;
    }
    if (!started)
      continue;
    localGroup[int(g)] = int(groups.size());
    whole.push_back(inside == members.size());
    groups.push_back(std::move(part));
  }
  // A convolution computed inside a pool's loops only when both are whole
  // in this segment.
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const std::optional<int> pool = plan.groups[g].computedInside;
    auto conv = localGroup.find(int(g));
    if (!pool || conv == localGroup.end() || !localGroup.count(*pool))
      continue;
    const int poolGroup = localGroup.lookup(*pool);
    if (whole[size_t(conv->second)] && whole[size_t(poolGroup)])
      groups[size_t(conv->second)].computedInside = poolGroup;
  }
  return groups;
}

std::vector<std::optional<size_t>>
FunctionFusion::updatesIn(const std::vector<Operation *> &ops) const {
  llvm::DenseMap<int, size_t> local;
  for (size_t i = 0; i < ops.size(); ++i)
    local[nodeOf.lookup(ops[i])] = i;
  std::vector<std::optional<size_t>> updates(ops.size());
  for (size_t i = 0; i < ops.size(); ++i)
    if (std::optional<int> update =
            plan.updateOf[size_t(nodeOf.lookup(ops[i]))])
      if (auto it = local.find(*update); it != local.end())
        updates[i] = it->second;
  return updates;
}

} // namespace cnnc
