/* Elementwise unary ops (float32, plus logical_not on bool) and clamp. Safe in place (out == in). */
#include <math.h>

#include "ref_kernels.h"

ember_status ember_ref_unary_check(const ember_kargs *a, uint64_t *scratch) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  *scratch = 0;
  int32_t want = a->op == EMBER_OP_LOGICAL_NOT ? EMBER_DTYPE_BOOL : EMBER_DTYPE_F32;
  if (x->dtype != want || y->dtype != want) return KFAIL(a, "expects %s input and output", ember_dtype_name(want));
  if (!ember_same_shape(x, y)) return KFAIL(a, "output shape differs from input shape");
  if (a->op == EMBER_OP_GELU && (ember_attr_i(a, EMBER_A_GELU_APPROXIMATE) & ~1)) return KFAIL(a, "bad gelu mode");
  return EMBER_OK;
}

static float unary1(int op, float v, int64_t gelu_mode) {
  switch (op) {
    case EMBER_OP_RELU: return v > 0.f ? v : 0.f;
    case EMBER_OP_SIGMOID: return ember_act(v, EMBER_ACT_SIGMOID, 0, 0);
    case EMBER_OP_TANH: return tanhf(v);
    case EMBER_OP_SILU: return ember_act(v, EMBER_ACT_SILU, 0, 0);
    case EMBER_OP_GELU: return ember_act(v, gelu_mode ? EMBER_ACT_GELU_TANH : EMBER_ACT_GELU, 0, 0);
    case EMBER_OP_HARDSWISH: return ember_act(v, EMBER_ACT_HARDSWISH, 0, 0);
    case EMBER_OP_HARDSIGMOID: {
      float r = v + 3.f;
      r = r < 0.f ? 0.f : (r > 6.f ? 6.f : r);
      return r / 6.f;
    }
    case EMBER_OP_SQRT: return sqrtf(v);
    case EMBER_OP_RSQRT: return 1.f / sqrtf(v);
    case EMBER_OP_EXP: return expf(v);
    case EMBER_OP_LOG: return logf(v);
    case EMBER_OP_NEG: return -v;
    case EMBER_OP_ABS: return fabsf(v);
    case EMBER_OP_SIN: return sinf(v);
    case EMBER_OP_COS: return cosf(v);
    case EMBER_OP_ERF: return erff(v);
    case EMBER_OP_RECIPROCAL: return 1.f / v;
    default: return v;
  }
}

ember_status ember_ref_unary_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0];
  ember_tensor *y = a->out[0];
  int64_t n = x->numel;
  if (a->op == EMBER_OP_LOGICAL_NOT) {
    const uint8_t *xi = x->data;
    uint8_t *yo = y->data;
    for (int64_t i = 0; i < n; i++) yo[i] = !xi[i];
    return EMBER_OK;
  }
  const float *xi = x->data;
  float *yo = y->data;
  int64_t mode = a->op == EMBER_OP_GELU ? ember_attr_i(a, EMBER_A_GELU_APPROXIMATE) : 0;
  for (int64_t i = 0; i < n; i++) yo[i] = unary1(a->op, xi[i], mode);
  return EMBER_OK;
}

ember_status ember_ref_clamp_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  if (a->in[0]->dtype != EMBER_DTYPE_F32 || a->out[0]->dtype != EMBER_DTYPE_F32)
    return KFAIL(a, "clamp expects f32");
  if (!ember_same_shape(a->in[0], a->out[0])) return KFAIL(a, "output shape differs from input shape");
  if (!(ember_attr_f(a, EMBER_A_CLAMP_MIN) <= ember_attr_f(a, EMBER_A_CLAMP_MAX)))
    return KFAIL(a, "clamp min > max");
  return EMBER_OK;
}

ember_status ember_ref_clamp_eval(const ember_kargs *a) {
  const float *x = a->in[0]->data;
  float *y = a->out[0]->data;
  float lo = (float)ember_attr_f(a, EMBER_A_CLAMP_MIN), hi = (float)ember_attr_f(a, EMBER_A_CLAMP_MAX);
  for (int64_t i = 0; i < a->in[0]->numel; i++) y[i] = ember_act(x[i], EMBER_ACT_CLAMP, lo, hi);
  return EMBER_OK;
}
