#include "cnnc/driver/Frontend.h"
#include "cnnc/importer/Importer.h"

#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"
#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace cnnc {
namespace {

/// Images or features with the batch first and unknown: [?, C, H, W] or
/// [?, F], float32, as the runtime and the C ABI take them.
bool isBatchedF32(Type type) {
  auto tensor = type.dyn_cast<RankedTensorType>();
  if (!tensor || !tensor.getElementType().isF32() ||
      (tensor.getRank() != 2 && tensor.getRank() != 4) ||
      !ShapedType::isDynamic(tensor.getDimSize(0)))
    return false;
  return llvm::all_of(tensor.getShape().drop_front(),
                      [](int64_t d) { return d > 0; });
}

/// func @forward with a body, or null after an error at the module (at the
/// top of the file when the parser made the module up).
FuncOp findForward(ModuleOp module, StringRef path) {
  auto forward = module.lookupSymbol<FuncOp>("forward");
  if (forward && !forward.isExternal())
    return forward;
  Location loc = module.getLoc();
  if (auto file = loc.dyn_cast<FileLineColLoc>(); file && file.getLine() == 0)
    loc = FileLineColLoc::get(module.getContext(), path, 1, 1);
  emitError(loc) << (forward ? "func @forward has no body" : "no func @forward")
                 << "; a cnnc network is func @forward(%input: "
                    "tensor<?xCxHxWxf32>) -> tensor<?xKxf32> of cnn ops";
  return nullptr;
}

/// What the rest of cnnc relies on in a network that did not come from the
/// importer: one input of images, cnn ops only, parameters named once.
LogicalResult checkForward(FuncOp forward) {
  FunctionType type = forward.getType();
  if (type.getNumInputs() != 1 || type.getNumResults() != 1)
    return emitError(forward.getLoc(), "func @forward has ")
           << type.getNumInputs() << " argument(s) and " << type.getNumResults()
           << " result(s); a network takes the images and returns the logits";
  if (!isBatchedF32(type.getInput(0)))
    return emitError(forward.getLoc(), "func @forward takes ")
           << type.getInput(0)
           << "; expected float32 images tensor<?xCxHxWxf32> (or features "
              "tensor<?xFxf32>) with the batch size unknown";
  bool ok = true;
  llvm::StringMap<Location> parameters;
  for (Operation &op : forward.getBody().front().without_terminator()) {
    if (!isa_and_nonnull<cnn::CnnDialect>(op.getDialect())) {
      ok = false;
      emitError(op.getLoc(), "'")
          << op.getName()
          << "' is not an op of the cnn dialect; func @forward holds cnn ops "
             "only";
    }
    if (auto param = dyn_cast<cnn::ParameterOp>(op)) {
      auto [first, inserted] =
          parameters.try_emplace(param.getName(), param.getLoc());
      if (!inserted) {
        ok = false;
        InFlightDiagnostic diag = emitError(param.getLoc(), "parameter '")
                                  << param.getName()
                                  << "' is defined twice; a weights file "
                                     "holds one tensor per name";
        diag.attachNote(first->second) << "first defined here";
      }
    }
  }
  return success(ok);
}

/// After shape inference: the logits are batched float32 too.
LogicalResult checkLogits(FuncOp forward) {
  Type logits = forward.getType().getResult(0);
  if (isBatchedF32(logits))
    return success();
  return emitError(forward.getLoc(), "func @forward returns ")
         << logits << "; expected float32 logits tensor<?xKxf32> (or "
         << "tensor<?xCxHxWxf32>)";
}

/// Parses, verifies and checks an MLIR network, names it and infers its
/// shapes.
OwningOpRef<ModuleOp> loadMlir(StringRef path, llvm::SourceMgr &sourceMgr,
                               MLIRContext &context) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    emitError(UnknownLoc::get(&context))
        << "cannot read '" << path << "': " << ec.message();
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile(sourceMgr, &context);
  if (!module || failed(verify(*module)))
    return nullptr;
  FuncOp forward = findForward(*module, path);
  if (!forward || failed(checkForward(forward)))
    return nullptr;
  if (!module->getName())
    SymbolTable::setSymbolName(*module, llvm::sys::path::stem(path));
  PassManager pm(&context);
  pm.addNestedPass<FuncOp>(cnn::createInferShapesPass());
  if (failed(pm.run(*module)) || failed(checkLogits(forward)))
    return nullptr;
  return module;
}

} // namespace

bool isMlirFile(llvm::StringRef path) { return path.endswith(".mlir"); }

Frontend::Frontend() : handler_(sourceMgr_, &context_) {
  context_.getOrLoadDialect<cnn::CnnDialect>();
  context_.getOrLoadDialect<StandardOpsDialect>();
}

OwningOpRef<ModuleOp> Frontend::load(llvm::StringRef path) {
  if (isMlirFile(path))
    return loadMlir(path, sourceMgr_, context_);
  return importNetworkFile(path, sourceMgr_, context_);
}

} // namespace cnnc
