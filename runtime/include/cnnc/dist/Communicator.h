// The processes of a data-parallel training run and the collective
// operations it needs (docs/data-parallel.md). A process alone is rank 0 of
// 1 and every operation leaves its data as it is; a process started by
// mpirun talks to the others through MPI (MpiCommunicator.cpp), as Horovod
// does: nothing of cnnc's own on the wire.
#ifndef CNNC_DIST_COMMUNICATOR_H
#define CNNC_DIST_COMMUNICATOR_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cnnc::rt::dist {

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // What the processes are, for messages ("MPI, 4 processes").
  virtual std::string describe() const = 0;

  // Element-wise sums over the processes, in place. Every process receives
  // the same bits (one reduction, then the result shared).
  virtual Status sum(float *data, size_t count) = 0;
  virtual Status sum(double *data, size_t count) = 0;
  virtual Status sum(int64_t *data, size_t count) = 0;
  // Rank 0's `bytes` bytes at `data` to every process.
  virtual Status broadcast(void *data, size_t bytes) = 0;
  // Every process's `value`, in rank order.
  virtual Expected<std::vector<uint64_t>> gather(uint64_t value) = 0;
  // Ends every process of the job with `status`: a rank that fails must not
  // leave the others waiting in a collective.
  [[noreturn]] virtual void abort(int status) = 0;
};

// A process on its own.
std::unique_ptr<Communicator> singleProcess();

// Whether Open MPI's mpirun started this process (its environment says
// so; other launchers' variables are not taken as a sign, so that a lone
// process under a batch system stays alone).
bool startedByMpirun();

// MPI's world (MPI_Init; MPI_Finalize when it is destroyed). An error when
// cnnc was built without MPI.
Expected<std::unique_ptr<Communicator>> connectMpi();

// A 64-bit FNV-1a hash of the tensors' bytes, in order.
uint64_t checksum(const std::vector<Tensor> &tensors, uint64_t seed = 0);

// Rank 0's tensors to every process (each process's tensors already have
// rank 0's shapes: the same network).
Status broadcastTensors(Communicator &comm, std::vector<Tensor> &tensors);

// An error unless every process has the same `value`; it names `what` and
// the ranks that differ from rank 0.
Status checkSameEverywhere(Communicator &comm, uint64_t value,
                           const std::string &what);

// This machine: the kernel's boot id (shared by containers on one host,
// which share its cores), else the host name.
std::string machineName();
// A hash of machineName() and `cpus` (the CPUs a process may run on): the
// same number in the processes that share those cores.
uint64_t coresId(const std::vector<int> &cpus);

// How many of the job's processes have this process's `id` (counted over
// every process's; a collective).
Expected<int> processesWithId(Communicator &comm, uint64_t id);

} // namespace cnnc::rt::dist

#endif // CNNC_DIST_COMMUNICATOR_H
