/* Small helpers private to the reference kernels: overflow-checked int64 arithmetic, shape
 * formatting for error messages and a multi-index iterator with per-operand strides. */
#ifndef EMBER_REF_UTIL_H
#define EMBER_REF_UTIL_H

#include <math.h>
#include <stdio.h>

#include "ref_kernels.h"

#define RF_ERR_RUNTIME(a, ...) ember_fail((a)->err, (a)->err_len, EMBER_ERR_RUNTIME, __VA_ARGS__)

/* Every check starts by making sure the node carries the attribute slots the op declares. */
#define RF_NEED_ATTRS(a, n)                                                                           \
  do {                                                                                                \
    if ((a)->n_attr < (n))                                                                            \
      return KFAIL((a), "%s: expected %d attribute slots, got %d", ember_op_name((a)->op), (int)(n), \
                   (int)(a)->n_attr);                                                                 \
  } while (0)

/* Checked arithmetic: false on overflow (result untouched). rf_mul accepts non-negative operands only. */
static inline bool rf_add(int64_t x, int64_t y, int64_t *r) {
  if ((y > 0 && x > INT64_MAX - y) || (y < 0 && x < INT64_MIN - y)) return false;
  *r = x + y;
  return true;
}
static inline bool rf_sub(int64_t x, int64_t y, int64_t *r) {
  if ((y < 0 && x > INT64_MAX + y) || (y > 0 && x < INT64_MIN + y)) return false;
  *r = x - y;
  return true;
}
static inline bool rf_mul(int64_t x, int64_t y, int64_t *r) {
  if (x < 0 || y < 0) return false;
  if (x != 0 && y > INT64_MAX / x) return false;
  *r = x * y;
  return true;
}
/* Floor and ceiling division by a positive divisor (Python's // and -(-a // s)). */
static inline int64_t rf_floordiv(int64_t x, int64_t s) {
  int64_t q = x / s;
  if (x % s != 0 && x < 0) q--;
  return q;
}
static inline int64_t rf_ceildiv(int64_t x, int64_t s) {
  int64_t q = x / s;
  if (x % s != 0 && x > 0) q++;
  return q;
}

/* Product of dims[lo, hi) (the loader guarantees tensor sizes fit, so no overflow). */
static inline int64_t rf_prod(const ember_tensor *t, int lo, int hi) {
  int64_t p = 1;
  for (int i = lo; i < hi; i++) p *= t->dims[i];
  return p;
}

static inline const char *rf_shape(const ember_tensor *t, char *buf, size_t n) {
  size_t used = 0;
  int k = snprintf(buf, n, "[");
  if (k > 0) used = (size_t)k;
  for (int i = 0; i < t->rank && used < n; i++) {
    k = snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)t->dims[i]);
    if (k < 0) break;
    used += (size_t)k;
  }
  if (used < n) snprintf(buf + used, n - used, "]");
  return buf;
}
#define RF_SHAPE(t, buf) rf_shape((t), (buf), sizeof(buf))

/* Output dims equal `want` (rank r)? */
static inline bool rf_dims_are(const ember_tensor *t, int r, const int64_t *want) {
  if (t->rank != r) return false;
  for (int i = 0; i < r; i++)
    if (t->dims[i] != want[i]) return false;
  return true;
}

static inline bool rf_is_basic_dtype(int32_t dt) {
  return dt == EMBER_DTYPE_F32 || dt == EMBER_DTYPE_I32 || dt == EMBER_DTYPE_I64 || dt == EMBER_DTYPE_BOOL;
}

/* Normalize an axis like ops.norm_axis: -rank <= axis < max(rank, 1). Returns -1 when out of range. */
static inline int rf_norm_axis(int64_t axis, int rank) {
  int64_t hi = rank > 1 ? rank : 1;
  if (axis < -(int64_t)rank || axis >= hi) return -1;
  return (int)(axis < 0 ? axis + hi : axis);
}

/* Float attribute narrowed to float without out-of-range conversion (saturates to +-inf). */
static inline float rf_attr_float(const ember_kargs *a, int slot) {
  double d = ember_attr_f(a, slot);
  if (d > 3.4028234663852886e38) return INFINITY;
  if (d < -3.4028234663852886e38) return -INFINITY;
  return (float)d;
}

/* Multi-index iterator over `dims` (rank r) carrying up to 4 element offsets with their own strides. */
#define RF_MAX_OPS 4
typedef struct rf_iter {
  int rank, n;
  int64_t dims[EMBER_MAX_RANK];
  int64_t idx[EMBER_MAX_RANK];
  int64_t st[RF_MAX_OPS][EMBER_MAX_RANK];
  int64_t off[RF_MAX_OPS];
} rf_iter;

static inline void rf_iter_init(rf_iter *it, int rank, const int64_t *dims, int n) {
  memset(it, 0, sizeof *it);
  it->rank = rank;
  it->n = n;
  for (int i = 0; i < rank; i++) it->dims[i] = dims[i];
}
/* Broadcast operand k of `out`'s shape (strides 0 on broadcast dims). */
static inline void rf_iter_bcast(rf_iter *it, int k, const ember_tensor *t) {
  ember_broadcast_strides(t, it->rank, it->dims, it->st[k]);
}
static inline void rf_iter_next(rf_iter *it) {
  for (int d = it->rank - 1; d >= 0; d--) {
    it->idx[d]++;
    for (int k = 0; k < it->n; k++) it->off[k] += it->st[k][d];
    if (it->idx[d] < it->dims[d]) return;
    for (int k = 0; k < it->n; k++) it->off[k] -= it->st[k][d] * it->dims[d];
    it->idx[d] = 0;
  }
}


/* conv2d and qconv2d share their geometry attributes in slots 0..6 (CONV_GEOMETRY in ops.py) */
_Static_assert(EMBER_A_QCONV2D_STRIDE_H == EMBER_A_CONV2D_STRIDE_H && EMBER_A_QCONV2D_STRIDE_W == EMBER_A_CONV2D_STRIDE_W &&
                   EMBER_A_QCONV2D_PAD_H == EMBER_A_CONV2D_PAD_H && EMBER_A_QCONV2D_PAD_W == EMBER_A_CONV2D_PAD_W &&
                   EMBER_A_QCONV2D_DIL_H == EMBER_A_CONV2D_DIL_H && EMBER_A_QCONV2D_DIL_W == EMBER_A_CONV2D_DIL_W &&
                   EMBER_A_QCONV2D_GROUPS == EMBER_A_CONV2D_GROUPS,
               "conv2d and qconv2d geometry slots differ");

/* output size of one spatial axis, overflow-checked: (n + 2p - dil (k - 1) - 1) / s + 1 */
static inline bool rf_conv_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t *o) {
  int64_t two_p, u, e, span;
  if (!rf_mul(2, p, &two_p) || !rf_add(n, two_p, &u)) return false;
  if (k >= 1) {
    if (!rf_mul(dil, k - 1, &e)) return false;
  } else {
    e = -dil; /* an empty kernel */
  }
  if (!rf_sub(u, e, &span) || !rf_sub(span, 1, &span)) return false;
  *o = rf_floordiv(span, s) + 1;
  return true;
}

/* The geometry part of a conv2d/qconv2d check: attribute ranges, channels vs groups, output shape. */
static inline ember_status rf_conv_geometry_check(const ember_kargs *a, const char *op, const ember_tensor *x,
                                                  const ember_tensor *w, const ember_tensor *y) {
  char b1[96], b2[96], b3[96];
  int64_t sh = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_CONV2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_CONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_CONV2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_CONV2D_DIL_H), dw = ember_attr_i(a, EMBER_A_CONV2D_DIL_W);
  int64_t g = ember_attr_i(a, EMBER_A_CONV2D_GROUPS);
  if (sh < 1 || sw < 1) return KFAIL(a, "%s strides must be >= 1, got %lld, %lld", op, (long long)sh, (long long)sw);
  if (dh < 1 || dw < 1) return KFAIL(a, "%s dilations must be >= 1, got %lld, %lld", op, (long long)dh, (long long)dw);
  if (ph < 0 || pw < 0) return KFAIL(a, "%s padding must be >= 0, got %lld, %lld", op, (long long)ph, (long long)pw);
  if (g < 1) return KFAIL(a, "%s groups must be >= 1, got %lld", op, (long long)g);
  int64_t cin;
  if (!rf_mul(w->dims[1], g, &cin) || cin != x->dims[1] || w->dims[0] % g)
    return KFAIL(a, "%s channels: input %s, weight %s, groups %lld", op, RF_SHAPE(x, b1), RF_SHAPE(w, b2),
                 (long long)g);
  int64_t oh, ow;
  if (!rf_conv_out(x->dims[2], w->dims[2], sh, ph, dh, &oh) || !rf_conv_out(x->dims[3], w->dims[3], sw, pw, dw, &ow))
    return KFAIL(a, "%s attributes overflow", op);
  if (oh <= 0 || ow <= 0) return KFAIL(a, "%s output would be empty", op);
  int64_t want[4] = {x->dims[0], w->dims[0], oh, ow};
  if (!rf_dims_are(y, 4, want))
    return KFAIL(a, "%s output shape %s, expected [%lld, %lld, %lld, %lld] (input %s)", op, RF_SHAPE(y, b3),
                 (long long)want[0], (long long)want[1], (long long)oh, (long long)ow, RF_SHAPE(x, b1));
  return EMBER_OK;
}

#endif /* EMBER_REF_UTIL_H */
