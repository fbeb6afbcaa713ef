// The ONNX importer on graphs built here with ONNX's own protobuf classes:
// attributes, layouts and names it converts, and every kind of refusal.
#include "cnnc/onnx/OnnxImport.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

namespace cnnc {
namespace {

/// A graph with one input `x` of shape [N, dims...] and one output `out`.
class GraphBuilder {
public:
  explicit GraphBuilder(std::vector<int64_t> dims) {
    model.set_ir_version(7);
    model.add_opset_import()->set_version(13);
    graph = model.mutable_graph();
    onnx::ValueInfoProto *in = graph->add_input();
    in->set_name("x");
    auto *shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->add_dim()->set_dim_param("batch");
    for (int64_t d : dims)
      shape->add_dim()->set_dim_value(d);
    graph->add_output()->set_name("out");
  }
  onnx::NodeProto *node(const std::string &op, std::vector<std::string> in,
                        const std::string &out) {
    onnx::NodeProto *n = graph->add_node();
    n->set_op_type(op);
    n->set_name("/" + op + "_" + std::to_string(graph->node_size()));
    for (const std::string &i : in)
      n->add_input(i);
    n->add_output(out);
    return n;
  }
  void floats(const std::string &name, std::vector<int64_t> dims,
              std::vector<float> values) {
    onnx::TensorProto *t = graph->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims)
      t->add_dims(d);
    for (float v : values)
      t->add_float_data(v);
  }
  static void ints(onnx::NodeProto *n, const std::string &name,
                   std::vector<int64_t> values) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values)
      a->add_ints(v);
  }
  static void integer(onnx::NodeProto *n, const std::string &name, int64_t v) {
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  bool import(OnnxImport &result, std::vector<std::string> &errors) const {
    return importOnnx(model.SerializeAsString(), "t.onnx", "t", result, errors);
  }

  onnx::ModelProto model;
  onnx::GraphProto *graph;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST(OnnxImport, PoolingStridesAndWeightLayoutsArePyTorchs) {
  GraphBuilder g({1, 4, 4});
  auto *pool = g.node("MaxPool", {"x"}, "p");
  GraphBuilder::ints(pool, "kernel_shape", {2, 2});
  // No strides: ONNX's default of 1, which must be written out.
  g.node("Flatten", {"p"}, "f");
  // Gemm without transB multiplies by [in, out] = [9, 2].
  std::vector<float> w(18);
  for (int i = 0; i < 18; ++i)
    w[i] = static_cast<float>(i);
  g.floats("fc.weight", {9, 2}, w);
  g.floats("fc.bias", {2}, {0.5f, -0.5f});
  g.node("Gemm", {"f", "fc.weight", "fc.bias"}, "out");
  OnnxImport r;
  std::vector<std::string> errors;
  ASSERT_TRUE(g.import(r, errors)) << errors.front();
  EXPECT_TRUE(contains(r.yaml, "input: [1, 4, 4]")) << r.yaml;
  EXPECT_TRUE(contains(r.yaml, "maxpool2d: {name: maxpool2d_0, kernel_size: 2, "
                               "stride: 1}"))
      << r.yaml;
  EXPECT_TRUE(contains(r.yaml, "linear: {name: fc, out_features: 2}"))
      << r.yaml;
  const rt::Tensor &weight = r.weights.at("fc.weight");
  ASSERT_EQ(weight.shape(), (rt::Shape{2, 9}));
  // [out, in]: element (o, i) is the ONNX weight's (i, o).
  EXPECT_EQ(weight.f32()[1 * 9 + 4], w[4 * 2 + 1]);
  EXPECT_EQ(r.weights.at("fc.bias").f32()[1], -0.5f);
}

TEST(OnnxImport, EveryProblemIsNamedAtOnce) {
  GraphBuilder g({2, 5, 5});
  g.floats("conv.weight", {2, 2, 3, 3}, std::vector<float>(36, 0.1f));
  auto *conv = g.node("Conv", {"x", "conv.weight"}, "c");
  GraphBuilder::ints(conv, "pads", {0, 0, 1, 1}); // one side only
  g.node("Softmax", {"c"}, "s");
  g.node("LeakyRelu", {"s"}, "out");
  OnnxImport r;
  std::vector<std::string> errors;
  EXPECT_FALSE(g.import(r, errors));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_TRUE(contains(errors[0], "t.onnx: node '/Conv_1' (Conv): asymmetric "
                                  "pads [0, 0, 1, 1]"))
      << errors[0];
  EXPECT_TRUE(
      contains(errors[1], "node '/Softmax_2' (Softmax): no cnnc layer"));
  EXPECT_TRUE(contains(errors[2], "node '/LeakyRelu_3' (LeakyRelu): no cnnc "
                                  "layer"));

  // A supported node that reads a failed one says nothing more.
  GraphBuilder h({2, 5, 5});
  h.node("Softmax", {"x"}, "s");
  h.node("Relu", {"s"}, "out");
  errors.clear();
  EXPECT_FALSE(h.import(r, errors));
  ASSERT_EQ(errors.size(), 1u) << errors.back();
}

TEST(OnnxImport, GraphsTheYamlCannotHoldAreRefused) {
  OnnxImport r;
  std::vector<std::string> errors;
  GraphBuilder two({3});
  onnx::ValueInfoProto *y = two.graph->add_input();
  y->set_name("y");
  two.node("Add", {"x", "y"}, "out");
  EXPECT_FALSE(two.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "more than one input")) << errors[0];

  GraphBuilder learned({3});
  learned.node("Relu", {"x"}, "r");
  learned.node("Gemm", {"r", "r"}, "out"); // a weight that is computed
  errors.clear();
  EXPECT_FALSE(learned.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "'r' is not a constant")) << errors[0];

  // Found by fuzz_onnx: an input of rank 3 reached the YAML.
  GraphBuilder rank3({4, 4});
  rank3.node("Relu", {"x"}, "out");
  errors.clear();
  EXPECT_FALSE(rank3.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "input 'x' has shape [N, 4, 4]; cnnc "
                                  "networks take [N, C, H, W] or [N, F]"))
      << errors[0];

  // Found by fuzz_onnx: a value written twice made a reader of the first
  // read the second, a cycle in the YAML.
  GraphBuilder twice({3});
  twice.node("Relu", {"x"}, "a");
  twice.node("Tanh", {"a"}, "b");
  twice.node("Sigmoid", {"b"}, "a");
  twice.node("Relu", {"a"}, "out");
  errors.clear();
  EXPECT_FALSE(twice.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "(Sigmoid): writes 'a', which the graph "
                                  "already has"))
      << errors[0];

  // Found by fuzz_onnx: a weight claiming 2^31 values in a few bytes was
  // allocated before its data was measured.
  GraphBuilder huge({2});
  huge.floats("fc.weight", {1 << 16, 1 << 15}, {1.0f, 2.0f});
  huge.node("Gemm", {"x", "fc.weight"}, "out");
  errors.clear();
  EXPECT_FALSE(huge.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "tensor 'fc.weight' has 2 values for shape "
                                  "[65536, 32768]"))
      << errors[0];

  errors.clear();
  EXPECT_FALSE(importOnnx("not protobuf at all", "t.onnx", "t", r, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(contains(errors[0], "not an ONNX model")) << errors[0];
}

// Found by fuzz_onnx (fuzz/regressions/onnx): a node with fewer inputs
// than its operator reads was read past its end; attribute lists of the
// wrong length reached the YAML, which refused them.
TEST(OnnxImport, MalformedNodesAreRefusedNotRead) {
  OnnxImport r;
  std::vector<std::string> errors;
  GraphBuilder missing({3});
  missing.node("Add", {"x"}, "out");
  EXPECT_FALSE(missing.import(r, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(contains(errors[0], "expected at least 2 inputs, got 1"))
      << errors[0];

  GraphBuilder dilated({2, 4, 4});
  dilated.floats("conv.weight", {2, 2, 3, 3}, std::vector<float>(36, 0.1f));
  auto *conv = dilated.node("Conv", {"x", "conv.weight"}, "c");
  GraphBuilder::ints(conv, "dilations", {1});
  dilated.node("Flatten", {"c"}, "out");
  errors.clear();
  EXPECT_FALSE(dilated.import(r, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(contains(errors[0], "dilations [1]: expected 2 numbers from 1"))
      << errors[0];
}

// Found by fuzz_onnx: a node whose result nothing reads reached the YAML,
// which refuses an unused result. It is left out, with its weights.
TEST(OnnxImport, NodesTheOutputDoesNotNeedAreLeftOut) {
  GraphBuilder g({3});
  g.floats("dead.weight", {2, 3}, std::vector<float>(6, 1.0f));
  g.node("Gemm", {"x", "dead.weight"}, "unused");
  g.node("Tanh", {"unused"}, "unused2");
  g.node("Relu", {"x"}, "out");
  OnnxImport r;
  std::vector<std::string> errors;
  ASSERT_TRUE(g.import(r, errors)) << errors.front();
  EXPECT_FALSE(contains(r.yaml, "linear")) << r.yaml;
  EXPECT_FALSE(contains(r.yaml, "tanh")) << r.yaml;
  EXPECT_TRUE(contains(r.yaml, "- relu")) << r.yaml;
  EXPECT_TRUE(r.weights.empty());
}

TEST(OnnxImport, DottedNamesBecomeNestedGroups) {
  GraphBuilder g({2, 3, 3});
  g.floats("body.0.weight", {2, 2, 1, 1}, std::vector<float>(4, 1.0f));
  g.floats("body.1.weight", {2, 2, 1, 1}, std::vector<float>(4, 1.0f));
  g.node("Conv", {"x", "body.0.weight"}, "a");
  g.node("Relu", {"a"}, "b");
  g.node("Conv", {"b", "body.1.weight"}, "c");
  g.node("Add", {"c", "x"}, "d"); // the group's input: a residual
  g.node("GlobalAveragePool", {"d"}, "e");
  g.node("Flatten", {"e"}, "out");
  OnnxImport r;
  std::vector<std::string> errors;
  // body.1 is at position 2 of its group (after the relu): an index name
  // must be its position.
  EXPECT_FALSE(g.import(r, errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0], "layer 'body.1' is at position 2 of its "
                                  "group"))
      << errors[0];
}

} // namespace
} // namespace cnnc
