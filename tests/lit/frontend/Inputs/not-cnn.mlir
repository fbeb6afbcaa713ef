// Two problems, both reported: a parameter defined twice and an op from
// outside the cnn dialect.
func @helper(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}
func @forward(%x: tensor<?x4xf32>) -> tensor<*xf32> {
  %w = cnn.parameter "fc.weight" : tensor<3x4xf32>
  %again = cnn.parameter "fc.weight" : tensor<3x4xf32>
  %0 = call @helper(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %1 = cnn.linear %0, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}
