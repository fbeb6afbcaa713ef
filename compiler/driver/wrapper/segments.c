/* Runs a pipeline lowered in segments (segments.h): each intermediate lives
 * in a buffer from halide_malloc (the library's caching allocator) from
 * before the segment that writes it to after the last that reads it. The
 * first non-zero status stops the run and is returned. */
#include "segments.h"

#include <string.h>

#include "HalideRuntime.h"

/* A dense float32 tensor of `rank` dims in PyTorch order (-1: the batch)
   as a Halide buffer (innermost dim first), with its own storage. */
static int cnnc_segment_alloc(struct halide_buffer_t *buf,
                              halide_dimension_t *dim, const int64_t *dims,
                              int rank, int64_t batch) {
  int64_t stride = 1;
  memset(buf, 0, sizeof *buf);
  for (int i = 0; i < rank; ++i) {
    int64_t extent = dims[rank - 1 - i] < 0 ? batch : dims[rank - 1 - i];
    if (extent < 0 || stride > INT32_MAX ||
        extent > INT32_MAX / (stride ? stride : 1)) {
      halide_error(NULL, "an intermediate of a segmented pipeline has more "
                         "than 2^31 - 1 elements");
      return halide_error_code_buffer_extents_too_large;
    }
    dim[i].min = 0;
    dim[i].extent = (int32_t)extent;
    dim[i].stride = (int32_t)stride;
    dim[i].flags = 0;
    stride *= extent;
  }
  buf->type.code = halide_type_float;
  buf->type.bits = 32;
  buf->type.lanes = 1;
  buf->dimensions = rank;
  buf->dim = dim;
  buf->host = (uint8_t *)halide_malloc(NULL, (size_t)(stride ? stride : 1) *
                                                 sizeof(float));
  if (buf->host)
    return 0;
  halide_error(NULL, "out of memory for an intermediate of a segmented "
                     "pipeline");
  return halide_error_code_out_of_memory;
}

static void cnnc_segment_free(struct halide_buffer_t *buf) {
  /* A GPU library's intermediates live on the device. */
  halide_device_free(NULL, buf);
  if (buf->host)
    halide_free(NULL, buf->host);
  buf->host = NULL;
}

/* `args`: the pipeline's arguments, then its output buffers (Halide's argv
   convention: buffers as halide_buffer_t *, scalars by pointer). */
static int cnnc_run_segments(const cnnc_segmented_pipeline *p, void **args) {
  const int k = p->num_intermediates;
  struct halide_buffer_t t[k + 1];
  halide_dimension_t td[k + 1][4];
  int writer[k + 1], last_reader[k + 1];
  int max_slots = 0;
  for (int i = 0; i < k; ++i)
    writer[i] = last_reader[i] = 0;
  for (int s = 0; s < p->num_segments; ++s) {
    const cnnc_segment *segment = &p->segments[s];
    for (int w = 0; w < segment->num_writes; ++w)
      if (segment->writes[w] < 0)
        writer[-1 - segment->writes[w]] = s;
    for (int r = 0; r < segment->num_reads; ++r)
      if (s > last_reader[segment->reads[r]])
        last_reader[segment->reads[r]] = s;
    if (segment->num_reads + segment->num_writes > max_slots)
      max_slots = segment->num_reads + segment->num_writes;
  }
  void *argv[p->num_arguments + max_slots + 1];
  memcpy(argv, args, sizeof(void *) * (size_t)p->num_arguments);
  const struct halide_buffer_t *input = (struct halide_buffer_t *)args[0];
  const int64_t batch = input->dim[input->dimensions - 1].extent;
  memset(t, 0, sizeof t);
  int rc = 0;
  for (int s = 0; s < p->num_segments && rc == 0; ++s) {
    const cnnc_segment *segment = &p->segments[s];
    for (int i = 0; i < k && rc == 0; ++i)
      if (writer[i] == s)
        rc = cnnc_segment_alloc(&t[i], td[i], p->dims[i], p->ranks[i], batch);
    if (rc != 0)
      break;
    int n = p->num_arguments;
    for (int r = 0; r < segment->num_reads; ++r)
      argv[n++] = &t[segment->reads[r]];
    for (int w = 0; w < segment->num_writes; ++w) {
      const int slot = segment->writes[w];
      argv[n++] = slot >= 0 ? args[p->num_arguments + slot] : &t[-1 - slot];
    }
    rc = segment->run(argv);
    for (int i = 0; i < k; ++i)
      if (last_reader[i] == s)
        cnnc_segment_free(&t[i]);
  }
  for (int i = 0; i < k; ++i)
    cnnc_segment_free(&t[i]);
  return rc;
}
