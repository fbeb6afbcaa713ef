/* An application embedding a cnnc-generated model through its C ABI.
 *
 *   cnnc lenet.yaml -o liblenet.so && cnnc lenet.yaml --emit header -o model.h
 *   cc classify.c model_files.c -I. -L. -llenet -o classify
 *   ./classify weights.safetensors images.npy
 *
 * It asks the library for its parameter names and shapes, finds them in a
 * safetensors file, runs the batch in images.npy (float32, N x C x H x W)
 * and prints each image's class and logits. Plain C, no cnnc runtime.
 */
#include "model.h"
#include "model_files.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors IMAGES.npy\n", argv[0]);
    return 1;
  }
  if (cnnc_abi_version() != CNNC_ABI_VERSION) {
    fprintf(stderr, "model library ABI %u, this program expects %u\n",
            cnnc_abi_version(), CNNC_ABI_VERSION);
    return 1;
  }
  size_t weights_size = 0, images_size = 0;
  unsigned char *weights = read_file(argv[1], &weights_size);
  unsigned char *images = read_file(argv[2], &images_size);
  if (!weights || !images) {
    fprintf(stderr, "cannot read %s\n", weights ? argv[2] : argv[1]);
    return 1;
  }

  int32_t count = 0;
  cnnc_num_parameters(&count);
  const float **params = calloc((size_t)count + 1, sizeof *params);
  for (int32_t i = 0; i < count; ++i) {
    const char *name = NULL;
    int64_t dims[CNNC_MAX_RANK];
    int32_t rank = 0;
    cnnc_parameter_name(i, &name);
    cnnc_parameter_shape(i, dims, CNNC_MAX_RANK, &rank);
    size_t values = 1;
    for (int32_t d = 0; d < rank; ++d)
      values *= (size_t)dims[d];
    params[i] = find_tensor(weights, weights_size, name, values);
    if (!params[i]) {
      fprintf(stderr, "%s: no float32 tensor '%s' of %zu values\n", argv[1],
              name, values);
      return 1;
    }
  }

  long long batch = 0;
  const float *input = npy_data(images, images_size, &batch);
  int64_t in_dims[CNNC_MAX_RANK], out_dims[CNNC_MAX_RANK];
  int32_t in_rank = 0, out_rank = 0;
  cnnc_input_shape(in_dims, CNNC_MAX_RANK, &in_rank);
  cnnc_output_shape(out_dims, CNNC_MAX_RANK, &out_rank);
  size_t sample = 1, classes = (size_t)out_dims[1];
  for (int32_t d = 1; d < in_rank; ++d)
    sample *= (size_t)in_dims[d];
  if (!input || batch < 1 ||
      (size_t)((const unsigned char *)input - images) +
              (size_t)batch * sample * sizeof(float) >
          images_size) {
    fprintf(stderr, "%s: expected float32 images of %zu values each\n", argv[2],
            sample);
    return 1;
  }

  float *logits = malloc((size_t)batch * classes * sizeof(float));
  cnnc_status status = cnnc_forward(batch, input, params, logits);
  if (status != CNNC_OK) {
    fprintf(stderr, "cnnc_forward: %s\n", cnnc_status_string(status));
    return 1;
  }
  const char *model = NULL;
  cnnc_model_name(&model);
  print_predictions(model, logits, batch, classes);
  free(logits);
  free(params);
  free(weights);
  free(images);
  return 0;
}
