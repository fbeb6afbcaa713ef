#include "cnnc/dist/Communicator.h"

#include "cnnc/Hash.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace cnnc::rt::dist {
namespace {

class SingleProcess final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  Status sum(float *, size_t) override { return Status::success(); }
  Status sum(double *, size_t) override { return Status::success(); }
  Status sum(int64_t *, size_t) override { return Status::success(); }
  Status broadcast(void *, size_t) override { return Status::success(); }
  Expected<std::vector<uint64_t>> gather(uint64_t value) override {
    return std::vector<uint64_t>{value};
  }
  [[noreturn]] void abort(int status) override { std::_Exit(status); }
};

} // namespace

std::unique_ptr<Communicator> singleProcess() {
  return std::make_unique<SingleProcess>();
}

bool startedByMpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE"); }

uint64_t checksum(const std::vector<Tensor> &tensors, uint64_t seed) {
  uint64_t hash = kFnv1aBasis ^ seed;
  for (const Tensor &t : tensors)
    hash = fnv1a(t.bytes(), t.byteSize(), hash);
  return hash;
}

std::string machineName() {
  // procfs files report a size of 0: read to the end, not by their size.
  std::ifstream bootId("/proc/sys/kernel/random/boot_id");
  std::string name;
  if (std::getline(bootId, name) && !name.empty())
    return name;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

uint64_t coresId(const std::vector<int> &cpus) {
  std::string key = machineName();
  for (int cpu : cpus)
    key += "," + std::to_string(cpu);
  return fnv1a(key);
}

Expected<int> processesWithId(Communicator &comm, uint64_t id) {
  Expected<std::vector<uint64_t>> ids = comm.gather(id);
  if (!ids)
    return ids.status();
  return int(std::count(ids->begin(), ids->end(), id));
}

Status broadcastTensors(Communicator &comm, std::vector<Tensor> &tensors) {
  for (Tensor &t : tensors)
    if (t.byteSize() > 0)
      if (Status s = comm.broadcast(t.bytes(), t.byteSize()); !s)
        return s;
  return Status::success();
}

Status checkSameEverywhere(Communicator &comm, uint64_t value,
                           const std::string &what) {
  Expected<std::vector<uint64_t>> values = comm.gather(value);
  if (!values)
    return values.status();
  std::string differ;
  for (size_t r = 1; r < values->size(); ++r)
    if ((*values)[r] != (*values)[0])
      differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (differ.empty())
    return Status::success();
  const bool one = differ.find(',') == std::string::npos;
  return Error(what + " differ between the processes: rank" +
               (one ? " " : "s ") + differ + (one ? " differs" : " differ") +
               " from rank 0");
}

} // namespace cnnc::rt::dist
