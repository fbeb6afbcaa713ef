/* What docs/abi.md promises about threads, checked with several generated
 * libraries loaded at once (dlopen, each with its own Halide runtime) and
 * many threads calling them together: inference on shared read-only
 * parameters, pointer-based training steps, one training session per
 * thread, calls that fail (a runtime error, a bad label) and
 * cnnc_set_num_threads, all at the same time. Every result must be, bit for
 * bit, what the same call gave when nothing else ran. Built with
 * -DCNNC_SANITIZE=thread (the libraries' wrappers too, through CNNC_CFLAGS),
 * ThreadSanitizer checks the calls for data races.
 *
 * usage: concurrency_test LIBRARY.so [LIBRARY.so...]; the first must be
 * examples/lenet.yaml's (its huge batch fails in a known way). Prints
 * "N passed, M failed" and exits non-zero on any failure. */
#include "cnnc/model_abi.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_int passed, failed;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (cond) {                                                                \
      atomic_fetch_add(&passed, 1);                                            \
    } else {                                                                   \
      atomic_fetch_add(&failed, 1);                                            \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                          \
  } while (0)

enum { BATCH = 4, STEPS = 3, REPEATS = 16, MAX_PARAMS = 64 };

static const float kLr = 0.05f, kMomentum = 0.9f, kDecay = 1e-4f;
static const uint64_t kSeed = 7;

/* One loaded library, its inputs and the results of each kind of call made
   with nothing else running. */
typedef struct model {
  const char *path;
  void *handle;
  const char *(*last_error)(void);
  cnnc_status (*set_num_threads)(int32_t);
  cnnc_status (*forward)(int64_t, const float *, const float *const *, float *);
  cnnc_status (*train_step_seeded)(int64_t, const float *, const int64_t *,
                                   const float *const *, const float *const *,
                                   float *const *, float *const *, float, float,
                                   float, int32_t, int32_t, uint64_t, int64_t,
                                   float *);
  cnnc_status (*session_create)(const float *const *, cnnc_session **);
  void (*session_destroy)(cnnc_session *);
  cnnc_status (*session_set_seed)(cnnc_session *, uint64_t);
  cnnc_status (*session_train_step)(cnnc_session *, int64_t, const float *,
                                    const int64_t *, float, float, float,
                                    int32_t, float *);
  cnnc_status (*session_forward)(cnnc_session *, int64_t, const float *,
                                 float *);
  cnnc_status (*session_read)(cnnc_session *, float *const *, float *const *);

  int32_t count;
  size_t sizes[MAX_PARAMS];
  int64_t sample_elements, classes;
  float *params[MAX_PARAMS], *momentum[MAX_PARAMS]; /* shared, read only */
  float *input;
  int64_t labels[BATCH];
  /* The references. */
  float *logits;
  float step_loss;
  float *step_params[MAX_PARAMS], *step_momentum[MAX_PARAMS];
  float session_losses[STEPS];
  float *session_params[MAX_PARAMS], *session_momentum[MAX_PARAMS];
  float *session_logits;
} model;

static void *symbol(model *m, const char *name) {
  void *p = dlsym(m->handle, name);
  if (!p) {
    fprintf(stderr, "%s: no symbol %s\n", m->path, name);
    exit(2);
  }
  return p;
}

static void alloc_arrays(const model *m, float **arrays) {
  for (int32_t i = 0; i < m->count; ++i)
    arrays[i] = calloc(m->sizes[i], sizeof(float));
}

static void free_arrays(const model *m, float **arrays) {
  for (int32_t i = 0; i < m->count; ++i)
    free(arrays[i]);
}

static int same_arrays(const model *m, float *const *a, float *const *b) {
  int same = 1;
  for (int32_t i = 0; i < m->count; ++i)
    same &= memcmp(a[i], b[i], m->sizes[i] * sizeof(float)) == 0;
  return same;
}

static void load(model *m, const char *path) {
  memset(m, 0, sizeof *m);
  m->path = path;
  m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!m->handle) {
    fprintf(stderr, "%s\n", dlerror());
    exit(2);
  }
  *(void **)&m->last_error = symbol(m, "cnnc_last_error");
  *(void **)&m->set_num_threads = symbol(m, "cnnc_set_num_threads");
  *(void **)&m->forward = symbol(m, "cnnc_forward");
  *(void **)&m->train_step_seeded = symbol(m, "cnnc_train_step_seeded");
  *(void **)&m->session_create = symbol(m, "cnnc_session_create");
  *(void **)&m->session_destroy = symbol(m, "cnnc_session_destroy");
  *(void **)&m->session_set_seed = symbol(m, "cnnc_session_set_seed");
  *(void **)&m->session_train_step = symbol(m, "cnnc_session_train_step");
  *(void **)&m->session_forward = symbol(m, "cnnc_session_forward");
  *(void **)&m->session_read = symbol(m, "cnnc_session_read");
  cnnc_status (*num_parameters)(int32_t *) = NULL;
  cnnc_status (*parameter_shape)(int32_t, int64_t *, int32_t, int32_t *) = NULL;
  cnnc_status (*input_shape)(int64_t *, int32_t, int32_t *) = NULL;
  cnnc_status (*output_shape)(int64_t *, int32_t, int32_t *) = NULL;
  *(void **)&num_parameters = symbol(m, "cnnc_num_parameters");
  *(void **)&parameter_shape = symbol(m, "cnnc_parameter_shape");
  *(void **)&input_shape = symbol(m, "cnnc_input_shape");
  *(void **)&output_shape = symbol(m, "cnnc_output_shape");

  int64_t dims[CNNC_MAX_RANK];
  int32_t rank = 0;
  if (num_parameters(&m->count) != CNNC_OK || m->count > MAX_PARAMS ||
      input_shape(dims, CNNC_MAX_RANK, &rank) != CNNC_OK) {
    fprintf(stderr, "%s: cannot query the library\n", path);
    exit(2);
  }
  m->sample_elements = 1;
  for (int32_t d = 1; d < rank; ++d)
    m->sample_elements *= dims[d];
  output_shape(dims, CNNC_MAX_RANK, &rank);
  m->classes = dims[1];
  for (int32_t i = 0; i < m->count; ++i) {
    parameter_shape(i, dims, CNNC_MAX_RANK, &rank);
    m->sizes[i] = 1;
    for (int32_t d = 0; d < rank; ++d)
      m->sizes[i] *= (size_t)dims[d];
  }
  /* Small positive values (a batch norm's running variance too). */
  alloc_arrays(m, m->params);
  alloc_arrays(m, m->momentum);
  for (int32_t i = 0; i < m->count; ++i)
    for (size_t k = 0; k < m->sizes[i]; ++k) {
      m->params[i][k] = (float)((k * 13 + (size_t)i * 5) % 23) / 115.0f + 0.01f;
      m->momentum[i][k] = (float)((k * 7 + (size_t)i) % 11) / 110.0f;
    }
  m->input = malloc((size_t)(BATCH * m->sample_elements) * sizeof(float));
  for (int64_t k = 0; k < BATCH * m->sample_elements; ++k)
    m->input[k] = (float)((k * 37) % 101) / 101.0f - 0.5f;
  for (int n = 0; n < BATCH; ++n)
    m->labels[n] = (n * 3 + 1) % m->classes;
}

/* A training session from the shared parameters: STEPS seeded steps, the
   losses, the state read back, and its forward pass. */
static int run_session(const model *m, float *losses, float **params,
                       float **momentum, float *logits) {
  cnnc_session *s = NULL;
  int ok = m->session_create((const float *const *)m->params, &s) == CNNC_OK &&
           m->session_set_seed(s, kSeed) == CNNC_OK;
  for (int step = 0; ok && step < STEPS; ++step)
    ok = m->session_train_step(s, BATCH, m->input, m->labels, kLr, kMomentum,
                               kDecay, 0, &losses[step]) == CNNC_OK;
  ok = ok && m->session_read(s, params, momentum) == CNNC_OK &&
       m->session_forward(s, BATCH, m->input, logits) == CNNC_OK;
  m->session_destroy(s);
  return ok;
}

static int run_step(const model *m, float *loss, float **params,
                    float **momentum) {
  return m->train_step_seeded(
             BATCH, m->input, m->labels, (const float *const *)m->params,
             (const float *const *)m->momentum, params, momentum, kLr,
             kMomentum, kDecay, 0, 0, kSeed, 3, loss) == CNNC_OK;
}

static void compute_references(model *m) {
  m->logits = malloc((size_t)(BATCH * m->classes) * sizeof(float));
  m->session_logits = malloc((size_t)(BATCH * m->classes) * sizeof(float));
  EXPECT(m->forward(BATCH, m->input, (const float *const *)m->params,
                    m->logits) == CNNC_OK);
  alloc_arrays(m, m->step_params);
  alloc_arrays(m, m->step_momentum);
  EXPECT(run_step(m, &m->step_loss, m->step_params, m->step_momentum));
  alloc_arrays(m, m->session_params);
  alloc_arrays(m, m->session_momentum);
  EXPECT(run_session(m, m->session_losses, m->session_params,
                     m->session_momentum, m->session_logits));
}

typedef enum job_kind {
  JOB_FORWARD,
  JOB_STEP,
  JOB_SESSION,
  JOB_ERRORS,
  JOB_THREAD_COUNT
} job_kind;

typedef struct job {
  model *m;
  job_kind kind;
  pthread_t thread;
} job;

static void forward_job(const model *m) {
  float *logits = malloc((size_t)(BATCH * m->classes) * sizeof(float));
  for (int r = 0; r < REPEATS; ++r) {
    memset(logits, 0xff, (size_t)(BATCH * m->classes) * sizeof(float));
    EXPECT(m->forward(BATCH, m->input, (const float *const *)m->params,
                      logits) == CNNC_OK &&
           memcmp(logits, m->logits,
                  (size_t)(BATCH * m->classes) * sizeof(float)) == 0);
  }
  /* The errors of other threads are theirs. */
  EXPECT(m->last_error()[0] == '\0');
  free(logits);
}

static void step_job(const model *m) {
  float *params[MAX_PARAMS], *momentum[MAX_PARAMS];
  alloc_arrays(m, params);
  alloc_arrays(m, momentum);
  for (int r = 0; r < REPEATS; ++r) {
    float loss = 0;
    EXPECT(run_step(m, &loss, params, momentum) && loss == m->step_loss &&
           same_arrays(m, params, m->step_params) &&
           same_arrays(m, momentum, m->step_momentum));
  }
  free_arrays(m, params);
  free_arrays(m, momentum);
}

static void session_job(const model *m) {
  float *params[MAX_PARAMS], *momentum[MAX_PARAMS];
  float *logits = malloc((size_t)(BATCH * m->classes) * sizeof(float));
  alloc_arrays(m, params);
  alloc_arrays(m, momentum);
  for (int r = 0; r < REPEATS / 2; ++r) {
    float losses[STEPS];
    EXPECT(run_session(m, losses, params, momentum, logits) &&
           memcmp(losses, m->session_losses, sizeof losses) == 0 &&
           same_arrays(m, params, m->session_params) &&
           same_arrays(m, momentum, m->session_momentum) &&
           memcmp(logits, m->session_logits,
                  (size_t)(BATCH * m->classes) * sizeof(float)) == 0);
  }
  free_arrays(m, params);
  free_arrays(m, momentum);
  free(logits);
}

/* examples/lenet.yaml's pool1 output at this batch exceeds Halide's 2 GiB
   limit on one allocation (abi_test.c): a runtime error, every time. */
static void errors_job(const model *m) {
  const int64_t huge = 600000;
  /* Mapped lazily: ThreadSanitizer's calloc would write every page. */
  const size_t input_bytes =
                   (size_t)huge * (size_t)m->sample_elements * sizeof(float),
               output_bytes = (size_t)huge * (size_t)m->classes * sizeof(float);
  float *input = mmap(NULL, input_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  float *output = mmap(NULL, output_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  EXPECT(input != MAP_FAILED && output != MAP_FAILED);
  int64_t labels[BATCH];
  memcpy(labels, m->labels, sizeof labels);
  labels[BATCH - 1] = m->classes; /* out of range */
  float *params[MAX_PARAMS], *momentum[MAX_PARAMS];
  alloc_arrays(m, params);
  alloc_arrays(m, momentum);
  for (int r = 0; r < REPEATS && input != MAP_FAILED && output != MAP_FAILED;
       ++r) {
    EXPECT(m->forward(huge, input, (const float *const *)m->params, output) ==
               CNNC_ERROR_RUNTIME &&
           m->last_error()[0] != '\0');
    float loss = 0;
    EXPECT(m->train_step_seeded(BATCH, m->input, labels,
                                (const float *const *)m->params,
                                (const float *const *)m->momentum, params,
                                momentum, kLr, kMomentum, kDecay, 0, 0, kSeed,
                                0, &loss) == CNNC_ERROR_BAD_LABEL);
    EXPECT(m->forward(BATCH, NULL, (const float *const *)m->params, output) ==
           CNNC_ERROR_NULL_ARGUMENT);
  }
  free_arrays(m, params);
  free_arrays(m, momentum);
  if (input != MAP_FAILED)
    munmap(input, input_bytes);
  if (output != MAP_FAILED)
    munmap(output, output_bytes);
}

/* Results do not depend on the thread count (docs/abi.md, Determinism), so
   changing it under running calls must not change them either. */
static void thread_count_job(const model *m) {
  for (int r = 0; r < 3 * REPEATS; ++r)
    EXPECT(m->set_num_threads(r % 3) == CNNC_OK);
  EXPECT(m->set_num_threads(0) == CNNC_OK);
}

/* Every job starts when all threads exist, so that their calls overlap. */
static pthread_barrier_t start_together;

static void *run_job(void *arg) {
  job *j = arg;
  pthread_barrier_wait(&start_together);
  switch (j->kind) {
  case JOB_FORWARD:
    forward_job(j->m);
    break;
  case JOB_STEP:
    step_job(j->m);
    break;
  case JOB_SESSION:
    session_job(j->m);
    break;
  case JOB_ERRORS:
    errors_job(j->m);
    break;
  case JOB_THREAD_COUNT:
    thread_count_job(j->m);
    break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: concurrency_test LENET.so [LIBRARY.so...]\n");
    return 2;
  }
  const int models = argc - 1;
  model *m = calloc((size_t)models, sizeof(model));
  for (int i = 0; i < models; ++i) {
    load(&m[i], argv[i + 1]);
    compute_references(&m[i]);
  }

  /* Per library: two inference threads, a pointer-based trainer and a
     session; on the first, also the failing calls and the thread count. */
  job jobs[64];
  int count = 0;
  for (int i = 0; i < models && count + 6 <= 64; ++i) {
    const job_kind kinds[] = {JOB_FORWARD, JOB_FORWARD, JOB_STEP,
                              JOB_SESSION, JOB_ERRORS,  JOB_THREAD_COUNT};
    for (int k = 0; k < (i == 0 ? 6 : 4); ++k)
      jobs[count++] = (job){&m[i], kinds[k], 0};
  }
  pthread_barrier_init(&start_together, NULL, (unsigned)count);
  for (int j = 0; j < count; ++j)
    if (pthread_create(&jobs[j].thread, NULL, run_job, &jobs[j]) != 0) {
      fprintf(stderr, "cannot start a thread\n");
      return 2;
    }
  for (int j = 0; j < count; ++j)
    pthread_join(jobs[j].thread, NULL);
  pthread_barrier_destroy(&start_together);

  for (int i = 0; i < models; ++i) {
    free_arrays(&m[i], m[i].params);
    free_arrays(&m[i], m[i].momentum);
    free_arrays(&m[i], m[i].step_params);
    free_arrays(&m[i], m[i].step_momentum);
    free_arrays(&m[i], m[i].session_params);
    free_arrays(&m[i], m[i].session_momentum);
    free(m[i].input);
    free(m[i].logits);
    free(m[i].session_logits);
    dlclose(m[i].handle);
  }
  free(m);
  printf("%d passed, %d failed (%d threads on %d libraries)\n",
         atomic_load(&passed), atomic_load(&failed), count, models);
  return atomic_load(&failed) ? 1 : 0;
}
