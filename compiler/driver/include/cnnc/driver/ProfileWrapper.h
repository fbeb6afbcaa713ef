// The extra C ABI of a library built with `--profile` (Halide's Profile
// target feature): Halide's sampling profiler's per-Func statistics and a
// table of the network's layers, read by `cnnc bench`. These functions are
// not part of model_abi.h and a normal library does not have them; they are
// named cnnc_profile_* because the version script exports only cnnc_*.
//
//   cnnc_status cnnc_profile_reset(void);
//     Forgets every statistic so far (call it while no pipeline runs).
//   cnnc_status cnnc_profile_count(int32_t *count);
//     Takes a snapshot of the statistics of the pipelines that have run
//     since the last reset: one entry per (pipeline, Func).
//   cnnc_status cnnc_profile_entry(int32_t index, const char **pipeline,
//                                  const char **func, double *seconds,
//                                  int32_t *runs, int32_t *samples);
//     Entry `index` of the last snapshot: pipeline "forward" or
//     "train_step", Halide's Func name, its total time over `runs` calls in
//     seconds, and the number of samples the pipeline took.
//   cnnc_status cnnc_profile_layer_count(int32_t *count);
//   cnnc_status cnnc_profile_layer(int32_t index, const char **func,
//                                  const char **name, const char **kind,
//                                  double *flops);
//     The ops of the forward pass and the training step, and the
//     parameters, as the lowering made them (ProfiledOp): the prefix of
//     their Funcs' names ("stage_0_conv", "stage_0_conv_conv2d_input_grad"),
//     the row they are reported under ("stage.0.conv", "stage.0.conv
//     conv2d_input_grad"), the cnn op ("conv2d_input_grad") and its FLOPs per
//     sample (0 where not counted: only cnn::FlopCountOp ops are).
#ifndef CNNC_DRIVER_PROFILEWRAPPER_H
#define CNNC_DRIVER_PROFILEWRAPPER_H

#include "cnnc/lowering/HalideLowering.h"

#include <string>
#include <vector>

namespace cnnc {

/// The part of model_tables.h that makes the wrapper add the functions
/// above (compiler/driver/wrapper/profile.c): CNNC_PROFILE and the table of
/// `ops`.
std::string emitProfileTables(const std::vector<ProfiledOp> &ops);

} // namespace cnnc

#endif // CNNC_DRIVER_PROFILEWRAPPER_H
