/* quantize (f32 -> int8) and dequantize (int8 -> f32) with a per-tensor scale and zero point. */
#include "quant_util.h"

static ember_status convert_check(const ember_kargs *a, int32_t in_dt, int32_t out_dt) {
  const char *name = ember_op_name(a->op);
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QUANTIZE);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", name);
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (x->dtype != in_dt || y->dtype != out_dt)
    return KFAIL(a, "%s expects %s -> %s, got %s -> %s", name, ember_dtype_name(in_dt), ember_dtype_name(out_dt),
                 ember_dtype_name(x->dtype), ember_dtype_name(y->dtype));
  if (!ember_same_shape(x, y)) return KFAIL(a, "%s: output shape differs from input shape", name);
  float s = rf_attr_float(a, EMBER_A_QUANTIZE_SCALE);
  if (!(s > 0.0f) || isinf(s)) return KFAIL(a, "%s: scale must be positive and finite, got %g", name, (double)s);
  if (!ember_q_is_i8(ember_attr_i(a, EMBER_A_QUANTIZE_ZERO_POINT)))
    return KFAIL(a, "%s: zero point %lld outside int8", name, (long long)ember_attr_i(a, EMBER_A_QUANTIZE_ZERO_POINT));
  return EMBER_OK;
}

ember_status ember_ref_quantize_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  return convert_check(a, EMBER_DTYPE_F32, EMBER_DTYPE_I8);
}

ember_status ember_ref_quantize_eval(const ember_kargs *a) {
  const float *x = a->in[0]->data;
  int8_t *y = a->out[0]->data;
  float s = rf_attr_float(a, EMBER_A_QUANTIZE_SCALE);
  int32_t zp = (int32_t)ember_attr_i(a, EMBER_A_QUANTIZE_ZERO_POINT);
  for (int64_t i = 0; i < a->in[0]->numel; i++) y[i] = ember_q_sat(x[i] / s, zp, -128, 127);
  return EMBER_OK;
}

ember_status ember_ref_dequantize_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  return convert_check(a, EMBER_DTYPE_I8, EMBER_DTYPE_F32);
}

ember_status ember_ref_dequantize_eval(const ember_kargs *a) {
  const int8_t *x = a->in[0]->data;
  float *y = a->out[0]->data;
  float s = rf_attr_float(a, EMBER_A_DEQUANTIZE_SCALE);
  int32_t zp = (int32_t)ember_attr_i(a, EMBER_A_DEQUANTIZE_ZERO_POINT);
  for (int64_t i = 0; i < a->in[0]->numel; i++) y[i] = (float)((int32_t)x[i] - zp) * s;
  return EMBER_OK;
}

/* qadd: two int8 tensors of one shape, each rescaled to the output scale (rule 9 of
 * docs/quantization.md): saturate(float(a - a_zp) * a_mult + float(b - b_zp) * b_mult, y_zp). */
ember_status ember_ref_qadd_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QADD);
  if (a->n_in != 2 || a->n_out != 1) return KFAIL(a, "qadd takes 2 inputs and 1 output");
  const ember_tensor *x = a->in[0], *y = a->in[1], *o = a->out[0];
  if (x->dtype != EMBER_DTYPE_I8 || y->dtype != EMBER_DTYPE_I8 || o->dtype != EMBER_DTYPE_I8)
    return KFAIL(a, "qadd expects i8 tensors");
  if (!ember_same_shape(x, y) || !ember_same_shape(x, o))
    return KFAIL(a, "qadd: shapes %s and %s must be equal (and the output's)", RF_SHAPE(x, b1), RF_SHAPE(y, b2));
  int64_t az = ember_attr_i(a, EMBER_A_QADD_A_ZP), bz = ember_attr_i(a, EMBER_A_QADD_B_ZP);
  int64_t yz = ember_attr_i(a, EMBER_A_QADD_Y_ZP), lo = ember_attr_i(a, EMBER_A_QADD_QMIN),
          hi = ember_attr_i(a, EMBER_A_QADD_QMAX);
  if (!ember_q_is_i8(az) || !ember_q_is_i8(bz) || !ember_q_is_i8(yz) || !ember_q_is_i8(lo) || !ember_q_is_i8(hi) ||
      lo > hi)
    return KFAIL(a, "qadd: zero points and bounds must be int8 with qmin <= qmax");
  float am = rf_attr_float(a, EMBER_A_QADD_A_MULT), bm = rf_attr_float(a, EMBER_A_QADD_B_MULT);
  if (!(am > 0.0f) || isinf(am) || !(bm > 0.0f) || isinf(bm))
    return KFAIL(a, "qadd: multipliers must be positive and finite, got %g and %g", (double)am, (double)bm);
  return EMBER_OK;
}

ember_status ember_ref_qadd_eval(const ember_kargs *a) {
  const int8_t *x = a->in[0]->data, *y = a->in[1]->data;
  int8_t *o = a->out[0]->data;
  int32_t az = (int32_t)ember_attr_i(a, EMBER_A_QADD_A_ZP), bz = (int32_t)ember_attr_i(a, EMBER_A_QADD_B_ZP);
  int32_t yz = (int32_t)ember_attr_i(a, EMBER_A_QADD_Y_ZP), lo = (int32_t)ember_attr_i(a, EMBER_A_QADD_QMIN),
          hi = (int32_t)ember_attr_i(a, EMBER_A_QADD_QMAX);
  float am = rf_attr_float(a, EMBER_A_QADD_A_MULT), bm = rf_attr_float(a, EMBER_A_QADD_B_MULT);
  for (int64_t i = 0; i < a->out[0]->numel; i++) {
    float va = (float)((int32_t)x[i] - az) * am, vb = (float)((int32_t)y[i] - bz) * bm;
    o[i] = ember_q_sat(va + vb, yz, lo, hi);
  }
  return EMBER_OK;
}
