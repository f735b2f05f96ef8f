/* Scaled dot-product attention: out = softmax(q k^T * scale + mask) v per query row. The mask is bool
 * (keep where true) or an additive f32, broadcast to [..., L, S]; is_causal keeps key j <= query i.
 * k, v and the mask broadcast over q's batch dims. A row with no finite maximum is handled exactly like
 * the numpy reference (max taken as 0; a non-positive or NaN denominator gives a row of zeros). */
#include "ref_util.h"

/* t broadcasts to `dims` (rank r)? (t->rank <= r, each dim equal or 1) */
static bool bcast_to(const ember_tensor *t, int r, const int64_t *dims) {
  if (t->rank > r) return false;
  for (int i = 0; i < t->rank; i++) {
    int64_t d = t->dims[i], e = dims[i + r - t->rank];
    if (d != e && d != 1) return false;
  }
  return true;
}

ember_status ember_ref_sdpa_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_SDPA);
  if (a->n_in < 3 || a->n_in > 4 || a->n_out != 1) return KFAIL(a, "sdpa takes 3 or 4 inputs and 1 output");
  const ember_tensor *q = a->in[0], *k = a->in[1], *v = a->in[2], *m = a->n_in > 3 ? a->in[3] : NULL, *y = a->out[0];
  if (q->dtype != EMBER_DTYPE_F32 || k->dtype != EMBER_DTYPE_F32 || v->dtype != EMBER_DTYPE_F32 ||
      y->dtype != EMBER_DTYPE_F32)
    return KFAIL(a, "sdpa expects f32 q, k, v and output");
  int r = q->rank;
  if (r < 2 || k->rank != r || v->rank != r || q->dims[r - 1] != k->dims[r - 1] || k->dims[r - 2] != v->dims[r - 2])
    return KFAIL(a, "sdpa shapes q=%s k=%s v=%s do not match", RF_SHAPE(q, b1), RF_SHAPE(k, b2), RF_SHAPE(v, b3));
  for (int i = 0; i < r - 2; i++) {
    if ((k->dims[i] != q->dims[i] && k->dims[i] != 1) || (v->dims[i] != q->dims[i] && v->dims[i] != 1))
      return KFAIL(a, "sdpa: k/v batch dims must broadcast to q's (q=%s k=%s v=%s)", RF_SHAPE(q, b1), RF_SHAPE(k, b2),
                   RF_SHAPE(v, b3));
  }
  int64_t L = q->dims[r - 2], S = k->dims[r - 2], E = q->dims[r - 1];
  if (m) {
    int64_t sd[EMBER_MAX_RANK];
    for (int i = 0; i < r - 2; i++) sd[i] = q->dims[i];
    sd[r - 2] = L;
    sd[r - 1] = S;
    if (m->dtype != EMBER_DTYPE_BOOL && m->dtype != EMBER_DTYPE_F32) return KFAIL(a, "sdpa mask must be bool or float32");
    if (!bcast_to(m, r, sd)) return KFAIL(a, "sdpa mask %s does not broadcast to the scores", RF_SHAPE(m, b1));
  }
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < r - 1; i++) want[i] = q->dims[i];
  want[r - 1] = v->dims[r - 1];
  if (!rf_dims_are(y, r, want)) return KFAIL(a, "sdpa output shape %s, expected q's batch and L with Ev", RF_SHAPE(y, b1));
  double scale = ember_attr_f(a, EMBER_A_SDPA_SCALE);
  if (scale == 0.0 && E == 0) return KFAIL(a, "sdpa: default scale 1/sqrt(E) is undefined for E = 0");
  int64_t bytes;
  if (!rf_mul(S, (int64_t)sizeof(double), &bytes)) return KFAIL(a, "sdpa: scratch size overflow");
  *scratch = (uint64_t)bytes;
  return EMBER_OK;
}

ember_status ember_ref_sdpa_eval(const ember_kargs *a) {
  const ember_tensor *qt = a->in[0], *kt = a->in[1], *vt = a->in[2], *mt = a->n_in > 3 ? a->in[3] : NULL;
  const ember_tensor *yt = a->out[0];
  const float *q = qt->data, *k = kt->data, *v = vt->data;
  float *y = yt->data;
  int r = qt->rank;
  int64_t L = qt->dims[r - 2], S = kt->dims[r - 2], E = qt->dims[r - 1], Ev = vt->dims[r - 1];
  double scale = ember_attr_f(a, EMBER_A_SDPA_SCALE);
  if (scale == 0.0) scale = 1.0 / sqrt((double)E);
  bool causal = ember_attr_i(a, EMBER_A_SDPA_IS_CAUSAL) != 0;
  double *sc = a->scratch;
  /* Strides over the full score shape [..., L, S]: k/v use only the batch part; the mask all of it. */
  int64_t sdims[EMBER_MAX_RANK];
  for (int i = 0; i < r - 2; i++) sdims[i] = qt->dims[i];
  sdims[r - 2] = L;
  sdims[r - 1] = S;
  rf_iter it;
  rf_iter_init(&it, r, sdims, 3);
  rf_iter_bcast(&it, 0, kt);
  rf_iter_bcast(&it, 1, vt);
  int64_t mst[EMBER_MAX_RANK] = {0};
  if (mt) {
    rf_iter_bcast(&it, 2, mt);
    memcpy(mst, it.st[2], sizeof mst);
  }
  it.rank = r - 2; /* walk the batch dims only */
  int64_t batches = rf_prod(qt, 0, r - 2);
  int64_t ml = mst[r - 2], ms = mst[r - 1];
  for (int64_t b = 0; b < batches; b++, rf_iter_next(&it)) {
    const float *qb = q + b * L * E, *kb = k + it.off[0], *vb = v + it.off[1];
    float *yb = y + b * L * Ev;
    for (int64_t i = 0; i < L; i++) {
      const float *qi = qb + i * E;
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; j++) {
        double s = 0.0;
        const float *kj = kb + j * E;
        for (int64_t e = 0; e < E; e++) s += (double)qi[e] * (double)kj[e];
        s *= scale;
        if (causal && j > i) s = -INFINITY;
        if (mt) {
          int64_t mo = it.off[2] + i * ml + j * ms;
          if (mt->dtype == EMBER_DTYPE_BOOL) {
            if (!((const uint8_t *)mt->data)[mo]) s = -INFINITY;
          } else {
            s += ((const float *)mt->data)[mo];
          }
        }
        sc[j] = s;
        if (s > mx || isnan(s)) mx = s;
      }
      if (!isfinite(mx)) mx = 0.0;
      double den = 0.0;
      for (int64_t j = 0; j < S; j++) {
        sc[j] = exp(sc[j] - mx);
        den += sc[j];
      }
      float *yi = yb + i * Ev;
      if (!(den > 0.0)) {
        for (int64_t e = 0; e < Ev; e++) yi[e] = 0.f;
        continue;
      }
      for (int64_t e = 0; e < Ev; e++) {
        double acc = 0.0;
        for (int64_t j = 0; j < S; j++) acc += sc[j] / den * (double)vb[j * Ev + e];
        yi[e] = (float)acc;
      }
    }
  }
  return EMBER_OK;
}
