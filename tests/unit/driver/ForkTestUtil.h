// Waiting for a forked child that may hang (a lock inherited held).
#ifndef CNNC_DRIVER_FORK_TEST_UTIL_H
#define CNNC_DRIVER_FORK_TEST_UTIL_H

#include <chrono>
#include <csignal>
#include <optional>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace cnnc::test {

// The child's wait status once it ends, or nothing when it is still running
// after 10 seconds (it is then killed and reaped).
inline std::optional<int> waitForChild(pid_t child) {
  int status = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  pid_t done = 0;
  while ((done = waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return std::nullopt;
  }
  return status;
}

// What forkRepeatedly saw of its children.
struct ForkOutcome {
  int hung = 0;   // still running after 10 seconds (then killed)
  int failed = 0; // exited otherwise than with status 0
  int forks = 0;
};

// Forks up to `rounds` children one after the other, each exiting with what
// `inChild` returns; stops at the first child that hangs.
template <class InChild>
ForkOutcome forkRepeatedly(int rounds, InChild inChild) {
  ForkOutcome outcome;
  for (; outcome.forks < rounds && outcome.hung == 0; ++outcome.forks) {
    const pid_t child = fork();
    if (child < 0) {
      ++outcome.failed;
      break;
    }
    if (child == 0)
      _exit(inChild());
    const std::optional<int> status = waitForChild(child);
    if (!status)
      ++outcome.hung;
    else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
      ++outcome.failed;
  }
  return outcome;
}

} // namespace cnnc::test

#endif // CNNC_DRIVER_FORK_TEST_UTIL_H
