#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/FileIO.h"
#include "cnnc/Init.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/NonFinite.h"
#include "cnnc/ParameterCheck.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/GradientCheck.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>
#include <random>

namespace cnnc::rt {

static const char kCheckGradUsage[] =
    "usage: cnnc check-grad NET.yaml|NET.mlir|NET.so [--weights W | --seed "
    "S]\n"
    "                       [--batch N] [--directions K] [--tolerance T]\n"
    "                       [--threads T]\n"
    "\n"
    "The gradient check: compiles NET.yaml (or takes NET.so), draws a random\n"
    "batch (standard normal inputs, uniform labels) and compares the gradient\n"
    "of the training step's loss with respect to every trainable parameter\n"
    "with central finite differences of that loss, along K directions per\n"
    "tensor (the gradient's own, then mixes of it with random ones), with\n"
    "steps that change the loss by 1e-5 to 1e-2 of itself (the best counts).\n"
    "Batch norms run in training mode, dropout draws fixed masks. Prints the\n"
    "worst relative error |fd - analytic| / max(|fd|, |analytic|) per\n"
    "parameter; exits with 1 when one is above the tolerance. The library\n"
    "computes in float32, so errors up to a few percent are normal; a wrong\n"
    "gradient is off by tens of percent or more.\n"
    "\n"
    "  --weights FILE    the parameters (safetensors); default: `cnnc init`'s\n"
    "  --seed S          seeds the batch, the directions and the default\n"
    "                    parameters (default 0)\n"
    "  --batch N         the batch size (default 4)\n"
    "  --directions K    directions per parameter tensor (default 3)\n"
    "  --tolerance T     the largest relative error accepted (default 0.1)\n"
    "  --threads T       threads of the compiled code (default: one per "
    "core)\n";

namespace {

struct CheckGradOptions {
  std::string input;
  bool network = false; // NET.yaml or NET.mlir, compiled first
  std::optional<std::string> weights;
  uint64_t seed = 0;
  int64_t batch = 4;
  GradientCheckOptions check;
  // float32 finite differences of ReLU networks reach a few percent (worst
  // 4.9e-2 over 60 runs of six test networks); a wrong gradient is off by
  // tens of percent or more.
  double tolerance = 1e-1;
  int32_t threads = 0;
};

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Expected<CheckGradOptions> parseOptions(const ParsedArgs &parsed) {
  CheckGradOptions o;
  if (parsed.positional.size() != 1)
    return Error(parsed.positional.empty()
                     ? "expected a network (NET.yaml) or a model library "
                       "(NET.so)"
                     : "expected one network or library, not " +
                           std::to_string(parsed.positional.size()));
  o.input = parsed.positional[0];
  o.network = endsWith(o.input, ".yaml") || endsWith(o.input, ".yml") ||
              endsWith(o.input, ".mlir");
  const auto &opts = parsed.options;
  if (opts.count("--weights") && opts.count("--seed"))
    return Error("--weights and --seed exclude each other: --seed draws the "
                 "parameters that --weights would give");
  if (auto it = opts.find("--weights"); it != opts.end())
    o.weights = it->second;
  if (auto it = opts.find("--seed"); it != opts.end()) {
    Expected<uint64_t> v = parseUnsigned("--seed", it->second);
    if (!v)
      return v.error();
    o.seed = *v;
  }
  o.check.seed = o.seed;
  if (auto it = opts.find("--batch"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--batch", it->second, 1, 1 << 16);
    if (!v)
      return v.error();
    o.batch = *v;
  }
  if (auto it = opts.find("--directions"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--directions", it->second, 1, 1000);
    if (!v)
      return v.error();
    o.check.directions = static_cast<int>(*v);
  }
  if (auto it = opts.find("--tolerance"); it != opts.end()) {
    Expected<double> v = parseReal("--tolerance", it->second, 0, true);
    if (!v)
      return v.error();
    o.tolerance = *v;
  }
  if (auto it = opts.find("--threads"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--threads", it->second, 1, 1024);
    if (!v)
      return v.error();
    o.threads = static_cast<int32_t>(*v);
  }
  return o;
}

// A batch of standard normal inputs and uniform labels drawn from `seed`.
void drawBatch(uint64_t seed, int64_t classes, Tensor &input, Tensor &labels) {
  std::seed_seq seq{static_cast<uint32_t>(seed),
                    static_cast<uint32_t>(seed >> 32), 0x62617463u};
  std::mt19937_64 gen(seq);
  float *x = input.f32();
  for (int64_t j = 0; j < input.numElements(); j += 2) {
    double u1 = (static_cast<double>(gen() >> 11) + 1.0) * 0x1.0p-53;
    double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    x[j] = static_cast<float>(r * std::cos(6.283185307179586 * u2));
    if (j + 1 < input.numElements())
      x[j + 1] = static_cast<float>(r * std::sin(6.283185307179586 * u2));
  }
  for (int64_t n = 0; n < labels.numElements(); ++n)
    labels.i64()[n] =
        static_cast<int64_t>(gen() % static_cast<uint64_t>(classes));
}

std::string scientific(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*e", digits, value);
  return text;
}

std::string padded(std::string text, size_t width) {
  if (text.size() < width)
    text.append(width - text.size(), ' ');
  return text;
}

} // namespace

int runCheckGradCommand(const std::vector<std::string> &args, std::ostream &out,
                        std::ostream &err, const CompilerHooks &compiler) {
  const std::string command = "cnnc check-grad";
  Expected<ParsedArgs> parsed =
      parseArgs(args, {{"--weights", "--weights"},
                       {"--seed", "--seed"},
                       {"--batch", "--batch"},
                       {"--directions", "--directions"},
                       {"--tolerance", "--tolerance"},
                       {"--threads", "--threads"}});
  if (parsed && parsed->help) {
    out << kCheckGradUsage;
    return 0;
  }
  Expected<CheckGradOptions> options =
      parsed ? parseOptions(*parsed)
             : Expected<CheckGradOptions>(parsed.error());
  if (!options) {
    reportError(err, command, options.error());
    err << kCheckGradUsage;
    return 1;
  }
  const CheckGradOptions &o = *options;

  std::optional<ScratchDirectory> scratch;
  std::string libraryPath = o.input;
  if (o.network) {
    Expected<ScratchDirectory> dir =
        ScratchDirectory::create("cnnc-check-grad");
    if (!dir)
      return reportError(err, command, dir.error());
    scratch = std::move(*dir);
    libraryPath = scratch->path() + "/net.so";
    err << command << ": compiling " << o.input << "\n";
    if (Status s =
            compiler.build(o.input, "manual", o.batch, false, libraryPath);
        !s)
      return reportError(err, command, s.error());
  }
  Expected<ModelLibrary> model = ModelLibrary::load(libraryPath);
  if (!model)
    return reportError(err, command, model.error());
  if (Status s = model->setNumThreads(o.threads); !s)
    return reportError(err, command, s.error());
  Expected<int64_t> classes = model->numClasses();
  if (!classes)
    return reportError(err, command, classes.error());
  if (Status s = model->checkTrainStep(); !s)
    return reportError(err, command, s.error());
  const std::vector<ParameterSpec> &specs = model->parameters();

  // The parameters: a file's, or `cnnc init`'s for the seed.
  TensorMap owned;
  std::vector<const Tensor *> parameters;
  if (o.weights) {
    Expected<SafetensorsFile> file = readSafetensors(*o.weights);
    if (!file)
      return reportError(err, command, file.error());
    owned = std::move(file->tensors);
    Expected<std::vector<const Tensor *>> matched =
        matchParameters(*model, owned, *o.weights);
    if (!matched)
      return reportError(err, command, matched.error());
    parameters = *matched;
  } else {
    Expected<TensorMap> drawn = initParameters(specs, o.seed);
    if (!drawn)
      return reportError(err, command,
                         Error(model->path() + ": " + drawn.message()));
    owned = std::move(*drawn);
    for (const ParameterSpec &spec : specs)
      parameters.push_back(&owned.at(spec.name));
  }

  Shape inputShape = model->inputShape();
  inputShape[0] = o.batch;
  Expected<Tensor> input = Tensor::create(DType::F32, inputShape, "the batch");
  if (!input)
    return reportError(err, command, input.error());
  Tensor labels(DType::I64, {o.batch});
  drawBatch(o.seed, *classes, *input, labels);

  // Each call gets fresh outputs; the inputs are never changed, so every
  // evaluation is the same function of the parameters.
  std::vector<Tensor> newValues;
  std::vector<Tensor *> newParameters(specs.size(), nullptr);
  newValues.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i)
    if (model->updated()[i]) {
      newValues.emplace_back(DType::F32, specs[i].shape);
      newParameters[i] = &newValues.back();
    }
  // Momentum 0: the buffers are not read, but the library wants them.
  std::vector<Tensor> momentumValues;
  momentumValues.reserve(2 * specs.size());
  std::vector<const Tensor *> momentum(specs.size(), nullptr);
  std::vector<Tensor *> newMomentum(specs.size(), nullptr);
  for (size_t i = 0; i < specs.size(); ++i)
    if (model->trainable()[i]) {
      momentum[i] = &momentumValues.emplace_back(DType::F32, specs[i].shape);
      newMomentum[i] = &momentumValues.emplace_back(DType::F32, specs[i].shape);
    }
  auto step = [&](const std::vector<const Tensor *> &values,
                  float lr) -> Expected<float> {
    ModelLibrary::SgdStep sgd;
    sgd.lr = lr;
    sgd.seed = o.seed;
    return model->trainStep(*input, labels, values, momentum, newParameters,
                            newMomentum, sgd, "the random labels");
  };

  // NaN in, NaN out: nothing to check.
  if (std::vector<std::string> bad = nonFiniteParameters(specs, parameters);
      !bad.empty()) {
    std::string lines;
    for (const std::string &line : bad)
      lines += (lines.empty() ? "" : "\n") + line;
    return reportError(err, command,
                       Error("the parameters are not finite, nothing to "
                             "check:\n" +
                             lines));
  }
  // The gradient, read off one step: p_new = p - lr * g. A power of two
  // large enough that lr * g dominates p keeps g's float32 precision.
  const float lr = 1048576.0f;
  Expected<float> loss = step(parameters, lr);
  if (!loss)
    return reportError(err, command, loss.error());
  std::vector<Tensor> gradientValues;
  gradientValues.reserve(specs.size());
  std::vector<const Tensor *> gradients(specs.size(), nullptr);
  std::vector<bool> checked(specs.size(), false);
  std::vector<std::string> frozen;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!model->trainable()[i]) {
      if (!model->buffers()[i])
        frozen.push_back(specs[i].name);
      continue;
    }
    gradientValues.emplace_back(DType::F32, specs[i].shape);
    Tensor &g = gradientValues.back();
    for (int64_t j = 0; j < g.numElements(); ++j)
      g.f32()[j] =
          static_cast<float>((static_cast<double>(parameters[i]->f32()[j]) -
                              newParameters[i]->f32()[j]) /
                             lr);
    gradients[i] = &g;
    checked[i] = true;
  }
  out << command << ": " << model->name() << ", batch " << o.batch << ", loss "
      << *loss << ", " << o.check.directions << " direction"
      << (o.check.directions == 1 ? "" : "s") << " per parameter\n";
  LossFunction lossAt =
      [&](const std::vector<const Tensor *> &values) -> Expected<double> {
    Expected<float> l = step(values, 0.0f);
    if (!l)
      return l.error();
    return static_cast<double>(*l);
  };
  Expected<std::vector<ParameterGradientCheck>> results =
      checkGradients(specs, parameters, checked, gradients, lossAt, o.check);
  if (!results)
    return reportError(err, command, results.error());

  size_t nameWidth = 9, shapeWidth = 5;
  for (const ParameterGradientCheck &r : *results) {
    nameWidth = std::max(nameWidth, r.name.size());
    shapeWidth = std::max(shapeWidth, shapeToString(r.shape).size());
  }
  out << padded("parameter", nameWidth + 2) << padded("shape", shapeWidth + 2)
      << "|gradient|   worst relative error\n";
  const ParameterGradientCheck *worst = &results->front();
  std::vector<const ParameterGradientCheck *> failed;
  for (const ParameterGradientCheck &r : *results) {
    bool ok = r.worstError <= o.tolerance;
    out << padded(r.name, nameWidth + 2)
        << padded(shapeToString(r.shape), shapeWidth + 2)
        << padded(scientific(r.gradientNorm, 3), 13)
        << scientific(r.worstError, 1) << (ok ? "" : "  FAILED") << "\n";
    if (r.worstError > worst->worstError)
      worst = &r;
    if (!ok)
      failed.push_back(&r);
  }
  if (!frozen.empty()) {
    out << "not checked (frozen):";
    for (const std::string &name : frozen)
      out << " " << name;
    out << "\n";
  }
  if (!failed.empty()) {
    std::string list;
    for (const ParameterGradientCheck *r : failed)
      list += (list.empty() ? "" : ", ") + r->name + " (" +
              scientific(r->worstError, 1) + ")";
    return reportError(
        err, command,
        Error(std::to_string(failed.size()) + " of " +
              std::to_string(results->size()) +
              " gradients differ from finite differences by more than the "
              "tolerance " +
              scientific(o.tolerance, 0) + ": " + list));
  }
  out << "all " << results->size()
      << " gradients match finite differences: worst relative error "
      << scientific(worst->worstError, 1) << " (" << worst->name
      << "), tolerance " << scientific(o.tolerance, 0) << "\n";
  return 0;
}

} // namespace cnnc::rt
