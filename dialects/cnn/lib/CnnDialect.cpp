#include "cnn/CnnDialect.h"

using namespace mlir;

#include "cnn/CnnDialect.cpp.inc"

void cnn::CnnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "cnn/CnnOps.cpp.inc"
      >();
}
