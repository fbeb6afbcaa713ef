// RUN: cnnc-opt --cnn-training-pipeline %s | FileCheck %s
// RUN: cnnc-opt --cnn-training-pipeline %s | FileCheck %s --check-prefix=PRUNED \
// RUN:   --implicit-check-not=cnn.conv2d_input_grad --implicit-check-not=cnn.relu_grad
// The training pipeline that cnnc runs, on forward IR written by hand with
// its results left unranked: shapes are inferred first, then func @train_step
// gets the loss, the gradient of each op that leads to a trainable parameter
// and one SGD update per trainable parameter. conv1 is frozen, so nothing is
// built that only it would need: no gradient of conv2's input, of relu1 or of
// conv1.

module @hand_written {
  func @forward(%x: tensor<?x1x10x10xf32>) -> tensor<*xf32> {
    %w1 = cnn.parameter "conv1.weight" {frozen} : tensor<4x1x3x3xf32>
    %b1 = cnn.parameter "conv1.bias" {frozen} : tensor<4xf32>
    %0 = cnn.conv2d %x, %w1, %b1 {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x1x10x10xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<*xf32>
    %1 = cnn.relu %0 : (tensor<*xf32>) -> tensor<*xf32>
    %w2 = cnn.parameter "conv2.weight" : tensor<8x4x3x3xf32>
    %2 = cnn.conv2d %1, %w2 {stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1} : (tensor<*xf32>, tensor<8x4x3x3xf32>) -> tensor<*xf32>
    %3 = cnn.tanh %2 : (tensor<*xf32>) -> tensor<*xf32>
    %4 = cnn.maxpool2d %3 {kernel_size = [2, 2], stride = [2, 2], padding = [0, 0], dilation = [1, 1]} : (tensor<*xf32>) -> tensor<*xf32>
    %5 = cnn.flatten %4 : (tensor<*xf32>) -> tensor<*xf32>
    %w3 = cnn.parameter "fc.weight" : tensor<3x128xf32>
    %b3 = cnn.parameter "fc.bias" : tensor<3xf32>
    %6 = cnn.linear %5, %w3, %b3 : (tensor<*xf32>, tensor<3x128xf32>, tensor<3xf32>) -> tensor<*xf32>
    return %6 : tensor<*xf32>
  }
}

// CHECK-LABEL: func @forward(%arg0: tensor<?x1x10x10xf32>) -> tensor<?x3xf32>
// CHECK: cnn.conv2d {{.*}} -> tensor<?x4x8x8xf32>
// CHECK: cnn.conv2d {{.*}} -> tensor<?x8x8x8xf32>
// CHECK: cnn.flatten {{.*}} -> tensor<?x128xf32>

// CHECK-LABEL: func @train_step(%arg0: tensor<?x1x10x10xf32>, %arg1: tensor<?xi64>) -> tensor<f32>
// CHECK: cnn.parameter "conv1.weight" {frozen}
// CHECK: %[[W2:.*]] = cnn.parameter "conv2.weight" : tensor<8x4x3x3xf32>
// CHECK: %[[FCW:.*]] = cnn.parameter "fc.weight" : tensor<3x128xf32>
// CHECK: %[[FCB:.*]] = cnn.parameter "fc.bias" : tensor<3xf32>
// CHECK: %[[LOGITS:.*]] = cnn.linear
// CHECK: %[[LOSS:.*]] = cnn.cross_entropy %[[LOGITS]], %arg1
// CHECK: %[[DLOGITS:.*]] = cnn.cross_entropy_grad %[[LOGITS]], %arg1
// CHECK: %[[DFLAT:.*]] = cnn.linear_input_grad %[[DLOGITS]], %[[FCW]]
// CHECK: %[[DFCW:.*]] = cnn.linear_weight_grad {{.*}}, %[[DLOGITS]] {{.*}} -> tensor<3x128xf32>
// CHECK: %[[DFCB:.*]] = cnn.bias_grad %[[DLOGITS]] {{.*}} -> tensor<3xf32>
// CHECK: cnn.unflatten %[[DFLAT]] {shape = [8, 4, 4]}
// CHECK: cnn.maxpool2d_grad
// CHECK: cnn.tanh_grad
// CHECK: %[[DW2:.*]] = cnn.conv2d_weight_grad {{.*}} -> tensor<8x4x3x3xf32>
// CHECK: cnn.sgd_update %[[W2]], %[[DW2]]
// CHECK: cnn.sgd_update %[[FCW]], %[[DFCW]]
// CHECK: cnn.sgd_update %[[FCB]], %[[DFCB]]
// CHECK-NOT: cnn.sgd_update
// CHECK: return %[[LOSS]] : tensor<f32>

// PRUNED-LABEL: func @train_step
// PRUNED: cnn.tanh_grad
// PRUNED: cnn.conv2d_weight_grad
