/* linear_packed: linear whose weight is stored as 16-column panels P[ceil(N/16), K, 16] (packed at
 * export so the fast kernel reads it in place), with an optional residual (the output's shape) added
 * before the activation. Reference: plain loops, W[n][k] = P[n/16][k][n%16]. */
#include "ref_util.h"

ember_status ember_ref_linear_packed_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  if (a->n_in < 2 || a->n_in > 4 || a->n_out != 1) return KFAIL(a, "linear_packed takes 2 to 4 inputs and 1 output");
  RF_NEED_ATTRS(a, EMBER_NSLOTS_LINEAR_PACKED);
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  int64_t n = ember_attr_i(a, EMBER_A_LINEAR_PACKED_N);
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32)
    return KFAIL(a, "linear_packed expects f32 tensors");
  if (n < 1 || w->rank != 3 || w->dims[2] != 16 || w->dims[0] != (n + 15) / 16 || x->rank < 1 ||
      x->dims[x->rank - 1] != w->dims[1])
    return KFAIL(a, "linear_packed: input %s, weight panels %s and n=%lld do not match", RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2), (long long)n);
  if (a->n_in >= 3 && (a->in[2]->dtype != EMBER_DTYPE_F32 || a->in[2]->rank != 1 || a->in[2]->dims[0] != n))
    return KFAIL(a, "linear_packed bias shape %s != [%lld]", RF_SHAPE(a->in[2], b1), (long long)n);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_LINEAR_PACKED_ACT))) return KFAIL(a, "unknown activation");
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank - 1; i++) want[i] = x->dims[i];
  want[x->rank - 1] = n;
  if (!rf_dims_are(y, x->rank, want)) return KFAIL(a, "linear_packed output shape %s is wrong", RF_SHAPE(y, b3));
  if (a->n_in == 4 && (a->in[3]->dtype != EMBER_DTYPE_F32 || !rf_dims_are(a->in[3], x->rank, want)))
    return KFAIL(a, "linear_packed residual %s must be f32 of the output's shape %s", RF_SHAPE(a->in[3], b1),
                 RF_SHAPE(y, b2));
  return EMBER_OK;
}

ember_status ember_ref_linear_packed_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[1];
  const float *xv = x->data, *pv = w->data, *bias = a->n_in >= 3 ? a->in[2]->data : NULL;
  const float *res = a->n_in == 4 ? a->in[3]->data : NULL; /* added before the activation */
  float *y = a->out[0]->data;
  int64_t k = w->dims[1], n = ember_attr_i(a, EMBER_A_LINEAR_PACKED_N), m = x->numel / k;
  int act = (int)ember_attr_i(a, EMBER_A_LINEAR_PACKED_ACT);
  float lo = (float)ember_attr_f(a, EMBER_A_LINEAR_PACKED_ACT_MIN), hi = (float)ember_attr_f(a, EMBER_A_LINEAR_PACKED_ACT_MAX);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      const float *panel = pv + (j / 16) * k * 16 + j % 16;
      double s = bias ? bias[j] : 0.0;
      for (int64_t p = 0; p < k; p++) s += (double)xv[i * k + p] * panel[p * 16];
      if (res) s += res[i * n + j];
      y[i * n + j] = ember_act((float)s, act, lo, hi);
    }
  return EMBER_OK;
}
