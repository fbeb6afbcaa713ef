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

} // namespace cnnc::rt

#endif // CNNC_COMMANDS_H
