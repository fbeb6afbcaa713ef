// The YAML front end on arbitrary text, through to a verified cnn module:
// the YAML reader, the layer table, the graph resolver, the shape rules,
// the op verifiers, then the training pipeline (shape inference and
// cnn-autodiff). Diagnostics, or modules that verify before and after
// autodiff. `extends: base.yaml` reaches a fixed network held in memory.
#include "FuzzTarget.h"

#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"
#include "cnnc/importer/Importer.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: attributes and types are uniqued in it for
  // its lifetime, so one shared context would grow with every input.
  mlir::MLIRContext context;
  context.getOrLoadDialect<cnn::CnnDialect>();
  context.getOrLoadDialect<mlir::StandardOpsDialect>();
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  const std::string path =
      cnnc::fuzz::writeScratch("net.yaml", cnnc::fuzz::bytesOf(data, size));
  // `extends:` reads nothing from the host: base.yaml beside the input is
  // a small network, every other file is missing.
  const cnnc::NetworkFileReader readExtended =
      [](const std::string &file,
         std::string &error) -> std::optional<std::string> {
    if (llvm::StringRef(file).endswith("/base.yaml"))
      return std::string("input: [3, 8, 8]\n"
                         "layers:\n"
                         "  - conv2d: {name: conv1, out_channels: 4, "
                         "kernel_size: 3}\n"
                         "  - relu\n"
                         "  - flatten\n"
                         "  - linear: {name: fc, out_features: 3}\n"
                         "train: {batch_size: 4}\n");
    error = "no such file";
    return std::nullopt;
  };
  llvm::SourceMgr sourceMgr;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      cnnc::importNetworkFile(path, sourceMgr, context, nullptr, &readExtended);
  if (!module)
    return 0;
  CNNC_FUZZ_CHECK(mlir::succeeded(mlir::verify(*module)));
  mlir::PassManager pm(&context);
  cnn::buildTrainingPipeline(pm);
  // A network without a trainable parameter has no training step.
  if (mlir::succeeded(pm.run(*module)))
    CNNC_FUZZ_CHECK(mlir::succeeded(mlir::verify(*module)));
  return 0;
}
