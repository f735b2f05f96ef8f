/* softmax and log_softmax along one axis: max-subtracted, exp and sums in double. */
#include "ref_util.h"

ember_status ember_ref_softmax_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  RF_NEED_ATTRS(a, 1);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", ember_op_name(a->op));
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "%s expects f32", ember_op_name(a->op));
  if (!ember_same_shape(x, y)) return KFAIL(a, "output shape differs from input shape");
  int64_t axis = ember_attr_i(a, 0);
  if (rf_norm_axis(axis, x->rank) < 0)
    return KFAIL(a, "%s: axis %lld out of range for rank %d", ember_op_name(a->op), (long long)axis, (int)x->rank);
  return EMBER_OK;
}

ember_status ember_ref_softmax_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0];
  const float *x = xt->data;
  float *y = a->out[0]->data;
  int ax = rf_norm_axis(ember_attr_i(a, 0), xt->rank);
  /* a rank-0 tensor is one row of one element */
  int64_t outer = xt->rank ? rf_prod(xt, 0, ax) : 1, len = xt->rank ? xt->dims[ax] : 1;
  int64_t inner = xt->rank ? rf_prod(xt, ax + 1, xt->rank) : 1;
  bool log_out = a->op == EMBER_OP_LOG_SOFTMAX;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t in = 0; in < inner; in++) {
      const float *xr = x + o * len * inner + in;
      float *yr = y + o * len * inner + in;
      double m = -INFINITY;
      for (int64_t i = 0; i < len; i++) {
        double v = xr[i * inner];
        if (v > m || isnan(v)) m = v; /* NaN propagates, as numpy's max does */
        if (isnan(m)) break;
      }
      double s = 0.0;
      for (int64_t i = 0; i < len; i++) s += exp((double)xr[i * inner] - m);
      double ls = log(s);
      for (int64_t i = 0; i < len; i++) {
        double d = (double)xr[i * inner] - m;
        yr[i * inner] = (float)(log_out ? d - ls : exp(d) / s);
      }
    }
  }
  return EMBER_OK;
}
