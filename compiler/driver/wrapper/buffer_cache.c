/* The allocator every generated library installs for its Halide pipelines.
 *
 * Halide allocates each intermediate buffer of a pipeline call with
 * halide_malloc and frees it before the call returns. For large blocks glibc
 * maps fresh pages every time (or trims them back to the system), so every
 * page of every intermediate faults again on every call: on a LeNet training
 * step at batch 64 that was most of the step's time. This cache keeps freed
 * large blocks and hands them to later requests of a similar size, so in
 * steady state (the same batch size call after call) a pipeline call
 * allocates nothing: its buffers are planned by the first call and reused.
 *
 * The cache holds at most CNNC_CACHE_SLOTS blocks, each at most twice the
 * size it is reused for; in steady state it keeps one call's working set
 * alive between calls, like PyTorch's caching allocator does. Blocks freed
 * by calls of other sizes (another batch size) stay cached while slots are
 * left, until the library is unloaded. The slots must cover the largest
 * working set: a ResNet-18 training step at batch 16 frees 69 large blocks
 * (555 MB), and with 64 slots it unmapped three 51 MB blocks per step whose
 * pages then faulted again (a fifth of the step's time).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum {
  CNNC_CACHE_SLOTS = 512,
  /* Vector loads of any width stay aligned; Halide also needs at least 8
     readable bytes before and after a block, which the header and the tail
     padding provide. */
  CNNC_CACHE_ALIGN = 64,
};

/* Smaller blocks come and go cheaply through malloc's own free lists. */
static const size_t kCacheMinBytes = 64 * 1024;

/* Stored in the CNNC_CACHE_ALIGN bytes in front of each block. */
typedef struct {
  size_t capacity;
} cnnc_block_header;

/* A free block and its capacity, kept here so that a search does not touch
   every block's header (a page of its own). */
typedef struct {
  void *block;
  size_t capacity;
} cnnc_cache_slot;

static pthread_mutex_t cnnc_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cnnc_cache_slot cnnc_cache_slots[CNNC_CACHE_SLOTS]; /* free blocks */
static int cnnc_cache_count;

static cnnc_block_header *cnnc_header_of(void *block) {
  return (cnnc_block_header *)((char *)block - CNNC_CACHE_ALIGN);
}

/* The cached block that fits `size` most tightly, without wasting more than
   half of it; removed from the cache. NULL if none. */
static void *cnnc_cache_take(size_t size) {
  void *found = NULL;
  pthread_mutex_lock(&cnnc_cache_lock);
  int best = -1;
  size_t best_capacity = 0;
  for (int i = 0; i < cnnc_cache_count; ++i) {
    size_t capacity = cnnc_cache_slots[i].capacity;
    if (capacity >= size && capacity / 2 <= size &&
        (best < 0 || capacity < best_capacity)) {
      best = i;
      best_capacity = capacity;
    }
  }
  if (best >= 0) {
    found = cnnc_cache_slots[best].block;
    cnnc_cache_slots[best] = cnnc_cache_slots[--cnnc_cache_count];
  }
  pthread_mutex_unlock(&cnnc_cache_lock);
  return found;
}

static void *cnnc_cached_malloc(void *user_context, size_t size) {
  (void)user_context;
  if (size >= kCacheMinBytes) {
    void *block = cnnc_cache_take(size);
    if (block)
      return block;
  }
  if (size > SIZE_MAX - 2 * CNNC_CACHE_ALIGN)
    return NULL;
  void *base = NULL;
  if (posix_memalign(&base, CNNC_CACHE_ALIGN, size + 2 * CNNC_CACHE_ALIGN) != 0)
    return NULL;
  void *block = (char *)base + CNNC_CACHE_ALIGN;
  cnnc_header_of(block)->capacity = size;
  return block;
}

static void cnnc_cached_free(void *user_context, void *block) {
  (void)user_context;
  if (!block)
    return;
  size_t capacity = cnnc_header_of(block)->capacity;
  if (capacity >= kCacheMinBytes) {
    pthread_mutex_lock(&cnnc_cache_lock);
    int kept = cnnc_cache_count < CNNC_CACHE_SLOTS;
    if (kept)
      cnnc_cache_slots[cnnc_cache_count++] = (cnnc_cache_slot){block, capacity};
    pthread_mutex_unlock(&cnnc_cache_lock);
    if (kept)
      return;
  }
  free(cnnc_header_of(block));
}

/* A fork while another thread holds the lock would leave it locked forever
   in the child (only the forking thread is copied): the fork waits for the
   lock, and both processes release it afterwards. */
static void cnnc_cache_lock_for_fork(void) {
  pthread_mutex_lock(&cnnc_cache_lock);
}
static void cnnc_cache_unlock_after_fork(void) {
  pthread_mutex_unlock(&cnnc_cache_lock);
}
__attribute__((constructor)) static void cnnc_cache_guard_forks(void) {
  pthread_atfork(cnnc_cache_lock_for_fork, cnnc_cache_unlock_after_fork,
                 cnnc_cache_unlock_after_fork);
}

/* Frees every cached block when the library is unloaded (dlclose, or the
   end of the process): its cache goes away with it, so keeping the blocks
   would leak them, once per load of a model. */
__attribute__((destructor)) static void cnnc_cache_release(void) {
  pthread_mutex_lock(&cnnc_cache_lock);
  while (cnnc_cache_count > 0)
    free(cnnc_header_of(cnnc_cache_slots[--cnnc_cache_count].block));
  pthread_mutex_unlock(&cnnc_cache_lock);
}
