// The Communicator of processes started by mpirun: MPI's world. Sums are
// MPI_Allreduce (whose result Open MPI gives every rank bit for bit: the
// periodic parameter checksum checks it), large buffers in chunks of at
// most 2^30 elements (MPI counts are ints). MPI's default error handler
// aborts the job on a failed call, so no process waits on a dead one.
#include "cnnc/dist/Communicator.h"

// MPI's C API only: the deprecated C++ bindings need another library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>

namespace cnnc::rt::dist {
namespace {

constexpr size_t kChunk = size_t(1) << 30;

class MpiWorld final : public Communicator {
public:
  explicit MpiWorld(bool finalize) : finalize_(finalize) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  // MPI is finalised by whoever initialised it.
  ~MpiWorld() override {
    if (finalize_)
      MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    return "MPI, " + std::to_string(size_) + " processes";
  }

  Status sum(float *data, size_t count) override {
    return allreduce(data, count, MPI_FLOAT);
  }
  Status sum(double *data, size_t count) override {
    return allreduce(data, count, MPI_DOUBLE);
  }
  Status sum(int64_t *data, size_t count) override {
    return allreduce(data, count, MPI_INT64_T);
  }

  Status broadcast(void *data, size_t bytes) override {
    auto *p = static_cast<unsigned char *>(data);
    for (size_t done = 0; done < bytes; done += kChunk) {
      const int n = int(std::min(kChunk, bytes - done));
      if (MPI_Bcast(p + done, n, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return Error("MPI_Bcast failed");
    }
    return Status::success();
  }

  Expected<std::vector<uint64_t>> gather(uint64_t value) override {
    std::vector<uint64_t> values(size_t(size_), 0);
    if (MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
      return Error("MPI_Allgather failed");
    return values;
  }

  [[noreturn]] void abort(int status) override {
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status); // MPI_Abort does not return; in case it does
  }

private:
  template <typename T>
  Status allreduce(T *data, size_t count, MPI_Datatype type) {
    for (size_t done = 0; done < count; done += kChunk) {
      const int n = int(std::min(kChunk, count - done));
      if (MPI_Allreduce(MPI_IN_PLACE, data + done, n, type, MPI_SUM,
                        MPI_COMM_WORLD) != MPI_SUCCESS)
        return Error("MPI_Allreduce failed");
    }
    return Status::success();
  }

  int rank_ = 0, size_ = 1;
  bool finalize_;
};

} // namespace

Expected<std::unique_ptr<Communicator>> connectMpi() {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    // Only the main thread calls MPI (the batch producer and Halide's
    // workers never do).
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS)
      return Error("MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      return Error("this MPI cannot run in a process with other threads "
                   "(MPI_THREAD_FUNNELED)");
    }
  }
  return std::unique_ptr<Communicator>(
      std::make_unique<MpiWorld>(!initialised));
}

} // namespace cnnc::rt::dist
