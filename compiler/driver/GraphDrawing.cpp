#include "cnnc/driver/GraphDrawing.h"
#include "cnnc/driver/ModelDescription.h"

#include "cnn/ShapeRules.h"

#include <map>
#include <sstream>

namespace cnnc {
namespace {

/// `text` for inside a DOT string: quotes and backslashes escaped.
std::string escaped(const std::string &text) {
  std::string quoted = cString(text);
  return quoted.substr(1, quoted.size() - 2);
}

/// Fill colours by what a layer does, so the eye finds the convolutions.
const char *fillOf(const std::string &kind) {
  static const std::map<std::string, const char *> colours = {
      {"conv2d", "#cfe2f3"},
      {"linear", "#d9d2e9"},
      {"batchnorm2d", "#fff2cc"},
      {"maxpool2d", "#d9ead3"},
      {"avgpool2d", "#d9ead3"},
      {"adaptive_avgpool2d", "#d9ead3"},
      {"adaptive_maxpool2d", "#d9ead3"},
      {"add", "#f4cccc"},
      {"cat", "#f4cccc"},
      {"dropout", "#eeeeee"},
      {"flatten", "#eeeeee"}};
  auto it = colours.find(kind);
  return it == colours.end() ? "#ffffff" : it->second;
}

/// Clusters nest by the dotted prefixes of the names of their layers.
struct Cluster {
  std::vector<int> layers;
  std::map<std::string, Cluster> children;
};

void writeCluster(std::ostream &os, const std::string &path,
                  const Cluster &cluster, const NetworkSummary &summary,
                  int depth) {
  std::string indent(2 * depth, ' ');
  for (int index : cluster.layers) {
    const LayerSummary &layer = summary.layers[index];
    // Names come from the module (a .mlir file may hold any): escaped.
    std::string label = escaped(layer.name) + "\\n" + escaped(layer.kind) +
                        "  " + cnn::shape::format(layer.outputShape);
    if (layer.parameters > 0)
      label += "\\n" + withCommas(layer.parameters) + " parameters";
    os << indent << "n" << index << " [label=\"" << label << "\", fillcolor=\""
       << fillOf(layer.kind) << "\"];\n";
  }
  for (const auto &[name, child] : cluster.children) {
    std::string childPath = path.empty() ? name : path + "." + name;
    os << indent << "subgraph " << cString("cluster_" + childPath) << " {\n"
       << indent << "  label=" << cString(childPath)
       << "; style=\"rounded,filled\"; fillcolor=\""
       << (depth % 2 ? "#f7f7f7" : "#ececec") << "\"; color=\"#999999\";\n";
    writeCluster(os, childPath, child, summary, depth + 1);
    os << indent << "}\n";
  }
}

} // namespace

std::string networkDot(const NetworkSummary &summary, bool leftToRight) {
  Cluster root;
  for (size_t i = 0; i < summary.layers.size(); ++i) {
    const std::string &name = summary.layers[i].name;
    Cluster *cluster = &root;
    for (size_t start = 0, dot;
         (dot = name.find('.', start)) != std::string::npos; start = dot + 1)
      cluster = &cluster->children[name.substr(start, dot - start)];
    cluster->layers.push_back(static_cast<int>(i));
  }

  std::ostringstream os;
  os << "digraph " << cString(summary.name) << " {\n"
     << "  graph [rankdir=" << (leftToRight ? "LR" : "TB")
     << ", fontname=\"Helvetica\", fontsize=12, labelloc=t, label="
     << cString(summary.name + ": " + withCommas(summary.totalParameters) +
                " parameters, " + withCommas(summary.totalFlops) +
                " FLOPs per sample")
     << "];\n"
     << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
        "fontsize=10];\n"
     << "  edge [color=\"#555555\", arrowsize=0.6];\n"
     << "  input [label=\"input\\n"
     << cnn::shape::format(summary.inputShape)
     << "\", shape=ellipse, fillcolor=\"#ffffff\"];\n";
  writeCluster(os, "", root, summary, 1);
  for (size_t i = 0; i < summary.layers.size(); ++i) {
    const LayerSummary &layer = summary.layers[i];
    for (size_t k = 0; k < layer.inputs.size(); ++k) {
      std::string from =
          layer.inputs[k] < 0 ? "input" : "n" + std::to_string(layer.inputs[k]);
      os << "  " << from << " -> n" << i;
      // The other inputs of an add or a cat: residual and skip connections.
      if (k > 0)
        os << " [style=dashed, color=\"#cc0000\", penwidth=1.4]";
      os << ";\n";
    }
  }
  os << "}\n";
  return os.str();
}

} // namespace cnnc
