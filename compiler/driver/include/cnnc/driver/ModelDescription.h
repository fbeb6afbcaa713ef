// What a generated library says about itself through the C ABI: derived once
// from the cnn module and used by the header and the wrapper's tables
// (WrapperTables.h).
#ifndef CNNC_DRIVER_MODELDESCRIPTION_H
#define CNNC_DRIVER_MODELDESCRIPTION_H

#include "cnnc/lowering/ModelAbi.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace cnnc {

/// A generated library's identity and ABI.
struct ModelDescription {
  std::string name;
  std::string trainingRecipe = "{}"; // JSON of the train: section
  ModelAbi abi;
  /// FLOPs per sample of the convolutions and matrix products
  /// (cnn::FlopCountOp, a multiply-add counts 2) of the forward pass and of
  /// the training step (forward and backward); 0 without a training step.
  int64_t forwardFlopsPerSample = 0;
  int64_t trainStepFlopsPerSample = 0;
};

/// Reads the description of `module`: its name, recipe and ABI (see
/// describeAbi: the training step's part once cnn-autodiff has built it).
ModelDescription describeModel(mlir::ModuleOp module);

/// The recipe's batch_size.
int64_t recipeBatchSize(const ModelDescription &model);

/// The public header of a generated library: the C ABI plus the model's
/// shapes and parameter names as constants. With a `symbolPrefix`
/// ("lenet"), the functions are declared as the library compiled with that
/// prefix exports them (lenet_forward, ...), under a guard of their own, so
/// several models' headers can be included together.
std::string emitModelHeader(const ModelDescription &model,
                            const std::string &symbolPrefix = "");

/// Whether `prefix` can prefix the ABI's functions: lower-case letters,
/// digits and '_', not starting with a digit, other than "cnnc", "halide"
/// and "model". (The builder also refuses a prefix whose names meet a
/// symbol the library uses.)
bool isValidSymbolPrefix(const std::string &prefix);

/// `text` as a C string literal (quotes and backslashes escaped), for the
/// generated C sources (and DOT, which quotes alike).
std::string cString(const std::string &text);

/// "1, 2, 3": integers for a C initialiser list.
std::string dimsList(const std::vector<int64_t> &dims);

} // namespace cnnc

#endif // CNNC_DRIVER_MODELDESCRIPTION_H
