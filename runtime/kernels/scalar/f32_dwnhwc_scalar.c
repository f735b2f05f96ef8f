/* Depthwise NHWC row kernel (kernels/fast/f32_dwnhwc.inc), one lane: the path that always works. */
#include <stddef.h>

#include "../fast/f32_dwnhwc.h"
#include "ember_ops.h"

#define DW_FN ember_f32_dwnhwc_row_scalar
#define DW_VW 1
#define DW_V float
#define DW_LOAD(p) (*(p))
#define DW_STORE(p, v) (*(p) = (v))
#define DW_SET1(f) (f)
#define DW_FMA(a, b, acc) ((acc) + (a) * (b))
#define DW_MAX(a, b) ((a) > (b) ? (a) : (b))
#define DW_MIN(a, b) ((a) < (b) ? (a) : (b))
#include "../fast/f32_dwnhwc.inc"
