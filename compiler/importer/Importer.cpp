// File-level checks of a network description, then parse and build.
#include "cnnc/importer/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/FileSystem.h"
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

/// Why `text` cannot be a network description (too large, binary, empty),
/// with the position, or nullopt.
std::optional<std::pair<SourcePos, std::string>> textProblem(StringRef text) {
  if (text.size() > kMaxFileSize)
    return std::make_pair(SourcePos{},
                          "the file is " + std::to_string(text.size()) +
                              " bytes; a network description is at most " +
                              std::to_string(kMaxFileSize) + " bytes");
  if (auto bad = firstBinaryByte(text))
    return std::make_pair(*bad,
                          std::string("this is not a text file (invalid or "
                                      "control byte); expected a YAML network "
                                      "description"));
  if (text.trim().empty())
    return std::make_pair(SourcePos{},
                          std::string("the file is empty; expected a network "
                                      "such as 'input: [3, 32, 32]' and "
                                      "'layers: [...]'"));
  return std::nullopt;
}

} // namespace

OwningOpRef<ModuleOp> importNetworkFile(StringRef path,
                                        llvm::SourceMgr &sourceMgr,
                                        MLIRContext &context, NetworkSpec *out,
                                        const NetworkFileReader *readExtended) {
  auto fileLoc = [&](SourcePos pos) -> Location {
    return FileLineColLoc::get(&context, path, pos.line, pos.column);
  };
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError()) {
    emitError(UnknownLoc::get(&context))
        << "cannot read '" << path << "': " << ec.message();
    return nullptr;
  }
  StringRef text = (*buffer)->getBuffer();
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  if (auto problem = textProblem(text)) {
    emitError(fileLoc(problem->first)) << problem->second;
    return nullptr;
  }

  // The files it extends, checked as this one; each joins the source
  // manager, so diagnostics show their lines too.
  NetworkFileReader readFile =
      [&](const std::string &file,
          std::string &error) -> std::optional<std::string> {
    // Not a device or a pipe: /dev/zero would be read forever.
    llvm::sys::fs::file_status status;
    if (std::error_code ec = llvm::sys::fs::status(file, status)) {
      error = ec.message();
      return std::nullopt;
    }
    if (!llvm::sys::fs::is_regular_file(status)) {
      error = "not a regular file";
      return std::nullopt;
    }
    if (status.getSize() > kMaxFileSize) {
      error = "the file is " + std::to_string(status.getSize()) +
              " bytes; a network description is at most " +
              std::to_string(kMaxFileSize) + " bytes";
      return std::nullopt;
    }
    auto base = llvm::MemoryBuffer::getFile(file, /*IsText=*/true);
    if (std::error_code ec = base.getError()) {
      error = ec.message();
      return std::nullopt;
    }
    if (auto problem = textProblem((*base)->getBuffer())) {
      error = problem->second;
      return std::nullopt;
    }
    std::string baseText = (*base)->getBuffer().str();
    sourceMgr.AddNewSourceBuffer(std::move(*base), llvm::SMLoc());
    return baseText;
  };

  NetworkSpec spec;
  std::string stem = llvm::sys::path::stem(path).str();
  // Reported in file order, whatever order the parser found them in (the
  // file given first, then those it extends).
  std::vector<std::pair<SourcePos, std::string>> problems;
  bool ok = parseNetworkSpec(
      text.str(), stem, spec,
      [&](SourcePos pos, const std::string &message) {
        problems.push_back({pos, message});
      },
      path.str(), readExtended ? *readExtended : readFile);
  std::stable_sort(problems.begin(), problems.end(),
                   [](const auto &a, const auto &b) {
                     return std::tie(a.first.line, a.first.column) <
                            std::tie(b.first.line, b.first.column);
                   });
  for (const auto &[pos, message] : problems) {
    auto [file, at] = locateSource(spec.sources, pos, path.str());
    emitError(FileLineColLoc::get(&context, file, at.line, at.column))
        << message;
  }
  if (!ok)
    return nullptr;
  auto module = buildNetwork(spec, path, context);
  if (module && out)
    *out = std::move(spec);
  return module;
}

} // namespace cnnc
