/* int8 depthwise NHWC row kernel (kernels/fast/q8_dwnhwc.inc) compiled for scalar. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../fast/q8_dwnhwc.h"
#define Q8DW_FN(name) ember_q8_dwnhwc_##name##_scalar
#include "../fast/q8_dwnhwc.inc"
