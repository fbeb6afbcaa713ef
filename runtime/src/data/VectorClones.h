// Per-pixel loops compiled for AVX-512 and AVX2 as well as the x86-64
// baseline, the copy chosen when the library loads (GCC's target_clones):
// the baseline converts or normalises 4 floats per instruction, and one
// Fashion-MNIST epoch with its test set passes 55 million pixels through
// each loop.
#ifndef CNNC_DATA_VECTORCLONES_H
#define CNNC_DATA_VECTORCLONES_H

#include <cstddef> // __GLIBC__: the clones are ifuncs, which glibc resolves

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&         \
    defined(__GLIBC__)
#define CNNC_VECTOR_CLONES                                                     \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CNNC_VECTOR_CLONES
#endif

#endif // CNNC_DATA_VECTORCLONES_H
