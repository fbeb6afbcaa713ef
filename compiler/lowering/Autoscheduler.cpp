// Halide 14's autoscheduler plugins (Mullapudi2016, Li2018, Adams2019) as
// a schedule policy of the forward pipeline, loaded on first use.
#include "Autoscheduler.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>

namespace cnnc {
namespace {

/// The plugin file of each autoscheduler offered.
const std::vector<std::pair<std::string, std::string>> &pluginFiles() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"Mullapudi2016", "libautoschedule_mullapudi2016.so"},
      {"Li2018", "libautoschedule_li2018.so"},
      {"Adams2019", "libautoschedule_adams2019.so"},
  };
  return files;
}

/// Loads the plugin that registers `name` (once per process). Throws
/// std::runtime_error with a clear message when it cannot.
void loadAutoscheduler(const std::string &name) {
  static std::mutex mutex;
  static std::set<std::string> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded.count(name))
    return;
  std::string file;
  for (const auto &entry : pluginFiles())
    if (entry.first == name)
      file = entry.second;
  if (file.empty()) {
    std::string valid;
    for (const std::string &n : availableAutoschedulers())
      valid += (valid.empty() ? "" : ", ") + n;
    throw std::runtime_error("unknown autoscheduler '" + name +
                             "' (available: " + valid + ")");
  }
  const char *env = std::getenv("CNNC_AUTOSCHEDULER_DIR");
  std::string dir = env && *env ? env : CNNC_HALIDE_AUTOSCHEDULER_DIR;
  std::string path = dir + "/" + file;
  struct stat st;
  if (dir.empty() || ::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(
        "the Halide autoscheduler plugin " + file + " was not found" +
        (dir.empty() ? std::string(" (no directory was found at configure "
                                   "time)")
                     : " in " + dir) +
        "; install libhalide14-dev's plugins or set CNNC_AUTOSCHEDULER_DIR");
  Halide::load_plugin(path);
  loaded.insert(name);
}

} // namespace

void autoschedule(Halide::Pipeline &pipeline, const SchedulePolicy &policy,
                  const Halide::Target &target,
                  const hl::MachineModel &machine) {
  loadAutoscheduler(policy.autoscheduler);
  // Adams2019's default beam search (32 wide) took more than 120 s on
  // lenet's forward pipeline, greedy 14 s: greedy unless the user says.
  if (policy.autoscheduler == "Adams2019")
    ::setenv("HL_BEAM_SIZE", "1", /*overwrite=*/0);
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  // The machine's last-level cache, Halide's generic() balance (40), and
  // the compiling machine's parallelism.
  Halide::MachineParams params(cores > 0 ? cores : 16,
                               uint64_t(machine.lastLevelCacheBytes), 40);
  Halide::AutoSchedulerResults results =
      pipeline.auto_schedule(policy.autoscheduler, target, params);
  if (const char *dump = std::getenv("CNNC_DUMP_SCHEDULE"); dump && *dump)
    llvm::errs() << results.schedule_source << "\n";
}

const std::vector<std::string> &availableAutoschedulers() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto &entry : pluginFiles())
      n.push_back(entry.first);
    return n;
  }();
  return names;
}

} // namespace cnnc
