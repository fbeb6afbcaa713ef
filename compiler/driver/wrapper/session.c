/* Training sessions (cnnc_session_* in cnnc/model_abi.h): the parameters
 * and momentum buffers live in the library between steps, each in two
 * Halide buffers (the step reads one and writes the other, which then
 * becomes the current one), so a GPU library keeps them on the device: a
 * step copies in only the batch and labels and copies out only the loss.
 * Host copies are made when the caller reads the state. Included by
 * model_abi.c after the calls it shares with the pointer-based ABI. */
#include <stdlib.h>

struct cnnc_session {
  /* [which][parameter]: parameter p's current buffer is
     params[current_param[p]][p]; the second exists only for parameters the
     step updates, momentum only for trainable ones. */
  struct halide_buffer_t params[2][NUM_PARAMS + 1];
  struct halide_buffer_t momentum[2][NUM_PARAMS + 1];
  halide_dimension_t param_dims[2][NUM_PARAMS + 1][CNNC_MAX_RANK];
  halide_dimension_t momentum_dims[2][NUM_PARAMS + 1][CNNC_MAX_RANK];
  int current_param[NUM_PARAMS + 1], current_momentum[NUM_PARAMS + 1];
  int64_t steps;
  uint64_t seed; /* of the dropout masks; step i draws those of step i */
};

static int64_t parameter_elements(int p) {
  int64_t n = 1;
  for (int32_t d = 0; d < kParamRanks[p]; ++d)
    n *= kParamDims[p][d];
  return n;
}

static struct halide_buffer_t *session_buffer(cnnc_session *session,
                                              cnnc_slot slot) {
  const int p = slot.parameter;
  switch (slot.kind) {
  case CNNC_SLOT_PARAMETER:
    return &session->params[session->current_param[p]][p];
  case CNNC_SLOT_NEW_PARAMETER:
  case CNNC_SLOT_NEW_BUFFER:
    return &session->params[1 - session->current_param[p]][p];
  case CNNC_SLOT_MOMENTUM:
    return &session->momentum[session->current_momentum[p]][p];
  default: /* CNNC_SLOT_NEW_MOMENTUM */
    return &session->momentum[1 - session->current_momentum[p]][p];
  }
}

/* A session buffer of parameter p's shape with zeroed host memory of its
   own, marked newer than the device's. */
static bool session_alloc(struct halide_buffer_t *buf, halide_dimension_t *dim,
                          int p) {
  const size_t bytes = (size_t)parameter_elements(p) * sizeof(float);
  float *host = calloc(1, bytes ? bytes : 1);
  if (!host)
    return false;
  describe_parameter(buf, dim, host, p);
  buf->flags |= halide_buffer_flag_host_dirty;
  return true;
}

static void session_release(struct halide_buffer_t *buf) {
  if (!buf->host)
    return;
  halide_device_free(NULL, buf);
  free(buf->host);
  buf->host = NULL;
}

EXPORT void cnnc_session_destroy(cnnc_session *session) {
  if (!session)
    return;
  for (int which = 0; which < 2; ++which)
    for (int p = 0; p < NUM_PARAMS; ++p) {
      session_release(&session->params[which][p]);
      session_release(&session->momentum[which][p]);
    }
  free(session);
}

/* Copies `data` into `buf`'s host memory, which becomes the newer copy. */
static void session_store(struct halide_buffer_t *buf, const float *data,
                          int p) {
  /* The device copy is now stale: give it back rather than keep both
     marked as newer. */
  halide_device_free(NULL, buf);
  memcpy(buf->host, data, (size_t)parameter_elements(p) * sizeof(float));
  buf->flags |= halide_buffer_flag_host_dirty;
}

/* Copies `buf` (made current on the host) to `data`. */
static cnnc_status session_load(struct halide_buffer_t *buf, float *data,
                                int p) {
  const unsigned long errors_before = halide_errors_so_far();
  const int rc = halide_copy_to_host(NULL, buf);
  if (rc != 0)
    return halide_failure(errors_before, rc);
  memcpy(data, buf->host, (size_t)parameter_elements(p) * sizeof(float));
  return CNNC_OK;
}

/* Whether the session keeps parameter p's momentum: a trainable one's, in a
   library with a training step (--inference-only leaves it out). */
static bool session_has_momentum(int p) {
  return kTrainPipeline && kParamTrainable[p];
}

EXPORT cnnc_status cnnc_session_create(const float *const *parameters,
                                       cnnc_session **session) {
  if (!parameters || !session)
    return CNNC_ERROR_NULL_ARGUMENT;
  for (int p = 0; p < NUM_PARAMS; ++p)
    if (!parameters[p])
      return CNNC_ERROR_NULL_ARGUMENT;
  cnnc_session *s = calloc(1, sizeof *s);
  if (!s)
    return runtime_error("out of memory");
  bool ok = true;
  for (int p = 0; p < NUM_PARAMS && ok; ++p) {
    ok = session_alloc(&s->params[0][p], s->param_dims[0][p], p);
    if (ok && kParamUpdated[p])
      ok = session_alloc(&s->params[1][p], s->param_dims[1][p], p);
    for (int which = 0; which < 2 && ok && session_has_momentum(p); ++which)
      ok = session_alloc(&s->momentum[which][p], s->momentum_dims[which][p], p);
    if (ok)
      memcpy(s->params[0][p].host, parameters[p],
             (size_t)parameter_elements(p) * sizeof(float));
  }
  if (!ok) {
    cnnc_session_destroy(s);
    return runtime_error("out of memory");
  }
  *session = s;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_session_train_step(cnnc_session *session, int64_t batch,
                                           const float *input,
                                           const int64_t *labels, float lr,
                                           float momentum_factor,
                                           float weight_decay, int32_t nesterov,
                                           float *loss) {
  if (!session)
    return CNNC_ERROR_NULL_ARGUMENT;
  cnnc_status status = check_train_call(batch, input, labels, loss);
  if (status != CNNC_OK)
    return status;
  const parameter_source source = {session, NULL, NULL, NULL, NULL};
  status = train_step_call(batch, input, labels, &source, lr, momentum_factor,
                           weight_decay, nesterov, session->steps == 0,
                           session->seed, session->steps, 0, loss);
  if (status != CNNC_OK)
    return status;
  /* The new values become the current ones; without momentum the step
     does not write the momentum buffers. */
  for (int p = 0; p < NUM_PARAMS; ++p) {
    if (kParamUpdated[p])
      session->current_param[p] = 1 - session->current_param[p];
    if (kParamTrainable[p] && momentum_factor != 0.0f)
      session->current_momentum[p] = 1 - session->current_momentum[p];
  }
  ++session->steps;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_session_set_seed(cnnc_session *session, uint64_t seed) {
  if (!session)
    return CNNC_ERROR_NULL_ARGUMENT;
  session->seed = seed;
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_session_forward(cnnc_session *session, int64_t batch,
                                        const float *input, float *output) {
  if (!session || !input || !output)
    return CNNC_ERROR_NULL_ARGUMENT;
  cnnc_status status = check_batch(batch);
  if (status != CNNC_OK)
    return status;
  if (batch < MIN_FORWARD_BATCH)
    return CNNC_ERROR_BAD_SHAPE;
  const parameter_source source = {session, NULL, NULL, NULL, NULL};
  return forward_call(batch, input, &source, output);
}

EXPORT cnnc_status cnnc_session_read(cnnc_session *session,
                                     float *const *parameters,
                                     float *const *momentum) {
  if (!session || !parameters)
    return CNNC_ERROR_NULL_ARGUMENT;
  for (int p = 0; p < NUM_PARAMS; ++p)
    if (!parameters[p] || (momentum && kParamTrainable[p] && !momentum[p]))
      return CNNC_ERROR_NULL_ARGUMENT;
  for (int p = 0; p < NUM_PARAMS; ++p) {
    cnnc_status status = session_load(
        &session->params[session->current_param[p]][p], parameters[p], p);
    if (status == CNNC_OK && momentum && session_has_momentum(p))
      status = session_load(&session->momentum[session->current_momentum[p]][p],
                            momentum[p], p);
    else if (status == CNNC_OK && momentum && kParamTrainable[p])
      memset(momentum[p], 0, (size_t)parameter_elements(p) * sizeof(float));
    if (status != CNNC_OK)
      return status;
  }
  return CNNC_OK;
}

EXPORT cnnc_status cnnc_session_write(cnnc_session *session,
                                      const float *const *parameters,
                                      const float *const *momentum,
                                      int64_t steps_taken) {
  if (!session || !parameters)
    return CNNC_ERROR_NULL_ARGUMENT;
  if (steps_taken < 0)
    return CNNC_ERROR_OUT_OF_RANGE;
  for (int p = 0; p < NUM_PARAMS; ++p)
    if (!parameters[p] || (momentum && kParamTrainable[p] && !momentum[p]))
      return CNNC_ERROR_NULL_ARGUMENT;
  for (int p = 0; p < NUM_PARAMS; ++p) {
    session_store(&session->params[session->current_param[p]][p], parameters[p],
                  p);
    if (momentum && session_has_momentum(p))
      session_store(&session->momentum[session->current_momentum[p]][p],
                    momentum[p], p);
  }
  session->steps = steps_taken;
  return CNNC_OK;
}
