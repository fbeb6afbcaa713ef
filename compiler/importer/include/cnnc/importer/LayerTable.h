// The layers a network file may use, in one table: each layer's YAML name
// (the cnn op it builds, PyTorch's module name in lower case), its arguments
// with PyTorch's names, types, limits and defaults, and how it is built into
// the cnn dialect. The YAML parser reads arguments from this table, the
// network builder calls its build functions, and the documentation and
// error messages list its names: adding a layer is adding an entry here
// (see docs/adding-an-op.md).
#ifndef CNNC_IMPORTER_LAYERTABLE_H
#define CNNC_IMPORTER_LAYERTABLE_H

#include "cnn/CnnDialect.h"
#include "cnnc/importer/NetworkSpec.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>
#include <vector>

namespace cnnc {

/// One argument of a layer: its name, its type and how it is checked. Built
/// with the named constructors and the chained setters:
///   ArgSpec::pair("stride", 1).defaultsTo({1, 1})
struct ArgSpec {
  enum class Type { Integer, Pair, Flag, Real, Choice };
  enum class Presence { Required, Defaulted, Optional };

  std::string name;
  Type type = Type::Integer;
  Presence presence = Presence::Required;
  /// The default value (Presence::Defaulted).
  ArgValue defaultValue;
  /// The default is the value of this other argument (a pool's stride is
  /// its kernel size), which comes earlier in the layer's list.
  std::string defaultFrom;
  /// Integer and Pair: the smallest value. Real: the smallest value, and
  /// with `positive` it must be above it.
  double min = 0;
  bool positive = false;
  /// Real: the largest value, if any.
  std::optional<double> max;
  /// Choice: the words it may be (PyTorch's strings, e.g. GELU's
  /// approximate: none | tanh). Pair: words it may be instead of numbers
  /// (conv2d's padding: same | valid).
  std::vector<std::string> choices;
  /// The only value accepted (an option PyTorch has and cnnc does not
  /// support yet) and the message when another one is given.
  std::optional<ArgValue> onlyValue;
  std::string onlyValueMessage;
  /// The message when the value is null (PyTorch's None), if null has a
  /// meaning cnnc refuses.
  std::string nullMessage;

  static ArgSpec integer(std::string name, int64_t min);
  static ArgSpec pair(std::string name, int64_t min);
  static ArgSpec flag(std::string name);
  static ArgSpec real(std::string name, double min);
  static ArgSpec choice(std::string name, std::vector<std::string> words);

  ArgSpec defaultsTo(int64_t value) &&;
  ArgSpec defaultsTo(cnn::shape::Pair value) &&;
  ArgSpec defaultsTo(bool value) &&;
  ArgSpec defaultsTo(double value) &&;
  ArgSpec defaultsTo(const char *word) &&;
  ArgSpec defaultsToArgument(std::string other) &&;
  /// A Pair that may also be one of `words` (read into ArgValue::choice).
  ArgSpec orOneOf(std::vector<std::string> words) &&;
  /// The file may leave it out, and nothing stands in for it.
  ArgSpec optional() &&;
  ArgSpec mustBePositive() &&;
  ArgSpec atMost(double value) &&;
  ArgSpec onlyAccepts(int64_t value, std::string message) &&;
  ArgSpec onlyAccepts(bool value, std::string message) &&;
  ArgSpec refusesNull(std::string message) &&;
};

class LayerBuilder;

/// A layer of the YAML: its name, its arguments and its build function.
struct LayerDef {
  /// The YAML name, which is also the cnn op's mnemonic where it builds one
  /// op ("conv2d").
  std::string name;
  /// Unnamed layers are named <prefix><n>: conv1, conv2, fc1, ...; empty:
  /// the layer's own name (relu1, relu2, ...).
  std::string namePrefix;
  /// The arguments besides `name`, in the order messages list them.
  std::vector<ArgSpec> args;
  /// How many nodes it reads: 1 (`input:`, default the previous node), 2
  /// (`inputs: [a, b]`, required), or kTwoOrMore (`inputs: [a, b, ...]`).
  int arity = 1;
  static constexpr int kTwoOrMore = -1;
  /// Whether it reads a list of nodes (`inputs:`).
  bool readsList() const { return arity != 1; }
  /// What to say when a layer with required arguments has none:
  /// "<name> needs <needs>".
  std::string needs;
  /// Builds the layer's parameters and op(s) from its input(s); returns its
  /// result, or null after reporting through the builder why it cannot.
  mlir::Value (*build)(LayerBuilder &builder) = nullptr;

  const ArgSpec *arg(const std::string &name) const;
};

/// Every layer, in the order the documentation lists them.
const std::vector<LayerDef> &layerTable();

/// The layer called `name`, or null.
const LayerDef *findLayer(const std::string &name);

/// What a layer's build function builds with: its arguments and inputs,
/// parameters named after it, and ops whose shapes are checked by their
/// shape rules, every problem reported at the layer in the file.
class LayerBuilder {
public:
  virtual ~LayerBuilder() = default;

  virtual const LayerSpec &layer() const = 0;
  virtual mlir::OpBuilder &builder() = 0;
  /// The layer's name at its position in the file.
  virtual mlir::Location location() = 0;
  virtual mlir::Value input(size_t index = 0) = 0;
  virtual const cnn::shape::Shape &inputShape(size_t index = 0) = 0;
  virtual size_t inputCount() = 0;
  /// The name of the node input `index` is ("input" for the network's).
  virtual std::string inputName(size_t index) = 0;
  /// The trainable parameter <layer>.<suffix> (frozen by `trainable: false`
  /// or a `freeze:` pattern).
  virtual mlir::Value parameter(llvm::StringRef suffix,
                                const cnn::shape::Shape &shape) = 0;
  /// The buffer <layer>.<suffix>: state that is never trained.
  virtual mlir::Value buffer(llvm::StringRef suffix,
                             const cnn::shape::Shape &shape) = 0;
  /// Reports `message` at the layer's position.
  virtual void error(const std::string &message) = 0;
  /// Reports `message` at `pos`.
  virtual void errorAt(SourcePos pos, const std::string &message) = 0;
  /// Whether a result of `shape` can be built: reports the shape rule's
  /// message, or a result too large for any real network.
  virtual bool accept(const cnn::shape::ShapeResult &shape) = 0;

  const LayerArgs &args() const { return layer().args; }
  /// "conv2d 'conv1'": how messages name the layer.
  std::string title() const;
  /// Whether the input has `rank` dimensions; else reports "<title> needs
  /// <what> but gets <shape><hint>".
  bool requireInputRank(size_t rank, const char *what, const char *hint = "");
  /// Reports a declared size (in_channels) that is not the actual one.
  void checkDeclared(const char *arg, int64_t actual, const char *noun);
  mlir::ArrayAttr pairAttr(const char *arg);

  /// Builds an OpTy of `operands` (null ones left out: an absent optional
  /// operand) and `attributes`, its result type from its shape rule.
  template <typename OpTy>
  mlir::Value create(llvm::ArrayRef<mlir::Value> operands,
                     llvm::ArrayRef<mlir::NamedAttribute> attributes = {}) {
    mlir::OpBuilder &b = builder();
    llvm::SmallVector<mlir::Value, 4> present;
    for (mlir::Value v : operands)
      if (v)
        present.push_back(v);
    cnn::shape::ShapeResult shape = cnn::resultShape<OpTy>(
        b.getContext(), present, b.getDictionaryAttr(attributes));
    if (!accept(shape))
      return nullptr;
    auto type = mlir::RankedTensorType::get(shape.shape, b.getF32Type());
    return b
        .create<OpTy>(location(), mlir::TypeRange{type}, present, attributes)
        .getResult();
  }
};

} // namespace cnnc

#endif // CNNC_IMPORTER_LAYERTABLE_H
