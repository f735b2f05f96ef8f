/* Depthwise conv2d plane kernel compiled for AVX2 + FMA (run only when cpuid reports both). */
#include <stddef.h>

#include "../fast/f32_dwconv.h"
#define EMBER_DWCONV_FN ember_f32_dwconv_plane_avx2
#define EMBER_DWCONV_PADDED_FN ember_f32_dwconv_padded_avx2
#include "../fast/f32_dwconv.inc"
