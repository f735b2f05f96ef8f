/* Depthwise NHWC row kernel (kernels/fast/f32_dwnhwc.inc) for AVX2 + FMA: 8 channels per vector. */
#include <immintrin.h>
#include <stddef.h>

#include "../fast/f32_dwnhwc.h"
#include "ember_ops.h"

#define DW_FN ember_f32_dwnhwc_row_avx2
#define DW_VW 8
#define DW_V __m256
#define DW_LOAD(p) _mm256_loadu_ps(p)
#define DW_STORE(p, v) _mm256_storeu_ps((p), (v))
#define DW_SET1(f) _mm256_set1_ps(f)
#define DW_FMA(a, b, acc) _mm256_fmadd_ps((a), (b), (acc))
#define DW_MAX(a, b) _mm256_max_ps((a), (b))
#define DW_MIN(a, b) _mm256_min_ps((a), (b))
#include "../fast/f32_dwnhwc.inc"
