// Malformed .mlir networks: every problem is reported at its place in the
// file (FILE:LINE:COL: error: with the source line), nothing is built, and
// cnnc exits with status 1, in every command that reads a network.

// RUN: not cnnc %S/Inputs/syntax.mlir --emit mlir 2>&1 | FileCheck %s --check-prefix=SYNTAX
// SYNTAX: syntax.mlir:{{[0-9]+}}:{{[0-9]+}}: error: expected

// RUN: not cnnc %S/Inputs/no-forward.mlir --emit mlir 2>&1 | FileCheck %s --check-prefix=NOFWD
// RUN: not cnnc summary %S/Inputs/no-forward.mlir 2>&1 | FileCheck %s --check-prefix=NOFWD
// RUN: not cnnc %S/Inputs/no-forward.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=NOFWD
// RUN: cnnc %S/Inputs/no-forward.mlir --emit shapes 2>/dev/null; test $? -eq 1
// RUN: test ! -e %t.so
// NOFWD: no-forward.mlir:1:1: error: no func @forward; a cnnc network is func @forward(%input: tensor<?xCxHxWxf32>) -> tensor<?xKxf32> of cnn ops
// NOFWD-NEXT: module @named {
// NOFWD-NEXT: ^

// RUN: not cnnc %S/Inputs/shapes.mlir --emit shapes 2>&1 | FileCheck %s --check-prefix=SHAPES
// SHAPES: shapes.mlir:4:8: error: 'cnn.conv2d' weight shape [4, 3, 3, 3] expects 3 input channels but the input has 1

// RUN: not cnnc %S/Inputs/fixed-batch.mlir --emit header 2>&1 | FileCheck %s --check-prefix=BATCH
// BATCH: fixed-batch.mlir:2:1: error: func @forward takes 'tensor<2x4xf32>'; expected float32 images tensor<?xCxHxWxf32> (or features tensor<?xFxf32>) with the batch size unknown

// RUN: not cnnc %S/Inputs/not-cnn.mlir --emit train-mlir 2>&1 | FileCheck %s --check-prefix=NOTCNN
// NOTCNN: not-cnn.mlir:8:12: error: parameter 'fc.weight' is defined twice; a weights file holds one tensor per name
// NOTCNN: not-cnn.mlir:7:8: note: first defined here
// NOTCNN: not-cnn.mlir:9:8: error: 'std.call' is not an op of the cnn dialect; func @forward holds cnn ops only

// RUN: not cnnc %S/Inputs/no-logits.mlir --emit mlir 2>&1 | FileCheck %s --check-prefix=LOGITS
// LOGITS: no-logits.mlir:2:1: error: func @forward returns 'tensor<3x4xf32>'; expected float32 logits tensor<?xKxf32> (or tensor<?xCxHxWxf32>)

// RUN: not cnnc bench %S/Inputs/shapes.mlir --runs 3 2>&1 | FileCheck %s --check-prefix=BENCH
// BENCH: shapes.mlir:4:8: error: 'cnn.conv2d' weight shape
// BENCH: cnnc bench: error: {{.*}}shapes.mlir: the network has errors (see above)

// RUN: not cnnc %t.does-not-exist.mlir --emit mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: cannot read '{{.*}}does-not-exist.mlir'
