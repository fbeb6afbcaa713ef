#include "cnnc/onnx/OnnxImport.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

namespace cnnc {
namespace {

using rt::DType;
using rt::Tensor;

/// One layer of the network to write: its YAML kind and arguments, the
/// prefix of its parameters' names, and the ONNX values it reads and writes.
struct Layer {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> args;
  std::string name;                // "layer1.0.conv1"; "" without parameters
  std::vector<std::string> inputs; // value names; an add has two
  std::string output;
  bool linearWithoutBias = false; // a MatMul waiting for its Add
};

std::string listText(const std::vector<int64_t> &values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i)
    s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

/// An int or [h, w], as PyTorch writes either.
std::string pairText(const std::vector<int64_t> &values) {
  if (values.size() == 2 && values[0] == values[1])
    return std::to_string(values[0]);
  return listText(values);
}

std::string realText(double value) {
  std::ostringstream os;
  os.precision(9);
  os << value;
  return os.str();
}

bool isIdentifier(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// The components of a dotted name, each a layer name or an index.
std::vector<std::string> components(const std::string &name) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  for (std::string part; std::getline(ss, part, '.');)
    parts.push_back(part);
  return parts;
}

bool isIndex(const std::string &s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

/// Whether every component is an identifier or an index, the first an
/// identifier: a name the YAML rebuilds with nested sequential groups.
bool isStateDictPrefix(const std::string &name) {
  std::vector<std::string> parts = components(name);
  return !parts.empty() && isIdentifier(parts.front()) &&
         std::all_of(parts.begin(), parts.end(), [](const std::string &p) {
           return isIdentifier(p) || isIndex(p);
         });
}

/// The largest size the YAML front end takes (its kMaxDimension).
constexpr int64_t kMaxValue = int64_t(1) << 20;

/// The values of an INT64 constant (a Pad's pads, a Reshape's shape);
/// empty for anything else.
std::vector<int64_t> int64sOf(const onnx::TensorProto *t) {
  std::vector<int64_t> values;
  if (!t || t->data_type() != onnx::TensorProto::INT64)
    return values;
  if (t->has_raw_data()) {
    values.resize(t->raw_data().size() / sizeof(int64_t));
    std::memcpy(values.data(), t->raw_data().data(),
                values.size() * sizeof(int64_t));
  } else {
    values.assign(t->int64_data().begin(), t->int64_data().end());
  }
  return values;
}

class Importer {
public:
  Importer(const onnx::GraphProto &graph, std::vector<std::string> &errors)
      : graph(graph), errors(errors) {}

  bool run(const std::string &name, OnnxImport &result);

private:
  const onnx::GraphProto &graph;
  std::vector<std::string> &errors;
  std::map<std::string, const onnx::TensorProto *> constants;
  std::vector<std::unique_ptr<onnx::TensorProto>> ownedConstants;
  std::map<std::string, std::string> aliases; // Identity outputs
  // Pad outputs: the padded value and the (height, width) padding.
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> padded;
  std::string inputValue;
  std::vector<int64_t> inputShape;
  std::vector<Layer> layers;
  std::map<std::string, int> producer; // value -> index into layers
  rt::TensorMap weights;
  int generated = 0;
  std::set<std::string> usedNames; // layers' parameter prefixes
  std::set<std::string> written;   // every node output so far

  std::string resolve(const std::string &value) const {
    auto it = aliases.find(value);
    return it == aliases.end() ? value : it->second;
  }
  // Values written by nodes that failed: their readers say nothing more.
  std::set<std::string> failed;
  void fail(const onnx::NodeProto &node, const std::string &why) {
    errors.push_back("node '" + node.name() + "' (" + node.op_type() +
                     "): " + why);
    for (const std::string &out : node.output())
      failed.insert(out);
  }
  const onnx::AttributeProto *attribute(const onnx::NodeProto &node,
                                        const std::string &name) const {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  std::vector<int64_t> ints(const onnx::NodeProto &node,
                            const std::string &name,
                            std::vector<int64_t> otherwise) const {
    const onnx::AttributeProto *a = attribute(node, name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
             : otherwise;
  }
  int64_t integer(const onnx::NodeProto &node, const std::string &name,
                  int64_t otherwise) const {
    const onnx::AttributeProto *a = attribute(node, name);
    return a ? a->i() : otherwise;
  }
  double real(const onnx::NodeProto &node, const std::string &name,
              double otherwise) const {
    const onnx::AttributeProto *a = attribute(node, name);
    return a ? a->f() : otherwise;
  }

  bool tensorOf(const onnx::TensorProto &t, Tensor &out, std::string &why);
  /// A constant of the importer's own, under `name` (the parameter name
  /// its readers take).
  void addConstant(const onnx::TensorProto &t, const std::string &name) {
    auto owned = std::make_unique<onnx::TensorProto>(t);
    owned->set_name(name);
    constants[name] = owned.get();
    ownedConstants.push_back(std::move(owned));
  }
  /// The name a constant value's parameter takes.
  std::string nameOf(const std::string &value) const {
    const onnx::TensorProto *t = constant(value);
    return t ? t->name() : value;
  }
  const onnx::TensorProto *constant(const std::string &value) const {
    auto it = constants.find(value);
    return it == constants.end() ? nullptr : it->second;
  }
  /// The layer's name from its weight's initializer ("conv1.weight" ->
  /// "conv1"), or a new one; the parameters are stored under it.
  std::string layerName(const std::string &weight, const std::string &kind);
  bool addParameter(const onnx::NodeProto &node, const std::string &value,
                    const std::string &name, Tensor *copy = nullptr);
  bool padding(const onnx::NodeProto &node, size_t rank,
               std::vector<int64_t> &pads);
  /// Whether `values` (attribute or weight dims `what`) are `count` numbers
  /// in [min, kMaxValue], as the YAML takes them; fails the node if not.
  bool inRange(const onnx::NodeProto &node, const std::string &what,
               const std::vector<int64_t> &values, size_t count, int64_t min) {
    bool ok = values.size() == count;
    for (int64_t v : values)
      ok = ok && v >= min && v <= kMaxValue;
    if (!ok)
      fail(node, what + " " + listText(values) + ": expected " +
                     std::to_string(count) + " numbers from " +
                     std::to_string(min) + " to " + std::to_string(kMaxValue));
    return ok;
  }

  void convert(const onnx::NodeProto &node);
  /// Removes the layers `output` does not depend on, and their weights:
  /// the YAML has no node whose result nothing reads.
  void dropUnused(const std::string &output) {
    std::vector<bool> live(layers.size(), false);
    live[producer[output]] = true;
    for (size_t i = layers.size(); i-- > 0;)
      if (live[i])
        for (const std::string &in : layers[i].inputs)
          if (auto it = producer.find(in); it != producer.end())
            live[it->second] = true;
    std::vector<Layer> kept;
    producer.clear();
    for (size_t i = 0; i < layers.size(); ++i) {
      if (!live[i]) {
        const std::string prefix = layers[i].name + ".";
        for (auto it = weights.begin(); it != weights.end();)
          it = !layers[i].name.empty() && it->first.rfind(prefix, 0) == 0 &&
                       it->first.find('.', prefix.size()) == std::string::npos
                   ? weights.erase(it)
                   : std::next(it);
        continue;
      }
      producer[layers[i].output] = static_cast<int>(kept.size());
      kept.push_back(std::move(layers[i]));
    }
    layers = std::move(kept);
  }
  void add(Layer layer) {
    producer[layer.output] = static_cast<int>(layers.size());
    layers.push_back(std::move(layer));
  }
  std::string emit(const std::string &name);
};

bool Importer::tensorOf(const onnx::TensorProto &t, Tensor &out,
                        std::string &why) {
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  if (t.data_type() != onnx::TensorProto::FLOAT) {
    why = "tensor '" + t.name() + "' is not float32";
    return false;
  }
  // The data must fit the shape before anything is allocated for it: a
  // few bytes of protobuf can claim gigabytes.
  rt::Expected<int64_t> elements =
      rt::checkedNumElements(dims, DType::F32, "tensor '" + t.name() + "'");
  if (!elements) {
    why = elements.message();
    return false;
  }
  const size_t count = static_cast<size_t>(*elements);
  const size_t given = t.has_raw_data()
                           ? t.raw_data().size() / sizeof(float)
                           : static_cast<size_t>(t.float_data_size());
  if (given != count ||
      (t.has_raw_data() && t.raw_data().size() % sizeof(float) != 0)) {
    why = "tensor '" + t.name() + "' has " +
          (t.has_raw_data() || t.float_data_size()
               ? std::to_string(given) + " values"
               : std::string("no data (external data is not read)")) +
          " for shape " + rt::shapeToString(dims);
    return false;
  }
  out = Tensor(DType::F32, dims);
  if (t.has_raw_data())
    std::memcpy(out.f32(), t.raw_data().data(), count * sizeof(float));
  else
    std::copy(t.float_data().begin(), t.float_data().end(), out.f32());
  return true;
}

std::string Importer::layerName(const std::string &weight,
                                const std::string &kind) {
  for (const char *suffix : {".weight", ".running_mean"}) {
    const std::string s = suffix;
    if (weight.size() > s.size() &&
        weight.compare(weight.size() - s.size(), s.size(), s) == 0) {
      std::string prefix = weight.substr(0, weight.size() - s.size());
      // Two nodes sharing a weight are two layers: the second gets a name
      // of its own (and its own copy of the weight).
      if (isStateDictPrefix(prefix) && usedNames.insert(prefix).second)
        return prefix;
    }
  }
  std::string name;
  do
    name = kind + "_" + std::to_string(++generated);
  while (!usedNames.insert(name).second);
  return name;
}

bool Importer::addParameter(const onnx::NodeProto &node,
                            const std::string &value, const std::string &name,
                            Tensor *copy) {
  const onnx::TensorProto *t = constant(value);
  if (!t) {
    fail(node, "'" + value +
                   "' is not a constant (an initializer): cnnc "
                   "learns its parameters itself");
    return false;
  }
  Tensor tensor;
  std::string why;
  if (!tensorOf(*t, tensor, why)) {
    fail(node, why);
    return false;
  }
  if (copy)
    *copy = tensor;
  weights.insert_or_assign(name, std::move(tensor));
  return true;
}

bool Importer::padding(const onnx::NodeProto &node, size_t rank,
                       std::vector<int64_t> &pads) {
  if (const onnx::AttributeProto *a = attribute(node, "auto_pad");
      a && a->s() != "NOTSET") {
    fail(node, "auto_pad " + a->s() + " (cnnc reads explicit pads)");
    return false;
  }
  std::vector<int64_t> all =
      ints(node, "pads", std::vector<int64_t>(2 * rank, 0));
  if (all.size() != 2 * rank) {
    fail(node, "pads " + listText(all));
    return false;
  }
  if (!inRange(node, "pads", all, 2 * rank, 0))
    return false;
  pads.assign(all.begin(), all.begin() + rank);
  if (!std::equal(pads.begin(), pads.end(), all.begin() + rank)) {
    fail(node, "asymmetric pads " + listText(all) +
                   " (PyTorch's padding is the same on both sides)");
    return false;
  }
  return true;
}

void Importer::convert(const onnx::NodeProto &node) {
  const std::string &op = node.op_type();
  if (node.output_size() < 1) {
    fail(node, "no output");
    return;
  }
  // The inputs each operator reads (more are ignored or refused below).
  static const std::map<std::string, int> kInputs = {{"Identity", 1},
                                                     {"Dropout", 1},
                                                     {"Constant", 0},
                                                     {"Transpose", 1},
                                                     {"Pad", 2},
                                                     {"Relu", 1},
                                                     {"Sigmoid", 1},
                                                     {"Tanh", 1},
                                                     {"Conv", 2},
                                                     {"MaxPool", 1},
                                                     {"AveragePool", 1},
                                                     {"GlobalAveragePool", 1},
                                                     {"Flatten", 1},
                                                     {"Reshape", 2},
                                                     {"Gemm", 2},
                                                     {"MatMul", 2},
                                                     {"BatchNormalization", 5},
                                                     {"Add", 2}};
  if (auto it = kInputs.find(op);
      it != kInputs.end() && node.input_size() < it->second) {
    fail(node, "expected at least " + std::to_string(it->second) +
                   " inputs, got " + std::to_string(node.input_size()));
    return;
  }
  // ONNX values are written once: a name written again would make a
  // reader of the first value read the second (a cycle, in the YAML).
  for (const std::string &out : node.output())
    if (!written.insert(out).second || out == inputValue ||
        constants.count(out)) {
      fail(node, "writes '" + out + "', which the graph already has");
      return;
    }
  Layer layer;
  layer.output = node.output(0);
  auto data = [&](int i) { return resolve(node.input(i)); };
  if (op == "Identity" || op == "Dropout") {
    // Dropout in an exported inference graph is the identity.
    if (op == "Dropout" && integer(node, "training_mode", 0) != 0) {
      fail(node, "a training-mode dropout");
      return;
    }
    // torch.onnx.export shares equal initializers through Identity nodes:
    // the output keeps its own (state_dict) name.
    if (const onnx::TensorProto *t = constant(node.input(0)))
      addConstant(*t, node.output(0));
    else
      aliases[node.output(0)] = data(0);
    return;
  }
  if (op == "Constant") {
    const onnx::AttributeProto *value = attribute(node, "value");
    if (!value || !value->has_t()) {
      fail(node, "a constant without a tensor value");
      return;
    }
    addConstant(value->t(), node.output(0));
    return;
  }
  if (op == "Transpose" && constant(node.input(0))) {
    // Linear without bias: torch writes MatMul(x, Transpose(weight)). The
    // transposed weight keeps the weight's name.
    const onnx::TensorProto &t = *constant(node.input(0));
    if (t.dims_size() != 2 ||
        ints(node, "perm", {1, 0}) != std::vector<int64_t>{1, 0}) {
      fail(node, "a transpose other than of a matrix");
      return;
    }
    Tensor w;
    std::string why;
    if (!tensorOf(t, w, why)) {
      fail(node, why);
      return;
    }
    onnx::TensorProto transposed = t;
    transposed.clear_raw_data();
    transposed.clear_float_data();
    transposed.set_dims(0, t.dims(1));
    transposed.set_dims(1, t.dims(0));
    const int64_t rows = t.dims(0), cols = t.dims(1);
    std::string raw(static_cast<size_t>(rows * cols) * sizeof(float), '\0');
    float *out = reinterpret_cast<float *>(raw.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[c * rows + r] = w.f32()[r * cols + c];
    transposed.set_raw_data(raw);
    addConstant(transposed, t.name());
    constants[node.output(0)] = constants[t.name()];
    return;
  }
  if (op == "Pad") {
    // torch writes avg_pool2d(padding=p) (count_include_pad) as a zero Pad
    // before an unpadded AveragePool.
    std::vector<int64_t> pads = int64sOf(constant(node.input(1)));
    const onnx::AttributeProto *mode = attribute(node, "mode");
    bool zero = true;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      Tensor value;
      std::string why;
      const onnx::TensorProto *v = constant(node.input(2));
      zero = v && tensorOf(*v, value, why) && value.numElements() == 1 &&
             value.f32()[0] == 0.0f;
    }
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5] ||
        pads[2] != pads[6] || pads[3] != pads[7] ||
        (mode && mode->s() != "constant") || !zero) {
      fail(node, "a padding other than zeros on both sides of H and W");
      return;
    }
    padded[node.output(0)] = {data(0), {pads[2], pads[3]}};
    return;
  }
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
    layer.kind = op == "Relu" ? "relu" : op == "Sigmoid" ? "sigmoid" : "tanh";
    layer.inputs = {data(0)};
  } else if (op == "Conv") {
    layer.kind = "conv2d";
    layer.name = layerName(nameOf(node.input(1)), "conv");
    Tensor w;
    if (!addParameter(node, node.input(1), layer.name + ".weight", &w))
      return;
    if (w.rank() != 4) {
      fail(node, "a weight of shape " + rt::shapeToString(w.shape()) +
                     " (cnnc's convolutions are 2-D)");
      return;
    }
    std::vector<int64_t> pads;
    std::vector<int64_t> stride = ints(node, "strides", {1, 1}),
                         dilation = ints(node, "dilations", {1, 1});
    const int64_t groups = integer(node, "group", 1);
    if (!inRange(node, "the weight's shape", w.shape(), 4, 1) ||
        !padding(node, 2, pads) || !inRange(node, "strides", stride, 2, 1) ||
        !inRange(node, "dilations", dilation, 2, 1) ||
        !inRange(node, "group", {groups}, 1, 1))
      return;
    layer.args = {{"out_channels", std::to_string(w.shape()[0])},
                  {"kernel_size", pairText({w.shape()[2], w.shape()[3]})}};
    if (stride != std::vector<int64_t>{1, 1})
      layer.args.push_back({"stride", pairText(stride)});
    if (pads != std::vector<int64_t>{0, 0})
      layer.args.push_back({"padding", pairText(pads)});
    if (dilation != std::vector<int64_t>{1, 1})
      layer.args.push_back({"dilation", pairText(dilation)});
    if (groups != 1)
      layer.args.push_back({"groups", std::to_string(groups)});
    if (node.input_size() > 2 && !node.input(2).empty()) {
      if (!addParameter(node, node.input(2), layer.name + ".bias"))
        return;
    } else {
      layer.args.push_back({"bias", "false"});
    }
    layer.inputs = {data(0)};
  } else if (op == "MaxPool" || op == "AveragePool") {
    layer.kind = op == "MaxPool" ? "maxpool2d" : "avgpool2d";
    std::vector<int64_t> kernel = ints(node, "kernel_shape", {});
    std::vector<int64_t> pads;
    const std::vector<int64_t> stride = ints(node, "strides", {1, 1}),
                               dilation = ints(node, "dilations", {1, 1});
    if (!inRange(node, "kernel_shape", kernel, 2, 1) ||
        !padding(node, 2, pads) || !inRange(node, "strides", stride, 2, 1) ||
        !inRange(node, "dilations", dilation, 2, 1))
      return;
    std::string source = data(0);
    bool includePad = integer(node, "count_include_pad", 0) != 0;
    if (auto it = padded.find(source); it != padded.end()) {
      if (op != "AveragePool" || pads != std::vector<int64_t>{0, 0}) {
        fail(node, "reads a Pad: cnnc reads a Pad only before an unpadded "
                   "AveragePool");
        return;
      }
      pads = it->second.second;
      source = it->second.first;
      includePad = true; // the zeros are averaged
    }
    // ONNX's strides default to 1, PyTorch's to the kernel: always written.
    layer.args = {{"kernel_size", pairText(kernel)},
                  {"stride", pairText(stride)}};
    if (pads != std::vector<int64_t>{0, 0})
      layer.args.push_back({"padding", pairText(pads)});
    if (dilation != std::vector<int64_t>{1, 1}) {
      if (op != "MaxPool") {
        fail(node, "a dilated average pooling");
        return;
      }
      layer.args.push_back({"dilation", pairText(dilation)});
    }
    if (integer(node, "ceil_mode", 0))
      layer.args.push_back({"ceil_mode", "true"});
    if (op == "AveragePool")
      layer.args.push_back(
          {"count_include_pad", includePad ? "true" : "false"});
    layer.inputs = {source};
  } else if (op == "GlobalAveragePool") {
    layer.kind = "adaptive_avgpool2d";
    layer.args = {{"output_size", "1"}};
    layer.inputs = {data(0)};
  } else if (op == "Flatten" || op == "Reshape") {
    if (op == "Flatten" && integer(node, "axis", 1) != 1) {
      fail(node, "flatten from axis " +
                     std::to_string(integer(node, "axis", 1)) +
                     " (cnnc flattens from 1)");
      return;
    }
    if (op == "Reshape") {
      std::vector<int64_t> dims = int64sOf(constant(node.input(1)));
      if (dims.size() != 2 || dims[1] != -1) {
        fail(node, "a reshape to " + listText(dims) +
                       " (cnnc reads a reshape to [N, -1] as flatten)");
        return;
      }
    }
    layer.kind = "flatten";
    layer.inputs = {data(0)};
  } else if (op == "Gemm" || op == "MatMul") {
    const bool gemm = op == "Gemm";
    if (gemm &&
        (integer(node, "transA", 0) != 0 || real(node, "alpha", 1.0) != 1.0 ||
         real(node, "beta", 1.0) != 1.0)) {
      fail(node, "transA, alpha or beta other than PyTorch's Linear writes");
      return;
    }
    layer.kind = "linear";
    layer.name = layerName(nameOf(node.input(1)), "fc");
    Tensor w;
    if (!addParameter(node, node.input(1), layer.name + ".weight", &w))
      return;
    if (!inRange(node, "the weight's shape", w.shape(), 2, 1))
      return;
    // PyTorch's Linear keeps [out, in]; MatMul and Gemm without transB
    // multiply by [in, out].
    if (!gemm || integer(node, "transB", 0) == 0) {
      Tensor t(DType::F32, {w.shape()[1], w.shape()[0]});
      for (int64_t i = 0; i < w.shape()[0]; ++i)
        for (int64_t o = 0; o < w.shape()[1]; ++o)
          t.f32()[o * w.shape()[0] + i] = w.f32()[i * w.shape()[1] + o];
      weights.insert_or_assign(layer.name + ".weight", t);
      w = std::move(t);
    }
    layer.args = {{"out_features", std::to_string(w.shape()[0])}};
    if (gemm && node.input_size() > 2 && !node.input(2).empty()) {
      if (!addParameter(node, node.input(2), layer.name + ".bias"))
        return;
    } else if (gemm) {
      layer.args.push_back({"bias", "false"});
    } else {
      layer.linearWithoutBias = true; // an Add may follow with the bias
    }
    layer.inputs = {data(0)};
  } else if (op == "BatchNormalization") {
    if (node.input_size() != 5) {
      fail(node, "expected 5 inputs");
      return;
    }
    layer.kind = "batchnorm2d";
    layer.name = layerName(nameOf(node.input(3)), "bn");
    const char *names[] = {".weight", ".bias", ".running_mean", ".running_var"};
    for (int i = 0; i < 4; ++i)
      if (!addParameter(node, node.input(i + 1), layer.name + names[i]))
        return;
    const double eps = real(node, "epsilon", 1e-5);
    const double momentum = 1.0 - real(node, "momentum", 0.9);
    if (!(eps > 0 && std::isfinite(eps)) || !(momentum >= 0 && momentum <= 1)) {
      fail(node, "epsilon " + realText(eps) + " and momentum " +
                     realText(1.0 - momentum) +
                     ": PyTorch's batch norm takes eps > 0 and a momentum in "
                     "[0, 1]");
      return;
    }
    if (std::fabs(eps - 1e-5) > 1e-12)
      layer.args.push_back({"eps", realText(eps)});
    if (std::fabs(momentum - 0.1) > 1e-6)
      layer.args.push_back({"momentum", realText(momentum)});
    layer.inputs = {data(0)};
  } else if (op == "Add") {
    std::string a = data(0), b = data(1);
    if (constant(a))
      std::swap(a, b);
    if (constant(b)) {
      // MatMul + Add: a Linear layer's bias.
      auto it = producer.find(a);
      if (it == producer.end() || !layers[it->second].linearWithoutBias) {
        fail(node, "an Add of a constant that is not a MatMul's bias");
        return;
      }
      Layer &linear = layers[it->second];
      if (!addParameter(node, b, linear.name + ".bias"))
        return;
      linear.linearWithoutBias = false;
      aliases[node.output(0)] = a;
      return;
    }
    layer.kind = "add";
    layer.inputs = {a, b};
  } else {
    fail(node, "no cnnc layer for this operator (cnnc imports Conv, Relu, "
               "Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, "
               "Flatten, Reshape to 2-D, Gemm, MatMul + Add, "
               "BatchNormalization and Add)");
    return;
  }
  for (const std::string &in : layer.inputs)
    if (padded.count(in)) {
      fail(node, "reads a Pad: cnnc reads a Pad only before an unpadded "
                 "AveragePool");
      return;
    } else if (in != inputValue && !producer.count(in)) {
      if (failed.count(in))
        failed.insert(layer.output);
      else
        fail(node, "reads '" + in + "', which no imported node writes");
      return;
    }
  add(std::move(layer));
}

/// The nested groups of the YAML: a list of members, each a layer or a
/// group, in the order of their first layer.
struct Group {
  std::string component; // its name in its parent ("layer1", "0")
  Group *parent = nullptr;
  std::vector<std::pair<int, Group *>> members; // layer index, or a group
  std::map<std::string, std::unique_ptr<Group>> children;
  std::string input;  // the value it reads from outside
  std::string output; // its last member's output
};

class Emitter {
public:
  Emitter(const std::vector<Layer> &layers, const std::string &inputValue,
          std::vector<std::string> &errors)
      : layers(layers), inputValue(inputValue), errors(errors) {}

  std::string write(Group &root) {
    std::ostringstream os;
    writeList(os, root, 0);
    return os.str();
  }

  const std::vector<Layer> &layers;
  const std::string &inputValue;
  std::vector<std::string> &errors;

private:
  /// value -> the name of the node of a list that writes it.
  using Names = std::map<std::string, std::string>;

  /// How a member of `group` refers to value `v`: "" for the default
  /// (the previous member's output, or the group's input for the first).
  std::string reference(const Group &group, const Names &nodeNames,
                        const std::string &v, const std::string &previous) {
    if (v == previous)
      return "";
    if (v == group.input)
      return "input";
    auto it = nodeNames.find(v);
    if (it == nodeNames.end()) {
      errors.push_back("value '" + v +
                       "' crosses the nested groups in a way "
                       "the YAML cannot name");
      return "input";
    }
    return it->second;
  }

  void writeList(std::ostream &os, Group &group, int depth) {
    std::string indent(2 * depth, ' ');
    std::string previous = group.input;
    size_t position = 0;
    Names nodeNames; // this list's own: a group's output is also its last
                     // member's
    // Every member's name first: inputs refer to them.
    std::set<std::string> taken;
    for (auto &[index, child] : group.members) {
      const std::string out = index >= 0 ? layers[index].output : child->output;
      std::string name = memberName(index, child, position++);
      if (name == "input" || !taken.insert(name).second)
        errors.push_back("two nodes of one group would be named '" + name +
                         "' (or one 'input', the group's input)");
      nodeNames[out] = name;
    }
    for (auto &[index, child] : group.members) {
      const std::string name =
          nodeNames[index >= 0 ? layers[index].output : child->output];
      const bool indexed = isIndex(name);
      if (index < 0) {
        os << indent << "- sequential:\n";
        if (!indexed)
          os << indent << "    name: " << name << "\n";
        if (std::string ref =
                reference(group, nodeNames, child->input, previous);
            !ref.empty())
          os << indent << "    input: " << ref << "\n";
        os << indent << "    layers:\n";
        writeList(os, *child, depth + 3);
        previous = child->output;
      } else {
        const Layer &layer = layers[index];
        os << indent << "- " << layer.kind << ": {";
        bool first = true;
        auto arg = [&](const std::string &k, const std::string &v) {
          os << (first ? "" : ", ") << k << ": " << v;
          first = false;
        };
        if (!indexed)
          arg("name", name);
        if (layer.kind == "add") {
          // Both named: no default input.
          arg("inputs",
              "[" + reference(group, nodeNames, layer.inputs[0], "") + ", " +
                  reference(group, nodeNames, layer.inputs[1], "") + "]");
        } else if (std::string ref =
                       reference(group, nodeNames, layer.inputs[0], previous);
                   !ref.empty()) {
          arg("input", ref);
        }
        for (const auto &[k, v] : layer.args)
          arg(k, v);
        os << "}\n";
        previous = layer.output;
      }
    }
  }

  /// A member's node name: its parameters' last component, its index in a
  /// group named by index, or a generated one.
  std::string memberName(int index, Group *child, size_t position) {
    if (child)
      return child->component;
    const Layer &layer = layers[index];
    if (!layer.name.empty()) {
      std::string last = components(layer.name).back();
      if (isIndex(last) && last != std::to_string(position))
        errors.push_back("layer '" + layer.name + "' is at position " +
                         std::to_string(position) +
                         " of its group, so the YAML cannot give it its name");
      return last;
    }
    return layer.kind + "_" + std::to_string(index);
  }
};

bool Importer::run(const std::string &name, OnnxImport &result) {
  for (const onnx::TensorProto &t : graph.initializer())
    constants[t.name()] = &t;
  // The network's input: the graph input that is not an initializer.
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (constants.count(in.name()))
      continue;
    if (!inputValue.empty()) {
      errors.push_back("the graph has more than one input ('" + inputValue +
                       "', '" + in.name() + "'); cnnc networks have one");
      return false;
    }
    inputValue = in.name();
    const auto &dims = in.type().tensor_type().shape().dim();
    for (int i = 1; i < dims.size(); ++i) {
      if (!dims[i].has_dim_value() || dims[i].dim_value() < 1) {
        errors.push_back("input '" + in.name() +
                         "' has no fixed size in "
                         "dimension " +
                         std::to_string(i));
        return false;
      }
      inputShape.push_back(dims[i].dim_value());
    }
    if ((inputShape.size() != 3 && inputShape.size() != 1) ||
        *std::max_element(inputShape.begin(), inputShape.end()) > kMaxValue) {
      errors.push_back("input '" + in.name() + "' has shape [N, " +
                       listText(inputShape).substr(1) +
                       "; cnnc networks take [N, C, H, W] or [N, F] of at "
                       "most " +
                       std::to_string(kMaxValue) + " each");
      return false;
    }
  }
  if (inputValue.empty()) {
    errors.push_back("the graph has no input");
    return false;
  }
  for (const onnx::NodeProto &node : graph.node())
    convert(node);
  if (!errors.empty())
    return false;
  if (graph.output_size() != 1) {
    errors.push_back("the graph has " + std::to_string(graph.output_size()) +
                     " outputs; cnnc networks have one (the logits)");
    return false;
  }
  const std::string output = resolve(graph.output(0).name());
  if (!producer.count(output)) {
    errors.push_back("the graph's output '" + output +
                     "' is not written by an imported node");
    return false;
  }
  dropUnused(output);
  for (Layer &layer : layers)
    if (layer.linearWithoutBias) // a MatMul without an Add
      layer.args.push_back({"bias", "false"});

  // Groups: a layer with parameters goes where its name says; one without
  // joins its first input's producer's group.
  Group root;
  root.input = inputValue;
  std::vector<Group *> groupOf(layers.size(), &root);
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer &layer = layers[i];
    Group *group = &root;
    if (!layer.name.empty()) {
      std::vector<std::string> parts = components(layer.name);
      for (size_t k = 0; k + 1 < parts.size(); ++k) {
        auto &child = group->children[parts[k]];
        if (!child) {
          child = std::make_unique<Group>();
          child->component = parts[k];
          child->parent = group;
          group->members.push_back({-1, child.get()});
        }
        group = child.get();
      }
    } else if (auto it = producer.find(layer.inputs[0]); it != producer.end()) {
      group = groupOf[it->second];
    }
    groupOf[i] = group;
    group->members.push_back({static_cast<int>(i), nullptr});
  }
  // A group's input is what its layers read from outside it, its output
  // its last layer's.
  auto inside = [&](const Group *g, int layer) {
    for (const Group *p = groupOf[layer]; p; p = p->parent)
      if (p == g)
        return true;
    return false;
  };
  std::function<void(Group &)> wire = [&](Group &g) {
    for (auto &[c, child] : g.children)
      wire(*child);
    for (size_t i = 0; i < layers.size(); ++i) {
      if (&g == &root || !inside(&g, static_cast<int>(i)))
        continue;
      for (const std::string &in : layers[i].inputs) {
        auto it = producer.find(in);
        if (it != producer.end() && inside(&g, it->second))
          continue;
        if (g.input.empty())
          g.input = in;
        else if (g.input != in)
          errors.push_back("group '" + g.component +
                           "' reads two values "
                           "from outside ('" +
                           g.input + "', '" + in +
                           "'); the YAML gives a group one input");
      }
      g.output = layers[i].output;
    }
  };
  wire(root);
  if (!errors.empty())
    return false;

  Emitter emitter(layers, inputValue, errors);
  std::string body = emitter.write(root);
  if (!errors.empty())
    return false;
  std::ostringstream yaml;
  yaml << "# Imported by cnnc import. The parameters carry the ONNX "
          "initializers' names.\n"
       << "name: " << name << "\n"
       << "input: " << listText(inputShape) << "\n"
       << "layers:\n"
       << body;
  result.yaml = yaml.str();
  result.weights = std::move(weights);
  return true;
}

} // namespace

bool importOnnx(const std::string &bytes, const std::string &path,
                const std::string &name, OnnxImport &result,
                std::vector<std::string> &errors) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    errors.push_back(path +
                     ": not an ONNX model (protobuf could not parse it)");
    return false;
  }
  std::vector<std::string> found;
  bool ok = Importer(model.graph(), found).run(name, result);
  for (const std::string &e : found)
    errors.push_back(path + ": " + e);
  return ok && errors.empty();
}

} // namespace cnnc
