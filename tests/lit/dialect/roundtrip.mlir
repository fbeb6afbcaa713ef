// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s
// Every op prints in a form that parses back to the same IR.

// CHECK-LABEL: func @all_ops
func @all_ops(%x: tensor<?x3x9x7xf32>) -> tensor<?x5xf32> {
  // CHECK: %[[W:.*]] = cnn.parameter "conv.weight" : tensor<4x3x3x2xf32>
  %w = cnn.parameter "conv.weight" : tensor<4x3x3x2xf32>
  // CHECK: cnn.conv2d %{{.*}}, %[[W]] {dilation = [1, 1], groups = 1 : i64, padding = [1, 0], stride = [2, 1]}
  // CHECK-SAME: (tensor<?x3x9x7xf32>, tensor<4x3x3x2xf32>) -> tensor<?x4x5x6xf32>
  %0 = cnn.conv2d %x, %w {stride = [2, 1], padding = [1, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x9x7xf32>, tensor<4x3x3x2xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.relu
  %1 = cnn.relu %0 : (tensor<?x4x5x6xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.tanh
  %2 = cnn.tanh %1 : (tensor<?x4x5x6xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.sigmoid
  %3 = cnn.sigmoid %2 : (tensor<?x4x5x6xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.maxpool2d %{{.*}} {dilation = [1, 1], kernel_size = [2, 2], padding = [1, 1], stride = [2, 2]}
  %4 = cnn.maxpool2d %3 {kernel_size = [2, 2], stride = [2, 2], padding = [1, 1], dilation = [1, 1]} : (tensor<?x4x5x6xf32>) -> tensor<?x4x3x4xf32>
  // CHECK: cnn.avgpool2d %{{.*}} {count_include_pad = false
  %5 = cnn.avgpool2d %4 {kernel_size = [1, 1], stride = [1, 1], padding = [0, 0], count_include_pad = false} : (tensor<?x4x3x4xf32>) -> tensor<?x4x3x4xf32>
  // CHECK: cnn.adaptive_avgpool2d %{{.*}} {output_size = [1, 1]}
  %6 = cnn.adaptive_avgpool2d %5 {output_size = [1, 1]} : (tensor<?x4x3x4xf32>) -> tensor<?x4x1x1xf32>
  // CHECK: cnn.flatten %{{.*}} : (tensor<?x4x1x1xf32>) -> tensor<?x4xf32>
  %7 = cnn.flatten %6 : (tensor<?x4x1x1xf32>) -> tensor<?x4xf32>
  %fw = cnn.parameter "fc.weight" : tensor<5x4xf32>
  %fb = cnn.parameter "fc.bias" : tensor<5xf32>
  // CHECK: cnn.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %8 = cnn.linear %7, %fw, %fb : (tensor<?x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  return %8 : tensor<?x5xf32>
}

// -----

// CHECK-LABEL: func @batchnorm
func @batchnorm(%x: tensor<?x4x5x6xf32>, %dy: tensor<?x4x5x6xf32>) -> tensor<?x4x5x6xf32> {
  %w = cnn.parameter "bn.weight" : tensor<4xf32>
  %b = cnn.parameter "bn.bias" : tensor<4xf32>
  // CHECK: %[[M:.*]] = cnn.parameter "bn.running_mean" {buffer} : tensor<4xf32>
  %m = cnn.parameter "bn.running_mean" {buffer} : tensor<4xf32>
  %v = cnn.parameter "bn.running_var" {buffer} : tensor<4xf32>
  // CHECK: cnn.batchnorm2d %{{.*}}, %{{.*}}, %{{.*}}, %[[M]], %{{.*}} {eps = 1.000000e-05 : f64, momentum = 1.000000e-01 : f64, training = true}
  // CHECK-SAME: -> tensor<?x4x5x6xf32>
  %y = cnn.batchnorm2d %x, %w, %b, %m, %v {eps = 1.0e-5 : f64, momentum = 0.1 : f64, training = true} : (tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.batchnorm2d_input_grad {{.*}} -> tensor<?x4x5x6xf32>
  %dx = cnn.batchnorm2d_input_grad %x, %dy, %w, %m, %v {eps = 1.0e-5 : f64, training = true} : (tensor<?x4x5x6xf32>, tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x5x6xf32>
  // CHECK: cnn.batchnorm2d_weight_grad {{.*}} -> tensor<4xf32>
  %dw = cnn.batchnorm2d_weight_grad %x, %dy, %m, %v {eps = 1.0e-5 : f64, training = true} : (tensor<?x4x5x6xf32>, tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  // CHECK: cnn.batchnorm2d_stats_update %{{.*}}, %[[M]], %{{.*}} {momentum = 1.000000e-01 : f64} : tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  cnn.batchnorm2d_stats_update %x, %m, %v {momentum = 0.1 : f64} : tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  return %y : tensor<?x4x5x6xf32>
}
