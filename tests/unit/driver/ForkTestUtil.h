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

} // namespace cnnc::test

#endif // CNNC_DRIVER_FORK_TEST_UTIL_H
