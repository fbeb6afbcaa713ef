/* What the embedding examples share, in plain C: reading a whole file, a
 * float32 tensor of a safetensors file, the images of a .npy file, and
 * printing the classes. */
#ifndef CNNC_EXAMPLES_MODEL_FILES_H
#define CNNC_EXAMPLES_MODEL_FILES_H

#include <stddef.h>

/* The bytes of `path` (malloc'ed, the caller frees them) and their count in
 * `size`; NULL if it cannot be read. */
unsigned char *read_file(const char *path, size_t *size);

/* Tensor `name` of a safetensors file's bytes: its float32 data, checked
 * against the number of values the model expects; NULL if absent. */
const float *find_tensor(const unsigned char *file, size_t size,
                         const char *name, size_t values);

/* The data of a float32 C-order .npy file and its first dimension in
 * `rows`; NULL if it is not one. */
const float *npy_data(const unsigned char *file, size_t size, long long *rows);

/* Prints one line per image: "MODEL: image N -> class C   logits ...". */
void print_predictions(const char *model, const float *logits, long long batch,
                       size_t classes);

#endif /* CNNC_EXAMPLES_MODEL_FILES_H */
