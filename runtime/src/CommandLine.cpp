#include "CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace cnnc::rt {

Expected<ParsedArgs>
parseArgs(const std::vector<std::string> &args,
          const std::map<std::string, std::string> &valueOptions,
          const std::set<std::string> &flags) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    std::string key = arg, value;
    bool haveValue = false;
    if (size_t eq = arg.find('=');
        arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      haveValue = true;
    }
    if (flags.count(key)) {
      if (haveValue)
        return Error("option '" + key + "' takes no value");
      if (!parsed.flags.insert(key).second)
        return Error("option '" + key + "' is given twice");
      continue;
    }
    auto option = valueOptions.find(key);
    if (option == valueOptions.end())
      return Error("unknown option '" + key + "'");
    if (!haveValue) {
      if (i + 1 >= args.size())
        return Error("option '" + key + "' needs a value");
      value = args[++i];
    }
    if (!parsed.options.emplace(option->second, value).second)
      return Error("option '" + option->second + "' is given twice");
  }
  return parsed;
}

Expected<int64_t> parseInteger(const std::string &option,
                               const std::string &text, int64_t min,
                               int64_t max) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    return Error("option '" + option + "' needs an integer from " +
                 std::to_string(min) + " to " + std::to_string(max) +
                 ", not '" + text + "'");
  return static_cast<int64_t>(v);
}

Expected<uint64_t> parseUnsigned(const std::string &option,
                                 const std::string &text) {
  errno = 0;
  char *end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  // strtoull accepts "-1" and wraps it; a seed is written without a sign.
  if (text.empty() || text[0] < '0' || text[0] > '9' || *end != '\0' ||
      errno == ERANGE)
    return Error("option '" + option + "' needs a non-negative integer, not '" +
                 text + "'");
  return static_cast<uint64_t>(v);
}

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos)
      return items;
    start = comma + 1;
  }
}

Expected<double> parseReal(const std::string &option, const std::string &text,
                           double min, bool exclusive) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) ||
      v < min || (exclusive && v == min)) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%g", min);
    return Error("option '" + option + "' needs a number " +
                 (exclusive ? "above " : "of at least ") + bound + ", not '" +
                 text + "'");
  }
  return v;
}

int reportError(std::ostream &err, const std::string &command,
                const Error &error) {
  std::istringstream lines(error.message());
  std::string line;
  while (std::getline(lines, line))
    err << command << ": error: " << line << "\n";
  return 1;
}

} // namespace cnnc::rt
