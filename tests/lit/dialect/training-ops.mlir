// RUN: cnnc-opt %s -split-input-file -verify-diagnostics --cnn-infer-shapes | FileCheck %s
// Training ops round-trip, infer their types, and check consistency with
// the forward op they differentiate.

// CHECK-LABEL: func @ops
func @ops(%x: tensor<?x3x9x7xf32>, %dy: tensor<?x4x5x6xf32>, %logits: tensor<?x10xf32>, %labels: tensor<?xi64>) {
  %w = cnn.parameter "conv.weight" : tensor<4x3x3x2xf32>
  // CHECK: cnn.conv2d_input_grad {{.*}} -> tensor<?x3x9x7xf32>
  %0 = cnn.conv2d_input_grad %dy, %w {stride = [2, 1], padding = [1, 0], dilation = [1, 1], groups = 1, input_size = [9, 7]} : (tensor<?x4x5x6xf32>, tensor<4x3x3x2xf32>) -> tensor<*xf32>
  // CHECK: cnn.conv2d_weight_grad {{.*}} -> tensor<4x3x3x2xf32>
  %1 = cnn.conv2d_weight_grad %x, %dy {stride = [2, 1], padding = [1, 0], dilation = [1, 1], groups = 1, kernel_size = [3, 2]} : (tensor<?x3x9x7xf32>, tensor<?x4x5x6xf32>) -> tensor<4x3x3x2xf32>
  // CHECK: cnn.bias_grad {{.*}} -> tensor<4xf32>
  %2 = cnn.bias_grad %dy : (tensor<?x4x5x6xf32>) -> tensor<*xf32>
  // CHECK: cnn.cross_entropy {{.*}} -> tensor<f32>
  %3 = cnn.cross_entropy %logits, %labels : (tensor<?x10xf32>, tensor<?xi64>) -> tensor<*xf32>
  // CHECK: cnn.sgd_update %{{.*}}, %{{.*}} : tensor<4x3x3x2xf32>
  cnn.sgd_update %w, %1 : tensor<4x3x3x2xf32>
  return
}

// -----

func @wrong_grad(%dy: tensor<?x4x6x6xf32>) {
  %w = cnn.parameter "conv.weight" : tensor<4x3x3x2xf32>
  // expected-error @+1 {{conv2d gradient has shape [?, 4, 6, 6] but the forward result is [?, 4, 5, 6]}}
  %0 = cnn.conv2d_input_grad %dy, %w {stride = [2, 1], padding = [1, 0], dilation = [1, 1], groups = 1, input_size = [9, 7]} : (tensor<?x4x6x6xf32>, tensor<4x3x3x2xf32>) -> tensor<*xf32>
  return
}

// -----

func @frozen_update(%g: tensor<4xf32>) {
  %b = cnn.parameter "conv.bias" {frozen} : tensor<4xf32>
  // expected-error @+1 {{'cnn.sgd_update' op updates the frozen parameter 'conv.bias'}}
  cnn.sgd_update %b, %g : tensor<4xf32>
  return
}

// -----

func @labels(%logits: tensor<?x10xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{cannot unflatten [?, 10] to [3, 3]}}
  %0 = cnn.unflatten %logits {shape = [3, 3]} : (tensor<?x10xf32>) -> tensor<*xf32>
  return
}

// -----

func @bn_channels(%x: tensor<?x4x5x6xf32>) {
  %w = cnn.parameter "bn.weight" : tensor<3xf32>
  %m = cnn.parameter "bn.running_mean" {buffer} : tensor<4xf32>
  // expected-error @+1 {{'cnn.batchnorm2d' weight must have shape [4] (one value per input channel) but has [3]}}
  %y = cnn.batchnorm2d %x, %w, %m, %m, %m {eps = 1.0e-5 : f64, momentum = 0.1 : f64, training = false} : (tensor<?x4x5x6xf32>, tensor<3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func @bn_grad(%x: tensor<?x4x5x6xf32>, %dy: tensor<?x4x5x5xf32>) {
  %m = cnn.parameter "bn.running_mean" {buffer} : tensor<4xf32>
  // expected-error @+1 {{batchnorm2d gradient has shape [?, 4, 5, 5] but the forward result is [?, 4, 5, 6]}}
  %0 = cnn.batchnorm2d_weight_grad %x, %dy, %m, %m {eps = 1.0e-5 : f64, training = true} : (tensor<?x4x5x6xf32>, tensor<?x4x5x5xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func @stats_of_a_parameter(%x: tensor<?x4x5x6xf32>) {
  %w = cnn.parameter "bn.weight" : tensor<4xf32>
  %v = cnn.parameter "bn.running_var" {buffer} : tensor<4xf32>
  // expected-error @+1 {{'cnn.batchnorm2d_stats_update' op must update values defined by cnn.parameter {buffer}}}
  cnn.batchnorm2d_stats_update %x, %w, %v {momentum = 0.1 : f64} : tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func @stats_momentum(%x: tensor<?x4x5x6xf32>) {
  %v = cnn.parameter "bn.running_var" {buffer} : tensor<4xf32>
  // expected-error @+1 {{momentum must be in [0, 1], got 2}}
  cnn.batchnorm2d_stats_update %x, %v, %v {momentum = 2.0 : f64} : tensor<?x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func @stats_channels(%x: tensor<?x4x5x6xf32>) {
  %v = cnn.parameter "bn.running_var" {buffer} : tensor<5xf32>
  // expected-error @+1 {{running_mean must have shape [4] (one value per input channel) but has [5]}}
  cnn.batchnorm2d_stats_update %x, %v, %v {momentum = 0.1 : f64} : tensor<?x4x5x6xf32>, tensor<5xf32>, tensor<5xf32>
  return
}

// -----

func @buffer_update(%g: tensor<4xf32>) {
  %m = cnn.parameter "bn.running_mean" {buffer} : tensor<4xf32>
  // expected-error @+1 {{'cnn.sgd_update' op updates the buffer 'bn.running_mean', which is never trained}}
  cnn.sgd_update %m, %g : tensor<4xf32>
  return
}

// -----

// expected-error @+2 {{'cnn.parameter' op is a buffer, which is never trained: {frozen} does not apply}}
func @frozen_buffer() {
  %m = cnn.parameter "bn.running_mean" {buffer, frozen} : tensor<4xf32>
  return
}
