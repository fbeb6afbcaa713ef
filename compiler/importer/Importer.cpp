// File-level checks of a network description, then parse and build.
#include "cnnc/importer/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <tuple>

using namespace mlir;

namespace cnnc {
namespace {

/// Network files are small; anything larger is not one.
constexpr size_t kMaxFileSize = 16 << 20;

/// Position of the first byte that is not UTF-8 text (NUL counts as binary),
/// or nullopt for a text file.
std::optional<SourcePos> firstBinaryByte(StringRef text) {
  SourcePos pos;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    bool valid = length != 0 && c != 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    bool control = c < 0x20 && c != '\n' && c != '\r' && c != '\t';
    if (!valid || control)
      return pos;
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
    i += length;
  }
  return std::nullopt;
}

} // namespace

OwningOpRef<ModuleOp> importNetworkFile(StringRef path,
                                        llvm::SourceMgr &sourceMgr,
                                        MLIRContext &context,
                                        NetworkSpec *out) {
  auto fileLoc = [&](SourcePos pos) -> Location {
    return FileLineColLoc::get(&context, path, pos.line, pos.column);
  };
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    emitError(UnknownLoc::get(&context))
        << "cannot read '" << path << "': " << ec.message();
    return nullptr;
  }
  if ((*buffer)->getBufferSize() > kMaxFileSize) {
    emitError(fileLoc({})) << "the file is " << (*buffer)->getBufferSize()
                           << " bytes; a network description is at most "
                           << kMaxFileSize << " bytes";
    return nullptr;
  }
  StringRef text = (*buffer)->getBuffer();
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());

  if (auto bad = firstBinaryByte(text)) {
    emitError(fileLoc(*bad))
        << "this is not a text file (invalid or control byte); expected a "
           "YAML network description";
    return nullptr;
  }
  if (text.trim().empty()) {
    emitError(fileLoc({})) << "the file is empty; expected a network such as "
                              "'input: [3, 32, 32]' and 'layers: [...]'";
    return nullptr;
  }

  NetworkSpec spec;
  std::string stem = llvm::sys::path::stem(path).str();
  // Reported in file order, whatever order the parser found them in.
  std::vector<std::pair<SourcePos, std::string>> problems;
  bool ok = parseNetworkSpec(text.str(), stem, spec,
                             [&](SourcePos pos, const std::string &message) {
                               problems.push_back({pos, message});
                             });
  std::stable_sort(problems.begin(), problems.end(),
                   [](const auto &a, const auto &b) {
                     return std::tie(a.first.line, a.first.column) <
                            std::tie(b.first.line, b.first.column);
                   });
  for (const auto &[pos, message] : problems)
    emitError(fileLoc(pos)) << message;
  if (!ok)
    return nullptr;
  auto module = buildNetwork(spec, path, context);
  if (module && out)
    *out = std::move(spec);
  return module;
}

} // namespace cnnc
