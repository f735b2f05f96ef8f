/* layer_norm and rms_norm over the trailing n_axes axes, batch_norm over axis 1 (inference form).
 * Statistics are computed in double (two passes for the variance). */
#include "ref_util.h"

static ember_status trailing_norm_check(const ember_kargs *a, int max_in) {
  char b1[96], b2[96];
  RF_NEED_ATTRS(a, 2);
  if (a->n_in < 1 || a->n_in > max_in || a->n_out != 1)
    return KFAIL(a, "%s takes 1..%d inputs and 1 output", ember_op_name(a->op), max_in);
  const ember_tensor *x = a->in[0], *y = a->out[0];
  for (int i = 0; i < a->n_in; i++)
    if (a->in[i]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "%s expects f32 inputs", ember_op_name(a->op));
  if (y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "%s expects an f32 output", ember_op_name(a->op));
  if (!ember_same_shape(x, y)) return KFAIL(a, "output shape differs from input shape");
  int64_t k = ember_attr_i(a, 0);
  if (k < 1 || k > x->rank)
    return KFAIL(a, "%s: normalizing over %lld trailing axes of a rank-%d tensor", ember_op_name(a->op), (long long)k,
                 (int)x->rank);
  for (int i = 1; i < a->n_in; i++) {
    const ember_tensor *p = a->in[i];
    bool ok = p->rank == k;
    for (int d = 0; ok && d < k; d++) ok = p->dims[d] == x->dims[x->rank - k + d];
    if (!ok)
      return KFAIL(a, "%s weight/bias shape %s != trailing %lld dims of %s", ember_op_name(a->op), RF_SHAPE(p, b1),
                   (long long)k, RF_SHAPE(x, b2));
  }
  return EMBER_OK;
}

ember_status ember_ref_layer_norm_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  return trailing_norm_check(a, 3);
}
ember_status ember_ref_rms_norm_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  return trailing_norm_check(a, 2);
}

static ember_status trailing_norm_eval(const ember_kargs *a, bool rms) {
  const ember_tensor *xt = a->in[0];
  const float *x = xt->data;
  const float *w = a->n_in > 1 ? (const float *)a->in[1]->data : NULL;
  const float *b = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  float *y = a->out[0]->data;
  int k = (int)ember_attr_i(a, 0);
  double eps = ember_attr_f(a, 1);
  int64_t inner = rf_prod(xt, xt->rank - k, xt->rank), outer = rf_prod(xt, 0, xt->rank - k);
  for (int64_t o = 0; o < outer; o++) {
    const float *xr = x + o * inner;
    float *yr = y + o * inner;
    double mu = 0.0, ss = 0.0;
    if (!rms) {
      for (int64_t i = 0; i < inner; i++) mu += xr[i];
      mu /= (double)inner;
    }
    for (int64_t i = 0; i < inner; i++) {
      double d = (double)xr[i] - mu;
      ss += d * d;
    }
    double inv = 1.0 / sqrt(ss / (double)inner + eps);
    for (int64_t i = 0; i < inner; i++) {
      double v = ((double)xr[i] - mu) * inv;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = (float)v;
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_layer_norm_eval(const ember_kargs *a) { return trailing_norm_eval(a, false); }
ember_status ember_ref_rms_norm_eval(const ember_kargs *a) { return trailing_norm_eval(a, true); }

ember_status ember_ref_batch_norm_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_BATCH_NORM);
  if (a->n_in != 5 || a->n_out != 1) return KFAIL(a, "batch_norm takes 5 inputs and 1 output");
  const ember_tensor *x = a->in[0], *y = a->out[0];
  for (int i = 0; i < 5; i++)
    if (a->in[i]->dtype != EMBER_DTYPE_F32) return KFAIL(a, "batch_norm expects f32 inputs");
  if (y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "batch_norm expects an f32 output");
  if (x->rank < 2) return KFAIL(a, "batch_norm expects rank >= 2, got %s", RF_SHAPE(x, b1));
  for (int i = 1; i < 5; i++)
    if (a->in[i]->rank != 1 || a->in[i]->dims[0] != x->dims[1])
      return KFAIL(a, "batch_norm: input %s with per-channel parameter %s", RF_SHAPE(x, b1), RF_SHAPE(a->in[i], b2));
  if (!ember_same_shape(x, y)) return KFAIL(a, "output shape differs from input shape");
  return EMBER_OK;
}

ember_status ember_ref_batch_norm_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0];
  const float *x = xt->data, *mean = a->in[1]->data, *var = a->in[2]->data, *w = a->in[3]->data,
              *b = a->in[4]->data;
  float *y = a->out[0]->data;
  double eps = ember_attr_f(a, EMBER_A_BATCH_NORM_EPS);
  int64_t N = xt->dims[0], C = xt->dims[1], inner = rf_prod(xt, 2, xt->rank);
  for (int64_t n = 0; n < N; n++) {
    for (int64_t c = 0; c < C; c++) {
      double scale = (double)w[c] / sqrt((double)var[c] + eps), mu = mean[c], beta = b[c];
      const float *xr = x + (n * C + c) * inner;
      float *yr = y + (n * C + c) * inner;
      for (int64_t i = 0; i < inner; i++) yr[i] = (float)(((double)xr[i] - mu) * scale + beta);
    }
  }
  return EMBER_OK;
}
