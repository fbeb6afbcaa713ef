/* What the embedding examples share: reading safetensors weights and .npy
 * images, printing classes; plain C (see model_files.h). */
#define _GNU_SOURCE /* memmem */
#include "model_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  unsigned char *data = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n))) {
      if (fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
      } else {
        *size = (size_t)n;
      }
    }
  }
  fclose(f);
  return data;
}

const float *find_tensor(const unsigned char *file, size_t size,
                         const char *name, size_t values) {
  if (size < 8)
    return NULL;
  unsigned long long header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = header_len << 8 | file[i];
  if (header_len > size - 8)
    return NULL;
  char *header = malloc(header_len + 1);
  if (!header)
    return NULL;
  memcpy(header, file + 8, header_len);
  header[header_len] = '\0';
  char key[256];
  snprintf(key, sizeof key, "\"%s\"", name);
  const float *data = NULL;
  char *entry = strstr(header, key);
  char *entry_end = entry ? strchr(entry, '}') : NULL;
  if (entry_end) {
    *entry_end = '\0'; /* search this tensor's entry only */
    char *offsets = strstr(entry, "\"data_offsets\"");
    char *bracket = offsets ? strchr(offsets, '[') : NULL;
    unsigned long long begin, end;
    /* %llu would take "-8" as a huge number: no sign allowed; the offsets
     * are compared with what follows the header, never added first. */
    const unsigned long long body = size - 8 - header_len;
    if (bracket && strstr(entry, "\"F32\"") && !strchr(bracket, '-') &&
        sscanf(bracket, "[ %llu , %llu", &begin, &end) == 2 && end >= begin &&
        end <= body && end - begin == values * sizeof(float) &&
        (8 + header_len + begin) % sizeof(float) == 0)
      data = (const float *)(file + 8 + header_len + begin);
  }
  free(header);
  return data;
}

const float *npy_data(const unsigned char *file, size_t size, long long *rows) {
  if (size < 10 || memcmp(file, "\x93NUMPY", 6) != 0 || file[6] != 1)
    return NULL;
  size_t header_len = file[8] | (size_t)file[9] << 8;
  if (10 + header_len > size)
    return NULL;
  const char *header = (const char *)file + 10;
  if (!memmem(header, header_len, "'<f4'", 5) ||
      !memmem(header, header_len, "'fortran_order': False", 22))
    return NULL;
  const char *shape = memmem(header, header_len, "'shape': (", 10);
  if (!shape)
    return NULL;
  /* sscanf needs a terminated string: the header's rest, copied. */
  size_t rest = header_len - (size_t)(shape + 10 - header);
  char digits[32] = {0};
  memcpy(digits, shape + 10,
         rest < sizeof digits - 1 ? rest : sizeof digits - 1);
  if (sscanf(digits, "%lld", rows) != 1 || *rows < 0)
    return NULL;
  return (const float *)(file + 10 + header_len);
}

void print_predictions(const char *model, const float *logits, long long batch,
                       size_t classes) {
  for (long long n = 0; n < batch; ++n) {
    const float *row = logits + n * classes;
    size_t best = 0;
    for (size_t k = 1; k < classes; ++k)
      if (row[k] > row[best])
        best = k;
    printf("%s: image %lld -> class %zu   logits", model, n, best);
    for (size_t k = 0; k < classes; ++k)
      printf(" %.6g", row[k]);
    printf("\n");
  }
}
