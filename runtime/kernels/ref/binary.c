/* Elementwise binary arithmetic (with fused epilogue for f32), comparisons and where, all with numpy
 * broadcasting. Each output element is written after its inputs are read, so out may alias in[0]. */
#include "ref_util.h"

static bool is_arith_dtype(int32_t dt) {
  return dt == EMBER_DTYPE_F32 || dt == EMBER_DTYPE_I32 || dt == EMBER_DTYPE_I64;
}

ember_status ember_ref_binary_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  RF_NEED_ATTRS(a, 3); /* act, act_min, act_max: the same slots for every binary op */
  if (a->n_in != 2 || a->n_out != 1) return KFAIL(a, "%s takes 2 inputs and 1 output", ember_op_name(a->op));
  const ember_tensor *x = a->in[0], *z = a->in[1], *y = a->out[0];
  if (x->dtype != z->dtype)
    return KFAIL(a, "%s operands differ in dtype: %s vs %s", ember_op_name(a->op), ember_dtype_name(x->dtype),
                 ember_dtype_name(z->dtype));
  if (!is_arith_dtype(x->dtype) || (a->op == EMBER_OP_POW && x->dtype != EMBER_DTYPE_F32))
    return KFAIL(a, "%s: unsupported dtype %s", ember_op_name(a->op), ember_dtype_name(x->dtype));
  if (y->dtype != x->dtype) return KFAIL(a, "%s: output dtype must equal input dtype", ember_op_name(a->op));
  if (a->op < EMBER_OP_ADD || a->op > EMBER_OP_MINIMUM) return KFAIL(a, "binary kernel given op %d", (int)a->op);
  int64_t act = ember_attr_i(a, 0);
  if (!ember_act_valid(act)) return KFAIL(a, "%s: unknown activation %lld", ember_op_name(a->op), (long long)act);
  if (!ember_broadcast_ok(y, a->in, 2))
    return KFAIL(a, "%s: output %s is not the broadcast of %s and %s", ember_op_name(a->op), RF_SHAPE(y, b3),
                 RF_SHAPE(x, b1), RF_SHAPE(z, b2));
  return EMBER_OK;
}

static float binary_f32(int op, float x, float z) {
  switch (op) {
    case EMBER_OP_ADD: return x + z;
    case EMBER_OP_SUB: return x - z;
    case EMBER_OP_MUL: return x * z;
    case EMBER_OP_DIV: return x / z;
    case EMBER_OP_POW: return (float)pow((double)x, (double)z);
    case EMBER_OP_MAXIMUM: return (isnan(x) || isnan(z)) ? NAN : (x > z ? x : z); /* np.maximum: NaN wins */
    case EMBER_OP_MINIMUM: return (isnan(x) || isnan(z)) ? NAN : (x < z ? x : z);
    default: return x;
  }
}

/* Integer arithmetic wraps modulo 2^bits like numpy (done in unsigned arithmetic: no signed overflow).
 * div truncates toward zero; MIN / -1 gives MIN; division by zero is a run-time error. */
#define DEFINE_INT_BINARY(NAME, T, UT, TMIN)                                                           \
  static ember_status NAME(const ember_kargs *a, rf_iter *it, int64_t n) {                             \
    const T *xp = a->in[0]->data, *zp = a->in[1]->data;                                                \
    T *yp = a->out[0]->data;                                                                           \
    for (int64_t i = 0; i < n; i++, rf_iter_next(it)) {                                                \
      T x = xp[it->off[0]], z = zp[it->off[1]], r;                                                     \
      switch (a->op) {                                                                                 \
        case EMBER_OP_ADD: r = (T)(UT)((UT)x + (UT)z); break;                                          \
        case EMBER_OP_SUB: r = (T)(UT)((UT)x - (UT)z); break;                                          \
        case EMBER_OP_MUL: r = (T)(UT)((UT)x * (UT)z); break;                                          \
        case EMBER_OP_DIV:                                                                             \
          if (z == 0) return RF_ERR_RUNTIME(a, "integer division by zero at output element %lld", (long long)i); \
          r = (x == TMIN && z == -1) ? TMIN : (T)(x / z);                                              \
          break;                                                                                       \
        case EMBER_OP_MAXIMUM: r = x > z ? x : z; break;                                               \
        case EMBER_OP_MINIMUM: r = x < z ? x : z; break;                                               \
        default: r = x; break;                                                                         \
      }                                                                                                \
      yp[i] = r;                                                                                       \
    }                                                                                                  \
    return EMBER_OK;                                                                                   \
  }

/* Unsigned->signed conversion of an out-of-range value is implementation-defined in C11; every
 * compiler Ember targets (gcc, clang, MSVC) defines it as two's-complement wrap-around. */
DEFINE_INT_BINARY(binary_i32, int32_t, uint32_t, INT32_MIN)
DEFINE_INT_BINARY(binary_i64, int64_t, uint64_t, INT64_MIN)

ember_status ember_ref_binary_eval(const ember_kargs *a) {
  const ember_tensor *y = a->out[0];
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 2);
  rf_iter_bcast(&it, 0, a->in[0]);
  rf_iter_bcast(&it, 1, a->in[1]);
  int64_t n = y->numel;
  switch (y->dtype) {
    case EMBER_DTYPE_I32: return binary_i32(a, &it, n);
    case EMBER_DTYPE_I64: return binary_i64(a, &it, n);
    default: break;
  }
  const float *xp = a->in[0]->data, *zp = a->in[1]->data;
  float *yp = a->out[0]->data;
  int act = (int)ember_attr_i(a, 0);
  float lo = rf_attr_float(a, 1), hi = rf_attr_float(a, 2);
  for (int64_t i = 0; i < n; i++, rf_iter_next(&it))
    yp[i] = ember_act(binary_f32(a->op, xp[it.off[0]], zp[it.off[1]]), act, lo, hi);
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------- comparisons */
ember_status ember_ref_compare_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96];
  *scratch = 0;
  if (a->n_in != 2 || a->n_out != 1) return KFAIL(a, "%s takes 2 inputs and 1 output", ember_op_name(a->op));
  const ember_tensor *x = a->in[0], *z = a->in[1], *y = a->out[0];
  if (a->op < EMBER_OP_EQ || a->op > EMBER_OP_LOGICAL_OR) return KFAIL(a, "compare kernel given op %d", (int)a->op);
  if (x->dtype != z->dtype)
    return KFAIL(a, "%s operands differ in dtype: %s vs %s", ember_op_name(a->op), ember_dtype_name(x->dtype),
                 ember_dtype_name(z->dtype));
  if (!rf_is_basic_dtype(x->dtype))
    return KFAIL(a, "%s: unsupported dtype %s", ember_op_name(a->op), ember_dtype_name(x->dtype));
  if (y->dtype != EMBER_DTYPE_BOOL) return KFAIL(a, "%s: output must be bool", ember_op_name(a->op));
  if (!ember_broadcast_ok(y, a->in, 2))
    return KFAIL(a, "%s: output %s is not the broadcast of %s and %s", ember_op_name(a->op), RF_SHAPE(y, b3),
                 RF_SHAPE(x, b1), RF_SHAPE(z, b2));
  return EMBER_OK;
}

#define CMP(op, x, z)                                                          \
  ((op) == EMBER_OP_EQ   ? (x) == (z)                                         \
   : (op) == EMBER_OP_NE ? (x) != (z)                                         \
   : (op) == EMBER_OP_LT ? (x) < (z)                                          \
   : (op) == EMBER_OP_LE ? (x) <= (z)                                         \
   : (op) == EMBER_OP_GT ? (x) > (z)                                          \
   : (op) == EMBER_OP_GE ? (x) >= (z)                                         \
   : (op) == EMBER_OP_LOGICAL_AND ? ((x) != 0 && (z) != 0)                    \
                                 : ((x) != 0 || (z) != 0))

#define COMPARE_LOOP(T, NORM)                                             \
  do {                                                                    \
    const T *xp = a->in[0]->data, *zp = a->in[1]->data;                   \
    for (int64_t i = 0; i < n; i++, rf_iter_next(&it)) {                  \
      T x = NORM(xp[it.off[0]]), z = NORM(zp[it.off[1]]);                 \
      yp[i] = (uint8_t)(CMP(op, x, z) ? 1 : 0);                           \
    }                                                                     \
  } while (0)
#define AS_IS(v) (v)
#define AS_BOOL(v) ((uint8_t)((v) != 0))

ember_status ember_ref_compare_eval(const ember_kargs *a) {
  const ember_tensor *y = a->out[0];
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 2);
  rf_iter_bcast(&it, 0, a->in[0]);
  rf_iter_bcast(&it, 1, a->in[1]);
  int64_t n = y->numel;
  int op = a->op;
  uint8_t *yp = a->out[0]->data;
  switch (a->in[0]->dtype) {
    case EMBER_DTYPE_F32: COMPARE_LOOP(float, AS_IS); break;
    case EMBER_DTYPE_I32: COMPARE_LOOP(int32_t, AS_IS); break;
    case EMBER_DTYPE_I64: COMPARE_LOOP(int64_t, AS_IS); break;
    default: COMPARE_LOOP(uint8_t, AS_BOOL); break;
  }
  return EMBER_OK;
}

/* -------------------------------------------------------------------------------------- where */
ember_status ember_ref_where_check(const ember_kargs *a, uint64_t *scratch) {
  char b1[96], b2[96], b3[96], b4[96];
  *scratch = 0;
  if (a->n_in != 3 || a->n_out != 1) return KFAIL(a, "where takes 3 inputs and 1 output");
  const ember_tensor *c = a->in[0], *x = a->in[1], *z = a->in[2], *y = a->out[0];
  if (c->dtype != EMBER_DTYPE_BOOL || x->dtype != z->dtype || !rf_is_basic_dtype(x->dtype))
    return KFAIL(a, "where expects (bool, T, T), got (%s, %s, %s)", ember_dtype_name(c->dtype),
                 ember_dtype_name(x->dtype), ember_dtype_name(z->dtype));
  if (y->dtype != x->dtype) return KFAIL(a, "where: output dtype must equal the value dtype");
  if (!ember_broadcast_ok(y, a->in, 3))
    return KFAIL(a, "where: output %s is not the broadcast of %s, %s and %s", RF_SHAPE(y, b4), RF_SHAPE(c, b1),
                 RF_SHAPE(x, b2), RF_SHAPE(z, b3));
  return EMBER_OK;
}

ember_status ember_ref_where_eval(const ember_kargs *a) {
  const ember_tensor *y = a->out[0];
  rf_iter it;
  rf_iter_init(&it, y->rank, y->dims, 3);
  for (int k = 0; k < 3; k++) rf_iter_bcast(&it, k, a->in[k]);
  const uint8_t *c = a->in[0]->data;
  const unsigned char *x = a->in[1]->data, *z = a->in[2]->data;
  unsigned char *yp = a->out[0]->data;
  size_t es = ember_dtype_size(y->dtype);
  unsigned char tmp[8];
  for (int64_t i = 0; i < y->numel; i++, rf_iter_next(&it)) {
    const unsigned char *src = c[it.off[0]] ? x + (size_t)it.off[1] * es : z + (size_t)it.off[2] * es;
    memcpy(tmp, src, es); /* read fully before writing: out may alias an input */
    memcpy(yp + (size_t)i * es, tmp, es);
  }
  return EMBER_OK;
}
