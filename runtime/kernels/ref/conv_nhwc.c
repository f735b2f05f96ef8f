/* NHWC convolutions produced by the layout pass: conv2d_nhwc (groups 1, weight packed as 16-column
 * panels [ceil(n/16), KH*KW*C, 16] with K ordered (ky, kx, c)) and dwconv2d_nhwc (weight [KH, KW, C]).
 * Plain loops accumulating in double, like the float64 numpy references. */
#include "quant_util.h"

/* stride/pad/dilation at slots s0..s0+5 (stride_h, stride_w, pad_h, pad_w, dil_h, dil_w) */
_Static_assert(EMBER_A_CONV2D_NHWC_DIL_W == EMBER_A_CONV2D_NHWC_STRIDE_H + 5 &&
                   EMBER_A_DWCONV2D_NHWC_DIL_W == EMBER_A_DWCONV2D_NHWC_STRIDE_H + 5 &&
                   EMBER_A_PWDW_NHWC_DIL_W == EMBER_A_PWDW_NHWC_STRIDE_H + 5,
               "NHWC conv geometry slots must be contiguous");
typedef struct nhwc_geom {
  int64_t sh, sw, ph, pw, dh, dw;
} nhwc_geom;

static void read_geom(const ember_kargs *a, int s0, nhwc_geom *g) {
  g->sh = ember_attr_i(a, s0);
  g->sw = ember_attr_i(a, s0 + 1);
  g->ph = ember_attr_i(a, s0 + 2);
  g->pw = ember_attr_i(a, s0 + 3);
  g->dh = ember_attr_i(a, s0 + 4);
  g->dw = ember_attr_i(a, s0 + 5);
}

/* checks the geometry and that y is [N, OH, OW, c_out] */
static ember_status geom_check(const ember_kargs *a, const char *op, const nhwc_geom *g, const ember_tensor *x,
                               int64_t kh, int64_t kw, int64_t c_out, const ember_tensor *y) {
  char b1[96], b2[96];
  if (g->sh < 1 || g->sw < 1) return KFAIL(a, "%s strides must be >= 1, got %lld, %lld", op, (long long)g->sh, (long long)g->sw);
  if (g->dh < 1 || g->dw < 1) return KFAIL(a, "%s dilations must be >= 1, got %lld, %lld", op, (long long)g->dh, (long long)g->dw);
  if (g->ph < 0 || g->pw < 0) return KFAIL(a, "%s padding must be >= 0, got %lld, %lld", op, (long long)g->ph, (long long)g->pw);
  if (kh < 1 || kw < 1) return KFAIL(a, "%s kernel must be >= 1, got %lld x %lld", op, (long long)kh, (long long)kw);
  int64_t oh, ow;
  if (!rf_conv_out(x->dims[1], kh, g->sh, g->ph, g->dh, &oh) || !rf_conv_out(x->dims[2], kw, g->sw, g->pw, g->dw, &ow))
    return KFAIL(a, "%s attributes overflow", op);
  if (oh <= 0 || ow <= 0) return KFAIL(a, "%s output would be empty", op);
  int64_t want[4] = {x->dims[0], oh, ow, c_out};
  if (!rf_dims_are(y, 4, want))
    return KFAIL(a, "%s output shape %s, expected [%lld, %lld, %lld, %lld] (input %s)", op, RF_SHAPE(y, b1),
                 (long long)want[0], (long long)oh, (long long)ow, (long long)c_out, RF_SHAPE(x, b2));
  return EMBER_OK;
}

static ember_status f32_io_check(const ember_kargs *a, const char *op, int max_in) {
  if (a->n_in < 2 || a->n_in > max_in || a->n_out != 1)
    return KFAIL(a, "%s takes 2 to %d inputs and 1 output", op, max_in);
  for (int i = 0; i < a->n_in; i++)
    if (a->in[i]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "%s expects f32 tensors", op);
  if (a->out[0]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "%s expects f32 tensors", op);
  return EMBER_OK;
}

/* input 3 (optional): a residual with the output's shape, added before the activation */
static ember_status residual_check(const ember_kargs *a, const char *op) {
  char b1[96], b2[96];
  if (a->n_in < 4) return EMBER_OK;
  const ember_tensor *r = a->in[3], *y = a->out[0];
  if (!rf_dims_are(r, y->rank, y->dims))
    return KFAIL(a, "%s residual shape %s != the output's %s", op, RF_SHAPE(r, b1), RF_SHAPE(y, b2));
  return EMBER_OK;
}

ember_status ember_ref_conv2d_nhwc_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CONV2D_NHWC);
  ember_status s = f32_io_check(a, "conv2d_nhwc", 4);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL;
  int64_t n = ember_attr_i(a, EMBER_A_CONV2D_NHWC_N), kh = ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_H);
  int64_t kw = ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_W), k;
  if (x->rank != 4) return KFAIL(a, "conv2d_nhwc expects a 4-D NHWC input, got %s", RF_SHAPE(x, b1));
  if (n < 1 || kh < 1 || kw < 1 || !rf_mul(kh, kw, &k) || !rf_mul(k, x->dims[3], &k) || w->rank != 3 ||
      w->dims[0] != (n + 15) / 16 || w->dims[1] != k || w->dims[2] != 16)
    return KFAIL(a, "conv2d_nhwc: input %s, weight panels %s, n=%lld, kernel %lld x %lld do not match", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2), (long long)n, (long long)kh, (long long)kw);
  if (b && (b->rank != 1 || b->dims[0] != n))
    return KFAIL(a, "conv2d_nhwc bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)n);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_CONV2D_NHWC_ACT))) return KFAIL(a, "conv2d_nhwc: unknown activation");
  nhwc_geom g;
  read_geom(a, EMBER_A_CONV2D_NHWC_STRIDE_H, &g);
  s = geom_check(a, "conv2d_nhwc", &g, x, kh, kw, n, a->out[0]);
  return s != EMBER_OK ? s : residual_check(a, "conv2d_nhwc");
}

ember_status ember_ref_conv2d_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const float *x = xt->data, *p = wt->data, *bias = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  const float *res = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  float *y = yt->data;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t OH = yt->dims[1], OW = yt->dims[2], O = yt->dims[3], K = wt->dims[1];
  int64_t KH = ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_H), KW = ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_W);
  nhwc_geom g;
  read_geom(a, EMBER_A_CONV2D_NHWC_STRIDE_H, &g);
  int act = (int)ember_attr_i(a, EMBER_A_CONV2D_NHWC_ACT);
  float lo = rf_attr_float(a, EMBER_A_CONV2D_NHWC_ACT_MIN), hi = rf_attr_float(a, EMBER_A_CONV2D_NHWC_ACT_MAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t o = 0; o < O; o++) {
          const float *panel = p + (o / 16) * K * 16 + o % 16; /* W[o][k] = panel[k * 16] */
          double acc = bias ? (double)bias[o] : 0.0;
          for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= W) continue;
              const float *xv = x + ((n * H + iy) * W + ix) * C;
              int64_t k0 = (ky * KW + kx) * C;
              for (int64_t c = 0; c < C; c++) acc += (double)xv[c] * (double)panel[(k0 + c) * 16];
            }
          }
          size_t at = (size_t)(((n * OH + oy) * OW + ox) * O + o);
          if (res) acc += (double)res[at];
          y[at] = ember_act((float)acc, act, lo, hi);
        }
  return EMBER_OK;
}

ember_status ember_ref_dwconv2d_nhwc_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_DWCONV2D_NHWC);
  ember_status s = f32_io_check(a, "dwconv2d_nhwc", 3);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL;
  if (x->rank != 4 || w->rank != 3 || w->dims[2] != x->dims[3])
    return KFAIL(a, "dwconv2d_nhwc expects an NHWC input and a [KH, KW, C] weight, got %s and %s", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2));
  if (b && (b->rank != 1 || b->dims[0] != x->dims[3]))
    return KFAIL(a, "dwconv2d_nhwc bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)x->dims[3]);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_ACT))) return KFAIL(a, "dwconv2d_nhwc: unknown activation");
  nhwc_geom g;
  read_geom(a, EMBER_A_DWCONV2D_NHWC_STRIDE_H, &g);
  return geom_check(a, "dwconv2d_nhwc", &g, x, w->dims[0], w->dims[1], x->dims[3], a->out[0]);
}

ember_status ember_ref_dwconv2d_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const float *x = xt->data, *w = wt->data, *bias = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  float *y = yt->data;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t OH = yt->dims[1], OW = yt->dims[2], KH = wt->dims[0], KW = wt->dims[1];
  nhwc_geom g;
  read_geom(a, EMBER_A_DWCONV2D_NHWC_STRIDE_H, &g);
  int act = (int)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_ACT);
  float lo = rf_attr_float(a, EMBER_A_DWCONV2D_NHWC_ACT_MIN), hi = rf_attr_float(a, EMBER_A_DWCONV2D_NHWC_ACT_MAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t c = 0; c < C; c++) {
          double acc = bias ? (double)bias[c] : 0.0;
          for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= W) continue;
              acc += (double)x[((n * H + iy) * W + ix) * C + c] * (double)w[(ky * KW + kx) * C + c];
            }
          }
          y[((n * OH + oy) * OW + ox) * C + c] = ember_act((float)acc, act, lo, hi);
        }
  return EMBER_OK;
}

/* conv2d_winograd: 3x3, stride 1, NHWC, Winograd F(2x2, 3x3). The weight is U = G g G^T, stored as 16
 * panel-packed [C, n] matrices: U[xi][c][o] = w[((xi * P + o / 16) * C + c) * 16 + o % 16]. Per 4x4
 * input tile (2x2 output tile): v = B^T d B per channel, m[xi][o] = sum_c v[xi][c] U[xi][c][o],
 * y = A^T m A. Everything in double, like the numpy reference. scratch: v for one tile (16 x C). */
ember_status ember_ref_conv2d_winograd_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CONV2D_WINOGRAD);
  ember_status s = f32_io_check(a, "conv2d_winograd", 4);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL;
  int64_t n = ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_N);
  if (x->rank != 4 || n < 1 || w->rank != 4 || w->dims[0] != 16 || w->dims[1] != (n + 15) / 16 ||
      w->dims[2] != x->dims[3] || w->dims[3] != 16)
    return KFAIL(a, "conv2d_winograd: input %s, transformed weight %s and n=%lld do not match", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2), (long long)n);
  if (b && (b->rank != 1 || b->dims[0] != n))
    return KFAIL(a, "conv2d_winograd bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)n);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_ACT))) return KFAIL(a, "conv2d_winograd: unknown activation");
  nhwc_geom g = {1, 1, ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_H), ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_W), 1, 1};
  s = geom_check(a, "conv2d_winograd", &g, x, 3, 3, n, a->out[0]);
  if (s == EMBER_OK) s = residual_check(a, "conv2d_winograd");
  if (s != EMBER_OK) return s;
  *scratch = (uint64_t)16 * (uint64_t)x->dims[3] * sizeof(double);
  return EMBER_OK;
}

ember_status ember_ref_conv2d_winograd_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const float *x = xt->data, *u = wt->data, *bias = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  const float *res = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  float *y = yt->data;
  double *v = a->scratch;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t OH = yt->dims[1], OW = yt->dims[2], O = yt->dims[3], P = wt->dims[1];
  int64_t ph = ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_H), pw = ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_W);
  int act = (int)ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_ACT);
  float lo = rf_attr_float(a, EMBER_A_CONV2D_WINOGRAD_ACT_MIN), hi = rf_attr_float(a, EMBER_A_CONV2D_WINOGRAD_ACT_MAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t ty = 0; ty < (OH + 1) / 2; ty++)
      for (int64_t tx = 0; tx < (OW + 1) / 2; tx++) {
        for (int64_t c = 0; c < C; c++) {
          double d[4][4], e[4][4];
          for (int r = 0; r < 4; r++)
            for (int q = 0; q < 4; q++) {
              int64_t iy = 2 * ty + r - ph, ix = 2 * tx + q - pw;
              d[r][q] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((n * H + iy) * W + ix) * C + c] : 0.0;
            }
          for (int r = 0; r < 4; r++) { /* e = d B */
            e[r][0] = d[r][0] - d[r][2];
            e[r][1] = d[r][1] + d[r][2];
            e[r][2] = d[r][2] - d[r][1];
            e[r][3] = d[r][1] - d[r][3];
          }
          for (int q = 0; q < 4; q++) { /* v = B^T e */
            v[(0 * 4 + q) * C + c] = e[0][q] - e[2][q];
            v[(1 * 4 + q) * C + c] = e[1][q] + e[2][q];
            v[(2 * 4 + q) * C + c] = e[2][q] - e[1][q];
            v[(3 * 4 + q) * C + c] = e[1][q] - e[3][q];
          }
        }
        for (int64_t o = 0; o < O; o++) {
          double m[16] = {0}, r0[4], r1[4];
          for (int xi = 0; xi < 16; xi++)
            for (int64_t c = 0; c < C; c++) m[xi] += v[xi * C + c] * (double)u[((xi * P + o / 16) * C + c) * 16 + o % 16];
          for (int q = 0; q < 4; q++) { /* A^T m */
            r0[q] = m[q] + m[4 + q] + m[8 + q];
            r1[q] = m[4 + q] - m[8 + q] - m[12 + q];
          }
          double out[2][2] = {{r0[0] + r0[1] + r0[2], r0[1] - r0[2] - r0[3]}, {r1[0] + r1[1] + r1[2], r1[1] - r1[2] - r1[3]}};
          for (int i = 0; i < 2; i++)
            for (int k = 0; k < 2; k++) {
              int64_t oy = 2 * ty + i, ox = 2 * tx + k;
              if (oy < OH && ox < OW) {
                size_t at = (size_t)(((n * OH + oy) * OW + ox) * O + o);
                double sum = out[i][k] + (bias ? (double)bias[o] : 0.0) + (res ? (double)res[at] : 0.0);
                y[at] = ember_act((float)sum, act, lo, hi);
              }
            }
        }
      }
  return EMBER_OK;
}

/* pwdw_nhwc: a 1x1 convolution (weight as linear_packed panels [ceil(n/16), C, 16], bias, its own
 * activation) feeding a depthwise convolution (weight [KH, KW, n], bias). The expanded value at each
 * tap is recomputed here (double sum, rounded to float after its activation, as the unfused graph
 * stores it), then the depthwise sum runs in double like dwconv2d_nhwc's reference. */
ember_status ember_ref_pwdw_nhwc_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_PWDW_NHWC);
  if (a->n_in != 5 || a->n_out != 1) return KFAIL(a, "pwdw_nhwc takes 5 inputs and 1 output");
  for (int i = 0; i < 5; i++)
    if (a->in[i]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "pwdw_nhwc expects f32 tensors");
  if (a->out[0]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "pwdw_nhwc expects f32 tensors");
  const ember_tensor *x = a->in[0], *p = a->in[1], *pb = a->in[2], *w = a->in[3], *b = a->in[4];
  int64_t n = ember_attr_i(a, EMBER_A_PWDW_NHWC_N);
  if (x->rank != 4 || n < 1 || p->rank != 3 || p->dims[0] != (n + 15) / 16 || p->dims[1] != x->dims[3] || p->dims[2] != 16)
    return KFAIL(a, "pwdw_nhwc: input %s, pointwise panels %s and n=%lld do not match", RF_SHAPE(x, b1), RF_SHAPE(p, b2),
                 (long long)n);
  if (pb->rank != 1 || pb->dims[0] != n || b->rank != 1 || b->dims[0] != n || w->rank != 3 || w->dims[2] != n)
    return KFAIL(a, "pwdw_nhwc: biases %s, %s and depthwise weight %s must match n=%lld", RF_SHAPE(pb, b1),
                 RF_SHAPE(b, b2), RF_SHAPE(w, b3), (long long)n);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_PWDW_NHWC_ACT)) || !ember_act_valid(ember_attr_i(a, EMBER_A_PWDW_NHWC_PW_ACT)))
    return KFAIL(a, "pwdw_nhwc: unknown activation");
  nhwc_geom g;
  read_geom(a, EMBER_A_PWDW_NHWC_STRIDE_H, &g);
  return geom_check(a, "pwdw_nhwc", &g, x, w->dims[0], w->dims[1], n, a->out[0]);
}

ember_status ember_ref_pwdw_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *pt = a->in[1], *wt = a->in[3], *yt = a->out[0];
  const float *x = xt->data, *p = pt->data, *pb = a->in[2]->data, *w = wt->data, *b = a->in[4]->data;
  float *y = yt->data;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t OH = yt->dims[1], OW = yt->dims[2], E = yt->dims[3], KH = wt->dims[0], KW = wt->dims[1];
  nhwc_geom g;
  read_geom(a, EMBER_A_PWDW_NHWC_STRIDE_H, &g);
  int pact = (int)ember_attr_i(a, EMBER_A_PWDW_NHWC_PW_ACT), act = (int)ember_attr_i(a, EMBER_A_PWDW_NHWC_ACT);
  float plo = rf_attr_float(a, EMBER_A_PWDW_NHWC_PW_ACT_MIN), phi = rf_attr_float(a, EMBER_A_PWDW_NHWC_PW_ACT_MAX);
  float lo = rf_attr_float(a, EMBER_A_PWDW_NHWC_ACT_MIN), hi = rf_attr_float(a, EMBER_A_PWDW_NHWC_ACT_MAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t e = 0; e < E; e++) {
          const float *panel = p + (e / 16) * C * 16 + e % 16;
          double acc = (double)b[e];
          for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= W) continue;
              const float *xv = x + ((n * H + iy) * W + ix) * C;
              double s = (double)pb[e];
              for (int64_t c = 0; c < C; c++) s += (double)xv[c] * (double)panel[c * 16];
              acc += (double)ember_act((float)s, pact, plo, phi) * (double)w[(ky * KW + kx) * E + e];
            }
          }
          y[((n * OH + oy) * OW + ox) * E + e] = ember_act((float)acc, act, lo, hi);
        }
  return EMBER_OK;
}

/* dtypes (i8 x, i8 weight, i32 bias, f32 scale -> i8), bias and scale of n channels, and the
 * (x_zp, y_zp, qmin, qmax) slots starting at `zp_slot`: what qdwconv2d_nhwc and qconv2d_nhwc share */
static ember_status q_nhwc_check(const ember_kargs *a, const char *op, int64_t n, int zp_slot) {
  char b1[96], b2[96];
  const ember_tensor *b = a->in[2], *s = a->in[3];
  if (a->in[0]->dtype != EMBER_DTYPE_I8 || a->in[1]->dtype != EMBER_DTYPE_I8 || b->dtype != EMBER_DTYPE_I32 ||
      s->dtype != EMBER_DTYPE_F32 || a->out[0]->dtype != EMBER_DTYPE_I8)
    return KFAIL(a, "%s expects (i8 x, i8 weight, i32 bias, f32 scale) -> i8", op);
  if (b->rank != 1 || b->dims[0] != n || s->rank != 1 || s->dims[0] != n)
    return KFAIL(a, "%s: bias %s and scale %s must both be [%lld]", op, RF_SHAPE(b, b1), RF_SHAPE(s, b2), (long long)n);
  int64_t xzp = ember_attr_i(a, zp_slot), yzp = ember_attr_i(a, zp_slot + 1);
  int64_t lo = ember_attr_i(a, zp_slot + 2), hi = ember_attr_i(a, zp_slot + 3);
  if (!ember_q_is_i8(xzp) || !ember_q_is_i8(yzp) || !ember_q_is_i8(lo) || !ember_q_is_i8(hi) || lo > hi)
    return KFAIL(a, "%s: zero points %lld, %lld and bounds [%lld, %lld] must be int8 with qmin <= qmax", op,
                 (long long)xzp, (long long)yzp, (long long)lo, (long long)hi);
  return EMBER_OK;
}

/* qdwconv2d_nhwc: int8 depthwise NHWC, exact int32 sums of (x - x_zp) * w (the padding holds x_zp, so
 * it adds nothing), requantized per channel with ember_q_requant (kernels/ref/quant_util.h). */
ember_status ember_ref_qdwconv2d_nhwc_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QDWCONV2D_NHWC);
  if (a->n_in != 4 || a->n_out != 1) return KFAIL(a, "qdwconv2d_nhwc takes 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1];
  if (x->rank != 4 || w->rank != 3 || w->dims[2] != x->dims[3])
    return KFAIL(a, "qdwconv2d_nhwc expects an NHWC input and a [KH, KW, C] weight, got %s and %s", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2));
  ember_status st = q_nhwc_check(a, "qdwconv2d_nhwc", x->dims[3], EMBER_A_QDWCONV2D_NHWC_X_ZP);
  if (st != EMBER_OK) return st;
  if (w->dims[0] * w->dims[1] > EMBER_Q_MAX_K) return KFAIL(a, "qdwconv2d_nhwc: kernel too large");
  nhwc_geom g;
  read_geom(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_H, &g);
  return geom_check(a, "qdwconv2d_nhwc", &g, x, w->dims[0], w->dims[1], x->dims[3], a->out[0]);
}

ember_status ember_ref_qdwconv2d_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const int8_t *x = xt->data, *w = wt->data;
  const int32_t *bias = a->in[2]->data;
  const float *scale = a->in[3]->data;
  int8_t *y = yt->data;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t OH = yt->dims[1], OW = yt->dims[2], KH = wt->dims[0], KW = wt->dims[1];
  nhwc_geom g;
  read_geom(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_H, &g);
  int32_t xzp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_X_ZP), yzp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_Y_ZP);
  int32_t lo = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMIN), hi = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t c = 0; c < C; c++) {
          int32_t acc = ember_q_bias(bias[c]);
          for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= W) continue;
              acc += ((int32_t)x[((n * H + iy) * W + ix) * C + c] - xzp) * (int32_t)w[(ky * KW + kx) * C + c];
            }
          }
          y[((n * OH + oy) * OW + ox) * C + c] = ember_q_requant(acc, scale[c], yzp, lo, hi);
        }
  return EMBER_OK;
}

/* qconv2d_nhwc: int8 conv2d (groups 1) on NHWC, weight [O, KH, KW, C]; exact int32 sums of
 * (x - x_zp) * w (padding holds x_zp: adds nothing), requantized per output channel. */
ember_status ember_ref_qconv2d_nhwc_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_QCONV2D_NHWC);
  if (a->n_in != 4 || a->n_out != 1) return KFAIL(a, "qconv2d_nhwc takes 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1];
  if (x->rank != 4 || w->rank != 4 || w->dims[3] != x->dims[3])
    return KFAIL(a, "qconv2d_nhwc expects an NHWC input and an [O, KH, KW, C] weight, got %s and %s", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2));
  ember_status st = q_nhwc_check(a, "qconv2d_nhwc", w->dims[0], EMBER_A_QCONV2D_NHWC_X_ZP);
  if (st != EMBER_OK) return st;
  int64_t kk;
  if (!rf_mul(w->dims[1], w->dims[2], &kk) || !rf_mul(kk, w->dims[3], &kk) || kk > EMBER_Q_MAX_K)
    return KFAIL(a, "qconv2d_nhwc: reduction length of weight %s exceeds %d", RF_SHAPE(w, b2), EMBER_Q_MAX_K);
  nhwc_geom g;
  read_geom(a, EMBER_A_QCONV2D_NHWC_STRIDE_H, &g);
  return geom_check(a, "qconv2d_nhwc", &g, x, w->dims[1], w->dims[2], w->dims[0], a->out[0]);
}

ember_status ember_ref_qconv2d_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const int8_t *x = xt->data, *w = wt->data;
  const int32_t *bias = a->in[2]->data;
  const float *scale = a->in[3]->data;
  int8_t *y = yt->data;
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3];
  int64_t O = wt->dims[0], KH = wt->dims[1], KW = wt->dims[2], OH = yt->dims[1], OW = yt->dims[2];
  nhwc_geom g;
  read_geom(a, EMBER_A_QCONV2D_NHWC_STRIDE_H, &g);
  int32_t xzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_NHWC_X_ZP), yzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_NHWC_Y_ZP);
  int32_t lo = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_NHWC_QMIN), hi = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_NHWC_QMAX);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++)
        for (int64_t o = 0; o < O; o++) {
          int32_t acc = ember_q_bias(bias[o]);
          for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; kx++) {
              int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= W) continue;
              const int8_t *xv = x + ((n * H + iy) * W + ix) * C, *wv = w + ((o * KH + ky) * KW + kx) * C;
              for (int64_t c = 0; c < C; c++) acc += ((int32_t)xv[c] - xzp) * (int32_t)wv[c];
            }
          }
          y[((n * OH + oy) * OW + ox) * O + o] = ember_q_requant(acc, scale[o], yzp, lo, hi);
        }
  return EMBER_OK;
}
