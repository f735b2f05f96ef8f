/* int4 group-wise weights: q4linear (x rows quantized to int8 at run time, per-group integer dot
 * products scaled by float16 group scales) and q4embedding (row lookup, int4 * scale). A packed row
 * holds K int4 values in K/2 bytes, low nibble first (docs/quantization.md). */
#include "quant_util.h"

/* weight u8 [N, K/2], scales f16 [N, K/gs]; returns K or -1 with a message. */
static int64_t q4_check(const ember_kargs *a, const ember_tensor *w, const ember_tensor *s, int64_t gs) {
  char b1[96], b2[96];
  const char *name = ember_op_name(a->op);
  if (w->dtype != EMBER_DTYPE_U8 || s->dtype != EMBER_DTYPE_F16 || w->rank != 2 || s->rank != 2) {
    KFAIL(a, "%s expects a 2-D u8 packed weight and 2-D f16 scales", name);
    return -1;
  }
  int64_t k = 2 * w->dims[1]; /* dims <= 2^40: no overflow */
  if (gs < 2 || gs % 2 || k % gs || s->dims[0] != w->dims[0] || s->dims[1] != k / gs) {
    KFAIL(a, "%s: group size %lld, packed weight %s and scales %s do not match", name, (long long)gs,
          RF_SHAPE(w, b1), RF_SHAPE(s, b2));
    return -1;
  }
  return k;
}

ember_status ember_ref_q4linear_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_Q4LINEAR);
  if (a->n_in < 3 || a->n_in > 4 || a->n_out != 1) return KFAIL(a, "q4linear takes 3 or 4 inputs and 1 output");
  const ember_tensor *x = a->in[0], *b = a->n_in > 3 ? a->in[3] : NULL, *y = a->out[0];
  int64_t k = q4_check(a, a->in[1], a->in[2], ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE));
  if (k < 0) return EMBER_ERR_FORMAT;
  int64_t n = a->in[1]->dims[0];
  if (x->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32 || (b && b->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "q4linear expects f32 x, bias and output");
  if (x->rank < 1 || x->dims[x->rank - 1] != k)
    return KFAIL(a, "q4linear: input %s does not match K=%lld", RF_SHAPE(x, b1), (long long)k);
  if (k > EMBER_Q_MAX_K) return KFAIL(a, "q4linear: reduction length %lld > %d", (long long)k, EMBER_Q_MAX_K);
  if (b && (b->rank != 1 || b->dims[0] != n)) return KFAIL(a, "q4linear bias must be [%lld]", (long long)n);
  if (!ember_act_valid(ember_attr_i(a, EMBER_A_Q4LINEAR_ACT))) return KFAIL(a, "q4linear: unknown activation");
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank - 1; i++) want[i] = x->dims[i];
  want[x->rank - 1] = n;
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "q4linear output shape %s does not match input %s", RF_SHAPE(y, b2), RF_SHAPE(x, b1));
  *scratch = (uint64_t)k; /* one quantized row */
  return EMBER_OK;
}

ember_status ember_ref_q4linear_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *wt = a->in[1];
  const float *x = xt->data, *bias = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  const uint8_t *w = wt->data;
  const uint16_t *sc = a->in[2]->data;
  float *y = a->out[0]->data;
  int8_t *q = a->scratch;
  int64_t K = 2 * wt->dims[1], N = wt->dims[0], M = rf_prod(xt, 0, xt->rank - 1);
  int64_t gs = ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE), G = K / gs;
  int act = (int)ember_attr_i(a, EMBER_A_Q4LINEAR_ACT);
  float lo = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MIN), hi = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MAX);
  for (int64_t m = 0; m < M; m++) {
    float xs;
    int32_t zp;
    ember_q_quantize_row(x + m * K, K, q, &xs, &zp);
    for (int64_t n = 0; n < N; n++) {
      const uint8_t *wr = w + n * (K / 2);
      float acc = 0.0f;
      for (int64_t g = 0; g < G; g++) {
        int32_t isum = 0;
        for (int64_t k = g * gs; k < (g + 1) * gs; k++) isum += ((int32_t)q[k] - zp) * ember_q4_get(wr, k);
        float p = (float)isum * ember_f16_to_f32(sc[n * G + g]);
        acc = acc + p;
      }
      float v = acc * xs;
      if (bias) v = v + bias[n];
      y[m * N + n] = ember_act(v, act, lo, hi);
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_q4embedding_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_Q4EMBEDDING);
  if (a->n_in != 3 || a->n_out != 1) return KFAIL(a, "q4embedding takes 3 inputs and 1 output");
  const ember_tensor *idx = a->in[2], *y = a->out[0];
  int64_t k = q4_check(a, a->in[0], a->in[1], ember_attr_i(a, EMBER_A_Q4EMBEDDING_GROUP_SIZE));
  if (k < 0) return EMBER_ERR_FORMAT;
  if (idx->dtype != EMBER_DTYPE_I32 && idx->dtype != EMBER_DTYPE_I64)
    return KFAIL(a, "q4embedding indices must be i32 or i64, got %s", ember_dtype_name(idx->dtype));
  if (y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "q4embedding output must be f32");
  if (idx->rank + 1 > EMBER_MAX_RANK) return KFAIL(a, "q4embedding: index rank %d too large", (int)idx->rank);
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < idx->rank; i++) want[i] = idx->dims[i];
  want[idx->rank] = k;
  if (!rf_dims_are(y, idx->rank + 1, want))
    return KFAIL(a, "q4embedding output shape %s does not match indices %s", RF_SHAPE(y, b1), RF_SHAPE(idx, b2));
  return EMBER_OK;
}

ember_status ember_ref_q4embedding_eval(const ember_kargs *a) {
  const ember_tensor *wt = a->in[0], *idx = a->in[2];
  const uint8_t *w = wt->data;
  const uint16_t *sc = a->in[1]->data;
  float *y = a->out[0]->data;
  int64_t V = wt->dims[0], K = 2 * wt->dims[1], gs = ember_attr_i(a, EMBER_A_Q4EMBEDDING_GROUP_SIZE), G = K / gs;
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t r = idx->dtype == EMBER_DTYPE_I32 ? (int64_t)((const int32_t *)idx->data)[i] : ((const int64_t *)idx->data)[i];
    if (r < 0 || r >= V)
      return RF_ERR_RUNTIME(a, "q4embedding: index %lld out of range [0, %lld)", (long long)r, (long long)V);
    const uint8_t *wr = w + r * (K / 2);
    for (int64_t k = 0; k < K; k++) y[i * K + k] = (float)ember_q4_get(wr, k) * ember_f16_to_f32(sc[r * G + k / gs]);
  }
  return EMBER_OK;
}

/* q8embedding: int8 table [V, D] with one float32 scale per row; row = float(q) * scale[row]. */
ember_status ember_ref_q8embedding_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  if (a->n_in != 3 || a->n_out != 1) return KFAIL(a, "q8embedding takes 3 inputs and 1 output");
  const ember_tensor *w = a->in[0], *s = a->in[1], *idx = a->in[2], *y = a->out[0];
  if (w->dtype != EMBER_DTYPE_I8 || s->dtype != EMBER_DTYPE_F32 || w->rank != 2 || s->rank != 1 ||
      s->dims[0] != w->dims[0])
    return KFAIL(a, "q8embedding expects an i8 table [V, D] and f32 scales [V], got %s and %s", RF_SHAPE(w, b1),
                 RF_SHAPE(s, b2));
  if (idx->dtype != EMBER_DTYPE_I32 && idx->dtype != EMBER_DTYPE_I64)
    return KFAIL(a, "q8embedding indices must be i32 or i64, got %s", ember_dtype_name(idx->dtype));
  if (y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "q8embedding output must be f32");
  if (idx->rank + 1 > EMBER_MAX_RANK) return KFAIL(a, "q8embedding: index rank %d too large", (int)idx->rank);
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < idx->rank; i++) want[i] = idx->dims[i];
  want[idx->rank] = w->dims[1];
  if (!rf_dims_are(y, idx->rank + 1, want))
    return KFAIL(a, "q8embedding output shape %s does not match indices %s", RF_SHAPE(y, b1), RF_SHAPE(idx, b2));
  return EMBER_OK;
}

ember_status ember_ref_q8embedding_eval(const ember_kargs *a) {
  const ember_tensor *wt = a->in[0], *idx = a->in[2];
  const int8_t *w = wt->data;
  const float *sc = a->in[1]->data;
  float *y = a->out[0]->data;
  int64_t V = wt->dims[0], D = wt->dims[1];
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t r = idx->dtype == EMBER_DTYPE_I32 ? (int64_t)((const int32_t *)idx->data)[i] : ((const int64_t *)idx->data)[i];
    if (r < 0 || r >= V)
      return RF_ERR_RUNTIME(a, "q8embedding: index %lld out of range [0, %lld)", (long long)r, (long long)V);
    for (int64_t k = 0; k < D; k++) y[i * D + k] = (float)w[r * D + k] * sc[r];
  }
  return EMBER_OK;
}
