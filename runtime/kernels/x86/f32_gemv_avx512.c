/* One-row linear on panel-packed weights, compiled for AVX-512F (run only when cpuid reports it). */
#include <stddef.h>

#include "../fast/f32_gemm.h"
#define EMBER_GEMV_FN ember_f32_gemv_p16_avx512
#include "../fast/f32_gemv.inc"
