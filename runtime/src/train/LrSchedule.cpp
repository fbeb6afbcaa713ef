#include "cnnc/train/LrSchedule.h"

#include <cmath>

namespace cnnc::rt {

double learningRate(const LrScheduleSpec &s, double baseLr, int64_t epoch) {
  switch (s.kind) {
  case LrScheduleKind::Constant:
    return baseLr;
  case LrScheduleKind::Step:
    return baseLr * std::pow(s.gamma, static_cast<double>(epoch / s.stepSize));
  case LrScheduleKind::Cosine: {
    const double pi = 3.141592653589793; // math.pi
    return s.etaMin + (baseLr - s.etaMin) *
                          (1 + std::cos(pi * static_cast<double>(epoch) /
                                        static_cast<double>(s.tMax))) /
                          2;
  }
  }
  return baseLr;
}

} // namespace cnnc::rt
