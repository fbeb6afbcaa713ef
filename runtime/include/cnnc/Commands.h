// The runtime's subcommands of the cnnc binary. `args` holds the arguments
// after the subcommand's name (for `cnnc init net.so -o w.safetensors`:
// {"net.so", "-o", "w.safetensors"}). Results and usage go to `out`, errors
// to `err` as "cnnc init: error: ...". Returns 0 on success (and for --help),
// 1 on any error.
#ifndef CNNC_COMMANDS_H
#define CNNC_COMMANDS_H

#include "cnnc/Error.h"

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace cnnc::rt {

// cnnc init net.so -o w.safetensors [--seed N]
// Writes the network's parameters with PyTorch's default initialisation.
int runInitCommand(const std::vector<std::string> &args, std::ostream &out,
                   std::ostream &err);

// cnnc run net.so --weights w.safetensors --input x.npy -o y.npy [--threads T]
// x.npy: float32 [N, ...input shape] or one sample without the batch
// dimension; y.npy: the logits, [N, ...output shape].
int runRunCommand(const std::vector<std::string> &args, std::ostream &out,
                  std::ostream &err);

// cnnc train net.so --data SPEC -o OUT.safetensors [--val-data SPEC]
//   [--weights W] [--epochs N] [--batch-size B] [--lr X] [--momentum M]
//   [--weight-decay D] [--nesterov] [--no-shuffle] [--seed S] [--threads T]
//   [--resume CKPT] [--checkpoint CKPT]
// SGD training with the network's recipe as defaults; per-epoch validation;
// writes OUT (final), OUT with ".best" before the extension (best validation
// accuracy) and a checkpoint after every epoch (default: OUT with ".ckpt"
// before the extension). Progress goes to `out`: a line redrawn with '\r'
// when `out` is std::cout or std::cerr on a terminal, plain lines otherwise.
int runTrainCommand(const std::vector<std::string> &args, std::ostream &out,
                    std::ostream &err);

// cnnc eval net.so --weights W --data SPEC [--split train|test]
//   [--batch-size B] [--threads T]
// Prints the mean cross-entropy loss, the accuracy and the confusion matrix.
int runEvalCommand(const std::vector<std::string> &args, std::ostream &out,
                   std::ostream &err);

// What `cnnc bench` and `cnnc check-grad` given NET.yaml or NET.mlir need
// from the compiler, which the runtime does not link: the caller (the cnnc
// binary) provides it.
struct CompilerHooks {
  // Accepts a --schedule value ("manual", "auto:Li2018") or says why not.
  std::function<Status(const std::string &schedule)> checkSchedule;
  // The JSON of the network's training recipe (as cnnc_training_recipe
  // gives it); errors in the network file are reported to the user first.
  std::function<Expected<std::string>(const std::string &networkPath)>
      recipeJson;
  // Compiles `networkPath` to `outputPath` with `schedule`, the autoschedulers
  // optimising for `batchEstimate`; with Halide's profiler when `profile`.
  std::function<Status(const std::string &networkPath,
                       const std::string &schedule, int64_t batchEstimate,
                       bool profile, const std::string &outputPath)>
      build;
};

// cnnc bench NET.yaml|NET.mlir|NET.so [--batch N] [--threads T]
//   [--compare S1,S2,...] [--runs R] [--json] [--remeasure-peak]
//   [--profile-time SECONDS]
// Whole-pipeline timings of the forward pass and the training step, per-op
// times from Halide's profiler (NET.yaml, or a library built with
// --profile), and the machine's FMA peak. Tables go to `out`, or with --json
// one JSON object (see cnnc/bench/Report.h); progress goes to `err`.
int runBenchCommand(const std::vector<std::string> &args, std::ostream &out,
                    std::ostream &err, const CompilerHooks &compiler);

// cnnc check-grad NET.yaml|NET.mlir|NET.so [--weights W | --seed S]
//   [--batch N] [--directions K] [--tolerance T] [--threads T]
// The gradient check: every trainable parameter's gradient of the training
// step against central finite differences of its loss on a random batch
// (cnnc/train/GradientCheck.h); prints the worst relative error per
// parameter; 1 when one is above the tolerance.
int runCheckGradCommand(const std::vector<std::string> &args, std::ostream &out,
                        std::ostream &err, const CompilerHooks &compiler);

} // namespace cnnc::rt

#endif // CNNC_COMMANDS_H
