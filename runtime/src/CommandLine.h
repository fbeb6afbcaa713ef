// A small option parser shared by the runtime's subcommands (private).
#ifndef CNNC_RUNTIME_COMMANDLINE_H
#define CNNC_RUNTIME_COMMANDLINE_H

#include "cnnc/Error.h"

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace cnnc::rt {

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options; // by canonical name ("--output")
  std::set<std::string> flags;                // given flags ("--nesterov")
};

// `valueOptions` maps every accepted spelling ("-o", "--output") to its
// canonical name. Accepts "--name value" and "--name=value"; "--help"/"-h";
// rejects unknown options, missing values and repeated options. `flags` are
// options without a value ("--nesterov").
Expected<ParsedArgs>
parseArgs(const std::vector<std::string> &args,
          const std::map<std::string, std::string> &valueOptions,
          const std::set<std::string> &flags = {});

// A decimal integer in [min, max], or an Error naming the option.
Expected<int64_t> parseInteger(const std::string &option,
                               const std::string &text, int64_t min,
                               int64_t max);
Expected<uint64_t> parseUnsigned(const std::string &option,
                                 const std::string &text);
// A finite decimal number of at least `min` (above it when `exclusive`).
Expected<double> parseReal(const std::string &option, const std::string &text,
                           double min, bool exclusive);

// The comma-separated items of an option's value ("a,b" -> {"a", "b"}).
std::vector<std::string> splitList(const std::string &text);

// Prints "<command>: error: <line>" for each line of `error`; returns 1.
int reportError(std::ostream &err, const std::string &command,
                const Error &error);

} // namespace cnnc::rt

#endif // CNNC_RUNTIME_COMMANDLINE_H
