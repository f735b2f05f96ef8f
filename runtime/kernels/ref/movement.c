/* Data movement: reshape, permute, expand, concat, slice, pad, copy, cast. Everything except pad
 * and cast moves elements as raw bytes of the dtype's size, so any dtype works. */
#include "ref_util.h"

static ember_status same_dtype_1in(const ember_kargs *a) {
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", ember_op_name(a->op));
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (!rf_is_basic_dtype(x->dtype)) return KFAIL(a, "%s: unsupported dtype %s", ember_op_name(a->op), ember_dtype_name(x->dtype));
  if (y->dtype != x->dtype) return KFAIL(a, "%s: output dtype must equal input dtype", ember_op_name(a->op));
  return EMBER_OK;
}

/* Copy one element of `es` bytes (1, 4 or 8). */
static inline void copy_elem(unsigned char *dst, const unsigned char *src, size_t es) { memcpy(dst, src, es); }

/* ------------------------------------------------------------------------------------- reshape */
ember_status ember_ref_reshape_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  ember_status s = same_dtype_1in(a);
  if (s != EMBER_OK) return s;
  if (a->in[0]->numel != a->out[0]->numel)
    return KFAIL(a, "cannot reshape %s to %s", RF_SHAPE(a->in[0], b1), RF_SHAPE(a->out[0], b2));
  return EMBER_OK;
}

ember_status ember_ref_reshape_eval(const ember_kargs *a) {
  if ((a->flags & EMBER_NODE_ALIAS) || a->out[0]->data == a->in[0]->data || a->in[0]->numel == 0) return EMBER_OK;
  memmove(a->out[0]->data, a->in[0]->data, (size_t)a->in[0]->numel * ember_dtype_size(a->in[0]->dtype));
  return EMBER_OK;
}

/* ---------------------------------------------------------------------------------------- copy */
ember_status ember_ref_copy_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  ember_status s = same_dtype_1in(a);
  if (s != EMBER_OK) return s;
  if (!ember_same_shape(a->in[0], a->out[0])) return KFAIL(a, "output shape differs from input shape");
  return EMBER_OK;
}

ember_status ember_ref_copy_eval(const ember_kargs *a) {
  if (a->out[0]->data != a->in[0]->data && a->in[0]->numel > 0)
    memmove(a->out[0]->data, a->in[0]->data, (size_t)a->in[0]->numel * ember_dtype_size(a->in[0]->dtype));
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------------- permute */
ember_status ember_ref_permute_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_PERMUTE);
  /* int8 too: the layout pass moves quantized activations between NCHW and NHWC */
  bool i8 = a->n_in == 1 && a->n_out == 1 && a->in[0]->dtype == EMBER_DTYPE_I8 && a->out[0]->dtype == EMBER_DTYPE_I8;
  ember_status s = i8 ? EMBER_OK : same_dtype_1in(a);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *y = a->out[0];
  bool seen[EMBER_MAX_RANK] = {false};
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    int64_t p = ember_attr_i(a, EMBER_A_PERMUTE_PERM + i);
    if (p < 0 || p >= x->rank || seen[p]) return KFAIL(a, "permute: perm is not a permutation of rank %d", (int)x->rank);
    seen[p] = true;
    want[i] = x->dims[p];
  }
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "permute output shape %s does not match input %s permuted", RF_SHAPE(y, b2), RF_SHAPE(x, b1));
  return EMBER_OK;
}

ember_status ember_ref_permute_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  size_t es = ember_dtype_size(x->dtype);
  int64_t xs[EMBER_MAX_RANK], s = 1;
  for (int i = x->rank - 1; i >= 0; i--) {
    xs[i] = s;
    s *= x->dims[i];
  }
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 1);
  for (int i = 0; i < y->rank; i++) it.st[0][i] = xs[ember_attr_i(a, EMBER_A_PERMUTE_PERM + i)];
  const unsigned char *src = x->data;
  unsigned char *dst = y->data;
  for (int64_t i = 0; i < y->numel; i++, rf_iter_next(&it))
    copy_elem(dst + (size_t)i * es, src + (size_t)it.off[0] * es, es);
  return EMBER_OK;
}

/* -------------------------------------------------------------------------------------- expand */
ember_status ember_ref_expand_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  ember_status s = same_dtype_1in(a);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *y = a->out[0];
  bool ok = y->rank >= x->rank;
  for (int i = 0; ok && i < x->rank; i++) {
    int64_t d = x->dims[i], e = y->dims[i + y->rank - x->rank];
    ok = d == e || d == 1;
  }
  if (!ok) return KFAIL(a, "cannot expand %s to %s", RF_SHAPE(x, b1), RF_SHAPE(y, b2));
  return EMBER_OK;
}

ember_status ember_ref_expand_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  size_t es = ember_dtype_size(x->dtype);
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 1);
  rf_iter_bcast(&it, 0, x);
  const unsigned char *src = x->data;
  unsigned char *dst = y->data;
  for (int64_t i = 0; i < y->numel; i++, rf_iter_next(&it))
    copy_elem(dst + (size_t)i * es, src + (size_t)it.off[0] * es, es);
  return EMBER_OK;
}

/* -------------------------------------------------------------------------------------- concat */
ember_status ember_ref_concat_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CONCAT);
  if (a->n_in < 1 || a->n_out != 1) return KFAIL(a, "concat takes at least 1 input and 1 output");
  const ember_tensor *x0 = a->in[0], *y = a->out[0];
  if (!rf_is_basic_dtype(x0->dtype)) return KFAIL(a, "concat: unsupported dtype %s", ember_dtype_name(x0->dtype));
  if (x0->rank < 1) return KFAIL(a, "concat of rank-0 tensors");
  int64_t axis = ember_attr_i(a, EMBER_A_CONCAT_AXIS);
  int ax = rf_norm_axis(axis, x0->rank);
  if (ax < 0) return KFAIL(a, "concat: axis %lld out of range for rank %d", (long long)axis, (int)x0->rank);
  int64_t total = 0;
  for (int k = 0; k < a->n_in; k++) {
    const ember_tensor *t = a->in[k];
    bool ok = t->dtype == x0->dtype && t->rank == x0->rank;
    for (int i = 0; ok && i < t->rank; i++) ok = i == ax || t->dims[i] == x0->dims[i];
    if (!ok) return KFAIL(a, "concat along axis %d: input %d %s incompatible with %s", ax, k, RF_SHAPE(t, b1), RF_SHAPE(x0, b2));
    if (!rf_add(total, t->dims[ax], &total)) return KFAIL(a, "concat: size overflow");
  }
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x0->rank; i++) want[i] = x0->dims[i];
  want[ax] = total;
  if (y->dtype != x0->dtype || !rf_dims_are(y, x0->rank, want))
    return KFAIL(a, "concat output %s %s does not match the inputs", ember_dtype_name(y->dtype), RF_SHAPE(y, b1));
  return EMBER_OK;
}

ember_status ember_ref_concat_eval(const ember_kargs *a) {
  const ember_tensor *y = a->out[0];
  int ax = rf_norm_axis(ember_attr_i(a, EMBER_A_CONCAT_AXIS), y->rank);
  size_t es = ember_dtype_size(y->dtype);
  int64_t outer = rf_prod(y, 0, ax), inner = rf_prod(y, ax + 1, y->rank);
  size_t row = (size_t)(y->dims[ax] * inner) * es; /* bytes of one outer slice of the output */
  size_t pos = 0;
  for (int k = 0; k < a->n_in; k++) {
    const ember_tensor *t = a->in[k];
    size_t chunk = (size_t)(t->dims[ax] * inner) * es;
    const unsigned char *src = t->data;
    unsigned char *dst = (unsigned char *)y->data + pos;
    for (int64_t o = 0; o < outer && chunk; o++) memmove(dst + (size_t)o * row, src + (size_t)o * chunk, chunk);
    pos += chunk;
  }
  return EMBER_OK;
}

/* --------------------------------------------------------------------------------------- slice */
ember_status ember_ref_slice_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_SLICE);
  ember_status s = same_dtype_1in(a);
  if (s != EMBER_OK) return s;
  const ember_tensor *x = a->in[0], *y = a->out[0];
  int64_t axis = ember_attr_i(a, EMBER_A_SLICE_AXIS);
  int ax = x->rank ? rf_norm_axis(axis, x->rank) : -1;
  if (ax < 0) return KFAIL(a, "slice: axis %lld out of range for rank %d", (long long)axis, (int)x->rank);
  int64_t st = ember_attr_i(a, EMBER_A_SLICE_START), en = ember_attr_i(a, EMBER_A_SLICE_END);
  int64_t step = ember_attr_i(a, EMBER_A_SLICE_STEP);
  if (step < 1 || !(0 <= st && st <= en && en <= x->dims[ax]))
    return KFAIL(a, "slice [%lld:%lld:%lld] out of range for axis of size %lld", (long long)st, (long long)en,
                 (long long)step, (long long)x->dims[ax]);
  int64_t len = (en - st) / step + ((en - st) % step != 0);
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank; i++) want[i] = x->dims[i];
  want[ax] = len;
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "slice output shape %s does not match input %s sliced", RF_SHAPE(y, b2), RF_SHAPE(x, b1));
  return EMBER_OK;
}

ember_status ember_ref_slice_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  int ax = rf_norm_axis(ember_attr_i(a, EMBER_A_SLICE_AXIS), x->rank);
  int64_t st = ember_attr_i(a, EMBER_A_SLICE_START), step = ember_attr_i(a, EMBER_A_SLICE_STEP);
  size_t es = ember_dtype_size(x->dtype);
  int64_t outer = rf_prod(x, 0, ax), inner = rf_prod(x, ax + 1, x->rank), n_in = x->dims[ax], n_out = y->dims[ax];
  const unsigned char *src = x->data;
  unsigned char *dst = y->data;
  size_t ib = (size_t)inner * es;
  if (step == 1) { /* the kept run of each outer index is contiguous: one copy (RoPE's half-rows) */
    for (int64_t o = 0; o < outer; o++)
      memmove(dst + (size_t)(o * n_out) * ib, src + (size_t)(o * n_in + st) * ib, (size_t)n_out * ib);
    return EMBER_OK;
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < n_out; j++)
      memmove(dst + (size_t)(o * n_out + j) * ib, src + (size_t)(o * n_in + st + j * step) * ib, ib);
  return EMBER_OK;
}

/* ----------------------------------------------------------------------------------------- pad */
ember_status ember_ref_pad_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_PAD);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "pad takes 1 input and 1 output");
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (x->dtype != EMBER_DTYPE_F32 || y->dtype != EMBER_DTYPE_F32) return KFAIL(a, "pad expects f32");
  for (int i = 0; i < 2 * EMBER_MAX_RANK; i++)
    if (ember_attr_i(a, EMBER_A_PAD_PADS + i) < 0) return KFAIL(a, "negative padding is not supported");
  int64_t want[EMBER_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    if (!rf_add(x->dims[i], ember_attr_i(a, EMBER_A_PAD_PADS + 2 * i), &want[i]) ||
        !rf_add(want[i], ember_attr_i(a, EMBER_A_PAD_PADS + 2 * i + 1), &want[i]))
      return KFAIL(a, "pad: size overflow");
  }
  if (!rf_dims_are(y, x->rank, want))
    return KFAIL(a, "pad output shape %s does not match input %s padded", RF_SHAPE(y, b2), RF_SHAPE(x, b1));
  return EMBER_OK;
}

ember_status ember_ref_pad_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  const float *src = x->data;
  float *dst = y->data;
  float value = rf_attr_float(a, EMBER_A_PAD_VALUE);
  int64_t xs[EMBER_MAX_RANK], s = 1, before[EMBER_MAX_RANK];
  for (int i = x->rank - 1; i >= 0; i--) {
    xs[i] = s;
    s *= x->dims[i];
    before[i] = ember_attr_i(a, EMBER_A_PAD_PADS + 2 * i);
  }
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 0);
  for (int64_t i = 0; i < y->numel; i++, rf_iter_next(&it)) {
    int64_t off = 0;
    bool inside = true;
    for (int d = 0; d < y->rank && inside; d++) {
      int64_t k = it.idx[d] - before[d];
      inside = k >= 0 && k < x->dims[d];
      off += k * xs[d];
    }
    dst[i] = inside ? src[off] : value;
  }
  return EMBER_OK;
}

/* ---------------------------------------------------------------------------------------- cast */
ember_status ember_ref_cast_check(const ember_kargs *a, uint64_t *scratch) {
  *scratch = 0;
  RF_NEED_ATTRS(a, EMBER_NSLOTS_CAST);
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "cast takes 1 input and 1 output");
  const ember_tensor *x = a->in[0], *y = a->out[0];
  int64_t to = ember_attr_i(a, EMBER_A_CAST_DTYPE);
  if (!rf_is_basic_dtype(x->dtype) || to < 0 || to > 255 || !rf_is_basic_dtype((int32_t)to))
    return KFAIL(a, "cast from %s to dtype %lld is not supported", ember_dtype_name(x->dtype), (long long)to);
  if (y->dtype != to) return KFAIL(a, "cast: output dtype %s != target %s", ember_dtype_name(y->dtype), ember_dtype_name((int32_t)to));
  if (!ember_same_shape(x, y)) return KFAIL(a, "output shape differs from input shape");
  return EMBER_OK;
}

/* float -> integer truncates toward zero like numpy's astype. Where numpy is undefined behaviour we
 * define it: NaN -> 0, values beyond the integer range saturate to its min/max. */
static int64_t f32_to_i64(float v) {
  if (isnan(v)) return 0;
  if (v >= 9223372036854775808.0f) return INT64_MAX;
  if (v < -9223372036854775808.0f) return INT64_MIN;
  return (int64_t)v;
}
static int32_t f32_to_i32(float v) {
  if (isnan(v)) return 0;
  if (v >= 2147483648.0f) return INT32_MAX;
  if (v <= -2147483648.0f) return INT32_MIN;
  return (int32_t)v;
}
/* i64 -> i32 keeps the low 32 bits (two's complement), like numpy. */
static int32_t wrap_i32(int64_t v) {
  uint32_t u = (uint32_t)(uint64_t)v;
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

ember_status ember_ref_cast_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  int64_t n = x->numel;
  if (x->dtype == y->dtype) {
    if (x->data != y->data && n > 0) memmove(y->data, x->data, (size_t)n * ember_dtype_size(x->dtype));
    return EMBER_OK;
  }
  /* Every element is loaded before its slot is stored, so an in-place cast between equal sizes works. */
  for (int64_t i = 0; i < n; i++) {
    float f = 0.f;
    int64_t v = 0;
    bool is_float = false;
    switch (x->dtype) {
      case EMBER_DTYPE_F32: f = ((const float *)x->data)[i]; is_float = true; break;
      case EMBER_DTYPE_I32: v = ((const int32_t *)x->data)[i]; break;
      case EMBER_DTYPE_I64: v = ((const int64_t *)x->data)[i]; break;
      default: v = ((const uint8_t *)x->data)[i] != 0; break;
    }
    switch (y->dtype) {
      case EMBER_DTYPE_F32: ((float *)y->data)[i] = is_float ? f : (float)v; break;
      case EMBER_DTYPE_I32: ((int32_t *)y->data)[i] = is_float ? f32_to_i32(f) : wrap_i32(v); break;
      case EMBER_DTYPE_I64: ((int64_t *)y->data)[i] = is_float ? f32_to_i64(f) : v; break;
      default: ((uint8_t *)y->data)[i] = (uint8_t)(is_float ? f != 0.f : v != 0); break;
    }
  }
  return EMBER_OK;
}
