// Learning rate per epoch, as torch.optim.lr_scheduler computes it when
// scheduler.step() is called once after each epoch.
#ifndef CNNC_TRAIN_LRSCHEDULE_H
#define CNNC_TRAIN_LRSCHEDULE_H

#include "cnnc/train/Recipe.h"

#include <cstdint>

namespace cnnc::rt {

// The learning rate of epoch `epoch` (0-based) for base rate `baseLr`:
//   constant: baseLr
//   StepLR:   baseLr * gamma^(epoch / step_size)   (integer division)
//   CosineAnnealingLR (its closed form):
//             eta_min + (baseLr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
// In double, as Python computes it; a pure function of its arguments, so a
// resumed run gets the same rates as an uninterrupted one.
double learningRate(const LrScheduleSpec &schedule, double baseLr,
                    int64_t epoch);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_LRSCHEDULE_H
