/* Winograd F(2x2, 3x3) tile transforms (kernels/fast/f32_wino.inc) compiled for avx2. */
#include <math.h>
#include <stddef.h>

#include "../fast/f32_dwnhwc.h"
#include "ember_ops.h"
#define WINO_FN(name) ember_f32_wino_##name##_avx2
#include "../fast/f32_wino.inc"
