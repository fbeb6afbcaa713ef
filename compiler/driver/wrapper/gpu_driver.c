/* How a GPU library finds its driver. Halide's runtime dlopens the
 * unversioned names (libcuda.so, libOpenCL.so), which only development
 * packages install; a driver installs the versioned ones (libcuda.so.1,
 * libOpenCL.so.1). These definitions replace the runtime's weak ones and try
 * both. For CUDA the register limit per thread of the driver's JIT is set
 * before the first kernel loads, unless the user set it. */
#include <dlfcn.h>
#include <stdlib.h>

static void *cnnc_gpu_driver;

/* The symbol `name` of the first of `libraries` that loads. */
static void *cnnc_gpu_symbol(const char *const *libraries, const char *name) {
  for (const char *const *lib = libraries; !cnnc_gpu_driver && *lib; ++lib)
    cnnc_gpu_driver = dlopen(*lib, RTLD_LAZY | RTLD_LOCAL);
  return cnnc_gpu_driver ? dlsym(cnnc_gpu_driver, name) : NULL;
}

#ifdef CNNC_GPU_CUDA
void *halide_cuda_get_symbol(void *user_context, const char *name) {
  static const char *const libraries[] = {"libcuda.so.1", "libcuda.so", NULL};
  (void)user_context;
  return cnnc_gpu_symbol(libraries, name);
}

__attribute__((constructor)) static void cnnc_cuda_register_limit(void) {
  setenv("HL_CUDA_JIT_MAX_REGISTERS", CNNC_CUDA_MAX_REGISTERS, 0);
}
#endif

#ifdef CNNC_GPU_OPENCL
void *halide_opencl_get_symbol(void *user_context, const char *name) {
  static const char *const libraries[] = {"libOpenCL.so.1", "libOpenCL.so",
                                          NULL};
  (void)user_context;
  return cnnc_gpu_symbol(libraries, name);
}
#endif
