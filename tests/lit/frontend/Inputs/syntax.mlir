// The closing brace is missing.
func @forward(%x: tensor<?x4xf32>) -> tensor<*xf32> {
  %0 = cnn.relu %x : (tensor<?x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
