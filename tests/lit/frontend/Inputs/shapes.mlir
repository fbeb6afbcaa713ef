// The weight expects 3 input channels; the images have 1.
func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<*xf32> {
  %w = cnn.parameter "conv.weight" : tensor<4x3x3x3xf32>
  %0 = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1} : (tensor<?x1x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
