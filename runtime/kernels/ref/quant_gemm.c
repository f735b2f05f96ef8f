/* Integer GEMM-shaped ops: qlinear and qconv2d (static int8, requantized int8 output) and dqlinear
 * (dynamic int8: rows of float x quantized at run time, float output). Accumulation is exact in
 * int32 (the checks bound the reduction length); see docs/quantization.md for the rounding rules. */
#include "quant_util.h"

/* Common checks of the (x_zp, y_zp, qmin, qmax) attributes at slot `at`. */
static ember_status qio_check(const ember_kargs *a, int at) {
  const char *name = ember_op_name(a->op);
  int64_t xzp = ember_attr_i(a, at), yzp = ember_attr_i(a, at + 1), lo = ember_attr_i(a, at + 2),
          hi = ember_attr_i(a, at + 3);
  if (!ember_q_is_i8(xzp) || !ember_q_is_i8(yzp) || !ember_q_is_i8(lo) || !ember_q_is_i8(hi) || lo > hi)
    return KFAIL(a, "%s: zero points %lld, %lld and bounds [%lld, %lld] must be int8 with qmin <= qmax", name,
                 (long long)xzp, (long long)yzp, (long long)lo, (long long)hi);
  return EMBER_OK;
}

/* weight/bias/scale for n output channels: i8 weight (already rank-checked), i32 bias[n], f32 scale[n] */
static ember_status qparams_check(const ember_kargs *a, int64_t n) {
  char b1[96], b2[96];
  const char *name = ember_op_name(a->op);
  const ember_tensor *b = a->in[2], *s = a->in[3];
  if (a->in[0]->dtype != EMBER_DTYPE_I8 || a->in[1]->dtype != EMBER_DTYPE_I8 || b->dtype != EMBER_DTYPE_I32 ||
      s->dtype != EMBER_DTYPE_F32 || a->out[0]->dtype != EMBER_DTYPE_I8)
    return KFAIL(a, "%s expects (i8 x, i8 weight, i32 bias, f32 scale) -> i8", name);
  if (b->rank != 1 || b->dims[0] != n || s->rank != 1 || s->dims[0] != n)
    return KFAIL(a, "%s: bias %s and scale %s must both be [%lld]", name, RF_SHAPE(b, b1), RF_SHAPE(s, b2),
                 (long long)n);
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------------- qlinear */
ember_status ember_ref_qlinear_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QLINEAR);
  if (a->n_in != 4 || a->n_out != 1) return KFAIL(a, "qlinear takes 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  if (w->rank != 2 || x->rank < 1 || x->dims[x->rank - 1] != w->dims[1])
    return KFAIL(a, "qlinear: input %s does not match weight %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  if (w->dims[1] > EMBER_Q_MAX_K) return KFAIL(a, "qlinear: reduction length %lld > %d", (long long)w->dims[1], EMBER_Q_MAX_K);
  ember_status st = qparams_check(a, w->dims[0]);
  if (st != EMBER_OK) return st;
  st = qio_check(a, EMBER_A_QLINEAR_X_ZP);
  if (st != EMBER_OK) return st;
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank - 1; i++) want[i] = x->dims[i];
  want[x->rank - 1] = w->dims[0];
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "qlinear output shape %s does not match input %s and weight %s", RF_SHAPE(y, b3),
                 RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  return EMBER_OK;
}

ember_status ember_ref_qlinear_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1];
  const int8_t *x = xt->data, *w = wt->data;
  const int32_t *bias = a->in[2]->data;
  const float *scale = a->in[3]->data;
  int8_t *y = a->out[0]->data;
  int64_t M = rf_prod(xt, 0, xt->rank - 1), K = wt->dims[1], N = wt->dims[0];
  int32_t xzp = (int32_t)ember_attr_i(a, EMBER_A_QLINEAR_X_ZP), yzp = (int32_t)ember_attr_i(a, EMBER_A_QLINEAR_Y_ZP);
  int32_t lo = (int32_t)ember_attr_i(a, EMBER_A_QLINEAR_QMIN), hi = (int32_t)ember_attr_i(a, EMBER_A_QLINEAR_QMAX);
  for (int64_t m = 0; m < M; m++) {
    for (int64_t n = 0; n < N; n++) {
      int32_t acc = ember_q_bias(bias[n]);
      for (int64_t k = 0; k < K; k++) acc += ((int32_t)x[m * K + k] - xzp) * (int32_t)w[n * K + k];
      y[m * N + n] = ember_q_requant(acc, scale[n], yzp, lo, hi);
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------------- qconv2d */
ember_status ember_ref_qconv2d_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QCONV2D);
  if (a->n_in != 4 || a->n_out != 1) return KFAIL(a, "qconv2d takes 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  if (x->rank != 4 || w->rank != 4)
    return KFAIL(a, "qconv2d expects 4-D input and weight, got %s and %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  ember_status st = qparams_check(a, w->dims[0]);
  if (st != EMBER_OK) return st;
  st = qio_check(a, EMBER_A_QCONV2D_X_ZP);
  if (st != EMBER_OK) return st;
  int64_t kk;
  if (!rf_mul(w->dims[1], w->dims[2], &kk) || !rf_mul(kk, w->dims[3], &kk) || kk > EMBER_Q_MAX_K)
    return KFAIL(a, "qconv2d: reduction length of weight %s exceeds %d", RF_SHAPE(w, b2), EMBER_Q_MAX_K);
  return rf_conv_geometry_check(a, "qconv2d", x, w, y);
}

ember_status ember_ref_qconv2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const int8_t *x = xt->data, *w = wt->data;
  const int32_t *bias = a->in[2]->data;
  const float *scale = a->in[3]->data;
  int8_t *y = yt->data;
  int64_t N = xt->dims[0], C = xt->dims[1], H = xt->dims[2], W = xt->dims[3];
  int64_t O = wt->dims[0], CG = wt->dims[1], KH = wt->dims[2], KW = wt->dims[3];
  int64_t OH = yt->dims[2], OW = yt->dims[3];
  int64_t sh = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_QCONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_QCONV2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_QCONV2D_DIL_H), dw = ember_attr_i(a, EMBER_A_QCONV2D_DIL_W);
  int64_t og = O / ember_attr_i(a, EMBER_A_QCONV2D_GROUPS);
  int32_t xzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_X_ZP), yzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_Y_ZP);
  int32_t lo = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_QMIN), hi = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_QMAX);
  for (int64_t n = 0; n < N; n++) {
    for (int64_t o = 0; o < O; o++) {
      int64_t c0 = (o / og) * CG;
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          int32_t acc = ember_q_bias(bias[o]); /* padding holds x_zp: it adds (x_zp - x_zp) * w = 0 */
          for (int64_t c = 0; c < CG; c++) {
            const int8_t *xc = x + ((n * C + c0 + c) * H) * W;
            const int8_t *wc = w + ((o * CG + c) * KH) * KW;
            for (int64_t ky = 0; ky < KH; ky++) {
              int64_t iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= H) continue;
              for (int64_t kx = 0; kx < KW; kx++) {
                int64_t ix = ox * sw - pw + kx * dw;
                if (ix < 0 || ix >= W) continue;
                acc += ((int32_t)xc[iy * W + ix] - xzp) * (int32_t)wc[ky * KW + kx];
              }
            }
          }
          y[((n * O + o) * OH + oy) * OW + ox] = ember_q_requant(acc, scale[o], yzp, lo, hi);
        }
      }
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------------ dqlinear */
ember_status ember_ref_dqlinear_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_DQLINEAR);
  if (a->n_in < 3 || a->n_in > 4 || a->n_out != 1) return KFAIL(a, "dqlinear takes 3 or 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *ws = a->in[2], *b = a->n_in > 3 ? a->in[3] : NULL, *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_I8 || ws->dtype != EMBER_DTYPE_F32 ||
      y->dtype != EMBER_DTYPE_F32 || (b && b->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "dqlinear expects (f32 x, i8 weight, f32 weight scale[, f32 bias]) -> f32");
  if (w->rank != 2 || x->rank < 1 || x->dims[x->rank - 1] != w->dims[1])
    return KFAIL(a, "dqlinear: input %s does not match weight %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  if (w->dims[1] > EMBER_Q_MAX_K) return KFAIL(a, "dqlinear: reduction length %lld > %d", (long long)w->dims[1], EMBER_Q_MAX_K);
  if (ws->rank != 1 || ws->dims[0] != w->dims[0] || (b && (b->rank != 1 || b->dims[0] != w->dims[0])))
    return KFAIL(a, "dqlinear: weight scale and bias must be [%lld]", (long long)w->dims[0]);
  int64_t act = ember_attr_i(a, EMBER_A_DQLINEAR_ACT);
  if (!ember_act_valid(act)) return KFAIL(a, "dqlinear: unknown activation %lld", (long long)act);
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank - 1; i++) want[i] = x->dims[i];
  want[x->rank - 1] = w->dims[0];
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "dqlinear output shape %s does not match input %s and weight %s", RF_SHAPE(y, b3),
                 RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  *scratch = (uint64_t)w->dims[1]; /* one quantized row */
  return EMBER_OK;
}

ember_status ember_ref_dqlinear_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1];
  const float *x = xt->data, *ws = a->in[2]->data, *bias = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  const int8_t *w = wt->data;
  float *y = a->out[0]->data;
  int8_t *q = a->scratch;
  int64_t M = rf_prod(xt, 0, xt->rank - 1), K = wt->dims[1], N = wt->dims[0];
  int act = (int)ember_attr_i(a, EMBER_A_DQLINEAR_ACT);
  float lo = rf_attr_float(a, EMBER_A_DQLINEAR_ACT_MIN), hi = rf_attr_float(a, EMBER_A_DQLINEAR_ACT_MAX);
  for (int64_t m = 0; m < M; m++) {
    float xs;
    int32_t zp;
    ember_q_quantize_row(x + m * K, K, q, &xs, &zp);
    for (int64_t n = 0; n < N; n++) {
      int32_t acc = 0;
      for (int64_t k = 0; k < K; k++) acc += ((int32_t)q[k] - zp) * (int32_t)w[n * K + k];
      float s = xs * ws[n];
      float v = (float)acc * s;
      if (bias) v = v + bias[n];
      y[m * N + n] = ember_act(v, act, lo, hi);
    }
  }
  return EMBER_OK;
}
