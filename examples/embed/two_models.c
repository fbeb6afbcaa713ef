/* Two cnnc-generated models in one program: LeNet and the lecture's
 * FeedForwardNet, compiled with symbol prefixes so that their functions do
 * not clash, linked statically (or as two shared libraries):
 *
 *   cnnc lenet.yaml -o liblenet.a --prefix lenet
 *   cnnc lenet.yaml --emit header --prefix lenet -o lenet.h
 *   cnnc feedforward.yaml -o libffn.a --prefix ffn
 *   cnnc feedforward.yaml --emit header --prefix ffn -o ffn.h
 *   cc two_models.c model_files.c -I. liblenet.a libffn.a -lpthread -ldl -lm
 *   ./a.out lenet.safetensors ffn.safetensors images.npy
 *
 * Both classify the same images (float32, N x 3 x 32 x 32); each line names
 * the model, the image, the class and the logits. Each archive carries its
 * own copy of the Halide runtime, made local to it by cnnc.
 */
#include "ffn.h"
#include "lenet.h"
#include "model_files.h"

#include <stdio.h>
#include <stdlib.h>

/* The functions of one model this program calls. */
typedef struct model_api {
  uint32_t (*abi_version)(void);
  const char *(*status_string)(int32_t);
  cnnc_status (*model_name)(const char **);
  cnnc_status (*input_shape)(int64_t *, int32_t, int32_t *);
  cnnc_status (*output_shape)(int64_t *, int32_t, int32_t *);
  cnnc_status (*num_parameters)(int32_t *);
  cnnc_status (*parameter_name)(int32_t, const char **);
  cnnc_status (*parameter_shape)(int32_t, int64_t *, int32_t, int32_t *);
  cnnc_status (*forward)(int64_t, const float *, const float *const *, float *);
} model_api;

static const model_api kLenet = {
    lenet_abi_version,    lenet_status_string,   lenet_model_name,
    lenet_input_shape,    lenet_output_shape,    lenet_num_parameters,
    lenet_parameter_name, lenet_parameter_shape, lenet_forward};
static const model_api kFeedForward = {
    ffn_abi_version,    ffn_status_string,   ffn_model_name,
    ffn_input_shape,    ffn_output_shape,    ffn_num_parameters,
    ffn_parameter_name, ffn_parameter_shape, ffn_forward};

/* Classifies the images with `model` and the weights in `weights_path`;
 * prints one line per image. Returns 0, or 1 after printing why not. */
static int classify(const model_api *model, const char *weights_path,
                    const float *images, long long batch, size_t sample) {
  if (model->abi_version() != CNNC_ABI_VERSION) {
    fprintf(stderr, "model library ABI %u, this program expects %u\n",
            model->abi_version(), CNNC_ABI_VERSION);
    return 1;
  }
  const char *name = NULL;
  model->model_name(&name);
  int64_t in_dims[CNNC_MAX_RANK], out_dims[CNNC_MAX_RANK];
  int32_t in_rank = 0, out_rank = 0;
  model->input_shape(in_dims, CNNC_MAX_RANK, &in_rank);
  model->output_shape(out_dims, CNNC_MAX_RANK, &out_rank);
  size_t in_sample = 1, classes = (size_t)out_dims[1];
  for (int32_t d = 1; d < in_rank; ++d)
    in_sample *= (size_t)in_dims[d];
  if (in_sample != sample) {
    fprintf(stderr, "%s takes %zu values per image, not %zu\n", name, in_sample,
            sample);
    return 1;
  }
  size_t size = 0;
  unsigned char *weights = read_file(weights_path, &size);
  int32_t count = 0;
  model->num_parameters(&count);
  const float **params = calloc((size_t)count + 1, sizeof *params);
  float *logits = malloc((size_t)batch * classes * sizeof(float));
  int failed = !weights || !params || !logits;
  for (int32_t i = 0; i < count && !failed; ++i) {
    const char *param = NULL;
    int64_t dims[CNNC_MAX_RANK];
    int32_t rank = 0;
    model->parameter_name(i, &param);
    model->parameter_shape(i, dims, CNNC_MAX_RANK, &rank);
    size_t values = 1;
    for (int32_t d = 0; d < rank; ++d)
      values *= (size_t)dims[d];
    params[i] = find_tensor(weights, size, param, values);
    if (!params[i]) {
      fprintf(stderr, "%s: no float32 tensor '%s' of %zu values\n",
              weights_path, param, values);
      failed = 1;
    }
  }
  if (!failed) {
    cnnc_status status = model->forward(batch, images, params, logits);
    if (status != CNNC_OK) {
      fprintf(stderr, "%s: forward: %s\n", name, model->status_string(status));
      failed = 1;
    }
  }
  if (!failed)
    print_predictions(name, logits, batch, classes);
  if (!weights)
    fprintf(stderr, "cannot read %s\n", weights_path);
  free(logits);
  free(params);
  free(weights);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr,
            "usage: %s LENET.safetensors FEEDFORWARD.safetensors IMAGES.npy\n",
            argv[0]);
    return 1;
  }
  size_t size = 0;
  unsigned char *file = read_file(argv[3], &size);
  long long batch = 0;
  const float *images = file ? npy_data(file, size, &batch) : NULL;
  const size_t sample = 3 * 32 * 32;
  if (!images || batch < 1 ||
      (size_t)((const unsigned char *)images - file) +
              (size_t)batch * sample * sizeof(float) >
          size) {
    fprintf(stderr, "%s: expected float32 images of 3 x 32 x 32\n", argv[3]);
    free(file);
    return 1;
  }
  int failed = classify(&kLenet, argv[1], images, batch, sample) ||
               classify(&kFeedForward, argv[2], images, batch, sample);
  free(file);
  return failed;
}
