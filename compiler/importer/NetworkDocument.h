// The YAML document of a network file with its `extends:` chain merged in
// (internal to the importer; docs/network-yaml.md, "Extending a network").
// Each file read is recorded in the spec's sources, its lines numbered after
// the files read before it, so that positions in the merged document name
// their file (see SourceFile).
#ifndef CNNC_IMPORTER_NETWORKDOCUMENT_H
#define CNNC_IMPORTER_NETWORKDOCUMENT_H

#include "YamlReader.h"

#include "cnnc/importer/NetworkSpec.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

namespace cnnc {

/// Files may extend files this deep (a chain, not a cycle).
constexpr int kMaxExtendsDepth = 16;
/// The files of one chain together: a file's lines are numbered after the
/// lines of those read before it, so this bounds every file's numbering.
constexpr size_t kMaxDocumentBytes = 16 << 20;

/// The document of `text` (the file `path`) with the network it extends
/// merged under it; nullopt after reporting a problem that leaves nothing to
/// read (invalid YAML, an unreadable or circular `extends:`).
std::optional<YAML::Node> loadNetworkDocument(const std::string &text,
                                              const std::string &path,
                                              const NetworkFileReader &readFile,
                                              std::vector<SourceFile> &sources,
                                              YamlReader &reader);

} // namespace cnnc

#endif // CNNC_IMPORTER_NETWORKDOCUMENT_H
