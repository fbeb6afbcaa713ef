#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/NonFinite.h"
#include "cnnc/Npy.h"
#include "cnnc/ParameterCheck.h"
#include "cnnc/Safetensors.h"

#include <limits>
#include <ostream>

namespace cnnc::rt {

static const char kRunUsage[] =
    "usage: cnnc run NET.so --weights WEIGHTS.safetensors --input X.npy -o "
    "Y.npy\n"
    "                [--threads T]\n"
    "\n"
    "Runs inference. X.npy holds float32 samples, [N, C, H, W] (or one sample\n"
    "[C, H, W]); Y.npy receives the logits, [N, classes].\n"
    "\n"
    "  --weights FILE      the parameters (safetensors, PyTorch state_dict "
    "names)\n"
    "  --input FILE        the input samples (.npy, float32)\n"
    "  -o, --output FILE   the .npy file to write\n"
    "  --threads T         threads to use (default: the library's; 0 = one per "
    "core)\n";

// [N, ...input] as it is, or one sample [...input] given a batch dimension
// of 1.
static Expected<Tensor> batchedInput(Tensor input, const ModelLibrary &model,
                                     const std::string &file) {
  const Shape &expected = model.inputShape();
  Shape sample(expected.begin() + 1, expected.end());
  if (input.dtype() != DType::F32)
    return Error(file + ": the network takes float32 samples, not " +
                 dtypeName(input.dtype()) +
                 " (save them with arr.astype(numpy.float32))");
  if (input.shape() == sample) {
    Shape withBatch = input.shape();
    withBatch.insert(withBatch.begin(), 1);
    if (Status s = input.reshape(std::move(withBatch), file); !s)
      return s.error();
    return input;
  }
  if (input.rank() == static_cast<int64_t>(expected.size()) &&
      Shape(input.shape().begin() + 1, input.shape().end()) == sample) {
    if (input.shape()[0] == 0)
      return Error(file + ": holds no samples (shape " +
                   shapeToString(input.shape()) + ")");
    return input;
  }
  return Error(file + ": shape " + shapeToString(input.shape()) +
               " does not fit the network '" + model.name() +
               "', which takes [N, " + shapeToString(sample).substr(1) +
               " (or one sample " + shapeToString(sample) + ")");
}

int runRunCommand(const std::vector<std::string> &args, std::ostream &out,
                  std::ostream &err) {
  const std::string command = "cnnc run";
  Expected<ParsedArgs> parsed = parseArgs(args, {{"-o", "--output"},
                                                 {"--output", "--output"},
                                                 {"--weights", "--weights"},
                                                 {"--input", "--input"},
                                                 {"--threads", "--threads"}});
  if (!parsed) {
    reportError(err, command, parsed.error());
    err << kRunUsage;
    return 1;
  }
  if (parsed->help) {
    out << kRunUsage;
    return 0;
  }
  if (parsed->positional.size() != 1) {
    reportError(err, command, Error("expected one model library (NET.so)"));
    err << kRunUsage;
    return 1;
  }
  for (const char *required : {"--weights", "--input", "--output"})
    if (!parsed->options.count(required)) {
      reportError(err, command, Error(std::string("missing ") + required));
      err << kRunUsage;
      return 1;
    }
  const std::string weightsPath = parsed->options["--weights"];
  const std::string inputPath = parsed->options["--input"];
  const std::string outputPath = parsed->options["--output"];
  int32_t threads = -1; // -1: leave the library's default
  if (auto t = parsed->options.find("--threads"); t != parsed->options.end()) {
    Expected<int64_t> value = parseInteger("--threads", t->second, 0,
                                           std::numeric_limits<int32_t>::max());
    if (!value)
      return reportError(err, command, value.error());
    threads = static_cast<int32_t>(*value);
  }

  Expected<ModelLibrary> model = ModelLibrary::load(parsed->positional[0]);
  if (!model)
    return reportError(err, command, model.error());
  Expected<SafetensorsFile> weights = readSafetensors(weightsPath);
  if (!weights)
    return reportError(err, command, weights.error());
  Expected<std::vector<const Tensor *>> parameters =
      matchParameters(*model, weights->tensors, weightsPath);
  if (!parameters)
    return reportError(err, command, parameters.error());
  Expected<Tensor> raw = readNpy(inputPath);
  if (!raw)
    return reportError(err, command, raw.error());
  Expected<Tensor> input = batchedInput(std::move(*raw), *model, inputPath);
  if (!input)
    return reportError(err, command, input.error());
  if (threads >= 0)
    if (Status s = model->setNumThreads(threads); !s)
      return reportError(err, command, s.error());
  // Non-finite values propagate into the logits; say where they came from.
  for (const std::string &line :
       nonFiniteParameters(model->parameters(), *parameters))
    err << command << ": warning: " << weightsPath << ": " << line << "\n";
  if (NonFiniteValues values = findNonFinite(*input); values.any())
    err << command << ": warning: " << inputPath << ": the input "
        << describeNonFinite(values) << "\n";

  Expected<Tensor> logits = model->forward(*input, *parameters);
  if (!logits)
    return reportError(err, command, logits.error());
  if (Status s = writeNpy(outputPath, *logits); !s)
    return reportError(err, command, s.error());
  out << "wrote " << outputPath << ": " << shapeToString(logits->shape())
      << "\n";
  return 0;
}

} // namespace cnnc::rt
