/* The extra exports of a library built with --profile (see
 * compiler/driver/include/cnnc/driver/ProfileWrapper.h): Halide's sampling
 * profiler's per-Func statistics and the table of the model's ops
 * (model_tables.h: NUM_PROFILE_LAYERS, kProfileLayers, kProfileFlops).
 * Included by model_abi.c when CNNC_PROFILE is defined. */
#include <stdlib.h>

/* Reads the profiler's state under its lock: the sampling thread may
   reorder the list of pipelines while it runs. */
typedef struct {
  const char *pipeline, *func;
  double seconds;
  int32_t runs, samples;
} cnnc_profile_record;
static cnnc_profile_record *profile_records;
static int32_t profile_record_count;

/* The records go away with the library (dlclose, or the end of the
   process); found leaking by LeakSanitizer after `cnnc bench` unloaded a
   profiled library. */
__attribute__((destructor)) static void cnnc_profile_release(void) {
  free(profile_records);
  profile_records = NULL;
  profile_record_count = 0;
}

/* The ABI's names for the Halide pipelines (see LibraryBuilder.cpp). */
static const char *profile_pipeline_label(const char *name) {
  if (!name)
    return "";
  if (strncmp(name, "model_train", 11) == 0)
    return "train_step";
  if (strncmp(name, "model_forward", 13) == 0)
    return "forward";
  return name;
}

EXPORT cnnc_status cnnc_profile_reset(void) {
  halide_profiler_reset();
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_profile_count(int32_t *count) {
  if (!count)
    return CNNC_ERROR_NULL_ARGUMENT;
  struct halide_profiler_state *s = halide_profiler_get_state();
  halide_mutex_lock(&s->lock);
  int32_t n = 0;
  for (struct halide_profiler_pipeline_stats *p = s->pipelines; p;
       p = (struct halide_profiler_pipeline_stats *)p->next)
    if (p->runs > 0)
      n += p->num_funcs;
  cnnc_profile_record *records = (cnnc_profile_record *)realloc(
      profile_records, sizeof(cnnc_profile_record) * (size_t)(n + 1));
  if (!records) {
    halide_mutex_unlock(&s->lock);
    return runtime_error("out of memory");
  }
  profile_records = records;
  int32_t i = 0;
  for (struct halide_profiler_pipeline_stats *p = s->pipelines; p;
       p = (struct halide_profiler_pipeline_stats *)p->next) {
    if (p->runs <= 0)
      continue;
    for (int f = 0; f < p->num_funcs; ++f, ++i) {
      records[i].pipeline = profile_pipeline_label(p->name);
      records[i].func = p->funcs[f].name ? p->funcs[f].name : "";
      records[i].seconds = (double)p->funcs[f].time * 1e-9;
      records[i].runs = p->runs;
      records[i].samples = p->samples;
    }
  }
  profile_record_count = n;
  halide_mutex_unlock(&s->lock);
  *count = n;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_profile_entry(int32_t index, const char **pipeline,
                                      const char **func, double *seconds,
                                      int32_t *runs, int32_t *samples) {
  if (!pipeline || !func || !seconds || !runs || !samples)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= profile_record_count)
    return CNNC_ERROR_OUT_OF_RANGE;
  *pipeline = profile_records[index].pipeline;
  *func = profile_records[index].func;
  *seconds = profile_records[index].seconds;
  *runs = profile_records[index].runs;
  *samples = profile_records[index].samples;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_profile_layer_count(int32_t *count) {
  if (!count)
    return CNNC_ERROR_NULL_ARGUMENT;
  *count = NUM_PROFILE_LAYERS;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_profile_layer(int32_t index, const char **func,
                                      const char **name, const char **kind,
                                      double *flops) {
  if (!func || !name || !kind || !flops)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (index < 0 || index >= NUM_PROFILE_LAYERS)
    return CNNC_ERROR_OUT_OF_RANGE;
  *func = kProfileLayers[index][0];
  *name = kProfileLayers[index][1];
  *kind = kProfileLayers[index][2];
  *flops = kProfileFlops[index];
  return CNNC_OK;
}
