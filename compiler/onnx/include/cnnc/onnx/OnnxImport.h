// `cnnc import MODEL.onnx`: an ONNX model (read with Debian's ONNX library,
// libonnx-dev) as a network YAML file and its weights. The graph's nodes
// become layers (Conv, Relu, Sigmoid, Tanh, MaxPool, AveragePool,
// GlobalAveragePool, Flatten, Reshape to 2-D, Gemm, MatMul + Add,
// BatchNormalization, Add); the initializers' names, PyTorch state_dict
// names when torch.onnx.export wrote them, name the layers, and their dotted
// prefixes become nested `sequential` groups (layer1.0.conv1). A chain is
// written in the sequential form, a graph with residual adds in the graph
// form. docs/onnx.md has the details.
#ifndef CNNC_ONNX_ONNXIMPORT_H
#define CNNC_ONNX_ONNXIMPORT_H

#include "cnnc/Tensor.h"

#include <string>
#include <vector>

namespace cnnc {

struct OnnxImport {
  std::string yaml;      // the network file's text
  rt::TensorMap weights; // by state_dict name, in PyTorch's layouts
};

/// Imports the ONNX model in `bytes` (from `path`, named in messages) as the
/// network `name`. Every problem (an operator cnnc has no layer for, with
/// the node's name and type; an attribute it cannot express; a graph shape
/// the YAML cannot name) is appended to `errors`; false if there was any.
bool importOnnx(const std::string &bytes, const std::string &path,
                const std::string &name, OnnxImport &result,
                std::vector<std::string> &errors);

} // namespace cnnc

#endif // CNNC_ONNX_ONNXIMPORT_H
