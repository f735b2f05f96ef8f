/* Attention row softmax (kernels/fast/f32_sdpa_row.inc) compiled for scalar. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../fast/f32_attention.h"
#include "../fast/vexp.h"
#define EMBER_SDPA_SOFTMAX_FN ember_f32_sdpa_softmax_scalar
#include "../fast/f32_sdpa_row.inc"
