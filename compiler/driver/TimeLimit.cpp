#include "cnnc/driver/TimeLimit.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cnnc {

namespace {

/// Writes all of `text` to `fd`, ignoring failures (the parent then reports
/// a generic error).
void writeAll(int fd, const std::string &text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += size_t(n);
  }
}

} // namespace

bool runWithTimeLimit(const std::function<bool(std::string &)> &work,
                      double seconds, std::string &error) {
  int fds[2];
  if (::pipe(fds) != 0)
    return work(error);
  pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return work(error);
  }
  if (child == 0) {
    // The child: report through the pipe, then leave without running the
    // parent's atexit handlers or destructors.
    ::close(fds[0]);
    std::string message;
    bool ok = false;
    try {
      ok = work(message);
    } catch (const std::exception &e) {
      message = e.what();
    } catch (...) {
      message = "unknown exception";
    }
    if (!ok)
      writeAll(fds[1], message.empty() ? "failed" : message);
    ::close(fds[1]);
    ::_exit(ok ? 0 : 1);
  }

  // The parent: read the child's message until it closes the pipe (it
  // exited) or the time is up.
  ::close(fds[1]);
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(seconds));
  std::string message;
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR)
      break;
    if (ready <= 0)
      continue;
    char buffer[4096];
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // end of file: the child is done
    message.append(buffer, size_t(n));
  }
  ::close(fds[0]);
  if (timedOut)
    ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", seconds);
    error = std::string("did not finish within the time limit of ") + limit +
            " s";
    return false;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  if (WIFSIGNALED(status))
    error = "the compiling process died of signal " +
            std::to_string(WTERMSIG(status)) +
            (message.empty() ? "" : ": " + message);
  else
    error = message.empty() ? "failed" : message;
  return false;
}

} // namespace cnnc
