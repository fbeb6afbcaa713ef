// The thread pool generated libraries run Halide's parallel loops on
// (compiler/driver/wrapper/thread_pool.c): every iteration runs once at
// every thread count, failures come back, nested loops and concurrent
// callers finish, idle workers end up asleep, the pool stops cleanly, and
// a loop cheaper than opening it to the workers runs on its caller.
#include "thread_pool.c"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

struct Loop {
  std::vector<std::atomic<int>> runs;
  std::mutex lock;
  std::set<std::thread::id> threads;
  int failAt = -1;
  explicit Loop(int extent) : runs(extent) {}
};

constexpr int kMin = -5;

int countRun(void *, int index, uint8_t *closure) {
  auto *loop = reinterpret_cast<Loop *>(closure);
  loop->runs[index - kMin].fetch_add(1);
  {
    std::lock_guard<std::mutex> hold(loop->lock);
    loop->threads.insert(std::this_thread::get_id());
  }
  return index - kMin == loop->failAt ? 7 : 0;
}

int runLoop(cnnc_pool *pool, Loop &loop) {
  return cnnc_pool_run(pool, countRun, nullptr, kMin, int(loop.runs.size()),
                       reinterpret_cast<uint8_t *>(&loop));
}

/// Runs `loop` on the pool and expects success with each iteration run once.
void runEachOnce(cnnc_pool *pool, Loop &loop) {
  ASSERT_EQ(runLoop(pool, loop), 0);
  for (size_t i = 0; i < loop.runs.size(); ++i)
    ASSERT_EQ(loop.runs[i].load(), 1) << "iteration " << i;
}

cnnc_pool *loopPool; // the pool of dropToOneThread's loop

/// A pool that is stopped (its workers joined) when the test ends. It runs
/// loops measured under `serialBelowNs` on their caller: by default none,
/// so that the tests of the pool's mechanics do not depend on how long
/// their loops take.
struct StoppedAtEnd {
  cnnc_pool pool;
  explicit StoppedAtEnd(int64_t serialBelowNs = 0) {
    cnnc_pool_init(&pool);
    pool.serial_below_ns = serialBelowNs;
  }
  ~StoppedAtEnd() { cnnc_pool_stop(&pool); }
};

TEST(ThreadPool, EveryIterationRunsOnceAtEveryThreadCount) {
  StoppedAtEnd owner;
  for (int threads : {1, 2, 3, 5}) {
    cnnc_pool_set_threads(&owner.pool, threads);
    for (int extent : {1, 2, 7, 1000}) {
      for (int repeat = 0; repeat < 50; ++repeat) {
        Loop loop(extent);
        ASSERT_EQ(runLoop(&owner.pool, loop), 0);
        for (int i = 0; i < extent; ++i)
          ASSERT_EQ(loop.runs[i].load(), 1)
              << "iteration " << i << " of " << extent << " at " << threads
              << " threads";
        EXPECT_LE(loop.threads.size(), size_t(threads));
      }
    }
  }
}

TEST(ThreadPool, OneThreadRunsTheLoopOnItsCaller) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 1);
  Loop loop(100);
  ASSERT_EQ(runLoop(&owner.pool, loop), 0);
  EXPECT_EQ(loop.threads,
            std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(owner.pool.started, 0);
}

TEST(ThreadPool, AFailureIsReturnedAndThePoolRunsTheNextLoop) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 3);
  Loop failing(500);
  failing.failAt = 3;
  EXPECT_EQ(runLoop(&owner.pool, failing), 7);
  for (auto &runs : failing.runs)
    EXPECT_LE(runs.load(), 1);
  Loop next(500);
  runEachOnce(&owner.pool, next);
}

/// Runs an inner loop of 10 iterations from each outer iteration.
struct Nested {
  cnnc_pool *pool;
  std::atomic<int> inner{0};
  std::atomic<int> innerOnOtherThreads{0};
};

int countInner(void *, int, uint8_t *closure) {
  auto *nested = reinterpret_cast<Nested *>(closure);
  nested->inner.fetch_add(1);
  return 0;
}

thread_local std::thread::id outerThread;

int countInnerOnOtherThreads(void *, int, uint8_t *closure) {
  auto *nested = reinterpret_cast<Nested *>(closure);
  if (std::this_thread::get_id() != outerThread)
    nested->innerOnOtherThreads.fetch_add(1);
  return countInner(nullptr, 0, closure);
}

int runInnerLoop(void *, int, uint8_t *closure) {
  auto *nested = reinterpret_cast<Nested *>(closure);
  outerThread = std::this_thread::get_id();
  return cnnc_pool_run(nested->pool, countInnerOnOtherThreads, nullptr, 0, 10,
                       closure);
}

TEST(ThreadPool, ANestedLoopRunsOnItsCallersThread) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 3);
  Nested nested{&owner.pool};
  ASSERT_EQ(cnnc_pool_run(&owner.pool, runInnerLoop, nullptr, 0, 40,
                          reinterpret_cast<uint8_t *>(&nested)),
            0);
  EXPECT_EQ(nested.inner.load(), 400);
  EXPECT_EQ(nested.innerOnOtherThreads.load(), 0);
}

TEST(ThreadPool, ConcurrentCallersEachRunTheirWholeLoop) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 2);
  std::atomic<int> wrong{0};
  auto caller = [&] {
    for (int repeat = 0; repeat < 200; ++repeat) {
      Loop loop(64);
      if (runLoop(&owner.pool, loop) != 0)
        wrong.fetch_add(1);
      for (auto &runs : loop.runs)
        if (runs.load() != 1)
          wrong.fetch_add(1);
    }
  };
  std::thread first(caller), second(caller);
  first.join();
  second.join();
  EXPECT_EQ(wrong.load(), 0);
}

/// A field of the pool that its sleep_lock guards.
int underSleepLock(cnnc_pool *pool, const int &field) {
  pthread_mutex_lock(&pool->sleep_lock);
  int value = field;
  pthread_mutex_unlock(&pool->sleep_lock);
  return value;
}

int sleepersOf(cnnc_pool *pool) { return underSleepLock(pool, pool->sleepers); }

/// Waits until `count` workers sleep: far longer than their spin (2 ms),
/// not counted on to the millisecond.
void waitForSleepers(cnnc_pool *pool, int count) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sleepersOf(pool) < count &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

/// Iterations that each wait (10 s at most) until `awaited` threads have
/// run one: they finish early only if the pool's workers take part.
struct Meeting {
  std::mutex lock;
  std::set<std::thread::id> threads;
  size_t awaited;
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
};

int meet(void *, int, uint8_t *closure) {
  auto *meeting = reinterpret_cast<Meeting *>(closure);
  std::unique_lock<std::mutex> hold(meeting->lock);
  meeting->threads.insert(std::this_thread::get_id());
  while (meeting->threads.size() < meeting->awaited &&
         std::chrono::steady_clock::now() < meeting->deadline) {
    hold.unlock();
    std::this_thread::yield();
    hold.lock();
  }
  return 0;
}

size_t threadsMet(cnnc_pool *pool, size_t awaited) {
  Meeting meeting;
  meeting.awaited = awaited;
  EXPECT_EQ(cnnc_pool_run(pool, meet, nullptr, 0, 12,
                          reinterpret_cast<uint8_t *>(&meeting)),
            0);
  return meeting.threads.size();
}

TEST(ThreadPool, IdleWorkersSleepAfterTheirSpinAndWakeForTheNextLoop) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 3);
  EXPECT_EQ(threadsMet(&owner.pool, 3), 3u);
  ASSERT_EQ(owner.pool.started, 2);
  waitForSleepers(&owner.pool, 2);
  EXPECT_EQ(sleepersOf(&owner.pool), 2);
  EXPECT_EQ(threadsMet(&owner.pool, 3), 3u); // both woke up
}

TEST(ThreadPool, ManyShortLoopsBackToBack) {
  // The open/close handshake, loop after loop, with workers that may still
  // be looking at the loop before.
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 3);
  for (int repeat = 0; repeat < 20000; ++repeat) {
    Loop loop(2 + repeat % 2);
    ASSERT_EQ(runLoop(&owner.pool, loop), 0);
    for (auto &runs : loop.runs)
      ASSERT_EQ(runs.load(), 1) << "loop " << repeat;
  }
}

int dropToOneThread(void *, int index, uint8_t *closure) {
  if (index == kMin)
    cnnc_pool_set_threads(loopPool, 1);
  return countRun(nullptr, index, closure);
}

TEST(ThreadPool, AThreadCountChangedDuringALoopAppliesToTheNext) {
  StoppedAtEnd owner;
  loopPool = &owner.pool;
  cnnc_pool_set_threads(&owner.pool, 3);
  Loop loop(600);
  ASSERT_EQ(cnnc_pool_run(&owner.pool, dropToOneThread, nullptr, kMin, 600,
                          reinterpret_cast<uint8_t *>(&loop)),
            0);
  for (auto &runs : loop.runs)
    EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(cnnc_pool_threads(&owner.pool), 1);
  cnnc_pool_set_threads(&owner.pool, 3);
  EXPECT_EQ(threadsMet(&owner.pool, 3), 3u);
}

int parkedWakeupsOf(cnnc_pool *pool) {
  return underSleepLock(pool, pool->parked_wakeups);
}

/// A pool of 3 threads lowered to 2 once its workers ran: waits (10 s at
/// most) until the worker beyond the count is parked.
void parkOneOfTwoWorkers(cnnc_pool *pool) {
  cnnc_pool_set_threads(pool, 3);
  EXPECT_EQ(threadsMet(pool, 3), 3u);
  ASSERT_EQ(pool->started, 2);
  cnnc_pool_set_threads(pool, 2);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (underSleepLock(pool, pool->parked) < 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(underSleepLock(pool, pool->parked), 1);
}

TEST(ThreadPool, WorkersBeyondALoweredCountSleepThroughTheLoops) {
  StoppedAtEnd owner;
  parkOneOfTwoWorkers(&owner.pool);
  const int before = parkedWakeupsOf(&owner.pool);
  for (int loop = 0; loop < 200; ++loop) {
    ASSERT_EQ(threadsMet(&owner.pool, 2), 2u) << "loop " << loop;
    if (loop == 100) // the other worker asleep too: loops now wake it
      waitForSleepers(&owner.pool, 1);
  }
  // Opening 200 loops woke the worker beyond the count (less a rare
  // spurious wake-up) not at all.
  EXPECT_LE(parkedWakeupsOf(&owner.pool) - before, 2);
  EXPECT_EQ(underSleepLock(&owner.pool, owner.pool.parked), 1);
  cnnc_pool_set_threads(&owner.pool, 3); // wakes it
  EXPECT_EQ(threadsMet(&owner.pool, 3), 3u);
}

TEST(ThreadPool, StopWakesAndJoinsAParkedWorker) {
  StoppedAtEnd owner;
  parkOneOfTwoWorkers(&owner.pool);
  cnnc_pool_stop(&owner.pool); // hangs if the parked worker stays asleep
  EXPECT_EQ(owner.pool.started, 0);
  EXPECT_EQ(underSleepLock(&owner.pool, owner.pool.parked), 0);
}

TEST(ThreadPool, AClosedPoolRunsLoopsOnTheirCaller) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 3);
  Loop before(100);
  runEachOnce(&owner.pool, before);
  cnnc_pool_close(&owner.pool);
  EXPECT_EQ(owner.pool.started, 0);
  Loop after(100);
  runEachOnce(&owner.pool, after);
  EXPECT_EQ(owner.pool.started, 0);
  EXPECT_EQ(after.threads,
            std::set<std::thread::id>{std::this_thread::get_id()});
}

cnnc_pool *forkedPool;

#if defined(__SANITIZE_THREAD__)
#define CNNC_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CNNC_UNDER_TSAN 1
#endif
#endif

TEST(ThreadPool, AForkedChildStartsItsOwnWorkers) {
#ifdef CNNC_UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer cannot start threads after a fork";
#endif
  StoppedAtEnd owner;
  forkedPool = &owner.pool;
  cnnc_pool_set_threads(&owner.pool, 3);
  Loop before(100);
  runEachOnce(&owner.pool, before);
  ASSERT_EQ(owner.pool.started, 2);
  // Fork with the workers asleep, not inside a sanitizer's or libc's code
  // that might hold a lock the child would inherit.
  waitForSleepers(&owner.pool, 2);
  static bool registered = false;
  if (!registered)
    pthread_atfork(nullptr, nullptr, [] {
      if (forkedPool)
        cnnc_pool_after_fork(forkedPool);
    });
  registered = true;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The exit status says what went wrong.
    if (owner.pool.started != 0 || cnnc_pool_threads(&owner.pool) != 3)
      _exit(2);
    if (threadsMet(&owner.pool, 3) != 3 || owner.pool.started != 2)
      _exit(3);
    _exit(0);
  }
  forkedPool = nullptr;
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ThreadPool, StopJoinsTheWorkersAndALaterLoopStartsThemAgain) {
  StoppedAtEnd owner;
  cnnc_pool_set_threads(&owner.pool, 4);
  Loop before(300);
  runEachOnce(&owner.pool, before);
  EXPECT_EQ(owner.pool.started, 3);
  cnnc_pool_stop(&owner.pool);
  EXPECT_EQ(owner.pool.started, 0);
  Loop after(300);
  runEachOnce(&owner.pool, after);
  EXPECT_EQ(owner.pool.started, 3);
}

/// Iterations that busy-wait `nanoseconds` each, then, with `meeting`, wait
/// for its threads.
struct Work {
  int64_t nanoseconds = 0;
  Meeting *meeting = nullptr;
  std::mutex lock;
  std::set<std::thread::id> threads;
};

int work(void *, int, uint8_t *closure) {
  auto *w = reinterpret_cast<Work *>(closure);
  {
    std::lock_guard<std::mutex> hold(w->lock);
    w->threads.insert(std::this_thread::get_id());
  }
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::nanoseconds(w->nanoseconds);
  while (std::chrono::steady_clock::now() < end) {
  }
  return w->meeting ? meet(nullptr, 0, reinterpret_cast<uint8_t *>(w->meeting))
                    : 0;
}

/// The threads that ran a loop of `extent` iterations of `w`.
std::set<std::thread::id> runWork(cnnc_pool *pool, Work &w, int extent) {
  w.threads.clear();
  EXPECT_EQ(cnnc_pool_run(pool, work, nullptr, 0, extent,
                          reinterpret_cast<uint8_t *>(&w)),
            0);
  return w.threads;
}

// These pools run loops of less than 1 ms on their caller (5 us by
// default): far from what a loop of empty iterations takes, even on a
// loaded machine.
constexpr int64_t kSerialBelowNs = 1000000;

TEST(ThreadPool, ACheapLoopRunsOnItsCallerOnceMeasured) {
  StoppedAtEnd owner(kSerialBelowNs);
  cnnc_pool_set_threads(&owner.pool, 2);
  EXPECT_EQ(threadsMet(&owner.pool, 2), 2u); // the worker is up
  Work cheap;
  // The first run measures it; the later ones run on the caller without
  // opening a loop to the worker (which would change `generation`).
  const std::set<std::thread::id> caller{std::this_thread::get_id()};
  for (int run = 0; run < 20; ++run) {
    const uint64_t before = cnnc_pool_generation(&owner.pool);
    const std::set<std::thread::id> threads = runWork(&owner.pool, cheap, 4);
    if (run > 0) {
      EXPECT_EQ(threads, caller) << "run " << run;
      EXPECT_EQ(cnnc_pool_generation(&owner.pool), before) << "run " << run;
    }
  }
}

/// A 2-thread pool on which `work` has been measured cheap.
void measureWorkCheap(cnnc_pool *pool) {
  cnnc_pool_set_threads(pool, 2);
  Work cheap;
  for (int run = 0; run < 20; ++run)
    runWork(pool, cheap, 4);
}

TEST(ThreadPool, ALoopCostlierThanMeasuredOpensTheRestToTheWorkers) {
  StoppedAtEnd owner(kSerialBelowNs);
  measureWorkCheap(&owner.pool);
  Work w;
  // Measured cheap, it starts on the caller; 64 x 500 us is past the 1 ms
  // after 8 iterations, and the worker takes part in the remaining 28 ms.
  w.nanoseconds = 500000;
  EXPECT_EQ(runWork(&owner.pool, w, 64).size(), 2u);
  // Measured costly now: the next run is parallel from the start (the
  // meeting's first iterations end early only when both threads take part).
  Meeting meeting;
  meeting.awaited = 2;
  w.meeting = &meeting;
  w.nanoseconds = 0;
  EXPECT_EQ(runWork(&owner.pool, w, 12).size(), 2u);
}

TEST(ThreadPool, AFailingCheapLoopReturnsItsFailure) {
  StoppedAtEnd owner(kSerialBelowNs);
  cnnc_pool_set_threads(&owner.pool, 2);
  for (int run = 0; run < 5; ++run) {
    Loop failing(10);
    failing.failAt = 3;
    EXPECT_EQ(runLoop(&owner.pool, failing), 7);
    for (auto &runs : failing.runs)
      EXPECT_LE(runs.load(), 1);
  }
}

TEST(ThreadPool, CostsAreKeptPerLoop) {
  StoppedAtEnd owner(kSerialBelowNs);
  measureWorkCheap(&owner.pool);
  // Another task function: not measured yet, so opened to the workers.
  EXPECT_EQ(threadsMet(&owner.pool, 2), 2u);
}

TEST(ThreadPool, ZeroThreadsMeansHalidesDefault) {
  StoppedAtEnd owner;
  setenv("HL_NUM_THREADS", "3", 1);
  cnnc_pool_set_threads(&owner.pool, 0);
  unsetenv("HL_NUM_THREADS");
  EXPECT_EQ(cnnc_pool_threads(&owner.pool), 3);
}

} // namespace
