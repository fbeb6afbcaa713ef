#include "cnnc/driver/TimeLimit.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

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

/// A forked child running a piece of work; it reports failure through a
/// pipe and exits.
struct Child {
  pid_t pid = -1;
  int fd = -1; // the read end of the child's pipe
  std::string message;
};

/// Forks a child that runs `work`. False when pipe or fork fail.
bool startChild(const std::function<bool(std::string &)> &work, Child &child) {
  int fds[2];
  if (::pipe(fds) != 0)
    return false;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
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
  ::close(fds[1]);
  child.pid = pid;
  child.fd = fds[0];
  return true;
}

/// Reads what the child wrote; false at end of file (the child is done).
bool readChild(Child &child) {
  char buffer[4096];
  ssize_t n = ::read(child.fd, buffer, sizeof buffer);
  if (n < 0 && errno == EINTR)
    return true;
  if (n <= 0)
    return false;
  child.message.append(buffer, size_t(n));
  return true;
}

/// Closes the pipe and waits for the child; true when `work` succeeded.
bool reapChild(Child &child, std::string &error) {
  ::close(child.fd);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  if (WIFSIGNALED(status))
    error = "the compiling process died of signal " +
            std::to_string(WTERMSIG(status)) +
            (child.message.empty() ? "" : ": " + child.message);
  else
    error = child.message.empty() ? "failed" : child.message;
  return false;
}

} // namespace

bool runWithTimeLimit(const std::function<bool(std::string &)> &work,
                      double seconds, std::string &error) {
  Child child;
  if (!startChild(work, child))
    return work(error);

  // Read the child's message until it closes the pipe (it exited) or the
  // time is up.
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(seconds));
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{child.fd, POLLIN, 0};
    int ready = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR)
      break;
    if (ready <= 0)
      continue;
    if (!readChild(child))
      break;
  }
  if (timedOut) {
    ::kill(child.pid, SIGKILL);
    std::string ignored;
    reapChild(child, ignored);
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", seconds);
    error =
        std::string("did not finish within the time limit of ") + limit + " s";
    return false;
  }
  return reapChild(child, error);
}

bool runInParallel(const std::vector<std::function<bool(std::string &)>> &jobs,
                   int parallel, std::string &error) {
  std::vector<Child> running;
  size_t next = 0;
  bool ok = true;
  while (next < jobs.size() || !running.empty()) {
    // Start jobs while there is room (none after a failure).
    while (ok && next < jobs.size() &&
           running.size() < size_t(std::max(parallel, 1))) {
      Child child;
      if (startChild(jobs[next], child)) {
        running.push_back(child);
      } else if (!jobs[next](error)) {
        ok = false;
      }
      ++next;
    }
    if (!ok)
      next = jobs.size();
    if (running.empty())
      continue;
    std::vector<pollfd> fds;
    for (const Child &c : running)
      fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) <= 0)
      continue;
    for (size_t i = running.size(); i-- > 0;) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (readChild(running[i]))
        continue;
      std::string why;
      if (!reapChild(running[i], why) && ok) {
        ok = false;
        error = why;
      }
      running.erase(running.begin() + long(i));
    }
  }
  return ok;
}

} // namespace cnnc
