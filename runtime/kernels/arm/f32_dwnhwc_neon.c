/* Depthwise NHWC row kernel (kernels/fast/f32_dwnhwc.inc) for AArch64 NEON: 4 channels per vector. */
#include <arm_neon.h>
#include <stddef.h>

#include "../fast/f32_dwnhwc.h"
#include "ember_ops.h"

#define DW_FN ember_f32_dwnhwc_row_neon
#define DW_VW 4
#define DW_V float32x4_t
#define DW_LOAD(p) vld1q_f32(p)
#define DW_STORE(p, v) vst1q_f32((p), (v))
#define DW_SET1(f) vdupq_n_f32(f)
#define DW_FMA(a, b, acc) vfmaq_f32((acc), (a), (b))
#define DW_MAX(a, b) vmaxq_f32((a), (b))
#define DW_MIN(a, b) vminq_f32((a), (b))
#include "../fast/f32_dwnhwc.inc"
