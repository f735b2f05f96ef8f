/* One-row linear on panel-packed weights, portable build. */
#include <stddef.h>

#include "../fast/f32_gemm.h"
#define EMBER_GEMV_FN ember_f32_gemv_p16_scalar
#include "../fast/f32_gemv.inc"
