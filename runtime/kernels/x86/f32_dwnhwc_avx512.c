/* Depthwise NHWC row kernel (kernels/fast/f32_dwnhwc.inc) for AVX-512F: 16 channels per vector. */
#include <immintrin.h>
#include <stddef.h>

#include "../fast/f32_dwnhwc.h"
#include "ember_ops.h"

#define DW_FN ember_f32_dwnhwc_row_avx512
#define DW_VW 16
#define DW_NPIX 8 /* 8 accumulators + 9 weights + 10 or 17 inputs fit the 32 zmm registers */
#define DW_V __m512
#define DW_LOAD(p) _mm512_loadu_ps(p)
#define DW_STORE(p, v) _mm512_storeu_ps((p), (v))
#define DW_SET1(f) _mm512_set1_ps(f)
#define DW_FMA(a, b, acc) _mm512_fmadd_ps((a), (b), (acc))
#define DW_MAX(a, b) _mm512_max_ps((a), (b))
#define DW_MIN(a, b) _mm512_min_ps((a), (b))
#include "../fast/f32_dwnhwc.inc"
