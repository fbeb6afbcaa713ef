#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/BatchCounters.h"
#include "cnnc/Init.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/Safetensors.h"

#include <ostream>

namespace cnnc::rt {

static const char kInitUsage[] =
    "usage: cnnc init NET.so -o WEIGHTS.safetensors [--seed N]\n"
    "\n"
    "Writes the parameters of the network in NET.so with PyTorch's default\n"
    "initialisation (kaiming_uniform(a=sqrt(5)) weights, U(-1/sqrt(fan_in),\n"
    "1/sqrt(fan_in)) biases), named as in a PyTorch state_dict.\n"
    "\n"
    "  -o, --output FILE   the safetensors file to write\n"
    "  --seed N            random seed (default 0); the same seed gives the "
    "same weights\n";

int runInitCommand(const std::vector<std::string> &args, std::ostream &out,
                   std::ostream &err) {
  const std::string command = "cnnc init";
  Expected<ParsedArgs> parsed = parseArgs(
      args,
      {{"-o", "--output"}, {"--output", "--output"}, {"--seed", "--seed"}});
  if (!parsed) {
    reportError(err, command, parsed.error());
    err << kInitUsage;
    return 1;
  }
  if (parsed->help) {
    out << kInitUsage;
    return 0;
  }
  if (parsed->positional.size() != 1) {
    reportError(err, command, Error("expected one model library (NET.so)"));
    err << kInitUsage;
    return 1;
  }
  auto output = parsed->options.find("--output");
  if (output == parsed->options.end()) {
    reportError(err, command, Error("missing -o WEIGHTS.safetensors"));
    err << kInitUsage;
    return 1;
  }
  uint64_t seed = 0;
  if (auto s = parsed->options.find("--seed"); s != parsed->options.end()) {
    Expected<uint64_t> value = parseUnsigned("--seed", s->second);
    if (!value)
      return reportError(err, command, value.error());
    seed = *value;
  }

  Expected<ModelLibrary> model = ModelLibrary::load(parsed->positional[0]);
  if (!model)
    return reportError(err, command, model.error());
  Expected<TensorMap> weights = initParameters(model->parameters(), seed);
  if (!weights)
    return reportError(err, command,
                       Error(model->path() + ": " + weights.message()));
  // Batch norms' counters at 0, as a fresh PyTorch module has them.
  Expected<BatchCounters> counters = readBatchCounters(*model, {}, "");
  if (!counters)
    return reportError(err, command, counters.error());
  addBatchCounters(*weights, *counters, 0);
  // Metadata values must be strings; "format: pt" is what transformers expects.
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"network", model->name()},
                                              {"seed", std::to_string(seed)}};
  if (Status s = writeSafetensors(output->second, *weights, metadata); !s)
    return reportError(err, command, s.error());

  int64_t count = 0;
  for (const auto &[name, tensor] : *weights)
    count += tensor.numElements();
  out << "wrote " << output->second << ": " << weights->size() << " tensors, "
      << count << " parameters (seed " << seed << ")\n";
  return 0;
}

} // namespace cnnc::rt
