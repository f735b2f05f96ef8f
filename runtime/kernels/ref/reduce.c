/* reduce_mean / reduce_sum / reduce_max over the axes whose bits are set in axes_mask, keepdim or not.
 * f32 sums accumulate in double; integer sums wrap modulo 2^bits like numpy's astype. */
#include "ref_util.h"

ember_status ember_ref_reduce_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, 2);
  const char *name = ember_op_name(a->op);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", name);
  const ember_tensor *x = a->in[0], *y = a->out[0];
  bool int_ok = a->op != EMBER_OP_REDUCE_MEAN;
  if (!(x->dtype == EMBER_DTYPE_F32 || (int_ok && (x->dtype == EMBER_DTYPE_I32 || x->dtype == EMBER_DTYPE_I64))))
    return KFAIL(a, "%s: unsupported dtype %s", name, ember_dtype_name(x->dtype));
  if (y->dtype != x->dtype) return KFAIL(a, "%s: output dtype must equal input dtype", name);
  int64_t mask = ember_attr_i(a, 0), keep = ember_attr_i(a, 1);
  if (mask < 0 || (mask >> x->rank) != 0)
    return KFAIL(a, "%s: axes mask %#llx beyond rank %d", name, (unsigned long long)mask, (int)x->rank);
  int64_t want[EMBER_MAX_RANK];
  int r = 0;
  int64_t count = 1;
  for (int i = 0; i < x->rank; i++) {
    if ((mask >> i) & 1) {
      count *= x->dims[i];
      if (keep) want[r++] = 1;
    } else {
      want[r++] = x->dims[i];
    }
  }
  if (!rf_dims_are(y, r, want))
    return KFAIL(a, "%s: output shape %s does not match input %s with mask %#llx keepdim %lld", name, RF_SHAPE(y, b2),
                 RF_SHAPE(x, b1), (unsigned long long)mask, (long long)keep);
  if (a->op == EMBER_OP_REDUCE_MAX && count == 0 && y->numel > 0)
    return KFAIL(a, "reduce_max over an empty axis has no identity");
  return EMBER_OK;
}

ember_status ember_ref_reduce_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0];
  int64_t mask = ember_attr_i(a, 0);
  /* Split the input's dims into kept (outer, in order = output order) and reduced (inner) groups. */
  int64_t kd[EMBER_MAX_RANK], ks[EMBER_MAX_RANK], rd[EMBER_MAX_RANK], rs[EMBER_MAX_RANK];
  int nk = 0, nr = 0;
  int64_t stride = 1, n_out = 1, n_red = 1;
  int64_t strides[EMBER_MAX_RANK];
  for (int i = xt->rank - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= xt->dims[i];
  }
  for (int i = 0; i < xt->rank; i++) {
    if ((mask >> i) & 1) {
      rd[nr] = xt->dims[i];
      rs[nr++] = strides[i];
      n_red *= xt->dims[i];
    } else {
      kd[nk] = xt->dims[i];
      ks[nk++] = strides[i];
      n_out *= xt->dims[i];
    }
  }
  rf_iter outer, inner;
  rf_iter_init(&outer, nk, kd, 1);
  memcpy(outer.st[0], ks, sizeof(int64_t) * (size_t)nk);
  int op = a->op;
  for (int64_t o = 0; o < n_out; o++, rf_iter_next(&outer)) {
    rf_iter_init(&inner, nr, rd, 1);
    memcpy(inner.st[0], rs, sizeof(int64_t) * (size_t)nr);
    int64_t base = outer.off[0];
    switch (xt->dtype) {
      case EMBER_DTYPE_F32: {
        const float *x = xt->data;
        double acc = op == EMBER_OP_REDUCE_MAX ? -INFINITY : 0.0;
        for (int64_t r = 0; r < n_red; r++, rf_iter_next(&inner)) {
          double v = x[base + inner.off[0]];
          if (op != EMBER_OP_REDUCE_MAX) acc += v;
          else if (v > acc || isnan(v)) acc = v;
          if (op == EMBER_OP_REDUCE_MAX && isnan(acc)) break;
        }
        if (op == EMBER_OP_REDUCE_MEAN) acc = n_red ? acc / (double)n_red : NAN;
        ((float *)a->out[0]->data)[o] = (float)acc;
        break;
      }
      case EMBER_DTYPE_I32: {
        const int32_t *x = xt->data;
        uint32_t sum = 0;
        int32_t mx = INT32_MIN;
        for (int64_t r = 0; r < n_red; r++, rf_iter_next(&inner)) {
          int32_t v = x[base + inner.off[0]];
          sum += (uint32_t)v;
          if (v > mx) mx = v;
        }
        ((int32_t *)a->out[0]->data)[o] = op == EMBER_OP_REDUCE_MAX ? mx : (int32_t)sum; /* wraps (gcc/clang/MSVC) */
        break;
      }
      default: {
        const int64_t *x = xt->data;
        uint64_t sum = 0;
        int64_t mx = INT64_MIN;
        for (int64_t r = 0; r < n_red; r++, rf_iter_next(&inner)) {
          int64_t v = x[base + inner.off[0]];
          sum += (uint64_t)v;
          if (v > mx) mx = v;
        }
        ((int64_t *)a->out[0]->data)[o] = op == EMBER_OP_REDUCE_MAX ? mx : (int64_t)sum;
        break;
      }
    }
  }
  return EMBER_OK;
}
