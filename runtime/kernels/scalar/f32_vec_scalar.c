/* Row primitives (kernels/fast/f32_vec.inc) compiled for scalar. */
#include <math.h>
#include <stddef.h>

#include "../fast/f32_vec.h"
#include "../fast/vmath.h"
#include "ember_ops.h"
#define EMBER_VEC(name) ember_f32_##name##_scalar
#include "../fast/f32_vec.inc"

const ember_f32_vec_ops ember_f32_vec_ops_scalar = {"scalar", EMBER_VEC(act_row), EMBER_VEC(binary_row),
                                                  EMBER_VEC(norm_row), EMBER_VEC(softmax_row), EMBER_VEC(unary_row),
                                                  EMBER_VEC(bias_act_rows), EMBER_VEC(max_into)};
