// RUN: cnnc-opt --cnn-infer-shapes %s | FileCheck %s
// Results written unranked are refined from the shape rules, and the
// function's result type follows.

// CHECK-LABEL: func @lenet_head
// CHECK-SAME: -> tensor<?x10xf32>
func @lenet_head(%x: tensor<?x3x32x32xf32>) -> tensor<*xf32> {
  %w1 = cnn.parameter "conv1.weight" : tensor<6x3x5x5xf32>
  %b1 = cnn.parameter "conv1.bias" : tensor<6xf32>
  // CHECK: cnn.conv2d {{.*}} -> tensor<?x6x28x28xf32>
  %0 = cnn.conv2d %x, %w1, %b1 {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x32x32xf32>, tensor<6x3x5x5xf32>, tensor<6xf32>) -> tensor<*xf32>
  // CHECK: cnn.relu {{.*}} -> tensor<?x6x28x28xf32>
  %1 = cnn.relu %0 : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: cnn.maxpool2d {{.*}} -> tensor<?x6x14x14xf32>
  %2 = cnn.maxpool2d %1 {kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], dilation = [1, 1]} : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: cnn.flatten {{.*}} -> tensor<?x1176xf32>
  %3 = cnn.flatten %2 : (tensor<*xf32>) -> tensor<*xf32>
  %w2 = cnn.parameter "fc.weight" : tensor<10x1176xf32>
  // CHECK: cnn.linear {{.*}} -> tensor<?x10xf32>
  %4 = cnn.linear %3, %w2 : (tensor<*xf32>, tensor<10x1176xf32>) -> tensor<*xf32>
  // CHECK: return {{.*}} : tensor<?x10xf32>
  return %4 : tensor<*xf32>
}

// Dilation, stride, groups and a non-square kernel on a non-square input:
// H = (11 + 2*1 - 2*(3-1) - 1)/2 + 1 = 5, W = (8 + 0 - 1*(2-1) - 1)/1 + 1 = 7.
// CHECK-LABEL: func @grouped
func @grouped(%x: tensor<?x4x11x8xf32>) -> tensor<*xf32> {
  %w = cnn.parameter "g.weight" : tensor<6x2x3x2xf32>
  // CHECK: cnn.conv2d {{.*}} -> tensor<?x6x5x7xf32>
  %0 = cnn.conv2d %x, %w {stride = [2, 1], padding = [1, 0], dilation = [2, 1], groups = 2} : (tensor<?x4x11x8xf32>, tensor<6x2x3x2xf32>) -> tensor<*xf32>
  // Adaptive pooling to a size that does not divide the input.
  // CHECK: cnn.adaptive_avgpool2d {{.*}} -> tensor<?x6x3x2xf32>
  %1 = cnn.adaptive_avgpool2d %0 {output_size = [3, 2]} : (tensor<*xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}
