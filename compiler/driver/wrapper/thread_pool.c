/* The thread pool that runs a generated library's parallel loops, installed
 * in place of Halide's own (halide_set_custom_do_par_for).
 *
 * Why: a training step runs dozens of short parallel loops (LeNet's step at
 * batch 64: 39, most of them under 50 microseconds). Halide's pool puts an
 * idle worker to sleep on a condition variable after a few yields, and
 * waking it again (a futex, and on a virtual machine an interrupt to a
 * halted vCPU) can cost more than the loop: LeNet's step measured 3.2 ms on
 * 2 threads against 1.8 ms on 1. Here an idle worker stays awake for
 * CNNC_POOL_SPIN_NS after its last loop before it sleeps, as OpenMP
 * runtimes do (GOMP_SPINCOUNT, KMP_BLOCKTIME), so the loops of one step find
 * their workers awake.
 *
 * Opening a loop to the workers still costs a few microseconds (2.3-2.8
 * per loop on 2 vCPUs), more than some loops' whole work (a loss over 10
 * classes, a bias gradient, a reshape: LeNet's step has a dozen such). So
 * the pool learns each loop's cost: the time per iteration its caller
 * measures, kept per task function. A loop whose expected work is under
 * CNNC_POOL_SERIAL_NS runs on its caller alone, and is measured again
 * there: one that grows (a larger batch than when measured) opens the rest
 * of its iterations to the workers as soon as it has run that long, and
 * its next run is parallel.
 *
 * The pool runs one loop at a time. A loop started while it runs another
 * (from inside a task, or from a second application thread) runs on its
 * caller's thread alone. Halide's parallel loops have independent
 * iterations, so every schedule of them gives the same bits.
 *
 * Plain C with GCC's __atomic builtins, so that the unit test can compile it
 * as C++. Every atomic access is sequentially consistent: a worker's
 * "inside, then is the loop still open?" against the owner's "closed, then
 * is anyone inside?" is a store-buffering pattern that weaker orders allow
 * both sides to miss (on x86 this costs only the few stores, which become
 * xchg).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity; model_abi.c defines it first */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
  CNNC_POOL_MAX_THREADS = 256, /* Halide's own limit */
  /* How long an idle worker stays awake for the next loop: spinning on the
     CPU's pause at first, then yielding the core (so that spinning costs
     little when more threads than cores want to run), then asleep. */
  CNNC_POOL_PAUSE_NS = 50000,
  CNNC_POOL_SPIN_NS = 2000000,
  CNNC_POOL_CHUNKS_PER_THREAD = 4,
  /* A loop of less work than this runs on its caller alone (see above):
     two parallel loop openings. */
  CNNC_POOL_SERIAL_NS = 5000,
  CNNC_POOL_COST_SLOTS = 512, /* loops whose cost is kept; others: parallel */
};

/* One iteration of a loop: halide_task_t's signature. */
typedef int (*cnnc_pool_task)(void *user_context, int index, uint8_t *closure);

typedef struct cnnc_pool cnnc_pool;

#define CNNC_POOL_LINE __attribute__((aligned(64)))

/* The iterations [next, end) of a loop, first those of one thread. */
typedef struct {
  CNNC_POOL_LINE int64_t next; /* atomic: the next iteration to claim */
  int64_t end;
} cnnc_pool_share;

/* What one loop (its task function) cost per iteration when last run. */
typedef struct {
  cnnc_pool_task task; /* 0: a free slot */
  double ns_per_iteration;
} cnnc_pool_cost;

typedef struct {
  cnnc_pool *pool;
  int id; /* 0 .. CNNC_POOL_MAX_THREADS - 2 */
} cnnc_pool_worker;

/* The fields each thread writes sit on cache lines of their own: passing a
   line between two cores costs about 250 ns on the machines measured, more
   than many a loop iteration. */
struct cnnc_pool {
  pthread_mutex_t owner; /* held by the caller whose loop the pool runs */
  pthread_mutex_t sleep_lock;
  pthread_cond_t wake; /* a loop opened */
  pthread_cond_t park; /* the thread count rose, or the pool stops */
  int sleepers;        /* under sleep_lock: workers waiting on `wake` */
  /* Under sleep_lock, read by the tests: workers waiting on `park`, and how
     often a worker beyond the thread count woke up (opening a loop must not
     wake them). */
  int parked;
  int parked_wakeups;
  /* The open loop, written by its owner only while no loop is open and no
     worker is inside one; then `generation` (atomic) is made odd. */
  CNNC_POOL_LINE uint64_t generation;
  cnnc_pool_task task;
  void *user_context;
  uint8_t *closure;
  int min, extent, participants;
  int64_t grain;
  int threads;  /* atomic: threads a loop uses, its caller included; 0 unset */
  int stopping; /* atomic */
  CNNC_POOL_LINE int
      unfinished;            /* atomic: iterations not yet run (or skipped) */
  int inside;                /* atomic: workers inside the open loop */
  CNNC_POOL_LINE int status; /* atomic: the first nonzero result */
  cnnc_pool_share share[CNNC_POOL_MAX_THREADS];
  int closed; /* atomic: loops run serially (the library is unloading) */
  /* The owner's. */
  int64_t serial_below_ns; /* CNNC_POOL_SERIAL_NS; the tests may set 0 */
  cnnc_pool_cost cost[CNNC_POOL_COST_SLOTS];
  int started;
  int create_failed; /* the system refused a thread: no more tries */
  pthread_t thread[CNNC_POOL_MAX_THREADS];
  cnnc_pool_worker worker[CNNC_POOL_MAX_THREADS];
};

/* A zeroed pool, ready for loops. */
static void cnnc_pool_init(cnnc_pool *p) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->owner, NULL);
  pthread_mutex_init(&p->sleep_lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->park, NULL);
  p->serial_below_ns = CNNC_POOL_SERIAL_NS;
}

/* Set on the pool's workers, and on a loop's caller while it runs
   iterations: a loop started there runs serially. */
static __thread int cnnc_pool_in_task;

static int cnnc_pool_load(const int *p) {
  return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void cnnc_pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t cnnc_pool_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The cores this process may run on (its affinity: taskset, a cpuset, an
   MPI launcher's binding). */
static long cnnc_pool_usable_cores(void) {
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0)
    return CPU_COUNT(&mask);
  return sysconf(_SC_NPROCESSORS_ONLN);
}

/* Halide's default: HL_NUM_THREADS (or HL_NUMTHREADS), else one per core
   (here: per core the process may run on). */
static int cnnc_pool_default_threads(void) {
  const char *env = getenv("HL_NUM_THREADS");
  if (!env)
    env = getenv("HL_NUMTHREADS");
  long n = env ? strtol(env, NULL, 10) : cnnc_pool_usable_cores();
  if (n < 1)
    n = 1;
  return n > CNNC_POOL_MAX_THREADS ? CNNC_POOL_MAX_THREADS : (int)n;
}

static int cnnc_pool_threads(cnnc_pool *p) {
  int n = cnnc_pool_load(&p->threads);
  if (n == 0) {
    int expected = 0;
    n = cnnc_pool_default_threads();
    if (!__atomic_compare_exchange_n(&p->threads, &expected, n, 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      n = expected;
  }
  return n;
}

/* `threads` (0: the default) for the loops that follow; workers beyond it
   sleep. */
static void cnnc_pool_set_threads(cnnc_pool *p, int threads) {
  if (threads <= 0)
    threads = cnnc_pool_default_threads();
  if (threads > CNNC_POOL_MAX_THREADS)
    threads = CNNC_POOL_MAX_THREADS;
  __atomic_store_n(&p->threads, threads, __ATOMIC_SEQ_CST);
  /* Workers beyond the old count wait for this. */
  pthread_mutex_lock(&p->sleep_lock);
  pthread_cond_broadcast(&p->park);
  pthread_mutex_unlock(&p->sleep_lock);
}

/* Runs the chunks of one share, claimed `grain` iterations at a time;
   returns the number claimed. After a failure the rest are claimed but
   skipped, so `unfinished` still reaches zero. */
static int cnnc_pool_run_share(cnnc_pool *p, cnnc_pool_share *share) {
  int claimed = 0;
  for (;;) {
    int64_t begin =
        __atomic_fetch_add(&share->next, p->grain, __ATOMIC_SEQ_CST);
    if (begin >= share->end)
      return claimed;
    int64_t end = begin + p->grain < share->end ? begin + p->grain : share->end;
    for (int64_t i = begin; i < end && cnnc_pool_load(&p->status) == 0; ++i) {
      int result = p->task(p->user_context, (int)(p->min + i), p->closure);
      if (result != 0) {
        int expected = 0;
        __atomic_compare_exchange_n(&p->status, &expected, result, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
      }
    }
    claimed += (int)(end - begin);
  }
}

/* Participant `self`'s share first, then what is left of the others';
   returns how many iterations it ran (or skipped). */
static int cnnc_pool_run_iterations(cnnc_pool *p, int self) {
  int done = 0;
  for (int k = 0; k < p->participants; ++k)
    done += cnnc_pool_run_share(p, &p->share[(self + k) % p->participants]);
  if (done)
    __atomic_fetch_sub(&p->unfinished, done, __ATOMIC_SEQ_CST);
  return done;
}

/* Whether worker `id` may join the loop of `generation`: it is open, the
   worker has not joined it yet and takes part at the current thread count. */
static int cnnc_pool_may_join(cnnc_pool *p, int id, uint64_t generation,
                              uint64_t joined) {
  return (generation & 1) && generation != joined &&
         id + 1 < cnnc_pool_load(&p->threads);
}

static uint64_t cnnc_pool_generation(cnnc_pool *p) {
  return __atomic_load_n(&p->generation, __ATOMIC_SEQ_CST);
}

static void *cnnc_pool_work(void *arg) {
  cnnc_pool_worker *self = (cnnc_pool_worker *)arg;
  cnnc_pool *p = self->pool;
  cnnc_pool_in_task = 1;
  uint64_t joined = 0;
  int64_t idle_since = cnnc_pool_now_ns();
  unsigned spins = 0;
  int yielding = 0;
  while (!cnnc_pool_load(&p->stopping)) {
    uint64_t generation = cnnc_pool_generation(p);
    if (cnnc_pool_may_join(p, self->id, generation, joined)) {
      joined = generation;
      __atomic_fetch_add(&p->inside, 1, __ATOMIC_SEQ_CST);
      /* The loop may have closed (and another opened, with other fields)
         since it was seen: its fields are read only if it is still open. */
      if (cnnc_pool_generation(p) == generation)
        (void)cnnc_pool_run_iterations(p, self->id + 1);
      __atomic_fetch_sub(&p->inside, 1, __ATOMIC_SEQ_CST);
      idle_since = cnnc_pool_now_ns();
      spins = 0;
      yielding = 0;
      continue;
    }
    if (yielding)
      sched_yield(); /* the core, to any other thread that wants it */
    else
      cnnc_pool_pause();
    if (++spins % 64 != 0)
      continue;
    int64_t idle = cnnc_pool_now_ns() - idle_since;
    yielding = idle >= CNNC_POOL_PAUSE_NS;
    if (idle < CNNC_POOL_SPIN_NS)
      continue;
    /* Asleep until a loop it may join opens. A worker beyond the thread
       count waits apart, so that opening a loop never wakes it. */
    pthread_mutex_lock(&p->sleep_lock);
    while (!cnnc_pool_load(&p->stopping) &&
           !cnnc_pool_may_join(p, self->id, cnnc_pool_generation(p), joined)) {
      if (self->id + 1 >= cnnc_pool_load(&p->threads)) {
        ++p->parked;
        pthread_cond_wait(&p->park, &p->sleep_lock);
        --p->parked;
      } else {
        ++p->sleepers;
        pthread_cond_wait(&p->wake, &p->sleep_lock);
        --p->sleepers;
      }
      if (self->id + 1 >= cnnc_pool_load(&p->threads))
        ++p->parked_wakeups;
    }
    pthread_mutex_unlock(&p->sleep_lock);
    idle_since = cnnc_pool_now_ns();
    yielding = 0;
  }
  return NULL;
}

static void cnnc_pool_wake_sleepers(cnnc_pool *p) {
  pthread_mutex_lock(&p->sleep_lock);
  if (p->sleepers)
    pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->sleep_lock);
}

/* Waits for an atomic to reach zero: pausing at first, then yielding the
   core (a worker it waits for may need it). */
static void cnnc_pool_wait_zero(const int *counter) {
  for (unsigned spins = 0; cnnc_pool_load(counter) != 0; ++spins) {
    if (spins < 4096)
      cnnc_pool_pause();
    else
      sched_yield();
  }
}

static int cnnc_pool_run_serially(cnnc_pool_task task, void *user_context,
                                  int min, int extent, uint8_t *closure) {
  for (int i = min; i < min + extent; ++i) {
    int result = task(user_context, i, closure);
    if (result != 0)
      return result;
  }
  return 0;
}

/* The cost slot of `task` (the owner's), or NULL when all are taken. */
static cnnc_pool_cost *cnnc_pool_cost_of(cnnc_pool *p, cnnc_pool_task task) {
  size_t slot = ((uintptr_t)task >> 4) % CNNC_POOL_COST_SLOTS;
  for (int probe = 0; probe < 16; ++probe) {
    cnnc_pool_cost *c = &p->cost[(slot + probe) % CNNC_POOL_COST_SLOTS];
    if (c->task == task)
      return c;
    if (!c->task) {
      c->task = task;
      c->ns_per_iteration = -1; /* not measured yet */
      return c;
    }
  }
  return NULL;
}

/* Runs a loop measured cheap on its caller and measures it again. The clock
   is read every few iterations: a loop that now takes longer than
   serial_below_ns (a larger batch than when measured) stops there. Returns
   the first iteration not run (min + extent when all ran, or after a
   failure, whose result goes to *status). */
static int cnnc_pool_run_cheap(cnnc_pool *p, cnnc_pool_cost *cost,
                               cnnc_pool_task task, void *user_context, int min,
                               int extent, uint8_t *closure, int *status) {
  const int64_t start = cnnc_pool_now_ns();
  const int end = min + extent;
  for (int i = min; i < end;) {
    int result = task(user_context, i, closure);
    ++i;
    if (result != 0) {
      *status = result;
      return end;
    }
    if ((i - min) % 8 == 0 && i < end) {
      int64_t elapsed = cnnc_pool_now_ns() - start;
      if (elapsed >= p->serial_below_ns) {
        cost->ns_per_iteration = (double)elapsed / (double)(i - min);
        return i;
      }
    }
  }
  cost->ns_per_iteration =
      (double)(cnnc_pool_now_ns() - start) / (double)extent;
  return end;
}

/* Starts workers until `count` run; fewer if the system refuses threads. */
static void cnnc_pool_start_workers(cnnc_pool *p, int count) {
  while (p->started < count && !p->create_failed) {
    cnnc_pool_worker *w = &p->worker[p->started];
    w->pool = p;
    w->id = p->started;
    if (pthread_create(&p->thread[p->started], NULL, cnnc_pool_work, w) != 0) {
      p->create_failed = 1; /* the owner runs the missing workers' shares */
      return;
    }
    ++p->started;
  }
}

/* Runs task(user_context, i, closure) for i in [min, min + extent) on the
   pool's threads and the caller's; returns the first nonzero result. */
static int cnnc_pool_run(cnnc_pool *p, cnnc_pool_task task, void *user_context,
                         int min, int extent, uint8_t *closure) {
  if (extent <= 0)
    return 0;
  int threads = cnnc_pool_threads(p);
  if (threads <= 1 || extent == 1 || cnnc_pool_in_task ||
      pthread_mutex_trylock(&p->owner) != 0)
    return cnnc_pool_run_serially(task, user_context, min, extent, closure);
  if (cnnc_pool_load(&p->closed)) { /* the library is unloading */
    pthread_mutex_unlock(&p->owner);
    return cnnc_pool_run_serially(task, user_context, min, extent, closure);
  }
  cnnc_pool_cost *cost = cnnc_pool_cost_of(p, task);
  if (cost && cost->ns_per_iteration >= 0 &&
      cost->ns_per_iteration * extent < (double)p->serial_below_ns) {
    /* Cheaper alone; the owner lock stays held, so a loop it starts runs
       serially too (as from any task). */
    int status = 0;
    int next = cnnc_pool_run_cheap(p, cost, task, user_context, min, extent,
                                   closure, &status);
    if (status != 0 || next == min + extent) {
      pthread_mutex_unlock(&p->owner);
      return status;
    }
    extent -= next - min; /* costlier than measured: the rest in parallel */
    min = next;
  }
  cnnc_pool_start_workers(p, threads - 1);
  p->task = task;
  p->user_context = user_context;
  p->closure = closure;
  p->min = min;
  p->extent = extent;
  /* A contiguous share per thread, the same for the same thread in loops
     of the same extent (a step's loops mostly split the batch): what one
     loop wrote is read by the next on the same core. A thread done with
     its share takes chunks of the others' (a late worker's). */
  p->participants = threads;
  p->grain = ((int64_t)extent + CNNC_POOL_CHUNKS_PER_THREAD * threads - 1) /
             (CNNC_POOL_CHUNKS_PER_THREAD * threads);
  for (int t = 0; t < threads; ++t) {
    __atomic_store_n(&p->share[t].next, (int64_t)extent * t / threads,
                     __ATOMIC_SEQ_CST);
    p->share[t].end = (int64_t)extent * (t + 1) / threads;
  }
  __atomic_store_n(&p->status, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&p->unfinished, extent, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&p->generation, 1, __ATOMIC_SEQ_CST); /* opened */
  cnnc_pool_wake_sleepers(p);
  cnnc_pool_in_task = 1;
  int64_t start = cnnc_pool_now_ns();
  int ran = cnnc_pool_run_iterations(p, 0);
  int64_t own_ns = cnnc_pool_now_ns() - start;
  cnnc_pool_in_task = 0;
  cnnc_pool_wait_zero(&p->unfinished);
  __atomic_add_fetch(&p->generation, 1, __ATOMIC_SEQ_CST); /* closed */
  cnnc_pool_wait_zero(&p->inside);
  int status = cnnc_pool_load(&p->status);
  if (cost && ran > 0 && status == 0) /* skipped iterations cost nothing */
    cost->ns_per_iteration = (double)own_ns / (double)ran;
  pthread_mutex_unlock(&p->owner);
  return status;
}

/* Stops and joins the workers (before the library's code is unmapped). */
static void cnnc_pool_stop(cnnc_pool *p) {
  pthread_mutex_lock(&p->owner);
  __atomic_store_n(&p->stopping, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&p->sleep_lock);
  pthread_cond_broadcast(&p->wake);
  pthread_cond_broadcast(&p->park);
  pthread_mutex_unlock(&p->sleep_lock);
  for (int i = 0; i < p->started; ++i)
    pthread_join(p->thread[i], NULL);
  p->started = 0;
  p->create_failed = 0; /* a later start may try again */
  __atomic_store_n(&p->stopping, 0, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&p->owner);
}

/* Stops the workers for good: the library is being unloaded (or the
   process ends), and a loop still to come runs on its caller's thread
   instead of starting threads in code about to be unmapped. */
static void cnnc_pool_close(cnnc_pool *p) {
  __atomic_store_n(&p->closed, 1, __ATOMIC_SEQ_CST);
  cnnc_pool_stop(p);
}

/* In the child of a fork, which has none of the parent's workers and may
   have inherited a lock taken by one of them: a fresh pool, with the same
   thread count. */
static void cnnc_pool_after_fork(cnnc_pool *p) {
  int threads = p->threads;
  int closed = p->closed;
  cnnc_pool_init(p);
  p->threads = threads;
  p->closed = closed;
}
