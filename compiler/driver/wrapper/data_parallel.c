/* The training step in two halves, for data-parallel training
 * (cnnc_gradient_step and cnnc_sgd_update in cnnc/model_abi.h): the
 * gradients of a batch, then the SGD update from gradients the caller may
 * have averaged across processes in between.
 *
 * The gradient step runs the fused training pipeline with hyper-parameters
 * that make its new momentum the gradient itself: weight decay 0 (the
 * pipeline then adds nothing to the gradient), momentum factor 1 and torch's
 * first step (v = g, with no read of the old buffer's value). One pipeline
 * serves both uses, so the library compiles nothing more; the price is the
 * discarded new parameters (lr 0), written to a scratch block from the
 * library's allocator (halide_malloc, cached). Included by model_abi.c after
 * the calls it shares with the fused step; session.c defines
 * parameter_elements. */

/* The scratch block for the new values of the trainable parameters, one
   after the other; NULL when out of memory. */
static float *discarded_parameters(float **slices) {
  int64_t total = 0;
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kParamTrainable[i])
      total += parameter_elements(i);
  float *block =
      halide_malloc(NULL, (size_t)(total ? total : 1) * sizeof(float));
  int64_t offset = 0;
  for (int i = 0; i < NUM_PARAMS; ++i) {
    slices[i] = NULL;
    if (block && kParamTrainable[i]) {
      slices[i] = block + offset;
      offset += parameter_elements(i);
    }
  }
  return block;
}

EXPORT cnnc_status cnnc_gradient_step(int64_t batch, const float *input,
                                      const int64_t *labels,
                                      const float *const *parameters,
                                      float *const *gradients,
                                      float *const *new_buffers, uint64_t seed,
                                      int64_t step, int64_t first_sample,
                                      float *loss) {
  cnnc_status status = check_train_call(batch, input, labels, loss);
  if (status != CNNC_OK)
    return status;
  if (!parameters || !gradients || !new_buffers)
    return CNNC_ERROR_NULL_ARGUMENT;
  for (int i = 0; i < NUM_PARAMS; ++i) {
    if (!parameters[i] || (kParamTrainable[i] && !gradients[i]))
      return CNNC_ERROR_NULL_ARGUMENT;
    if (kParamUpdated[i] && !kParamTrainable[i] && !new_buffers[i])
      return CNNC_ERROR_NULL_ARGUMENT;
  }
  float *scratch[NUM_PARAMS + 1];
  float *block = discarded_parameters(scratch);
  if (!block)
    return runtime_error("out of memory for the gradient step's scratch");
  float *new_parameters[NUM_PARAMS + 1];
  for (int i = 0; i < NUM_PARAMS; ++i)
    new_parameters[i] = kParamTrainable[i] ? scratch[i] : new_buffers[i];
  /* The old momentum is never read for its value on torch's first step;
     the parameters stand in for it (no aliasing with an output). */
  const parameter_source source = {NULL, parameters, parameters, new_parameters,
                                   gradients};
  status = train_step_call(batch, input, labels, &source, 0.0f, 1.0f, 0.0f, 0,
                           1, seed, step, first_sample, loss);
  halide_free(NULL, block);
  return status;
}

/* One parameter's update, as compiler/halide/lib/Optimizer.cpp computes
   it in the fused step. */
static void sgd_update_one(int64_t n, const float *p, const float *v,
                           const float *grad, float *p_new, float *v_new,
                           float lr, float mu, float wd, bool nesterov,
                           bool first) {
  for (int64_t k = 0; k < n; ++k) {
    const float g = wd != 0.0f ? grad[k] + wd * p[k] : grad[k];
    float d = g;
    if (mu != 0.0f) {
      const float velocity = first ? g : mu * v[k] + g;
      v_new[k] = velocity;
      d = nesterov ? g + mu * velocity : velocity;
    }
    p_new[k] = p[k] - lr * d;
  }
}

EXPORT cnnc_status cnnc_sgd_update(const float *const *parameters,
                                   const float *const *momentum,
                                   const float *const *gradients,
                                   float *const *new_parameters,
                                   float *const *new_momentum, float lr,
                                   float momentum_factor, float weight_decay,
                                   int32_t nesterov, int32_t first_step) {
  if (!parameters || !gradients || !new_parameters)
    return CNNC_ERROR_NULL_ARGUMENT;
  const bool uses_momentum = momentum_factor != 0.0f;
  if (uses_momentum && (!momentum || !new_momentum))
    return CNNC_ERROR_NULL_ARGUMENT;
  for (int i = 0; i < NUM_PARAMS; ++i) {
    if (!kParamTrainable[i])
      continue;
    if (!parameters[i] || !gradients[i] || !new_parameters[i])
      return CNNC_ERROR_NULL_ARGUMENT;
    if (uses_momentum && (!momentum[i] || !new_momentum[i]))
      return CNNC_ERROR_NULL_ARGUMENT;
  }
  for (int i = 0; i < NUM_PARAMS; ++i)
    if (kParamTrainable[i])
      sgd_update_one(parameter_elements(i), parameters[i],
                     uses_momentum ? momentum[i] : NULL, gradients[i],
                     new_parameters[i], uses_momentum ? new_momentum[i] : NULL,
                     lr, momentum_factor, weight_decay, nesterov != 0,
                     first_step != 0);
  return CNNC_OK;
}
