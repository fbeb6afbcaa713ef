// Loading a network file into a cnn module: the one front end of every cnnc
// command that reads a network (compile, --emit, summary, bench).
#ifndef CNNC_DRIVER_FRONTEND_H
#define CNNC_DRIVER_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace cnnc {

/// Whether `path` names a network in the cnn dialect's MLIR (NET.mlir) rather
/// than a YAML description.
bool isMlirFile(llvm::StringRef path);

/// An MLIR context with the dialects cnnc uses. Its diagnostics print as
/// FILE:LINE:COL: error: ... followed by the source line and a caret.
class Frontend {
public:
  Frontend();

  mlir::MLIRContext &context() { return context_; }

  /// Reads a network: a YAML description, or MLIR of the cnn dialect when
  /// isMlirFile(path). MLIR is parsed, verified and checked to be a network
  /// (a func @forward from [N, ...] float32 images to [N, ...] logits, of
  /// cnn ops, with parameters named once), named after the file's stem when
  /// the module has no name, and its shapes inferred (cnn-infer-shapes).
  /// Returns null after reporting every problem found as a located
  /// diagnostic.
  mlir::OwningOpRef<mlir::ModuleOp> load(llvm::StringRef path);

private:
  mlir::MLIRContext context_;
  llvm::SourceMgr sourceMgr_;
  mlir::SourceMgrDiagnosticHandler handler_;
};

} // namespace cnnc

#endif // CNNC_DRIVER_FRONTEND_H
