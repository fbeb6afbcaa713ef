// Which ops of a function are computed together, decided once for the whole
// function and for every target: the segmentation keeps each group in one
// pipeline, and every backend's schedules compute each group in one loop
// nest. Plain data over the ops' graph, so the MLIR side (cnn ops) and the
// Halide side (lowered ops) describe their graphs to the same rules.
#ifndef CNNC_HALIDE_FUSIONPLAN_H
#define CNNC_HALIDE_FUSIONPLAN_H

#include <optional>
#include <vector>

namespace cnnc::fusion {

/// What an op is to the fusion rules.
enum class Role {
  Convolution,    // a forward convolution
  Pool,           // a max or average pool with a window (not adaptive)
  Pointwise,      // activations, adds, batch norms: see cnn::OpTrait::Pointwise
  Forward,        // any other forward op (linear, flatten, adaptive pooling)
  Backward,       // a gradient, the loss or a running-statistics update
  WeightGradient, // the weight or bias gradient of a convolution or linear
                  // layer
  Update,         // an optimizer update of a parameter
};

/// One op of the graph, in an order where operands come first.
struct Node {
  Role role = Role::Forward;
  /// A convolution or pool that pads its input: its padded copy is
  /// computed per image (or band of rows, or batch), so nothing is
  /// computed inside its loops.
  bool padded = false;
  /// The nodes whose results it reads (values from outside the graph,
  /// parameters and arguments, are left out), in operand order.
  std::vector<int> operands;
  /// Its result is read outside the graph (a function output).
  bool isOutput = false;
};

/// Ops computed in one loop nest: an anchor and the pointwise ops that are
/// each the only reader of the previous one (conv -> batch norm -> add ->
/// relu), whose last result is the only one stored.
struct Group {
  int anchor = 0;
  std::vector<int> chain;
  /// The group (a pool) in whose loops this one (a convolution) is
  /// computed, one block of channels of one image at a time.
  std::optional<int> computedInside;

  int stored() const { return chain.empty() ? anchor : chain.back(); }
};

struct Plan {
  /// The forward ops' groups, in the order of their anchors.
  std::vector<Group> groups;
  /// Each node's group; nullopt for backward nodes, weight gradients and
  /// updates.
  std::vector<std::optional<int>> groupOf;
  /// For a weight (or bias) gradient node, the update computed inside its
  /// loops (the optimizer consumes each block of the gradient as it is
  /// computed; the CPU schedules do so for weights, the GPU's for both).
  std::vector<std::optional<int>> updateOf;

  /// The nodes that must be in the same pipeline as `node` (its group, the
  /// group it is computed inside or that is computed inside it, its update).
  std::vector<int> bundle(int node) const;
};

/// The rules, the same for every target:
///  - a pointwise op that is the only reader of a forward op's (or group's)
///    result, which is not an output, joins its group;
///  - an unpadded convolution group whose stored result's only reader is
///    an unpadded pool (and not an output) is computed inside the pool's
///    loops;
///  - an update reading a weight gradient is computed with it.
Plan plan(const std::vector<Node> &nodes);

} // namespace cnnc::fusion

#endif // CNNC_HALIDE_FUSIONPLAN_H
