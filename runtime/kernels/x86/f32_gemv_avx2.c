/* One-row linear on panel-packed weights, compiled for AVX2 + FMA (run only when cpuid reports both). */
#include <stddef.h>

#include "../fast/f32_gemm.h"
#define EMBER_GEMV_FN ember_f32_gemv_p16_avx2
#include "../fast/f32_gemv.inc"
