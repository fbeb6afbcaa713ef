#include "cnnc/halide/FusionPlan.h"

#include <algorithm>

namespace cnnc::fusion {

namespace {

bool isForward(Role role) {
  return role == Role::Convolution || role == Role::Pool ||
         role == Role::Pointwise || role == Role::Forward;
}

/// The one reader of `node`'s result, if it has exactly one and the result
/// does not leave the graph.
std::optional<int> onlyReader(const std::vector<Node> &nodes,
                              const std::vector<std::vector<int>> &readers,
                              int node) {
  if (nodes[size_t(node)].isOutput || readers[size_t(node)].size() != 1)
    return std::nullopt;
  return readers[size_t(node)][0];
}

} // namespace

std::vector<int> Plan::bundle(int node) const {
  std::vector<int> result{node};
  auto addGroup = [&](int g) {
    const Group &group = groups[size_t(g)];
    result.push_back(group.anchor);
    result.insert(result.end(), group.chain.begin(), group.chain.end());
  };
  if (std::optional<int> g = groupOf[size_t(node)]) {
    addGroup(*g);
    if (groups[size_t(*g)].computedInside)
      addGroup(*groups[size_t(*g)].computedInside);
    for (size_t other = 0; other < groups.size(); ++other)
      if (groups[other].computedInside == *g)
        addGroup(int(other));
  }
  if (std::optional<int> update = updateOf[size_t(node)])
    result.push_back(*update);
  for (size_t n = 0; n < updateOf.size(); ++n)
    if (updateOf[n] == node)
      result.push_back(int(n));
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

Plan plan(const std::vector<Node> &nodes) {
  std::vector<std::vector<int>> readers(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int operand : nodes[i].operands)
      if (std::find(readers[size_t(operand)].begin(),
                    readers[size_t(operand)].end(),
                    int(i)) == readers[size_t(operand)].end())
        readers[size_t(operand)].push_back(int(i));

  Plan result;
  result.groupOf.assign(nodes.size(), std::nullopt);
  result.updateOf.assign(nodes.size(), std::nullopt);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!isForward(nodes[i].role) || result.groupOf[i])
      continue;
    Group group;
    group.anchor = int(i);
    const int index = int(result.groups.size());
    result.groupOf[i] = index;
    for (int last = int(i);;) {
      std::optional<int> next = onlyReader(nodes, readers, last);
      if (!next || nodes[size_t(*next)].role != Role::Pointwise ||
          result.groupOf[size_t(*next)])
        break;
      group.chain.push_back(*next);
      result.groupOf[size_t(*next)] = index;
      last = *next;
    }
    result.groups.push_back(std::move(group));
  }

  for (Group &group : result.groups) {
    const Node &anchor = nodes[size_t(group.anchor)];
    if (anchor.role != Role::Convolution || anchor.padded)
      continue;
    std::optional<int> reader = onlyReader(nodes, readers, group.stored());
    if (reader && nodes[size_t(*reader)].role == Role::Pool &&
        !nodes[size_t(*reader)].padded)
      group.computedInside = result.groupOf[size_t(*reader)];
  }

  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].role != Role::Update)
      continue;
    for (int operand : nodes[i].operands)
      if (nodes[size_t(operand)].role == Role::WeightGradient &&
          !result.updateOf[size_t(operand)])
        result.updateOf[size_t(operand)] = int(i);
  }
  return result;
}

} // namespace cnnc::fusion
