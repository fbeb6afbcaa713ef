// A network written by hand in the cnn dialect goes wherever a YAML network
// goes: the module has no name, so it is named after the file; the results
// are left unranked, so every shape printed comes from shape inference.
// RUN: cnnc %s --emit mlir | FileCheck %s --check-prefix=MLIR
// RUN: cnnc %s --emit shapes | FileCheck %s --check-prefix=SHAPES
// RUN: cnnc %s --emit header | FileCheck %s --check-prefix=HEADER
// RUN: cnnc %s --emit train-mlir | FileCheck %s --check-prefix=TRAIN
// RUN: cnnc %s --emit halide-stmt | FileCheck %s --check-prefix=STMT
// RUN: cnnc summary %s | FileCheck %s --check-prefix=SUMMARY

// Compiled and run, it computes what the same network written in YAML does.
// RUN: rm -rf %t && mkdir -p %t
// RUN: cnnc %s -o %t/mlir.so
// RUN: cnnc %S/Inputs/network.yaml -o %t/yaml.so
// RUN: cnnc init %t/mlir.so -o %t/w.safetensors --seed 3 | FileCheck %s --check-prefix=INIT
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32))"
// RUN: cnnc run %t/mlir.so --weights %t/w.safetensors --input %t/x.npy -o %t/y_mlir.npy | FileCheck %s --check-prefix=OUT
// RUN: cnnc run %t/yaml.so --weights %t/w.safetensors --input %t/x.npy -o %t/y_yaml.npy
// RUN: cmp %t/y_mlir.npy %t/y_yaml.npy
// RUN: env XDG_CACHE_HOME=%t/cache cnnc bench %s --threads 1 --runs 3 --profile-time 0.1 --json 2>/dev/null | FileCheck %s --check-prefix=BENCH

func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<*xf32> {
  %w1 = cnn.parameter "conv1.weight" : tensor<4x1x3x3xf32>
  %b1 = cnn.parameter "conv1.bias" : tensor<4xf32>
  %0 = cnn.conv2d %x, %w1, %b1 {stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1} : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<*xf32> loc("conv1")
  %1 = cnn.relu %0 : (tensor<*xf32>) -> tensor<*xf32>
  %2 = cnn.maxpool2d %1 {kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], dilation = [1, 1]} : (tensor<*xf32>) -> tensor<*xf32>
  %3 = cnn.flatten %2 : (tensor<*xf32>) -> tensor<*xf32>
  %w2 = cnn.parameter "fc.weight" : tensor<2x64xf32>
  %b2 = cnn.parameter "fc.bias" : tensor<2xf32>
  %4 = cnn.linear %3, %w2, %b2 : (tensor<*xf32>, tensor<2x64xf32>, tensor<2xf32>) -> tensor<*xf32> loc("fc")
  return %4 : tensor<*xf32>
}

// MLIR: module @network {
// MLIR: func @forward(%arg0: tensor<?x1x8x8xf32>) -> tensor<?x2xf32>
// MLIR: cnn.conv2d {{.*}} -> tensor<?x4x8x8xf32>
// MLIR: cnn.relu {{.*}} -> tensor<?x4x8x8xf32>
// MLIR: cnn.maxpool2d {{.*}} -> tensor<?x4x4x4xf32>
// MLIR: cnn.flatten {{.*}} -> tensor<?x64xf32>
// MLIR: cnn.linear {{.*}} -> tensor<?x2xf32>
// MLIR-NOT: train_step

// SHAPES:      input [?, 1, 8, 8]
// SHAPES-NEXT: conv1 conv2d [?, 4, 8, 8]
// SHAPES-NEXT: relu relu [?, 4, 8, 8]
// SHAPES-NEXT: maxpool2d maxpool2d [?, 4, 4, 4]
// SHAPES-NEXT: flatten flatten [?, 64]
// SHAPES-NEXT: fc linear [?, 2]

// HEADER: #define CNNC_NETWORK_INPUT_SIZE 64 /* floats per sample, shape [N, 1, 8, 8] */
// HEADER: #define CNNC_NETWORK_OUTPUT_SIZE 2 /* floats per sample, shape [N, 2] */
// HEADER: #define CNNC_NETWORK_NUM_PARAMETERS 4

// TRAIN-LABEL: func @train_step(%arg0: tensor<?x1x8x8xf32>, %arg1: tensor<?xi64>) -> tensor<f32>
// TRAIN: cnn.cross_entropy
// TRAIN: cnn.linear_weight_grad {{.*}} -> tensor<2x64xf32>
// TRAIN: cnn.conv2d_weight_grad {{.*}} -> tensor<4x1x3x3xf32>
// TRAIN-COUNT-4: cnn.sgd_update
// TRAIN-NOT: cnn.sgd_update

// STMT: produce conv1_accum

// SUMMARY: network network, input [?, 1, 8, 8] (? = batch)
// SUMMARY: conv1 conv2d [?, 4, 8, 8] 40 4,864 3x3 1x1
// SUMMARY: fc linear [?, 2] 130 258 all -
// SUMMARY: total parameters: 170

// INIT: wrote {{.*}}w.safetensors: 4 tensors, 170 parameters (seed 3)
// OUT: wrote {{.*}}y_mlir.npy: [3, 2]
// BENCH: "network": "network"
// BENCH: "schedule": "manual"
// BENCH: "name": "conv1"
