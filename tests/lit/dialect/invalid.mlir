// RUN: cnnc-opt %s -split-input-file -verify-diagnostics
// Each op's verifier reports the shape rule's message at the op.

func @wrong_result(%x: tensor<?x3x32x32xf32>, %w: tensor<6x3x5x5xf32>) {
  // expected-error @+1 {{inferred type(s) 'tensor<?x6x28x28xf32>' are incompatible with return type(s) of operation 'tensor<?x6x27x28xf32>'}}
  %0 = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x32x32xf32>, tensor<6x3x5x5xf32>) -> tensor<?x6x27x28xf32>
  return
}

// -----

func @kernel_too_large(%x: tensor<?x3x4x4xf32>, %w: tensor<6x3x5x5xf32>) {
  // expected-error @+1 {{'cnn.conv2d' kernel height 5 is larger than the padded input height 4}}
  %0 = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x4x4xf32>, tensor<6x3x5x5xf32>) -> tensor<*xf32>
  return
}

// -----

func @groups(%x: tensor<?x3x8x8xf32>, %w: tensor<6x1x3x3xf32>) {
  // expected-error @+1 {{in_channels 3 is not divisible by groups 2}}
  %0 = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 2} : (tensor<?x3x8x8xf32>, tensor<6x1x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func @channels(%x: tensor<?x3x8x8xf32>, %w: tensor<6x4x3x3xf32>) {
  // expected-error @+1 {{weight shape [6, 4, 3, 3] expects 4 input channels but the input has 3}}
  %0 = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x8x8xf32>, tensor<6x4x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func @bad_stride(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf32>) {
  // expected-error @+1 {{stride must be at least 1, got [0, 1]}}
  %0 = cnn.conv2d %x, %w {stride = [0, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func @linear_rank(%x: tensor<?x3x8x8xf32>, %w: tensor<10x192xf32>) {
  // expected-error @+1 {{linear input must have rank 2 but has shape [?, 3, 8, 8] (insert a flatten layer before it)}}
  %0 = cnn.linear %x, %w : (tensor<?x3x8x8xf32>, tensor<10x192xf32>) -> tensor<*xf32>
  return
}

// -----

func @linear_features(%x: tensor<?x100xf32>, %w: tensor<10x120xf32>, %b: tensor<10xf32>) {
  // expected-error @+1 {{weight shape [10, 120] expects 120 input features but the input has 100}}
  %0 = cnn.linear %x, %w, %b : (tensor<?x100xf32>, tensor<10x120xf32>, tensor<10xf32>) -> tensor<*xf32>
  return
}

// -----

func @bias_shape(%x: tensor<?x100xf32>, %w: tensor<10x100xf32>, %b: tensor<9xf32>) {
  // expected-error @+1 {{bias must have shape [10] but has [9]}}
  %0 = cnn.linear %x, %w, %b : (tensor<?x100xf32>, tensor<10x100xf32>, tensor<9xf32>) -> tensor<*xf32>
  return
}

// -----

func @pool_padding(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{padding [2, 2] must be at most half of the kernel size [2, 2]}}
  %0 = cnn.maxpool2d %x {kernel_size = [2, 2], stride = [2, 2], padding = [2, 2], dilation = [1, 1]} : (tensor<?x3x8x8xf32>) -> tensor<*xf32>
  return
}

// -----

func @dynamic_parameter() {
  // expected-error @+1 {{'cnn.parameter' op must have a static shape, got 'tensor<?x3xf32>'}}
  %0 = cnn.parameter "p" : tensor<?x3xf32>
  return
}

// -----

func @element_type(%x: tensor<?x3xf64>) {
  // expected-error @+1 {{inferred type(s) 'tensor<?x3xf32>' are incompatible with return type(s) of operation 'tensor<?x3xf64>'}}
  %0 = cnn.relu %x : (tensor<?x3xf64>) -> tensor<?x3xf64>
  return
}

// -----

func @leaky_relu_negative_slope(%x: tensor<?x3x4x4xf32>) {
  // expected-error @+1 {{'cnn.leaky_relu' negative_slope must be a finite number >= 0 (the gradient is read from the result, as PyTorch's in-place LeakyReLU does), got -0.5}}
  %0 = cnn.leaky_relu %x {negative_slope = -0.5 : f64} : (tensor<?x3x4x4xf32>) -> tensor<*xf32>
  return
}

// -----

func @elu_grad_negative_alpha(%y: tensor<?x3xf32>, %g: tensor<?x3xf32>) {
  // expected-error @+1 {{'cnn.elu_grad' alpha must be a finite number >= 0}}
  %0 = cnn.elu_grad %y, %g {alpha = -1.0 : f64} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<*xf32>
  return
}

// -----

func @hardtanh_limits(%x: tensor<?x3xf32>) {
  // expected-error @+1 {{'cnn.hardtanh' min_val must be below max_val, got 2 and 2}}
  %0 = cnn.hardtanh %x {min_val = 2.0 : f64, max_val = 2.0 : f64} : (tensor<?x3xf32>) -> tensor<*xf32>
  return
}

// -----

func @pad_mode(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.pad2d' mode must be one of zeros, reflect, replicate, circular, got 'constant'}}
  %0 = cnn.pad2d %x {begin = [1, 1], end = [1, 1], mode = "constant"} : (tensor<?x3x8x8xf32>) -> tensor<*xf32>
  return
}

// -----

func @circular_wider_than_input(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.pad2d' circular padding 9 must be at most the input width 8}}
  %0 = cnn.pad2d %x {begin = [0, 9], end = [0, 0], mode = "circular"} : (tensor<?x3x8x8xf32>) -> tensor<*xf32>
  return
}

// -----

func @pad_grad_shape(%g: tensor<?x3x10x10xf32>) {
  // expected-error @+1 {{'cnn.pad2d_grad' pad2d gradient has shape [?, 3, 10, 10] but the forward result is [?, 3, 9, 9]}}
  %0 = cnn.pad2d_grad %g {begin = [1, 1], end = [0, 0], mode = "reflect", input_size = [8, 8]} : (tensor<?x3x10x10xf32>) -> tensor<*xf32>
  return
}

// -----

func @fill_shape() {
  // expected-error @+1 {{'cnn.fill' fill needs a static shape, got [3, 0]}}
  %0 = cnn.fill {shape = [3, 0], value = 1.0 : f64} : tensor<*xf32>
  return
}
