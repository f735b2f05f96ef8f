/* embedding: rows of weight[V, D] (any dtype) gathered by i32/i64 indices of any rank into out[..., D]. An index
 * outside [0, V) is a run-time error; nothing is read for it. */
#include "ref_util.h"

ember_status ember_ref_embedding_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  if (a->n_in != 2 || a->n_out != 1) return KFAIL(a, "embedding takes 2 inputs and 1 output");
  const ember_tensor *w = a->in[0], *idx = a->in[1], *y = a->out[0];
  if (!ember_dtype_size(w->dtype) || y->dtype != w->dtype)
    return KFAIL(a, "embedding output dtype must equal the table's");
  if (w->rank != 2 || (idx->dtype != EMBER_DTYPE_I32 && idx->dtype != EMBER_DTYPE_I64))
    return KFAIL(a, "embedding expects a 2-D table and integer indices, got %s, %s", RF_SHAPE(w, b1),
                 ember_dtype_name(idx->dtype));
  int64_t want[EMBER_MAX_RANK];
  if (idx->rank + 1 > EMBER_MAX_RANK) return KFAIL(a, "embedding: index rank %d too large", (int)idx->rank);
  for (int i = 0; i < idx->rank; i++) want[i] = idx->dims[i];
  want[idx->rank] = w->dims[1];
  if (!rf_dims_are(y, idx->rank + 1, want))
    return KFAIL(a, "embedding output shape %s does not match indices %s and table %s", RF_SHAPE(y, b3),
                 RF_SHAPE(idx, b1), RF_SHAPE(w, b2));
  return EMBER_OK;
}

ember_status ember_ref_embedding_eval(const ember_kargs *a) {
  const ember_tensor *w = a->in[0], *idx = a->in[1];
  const uint8_t *table = w->data;
  uint8_t *y = a->out[0]->data;
  int64_t V = w->dims[0], n = idx->numel;
  size_t row = (size_t)w->dims[1] * ember_dtype_size(w->dtype);
  for (int64_t i = 0; i < n; i++) {
    int64_t r = idx->dtype == EMBER_DTYPE_I32 ? (int64_t)((const int32_t *)idx->data)[i] : ((const int64_t *)idx->data)[i];
    if (r < 0 || r >= V) return RF_ERR_RUNTIME(a, "embedding: index %lld out of range [0, %lld)", (long long)r, (long long)V);
    memcpy(y + (size_t)i * row, table + (size_t)r * row, row);
  }
  return EMBER_OK;
}
