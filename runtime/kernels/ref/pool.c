/* max_pool2d (dilation, ceil_mode), avg_pool2d (ceil_mode, count_include_pad, divisor override) and
 * adaptive_avg_pool2d, all NCHW. Loops visit only the in-bounds part of each window. */
#include "ref_util.h"

/* ops._pool_out, overflow-checked: span = n + 2p - dil*(k-1) - 1; o = floor|ceil(span / s) + 1;
 * in ceil mode the last window must start inside the input or the left padding. */
static bool pool_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, bool ceil_mode, int64_t *o) {
  int64_t two_p, u, e, span, np;
  if (!rf_mul(2, p, &two_p) || !rf_add(n, two_p, &u) || !rf_mul(dil, k - 1, &e) || !rf_sub(u, e, &span) ||
      !rf_sub(span, 1, &span) || !rf_add(n, p, &np))
    return false;
  int64_t q = ceil_mode ? rf_ceildiv(span, s) : rf_floordiv(span, s);
  /* (o - 1) * s >= n + p  <=>  o - 1 >= ceil((n + p) / s) */
  if (ceil_mode && q >= rf_ceildiv(np, s)) q--;
  *o = q + 1;
  return true;
}

typedef struct pool_params {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil_mode;
} pool_params;

static void read_pool_params(const ember_kargs *a, pool_params *p) {
  bool mx = a->op == EMBER_OP_MAX_POOL2D || a->op == EMBER_OP_MAX_POOL2D_NHWC;
  p->kh = ember_attr_i(a, 0);
  p->kw = ember_attr_i(a, 1);
  p->sh = ember_attr_i(a, 2);
  p->sw = ember_attr_i(a, 3);
  p->ph = ember_attr_i(a, 4);
  p->pw = ember_attr_i(a, 5);
  p->dh = mx ? ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_H) : 1;
  p->dw = mx ? ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_W) : 1;
  p->ceil_mode = (mx ? ember_attr_i(a, EMBER_A_MAX_POOL2D_CEIL_MODE) : ember_attr_i(a, EMBER_A_AVG_POOL2D_CEIL_MODE)) != 0;
}

_Static_assert(EMBER_A_MAX_POOL2D_NHWC_DIL_H == EMBER_A_MAX_POOL2D_DIL_H &&
                   EMBER_A_MAX_POOL2D_NHWC_CEIL_MODE == EMBER_A_MAX_POOL2D_CEIL_MODE &&
                   EMBER_NSLOTS_MAX_POOL2D_NHWC == EMBER_NSLOTS_MAX_POOL2D,
               "max_pool2d and max_pool2d_nhwc slots differ");

static ember_status pool_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, 9); /* both pool ops declare 9 slots */
  const char *name = ember_op_name(a->op);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", name);
  const ember_tensor *x = a->in[0], *y = a->out[0];
  const bool i8 = a->op == EMBER_OP_MAX_POOL2D_NHWC && x->dtype == EMBER_DTYPE_I8 && y->dtype == EMBER_DTYPE_I8;
  if (!i8 && (x->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32)) return KFAIL(a, "%s expects f32", name);
  const bool nhwc = a->op == EMBER_OP_MAX_POOL2D_NHWC;
  const int hd = nhwc ? 1 : 2, wd = nhwc ? 2 : 3, cd = nhwc ? 3 : 1;
  if (x->rank != 4) return KFAIL(a, "%s expects a 4-D %s input, got %s", name, nhwc ? "NHWC" : "NCHW", RF_SHAPE(x, b1));
  pool_params p;
  read_pool_params(a, &p);
  if (p.kh < 1 || p.kw < 1) return KFAIL(a, "%s kernel must be >= 1, got %lld, %lld", name, (long long)p.kh, (long long)p.kw);
  if (p.sh < 1 || p.sw < 1) return KFAIL(a, "%s strides must be >= 1, got %lld, %lld", name, (long long)p.sh, (long long)p.sw);
  if (p.dh < 1 || p.dw < 1) return KFAIL(a, "%s dilations must be >= 1", name);
  if (p.ph < 0 || p.pw < 0) return KFAIL(a, "%s padding must be >= 0", name);
  if (p.ph > p.kh / 2 || p.pw > p.kw / 2) return KFAIL(a, "%s padding must be at most half the kernel size", name);
  int64_t oh, ow;
  if (!pool_out(x->dims[hd], p.kh, p.sh, p.ph, p.dh, p.ceil_mode, &oh) ||
      !pool_out(x->dims[wd], p.kw, p.sw, p.pw, p.dw, p.ceil_mode, &ow))
    return KFAIL(a, "%s attributes overflow", name);
  if (oh <= 0 || ow <= 0) return KFAIL(a, "%s output would be empty", name);
  int64_t want[4] = {x->dims[0], x->dims[1], oh, ow};
  if (nhwc) {
    want[1] = oh;
    want[2] = ow;
    want[3] = x->dims[cd];
  }
  if (!rf_dims_are(y, 4, want))
    return KFAIL(a, "%s output shape %s, expected [%lld, %lld, %lld, %lld]", name, RF_SHAPE(y, b2), (long long)want[0],
                 (long long)want[1], (long long)want[2], (long long)want[3]);
  return EMBER_OK;
}

ember_status ember_ref_max_pool2d_check(const ember_kargs *a, uint64_t *scratch) { return pool_check(a, scratch); }

ember_status ember_ref_avg_pool2d_check(const ember_kargs *a, uint64_t *scratch) {
  ember_status s = pool_check(a, scratch);
  if (s != EMBER_OK) return s;
  /* the divisor override may be any nonzero value (0 means "not set"), exactly as in the reference */
  return EMBER_OK;
}

/* Taps j in [0, k) with 0 <= start + j*dil < n: returns [*lo, *hi). */
static void valid_taps(int64_t start, int64_t k, int64_t dil, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t l = 0, h;
  if (start < 0) l = rf_ceildiv(-start, dil);
  if (start > n - 1) h = 0;
  else h = rf_floordiv(n - 1 - start, dil) + 1;
  if (h > k) h = k;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

ember_status ember_ref_max_pool2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *yt = a->out[0];
  const float *x = xt->data;
  float *y = yt->data;
  pool_params p;
  read_pool_params(a, &p);
  int64_t NC = xt->dims[0] * xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
  for (int64_t nc = 0; nc < NC; nc++) {
    const float *xc = x + nc * H * W;
    for (int64_t oy = 0; oy < OH; oy++) {
      int64_t y0 = oy * p.sh - p.ph, ky0, ky1;
      valid_taps(y0, p.kh, p.dh, H, &ky0, &ky1);
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0 = ox * p.sw - p.pw, kx0, kx1;
        valid_taps(x0, p.kw, p.dw, W, &kx0, &kx1);
        float m = -INFINITY; /* a window with no in-bounds tap gives -inf (torch's value) */
        for (int64_t ky = ky0; ky < ky1; ky++)
          for (int64_t kx = kx0; kx < kx1; kx++) {
            float v = xc[(y0 + ky * p.dh) * W + x0 + kx * p.dw];
            if (v > m || isnan(v)) m = v;
          }
        y[(nc * OH + oy) * OW + ox] = m;
      }
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_max_pool2d_nhwc_check(const ember_kargs *a, uint64_t *scratch) { return pool_check(a, scratch); }

ember_status ember_ref_max_pool2d_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *yt = a->out[0];
  const float *x = xt->data;
  float *y = yt->data;
  pool_params p;
  read_pool_params(a, &p);
  int64_t N = xt->dims[0], H = xt->dims[1], W = xt->dims[2], C = xt->dims[3], OH = yt->dims[1], OW = yt->dims[2];
  if (xt->dtype == EMBER_DTYPE_I8) { /* int8 (a quantized tensor kept quantized across the pool): the max of
                                      * the integers is the quantized max; a window with no tap gives -128 */
    const int8_t *xq = xt->data;
    int8_t *yq = yt->data;
    for (int64_t n = 0; n < N; n++)
      for (int64_t oy = 0; oy < OH; oy++) {
        int64_t y0 = oy * p.sh - p.ph, ky0, ky1;
        valid_taps(y0, p.kh, p.dh, H, &ky0, &ky1);
        for (int64_t ox = 0; ox < OW; ox++) {
          int64_t x0 = ox * p.sw - p.pw, kx0, kx1;
          valid_taps(x0, p.kw, p.dw, W, &kx0, &kx1);
          for (int64_t c = 0; c < C; c++) {
            int8_t m = -128;
            for (int64_t ky = ky0; ky < ky1; ky++)
              for (int64_t kx = kx0; kx < kx1; kx++) {
                int8_t v = xq[((n * H + y0 + ky * p.dh) * W + x0 + kx * p.dw) * C + c];
                m = v > m ? v : m;
              }
            yq[((n * OH + oy) * OW + ox) * C + c] = m;
          }
        }
      }
    return EMBER_OK;
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++) {
      int64_t y0 = oy * p.sh - p.ph, ky0, ky1;
      valid_taps(y0, p.kh, p.dh, H, &ky0, &ky1);
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0 = ox * p.sw - p.pw, kx0, kx1;
        valid_taps(x0, p.kw, p.dw, W, &kx0, &kx1);
        for (int64_t c = 0; c < C; c++) {
          float m = -INFINITY; /* a window with no in-bounds tap gives -inf (torch's value) */
          for (int64_t ky = ky0; ky < ky1; ky++)
            for (int64_t kx = kx0; kx < kx1; kx++) {
              float v = x[((n * H + y0 + ky * p.dh) * W + x0 + kx * p.dw) * C + c];
              if (v > m || isnan(v)) m = v;
            }
          y[((n * OH + oy) * OW + ox) * C + c] = m;
        }
      }
    }
  return EMBER_OK;
}

/* Window [start, start + k) clipped to the padded input [.., n + p): its size (for count_include_pad). */
static int64_t padded_extent(int64_t start, int64_t k, int64_t n, int64_t p) {
  int64_t room = n + p - start; /* > 0: windows start before n */
  return k < room ? k : room;
}

ember_status ember_ref_avg_pool2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *yt = a->out[0];
  const float *x = xt->data;
  float *y = yt->data;
  pool_params p;
  read_pool_params(a, &p);
  bool include_pad = ember_attr_i(a, EMBER_A_AVG_POOL2D_COUNT_INCLUDE_PAD) != 0;
  int64_t divisor = ember_attr_i(a, EMBER_A_AVG_POOL2D_DIVISOR);
  int64_t NC = xt->dims[0] * xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
  for (int64_t nc = 0; nc < NC; nc++) {
    const float *xc = x + nc * H * W;
    for (int64_t oy = 0; oy < OH; oy++) {
      int64_t y0 = oy * p.sh - p.ph, ky0, ky1;
      valid_taps(y0, p.kh, 1, H, &ky0, &ky1);
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0 = ox * p.sw - p.pw, kx0, kx1;
        valid_taps(x0, p.kw, 1, W, &kx0, &kx1);
        double sum = 0.0;
        for (int64_t ky = ky0; ky < ky1; ky++)
          for (int64_t kx = kx0; kx < kx1; kx++) sum += xc[(y0 + ky) * W + x0 + kx];
        double div;
        if (divisor) div = (double)divisor;
        else if (include_pad) div = (double)padded_extent(y0, p.kh, H, p.ph) * (double)padded_extent(x0, p.kw, W, p.pw);
        else div = (double)(ky1 - ky0) * (double)(kx1 - kx0);
        y[(nc * OH + oy) * OW + ox] = (float)(sum / div);
      }
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_adaptive_avg_pool2d_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  int64_t t;
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_ADAPTIVE_AVG_POOL2D);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "adaptive_avg_pool2d takes 1 input and 1 output");
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "adaptive_avg_pool2d expects f32");
  int64_t oh = ember_attr_i(a, EMBER_A_ADAPTIVE_AVG_POOL2D_OUT_H), ow = ember_attr_i(a, EMBER_A_ADAPTIVE_AVG_POOL2D_OUT_W);
  if (x->rank != 4 || oh <= 0 || ow <= 0)
    return KFAIL(a, "adaptive_avg_pool2d expects NCHW input and a positive size, got %s and %lld x %lld",
                 RF_SHAPE(x, b1), (long long)oh, (long long)ow);
  int64_t want[4] = {x->dims[0], x->dims[1], oh, ow};
  if (!rf_dims_are(y, 4, want))
    return KFAIL(a, "adaptive_avg_pool2d output shape %s, expected [%lld, %lld, %lld, %lld]", RF_SHAPE(y, b2),
                 (long long)want[0], (long long)want[1], (long long)oh, (long long)ow);
  /* window bounds compute (i + 1) * H in int64 */
  if (!rf_mul(oh, x->dims[2], &t) || !rf_mul(ow, x->dims[3], &t)) return KFAIL(a, "adaptive_avg_pool2d sizes overflow");
  return EMBER_OK;
}

ember_status ember_ref_adaptive_avg_pool2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *yt = a->out[0];
  const float *x = xt->data;
  float *y = yt->data;
  int64_t NC = xt->dims[0] * xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
  for (int64_t nc = 0; nc < NC; nc++) {
    const float *xc = x + nc * H * W;
    for (int64_t oy = 0; oy < OH; oy++) {
      int64_t y0 = oy * H / OH, y1 = rf_ceildiv((oy + 1) * H, OH);
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0 = ox * W / OW, x1 = rf_ceildiv((ox + 1) * W, OW);
        double sum = 0.0;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) sum += xc[iy * W + ix];
        /* an empty window (H or W is 0) gives NaN, like numpy's mean of nothing */
        int64_t cnt = (y1 - y0) * (x1 - x0);
        y[(nc * OH + oy) * OW + ox] = cnt ? (float)(sum / (double)cnt) : NAN;
      }
    }
  }
  return EMBER_OK;
}
