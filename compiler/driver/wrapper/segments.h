/* A pipeline lowered in segments (compiler/lowering/Segmentation.h) run as
 * the one pipeline it replaces: each segment is a Halide pipeline taking
 * the pipeline's arguments, then the intermediates it reads, then the
 * buffers it writes (pipeline outputs, or intermediates later segments
 * read). The generated tables (model_tables.h) describe the segments. */
#ifndef CNNC_SEGMENTS_H
#define CNNC_SEGMENTS_H

#include <stdint.h>

typedef struct cnnc_segment {
  int (*run)(void **args); /* the segment's Halide argv entry point */
  int num_reads;
  const int *reads; /* intermediates it reads */
  int num_writes;
  /* what it writes, in order: >= 0 the pipeline's output of that index,
     < 0 the intermediate -1 - value */
  const int *writes;
} cnnc_segment;

typedef struct cnnc_segmented_pipeline {
  int num_arguments; /* the pipeline's arguments; argument 0 is the input */
  int num_outputs;
  int num_segments;
  const cnnc_segment *segments;
  int num_intermediates;
  /* each intermediate's dims in PyTorch order (-1: the batch) and rank */
  const int64_t (*dims)[4];
  const int *ranks;
} cnnc_segmented_pipeline;

#endif /* CNNC_SEGMENTS_H */
