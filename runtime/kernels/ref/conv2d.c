/* conv2d: NCHW input, OIHW weight, groups, stride, symmetric zero padding, dilation, optional bias,
 * fused epilogue activation. Accumulates in double, like the float64 numpy reference. */
#include "ref_util.h"

ember_status ember_ref_conv2d_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CONV2D);
  if (a->n_in < 2 || a->n_in > 3 || a->n_out != 1) return KFAIL(a, "conv2d takes 2 or 3 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL, *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32 ||
      (b && b->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "conv2d expects f32 tensors");
  if (x->rank != 4 || w->rank != 4)
    return KFAIL(a, "conv2d expects 4-D input and weight, got %s and %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  int64_t act = ember_attr_i(a, EMBER_A_CONV2D_ACT);
  if (!ember_act_valid(act)) return KFAIL(a, "conv2d: unknown activation %lld", (long long)act);
  if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
    return KFAIL(a, "conv2d bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)w->dims[0]);
  return rf_conv_geometry_check(a, "conv2d", x, w, y);
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
