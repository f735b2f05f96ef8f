/* linear (x[..., K] . W[N, K]^T + b, fused activation) and matmul (batched, broadcast batch dims).
 * Dot products accumulate in double, like the float64 numpy reference. */
#include "ref_util.h"

ember_status ember_ref_linear_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_LINEAR);
  if (a->n_in < 2 || a->n_in > 3 || a->n_out != 1) return KFAIL(a, "linear takes 2 or 3 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *b = a->n_in > 2 ? a->in[2] : NULL, *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32 ||
      (b && b->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "linear expects f32 tensors");
  if (w->rank != 2 || x->rank < 1 || x->dims[x->rank - 1] != w->dims[1])
    return KFAIL(a, "linear: input %s does not match weight %s", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
    return KFAIL(a, "linear bias shape %s != [%lld]", RF_SHAPE(b, b1), (long long)w->dims[0]);
  int64_t act = ember_attr_i(a, EMBER_A_LINEAR_ACT);
  if (!ember_act_valid(act)) return KFAIL(a, "linear: unknown activation %lld", (long long)act);
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank - 1; i++) want[i] = x->dims[i];
  want[x->rank - 1] = w->dims[0];
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "linear output shape %s does not match input %s and weight %s", RF_SHAPE(y, b3),
                 RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  return EMBER_OK;
}

ember_status ember_ref_linear_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1];
  const float *x = xt->data, *w = wt->data, *bias = a->n_in > 2 ? (const float *)a->in[2]->data : NULL;
  float *y = a->out[0]->data;
  int64_t M = rf_prod(xt, 0, xt->rank - 1), K = wt->dims[1], N = wt->dims[0];
  int act = (int)ember_attr_i(a, EMBER_A_LINEAR_ACT);
  float lo = rf_attr_float(a, EMBER_A_LINEAR_ACT_MIN), hi = rf_attr_float(a, EMBER_A_LINEAR_ACT_MAX);
  for (int64_t m = 0; m < M; m++) {
    for (int64_t n = 0; n < N; n++) {
      double acc = bias ? (double)bias[n] : 0.0;
      for (int64_t k = 0; k < K; k++) acc += (double)x[m * K + k] * (double)w[n * K + k];
      y[m * N + n] = ember_act((float)acc, act, lo, hi);
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_matmul_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  if (a->n_in != 2 || a->n_out != 1) return KFAIL(a, "matmul takes 2 inputs and 1 output");
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || w->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32)
    return KFAIL(a, "matmul expects f32 tensors");
  if (x->rank < 2 || w->rank < 2 || x->dims[x->rank - 1] != w->dims[w->rank - 2])
    return KFAIL(a, "matmul: shapes %s and %s do not multiply", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
  int rx = x->rank - 2, rw = w->rank - 2, rb = rx > rw ? rx : rw;
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < rb; i++) {
    int jx = i - (rb - rx), jw = i - (rb - rw);
    int64_t dx = jx >= 0 ? x->dims[jx] : 1, dw = jw >= 0 ? w->dims[jw] : 1;
    if (dx != dw && dx != 1 && dw != 1)
      return KFAIL(a, "matmul: batch dims of %s and %s do not broadcast", RF_SHAPE(x, b1), RF_SHAPE(w, b2));
    want[i] = dx == 1 ? dw : dx;
  }
  want[rb] = x->dims[x->rank - 2];
  want[rb + 1] = w->dims[w->rank - 1];
  if (!rf_dims_are(y, rb + 2, want))
    return KFAIL(a, "matmul output shape %s does not match %s @ %s", RF_SHAPE(y, b3), RF_SHAPE(x, b1),
                 RF_SHAPE(w, b2));
  /* one row of double accumulators, so b is walked row by row */
  int64_t bytes;
  if (!rf_mul(want[rb + 1], (int64_t)sizeof(double), &bytes)) return KFAIL(a, "matmul: scratch size overflow");
  *scratch = (uint64_t)bytes;
  return EMBER_OK;
}

ember_status ember_ref_matmul_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const float *x = xt->data, *w = wt->data;
  float *y = yt->data;
  double *acc = a->scratch;
  int rb = yt->rank - 2;
  int64_t M = yt->dims[rb], N = yt->dims[rb + 1], K = xt->dims[xt->rank - 1];
  int64_t batches = rf_prod(yt, 0, rb);
  rf_iter it;
  rf_iter_init(&it, yt->rank, yt->dims, 2);
  rf_iter_bcast(&it, 0, xt);
  rf_iter_bcast(&it, 1, wt);
  it.rank = rb; /* iterate the batch dims only; their strides count whole matrices */
  for (int64_t bi = 0; bi < batches; bi++, rf_iter_next(&it)) {
    const float *xb = x + it.off[0], *wb = w + it.off[1];
    float *yb = y + bi * M * N;
    for (int64_t m = 0; m < M; m++) {
      /* acc[n] sums x[m, k] * b[k, n] over k in order, exactly as a per-element dot product would */
      for (int64_t n = 0; n < N; n++) acc[n] = 0.0;
      for (int64_t k = 0; k < K; k++) {
        double xv = xb[m * K + k];
        const float *wr = wb + k * N;
        for (int64_t n = 0; n < N; n++) acc[n] += xv * (double)wr[n];
      }
      for (int64_t n = 0; n < N; n++) yb[m * N + n] = (float)acc[n];
    }
  }
  return EMBER_OK;
}
