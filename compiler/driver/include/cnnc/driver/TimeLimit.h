// Runs a piece of compilation that may not terminate in reasonable time
// (an autoscheduler's search) in a child process with a wall-clock limit,
// and independent pieces (pipeline segments) in parallel child processes.
#ifndef CNNC_DRIVER_TIMELIMIT_H
#define CNNC_DRIVER_TIMELIMIT_H

#include <functional>
#include <string>
#include <vector>

namespace cnnc {

/// Forks a child that runs `work` (which reports failure by returning false
/// and setting its error) and waits at most `seconds` for it. On timeout the
/// child is killed and `error` says so. `work` must leave its results in
/// files: nothing else of the child survives. Returns true when `work`
/// succeeded in time. If fork is unavailable, `work` runs in this process
/// without a limit.
bool runWithTimeLimit(const std::function<bool(std::string &)> &work,
                      double seconds, std::string &error);

/// Runs `jobs` in forked children, at most `parallel` at a time, and waits
/// for all of them. After the first failure no more start; `error` is its
/// message. Like runWithTimeLimit, jobs leave their results in files; a job
/// that cannot be forked runs in this process.
bool runInParallel(const std::vector<std::function<bool(std::string &)>> &jobs,
                   int parallel, std::string &error);

} // namespace cnnc

#endif // CNNC_DRIVER_TIMELIMIT_H
