// connectMpi of a cnnc built without MPI (no libopenmpi-dev at configure
// time): mpirun can start it, but it cannot join the others.
#include "cnnc/dist/Communicator.h"

namespace cnnc::rt::dist {

Expected<std::unique_ptr<Communicator>> connectMpi() {
  return Error("this cnnc was built without MPI, so it cannot train across "
               "processes (install libopenmpi-dev and rebuild; "
               "scripts/install-deps.sh does)");
}

} // namespace cnnc::rt::dist
