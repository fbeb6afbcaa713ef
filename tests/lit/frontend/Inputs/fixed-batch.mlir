// The batch size is chosen at run time: it must be '?'.
func @forward(%x: tensor<2x4xf32>) -> tensor<*xf32> {
  %w = cnn.parameter "fc.weight" : tensor<3x4xf32>
  %0 = cnn.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
