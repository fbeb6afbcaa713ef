// `cnnc graph`: a network as a Graphviz graph. One box per layer with its
// output shape and parameter count, blocks and sequential groups (the dotted
// prefixes of layer names: layer1, layer1.0) as nested clusters, and the
// second inputs of adds and cats (residual and skip connections) drawn as
// dashed coloured edges.
#ifndef CNNC_DRIVER_GRAPHDRAWING_H
#define CNNC_DRIVER_GRAPHDRAWING_H

#include "cnnc/driver/Summary.h"

#include <string>

namespace cnnc {

/// The DOT text of `summary`'s network; `leftToRight` lays it out
/// horizontally (rankdir=LR) instead of from top to bottom.
std::string networkDot(const NetworkSummary &summary, bool leftToRight = false);

} // namespace cnnc

#endif // CNNC_DRIVER_GRAPHDRAWING_H
