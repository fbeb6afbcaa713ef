// Dispatch over every op ODS generates to its lowerOp (OpLowerings.h). An
// op without one compiles (so a new op can be built up piece by piece) but
// is reported by opsWithoutHalideLowering, and by the lowering if a network
// uses it.
#include "OpLowerings.h"

#include "cnnc/lowering/HalideLowering.h"

#include <type_traits>
#include <utility>

using namespace mlir;

namespace cnnc::lowering {
namespace {

template <typename OpTy, typename = void>
struct HasLowering : std::false_type {};
template <typename OpTy>
struct HasLowering<
    OpTy, std::void_t<decltype(lowerOp(std::declval<OpTy>(),
                                       std::declval<LoweringContext &>()))>>
    : std::true_type {};

template <typename... Ops> struct OpList {
  static bool lower(Operation *op, LoweringContext &cx) {
    return (lowerAs<Ops>(op, cx) || ...);
  }
  static std::vector<std::string> withoutLowering() {
    std::vector<std::string> names;
    (
        [&] {
          if (!HasLowering<Ops>::value)
            names.push_back(Ops::getOperationName().str());
        }(),
        ...);
    return names;
  }

private:
  template <typename OpTy>
  static bool lowerAs(Operation *op, LoweringContext &cx) {
    if constexpr (HasLowering<OpTy>::value) {
      if (auto typed = dyn_cast<OpTy>(op)) {
        lowerOp(typed, cx);
        return true;
      }
    }
    return false;
  }
};

using CnnOps = OpList<
#define GET_OP_LIST
#include "cnn/CnnOps.cpp.inc"
    >;

} // namespace

bool lowerOperation(Operation *op, LoweringContext &cx) {
  return CnnOps::lower(op, cx);
}

} // namespace cnnc::lowering

std::vector<std::string> cnnc::opsWithoutHalideLowering() {
  return lowering::CnnOps::withoutLowering();
}
