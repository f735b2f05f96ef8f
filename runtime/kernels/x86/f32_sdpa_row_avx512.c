/* One attention row (kernels/fast/f32_sdpa_row.inc) compiled for avx512. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../fast/f32_attention.h"
#include "../fast/vexp.h"
#define EMBER_SDPA_ROW_FN ember_f32_sdpa_row_avx512
#include "../fast/f32_sdpa_row.inc"
