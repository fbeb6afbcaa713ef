/* The slots of a pipeline's arguments and outputs, as the generated tables
 * (model_tables.h) list them for the generic wrapper (model_abi.c): the C
 * form of compiler/lowering/include/cnnc/lowering/ModelAbi.h. */
#ifndef CNNC_PIPELINE_SLOTS_H
#define CNNC_PIPELINE_SLOTS_H

typedef enum cnnc_slot_kind {
  /* arguments */
  CNNC_SLOT_INPUT,
  CNNC_SLOT_LABELS,
  CNNC_SLOT_PARAMETER,
  CNNC_SLOT_MOMENTUM,
  CNNC_SLOT_LEARNING_RATE,
  CNNC_SLOT_MOMENTUM_FACTOR,
  CNNC_SLOT_WEIGHT_DECAY,
  CNNC_SLOT_NESTEROV,
  CNNC_SLOT_FIRST_STEP,
  CNNC_SLOT_RANDOM_SEED,  /* uint64 */
  CNNC_SLOT_STEP_INDEX,   /* int64 */
  CNNC_SLOT_FIRST_SAMPLE, /* int64 */
  /* outputs */
  CNNC_SLOT_LOGITS,
  CNNC_SLOT_LOSS,
  CNNC_SLOT_NEW_PARAMETER,
  CNNC_SLOT_NEW_MOMENTUM,
  CNNC_SLOT_NEW_BUFFER
} cnnc_slot_kind;

/* One argument or output: its kind and, for the per-parameter kinds, the
 * parameter's index (-1 otherwise). */
typedef struct cnnc_slot {
  int kind;
  int parameter;
} cnnc_slot;

#endif /* CNNC_PIPELINE_SLOTS_H */
