// The runtime's subcommands of the cnnc binary. `args` holds the arguments
// after the subcommand's name (for `cnnc init net.so -o w.safetensors`:
// {"net.so", "-o", "w.safetensors"}). Results and usage go to `out`, errors
// to `err` as "cnnc init: error: ...". Returns 0 on success (and for --help),
// 1 on any error.
#ifndef CNNC_COMMANDS_H
#define CNNC_COMMANDS_H

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

} // namespace cnnc::rt

#endif // CNNC_COMMANDS_H
