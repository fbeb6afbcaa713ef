// The YAML importer: a network description file -> a verified cnn module.
#ifndef CNNC_IMPORTER_IMPORTER_H
#define CNNC_IMPORTER_IMPORTER_H

#include "cnnc/importer/NetworkSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace cnnc {

/// Builds `module @<name>` holding `func @forward(%input) -> logits` from a
/// parsed spec, checking every shape with the cnn shape rules. Problems are
/// emitted as MLIR diagnostics at FILE:LINE:COL locations (all of them);
/// returns null if there was any.
mlir::OwningOpRef<mlir::ModuleOp> buildNetwork(const NetworkSpec &spec,
                                               llvm::StringRef filename,
                                               mlir::MLIRContext &context);

/// Reads, checks and imports a YAML file. The file's buffer is added to
/// `sourceMgr` so that a SourceMgrDiagnosticHandler can show the offending
/// lines. Returns null after emitting diagnostics for every problem found.
/// On success, `spec` (if given) receives the parsed description. The
/// files it extends are read from disk, or by `readExtended` when given
/// (the fuzzer serves them from memory).
mlir::OwningOpRef<mlir::ModuleOp>
importNetworkFile(llvm::StringRef path, llvm::SourceMgr &sourceMgr,
                  mlir::MLIRContext &context, NetworkSpec *spec = nullptr,
                  const NetworkFileReader *readExtended = nullptr);

} // namespace cnnc

#endif // CNNC_IMPORTER_IMPORTER_H
