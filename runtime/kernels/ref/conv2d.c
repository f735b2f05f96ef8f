/* conv2d: NCHW input, OIHW weight, groups, stride, symmetric zero padding, dilation, optional bias,
 * fused epilogue activation. Accumulates in double, like the float64 numpy reference. */
#include "ref_util.h"

/* Python: (n + 2p - dil*(k-1) - 1) // s + 1, overflow-checked. Returns false on overflow. */
static bool conv_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t *o) {
  int64_t two_p, u, e, span;
  if (!rf_mul(2, p, &two_p) || !rf_add(n, two_p, &u)) return false;
  if (k >= 1) {
    if (!rf_mul(dil, k - 1, &e)) return false;
  } else {
    e = -dil; /* an empty kernel */
  }
  if (!rf_sub(u, e, &span) || !rf_sub(span, 1, &span)) return false;
  *o = rf_floordiv(span, s) + 1;
  return true;
}

ember_status ember_ref_conv2d_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CONV2D);
  if (a->n_in < 2 || a->n_in > 3 || a->n_out != 1) return KFAIL(a, "conv2d takes 2 or 3 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL, *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32 ||
      (b && b->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "conv2d expects f32 tensors");
  if (x->rank != 4 || w->rank != 4)
    return KFAIL(a, "conv2d expects 4-D input and weight, got %s and %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  int64_t sh = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_CONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_CONV2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_CONV2D_DIL_H), dw = ember_attr_i(a, EMBER_A_CONV2D_DIL_W);
  int64_t g = ember_attr_i(a, EMBER_A_CONV2D_GROUPS), act = ember_attr_i(a, EMBER_A_CONV2D_ACT);
  if (sh < 1 || sw < 1) return KFAIL(a, "conv2d strides must be >= 1, got %lld, %lld", (long long)sh, (long long)sw);
  if (dh < 1 || dw < 1) return KFAIL(a, "conv2d dilations must be >= 1, got %lld, %lld", (long long)dh, (long long)dw);
  if (ph < 0 || pw < 0) return KFAIL(a, "conv2d padding must be >= 0, got %lld, %lld", (long long)ph, (long long)pw);
  if (g < 1) return KFAIL(a, "conv2d groups must be >= 1, got %lld", (long long)g);
  if (!ember_act_valid(act)) return KFAIL(a, "conv2d: unknown activation %lld", (long long)act);
  int64_t cin;
  if (!rf_mul(w->dims[1], g, &cin) || cin != x->dims[1] || w->dims[0] % g)
    return KFAIL(a, "conv2d channels: input %s, weight %s, groups %lld", RF_SHAPE(x, b1), RF_SHAPE(w, b2),
                 (long long)g);
  if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
    return KFAIL(a, "conv2d bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)w->dims[0]);
  int64_t oh, ow;
  if (!conv_out(x->dims[2], w->dims[2], sh, ph, dh, &oh) || !conv_out(x->dims[3], w->dims[3], sw, pw, dw, &ow))
    return KFAIL(a, "conv2d attributes overflow");
  if (oh <= 0 || ow <= 0) return KFAIL(a, "conv2d output would be empty");
  int64_t want[4] = {x->dims[0], w->dims[0], oh, ow};
  if (!rf_dims_are(y, 4, want))
    return KFAIL(a, "conv2d output shape %s, expected [%lld, %lld, %lld, %lld] (input %s)", RF_SHAPE(y, b3),
                 (long long)want[0], (long long)want[1], (long long)oh, (long long)ow, RF_SHAPE(x, b1));
  return EMBER_OK;
}

ember_status ember_ref_conv2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const float *x = xt->data, *w = wt->data, *bias = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  float *y = yt->data;
  int64_t N = xt->dims[0], C = xt->dims[1], H = xt->dims[2], W = xt->dims[3];
  int64_t O = wt->dims[0], CG = wt->dims[1], KH = wt->dims[2], KW = wt->dims[3];
  int64_t OH = yt->dims[2], OW = yt->dims[3];
  int64_t sh = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_CONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_CONV2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_CONV2D_DIL_H), dw = ember_attr_i(a, EMBER_A_CONV2D_DIL_W);
  int64_t g = ember_attr_i(a, EMBER_A_CONV2D_GROUPS);
  int act = (int)ember_attr_i(a, EMBER_A_CONV2D_ACT);
  float lo = rf_attr_float(a, EMBER_A_CONV2D_ACT_MIN), hi = rf_attr_float(a, EMBER_A_CONV2D_ACT_MAX);
  int64_t og = O / g;
  for (int64_t n = 0; n < N; n++) {
    for (int64_t o = 0; o < O; o++) {
      int64_t c0 = (o / og) * CG;
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          double acc = bias ? (double)bias[o] : 0.0;
          for (int64_t c = 0; c < CG; c++) {
            const float *xc = x + ((n * C + c0 + c) * H) * W;
            const float *wc = w + ((o * CG + c) * KH) * KW;
            for (int64_t ky = 0; ky < KH; ky++) {
              int64_t iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= H) continue;
              for (int64_t kx = 0; kx < KW; kx++) {
                int64_t ix = ox * sw - pw + kx * dw;
                if (ix < 0 || ix >= W) continue;
                acc += (double)xc[iy * W + ix] * (double)wc[ky * KW + kx];
              }
            }
          }
          y[((n * O + o) * OH + oy) * OW + ox] = ember_act((float)acc, act, lo, hi);
        }
      }
    }
  }
  return EMBER_OK;
}
