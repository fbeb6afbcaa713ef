#include "cnnc/driver/ProfileWrapper.h"
#include "cnnc/driver/ModelDescription.h"

#include <sstream>

namespace cnnc {

std::string emitProfileTables(const std::vector<ProfiledOp> &ops) {
  std::ostringstream os;
  os << "\n/* Built with --profile: the wrapper adds the profiler's exports "
        "(profile.c). */\n#define CNNC_PROFILE 1\n"
     << "#define NUM_PROFILE_LAYERS " << ops.size() << "\n"
     << "static const char *const kProfileLayers[NUM_PROFILE_LAYERS + "
        "1][3] = {";
  for (const ProfiledOp &op : ops)
    os << "{" << cString(op.funcPrefix) << ", " << cString(op.name) << ", "
       << cString(op.op) << "}, ";
  os << "{0, 0, 0}};\nstatic const double kProfileFlops[NUM_PROFILE_LAYERS "
        "+ 1] = {";
  for (const ProfiledOp &op : ops)
    os << op.flopsPerSample << ", ";
  os << "0};\n";
  return os.str();
}

} // namespace cnnc
