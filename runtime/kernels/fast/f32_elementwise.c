/* Fast float32 elementwise, normalization and softmax kernels on the per-ISA row primitives
 * (f32_vec.inc). Each applies only where its fast path is exact in structure (contiguous rows, simple
 * broadcast patterns, last-axis softmax); everything else runs the reference kernel. Large tensors
 * are split into row blocks across the session's thread pool. */
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_vec.h"
#include "internal.h"

#define MIN_PARALLEL_ELEMS 65536 /* below this, one thread: the pool's hand-off costs more than it saves */

static int all_f32(const ember_kargs *a) {
  for (int i = 0; i < a->n_in; i++)
    if (a->in[i]->dtype != EMBER_DTYPE_F32) return 0;
  return a->out[0]->dtype == EMBER_DTYPE_F32;
}

static ember_status no_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

/* row blocks to hand out: 1 for small work, else up to 64 (the pool's per-thread ranges and stealing even out the cores) */
static size_t blocks_for(size_t rows, size_t row_len) {
  if (rows * row_len < MIN_PARALLEL_ELEMS || rows < 2) return 1;
  return rows < 64 ? rows : 64;
}

/* ---------------------------------------------------------------------------------------- binary */

/* Split the output into outer x inner where, over the inner suffix, each operand is either read
 * contiguously (stride 1) or is one repeated value (stride 0). */
typedef struct {
  int rank, outer_rank;
  int64_t dims[EMBER_MAX_RANK];
  int64_t sa[EMBER_MAX_RANK], sb[EMBER_MAX_RANK];
  size_t inner, outer, ia, ib;
} bin_plan;

static int bin_plan_make(const ember_tensor *x, const ember_tensor *y, const ember_tensor *out, bin_plan *p) {
  int r = out->rank;
  p->rank = r;
  for (int d = 0; d < r; d++) p->dims[d] = out->dims[d];
  ember_broadcast_strides(x, r, out->dims, p->sa);
  ember_broadcast_strides(y, r, out->dims, p->sb);
  /* walk the suffix while each operand keeps one kind (full or repeated) */
  int kind_a = -1, kind_b = -1, d = r - 1;
  size_t inner = 1;
  for (; d >= 0; d--) {
    if (out->dims[d] == 1) continue;
    int ka = p->sa[d] != 0, kb = p->sb[d] != 0;
    if ((kind_a >= 0 && ka != kind_a) || (kind_b >= 0 && kb != kind_b)) break;
    /* a full operand must also be contiguous over the suffix */
    if (ka && (size_t)p->sa[d] != inner) break;
    if (kb && (size_t)p->sb[d] != inner) break;
    kind_a = ka;
    kind_b = kb;
    inner *= (size_t)out->dims[d];
  }
  p->inner = inner;
  p->outer_rank = d + 1;
  p->outer = (size_t)out->numel / inner;
  p->ia = kind_a == 1 ? 1 : 0;
  p->ib = kind_b == 1 ? 1 : 0;
  return 1;
}

typedef struct {
  const ember_kargs *a;
  bin_plan p;
  const float *x, *y;
  float *out;
  int act;
  float lo, hi;
  size_t blocks;
  const ember_f32_vec_ops *v;
} bin_job;

static void bin_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const bin_job *j = ctx;
  size_t o0 = j->p.outer * tile / j->blocks, o1 = j->p.outer * (tile + 1) / j->blocks;
  for (size_t o = o0; o < o1; o++) {
    /* offsets of x and y for outer index o */
    int64_t ox = 0, oy = 0, rem = (int64_t)o;
    for (int d = j->p.outer_rank - 1; d >= 0; d--) {
      int64_t idx = rem % j->p.dims[d];
      rem /= j->p.dims[d];
      ox += idx * j->p.sa[d];
      oy += idx * j->p.sb[d];
    }
    j->v->binary_row(j->a->op, j->x + ox, j->p.ia, j->y + oy, j->p.ib, j->out + o * j->p.inner, j->p.inner, j->act,
                     j->lo, j->hi);
  }
}

static int binary_applies(const ember_kargs *a) {
  switch (a->op) {
    case EMBER_OP_ADD: case EMBER_OP_SUB: case EMBER_OP_MUL: case EMBER_OP_DIV: case EMBER_OP_MAXIMUM:
    case EMBER_OP_MINIMUM: break;
    default: return 0;
  }
  if (!all_f32(a)) return 0;
  bin_plan p;
  bin_plan_make(a->in[0], a->in[1], a->out[0], &p);
  return p.inner >= 8 || p.outer == 1; /* tiny rows would spend their time in the outer loop */
}

static ember_status binary_eval(const ember_kargs *a) {
  bin_job j;
  j.a = a;
  bin_plan_make(a->in[0], a->in[1], a->out[0], &j.p);
  j.x = a->in[0]->data;
  j.y = a->in[1]->data;
  j.out = a->out[0]->data;
  j.act = (int)ember_attr_i(a, 0); /* all binary ops: act, act_min, act_max */
  j.lo = (float)ember_attr_f(a, 1);
  j.hi = (float)ember_attr_f(a, 2);
  j.v = ember_f32_vec();
  j.blocks = blocks_for(j.p.outer, j.p.inner);
  ember_pool_run(a->pool, j.blocks, bin_tile, &j);
  return EMBER_OK;
}

/* ----------------------------------------------------------------------------------------- unary */

typedef struct {
  int op;
  const float *x;
  float *y;
  size_t n, blocks;
  float lo, hi;
  const ember_f32_vec_ops *v;
} un_job;

static void un_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const un_job *j = ctx;
  size_t i0 = j->n * tile / j->blocks, i1 = j->n * (tile + 1) / j->blocks;
  j->v->unary_row(j->op, j->x + i0, j->y + i0, i1 - i0, j->lo, j->hi);
}

static int unary_applies(const ember_kargs *a) {
  switch (a->op) {
    case EMBER_OP_RELU: case EMBER_OP_SIGMOID: case EMBER_OP_TANH: case EMBER_OP_SILU: case EMBER_OP_EXP:
    case EMBER_OP_NEG: case EMBER_OP_SQRT: case EMBER_OP_RSQRT: case EMBER_OP_RECIPROCAL: case EMBER_OP_ABS:
    case EMBER_OP_HARDSWISH: case EMBER_OP_GELU: case EMBER_OP_CLAMP: return all_f32(a);
    default: return 0;
  }
}

static ember_status unary_eval(const ember_kargs *a) {
  un_job j;
  j.op = a->op;
  j.x = a->in[0]->data;
  j.y = a->out[0]->data;
  j.n = (size_t)a->in[0]->numel;
  j.lo = j.hi = 0.f;
  if (a->op == EMBER_OP_CLAMP) {
    j.lo = (float)ember_attr_f(a, EMBER_A_CLAMP_MIN);
    j.hi = (float)ember_attr_f(a, EMBER_A_CLAMP_MAX);
  } else if (a->op == EMBER_OP_GELU) {
    j.lo = (float)ember_attr_i(a, EMBER_A_GELU_APPROXIMATE);
  }
  j.v = ember_f32_vec();
  j.blocks = j.n >= MIN_PARALLEL_ELEMS ? 16 : 1;
  ember_pool_run(a->pool, j.blocks, un_tile, &j);
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------ norms and softmax */

typedef struct {
  int op;
  const float *x, *w, *b;
  float *y;
  size_t rows, len, blocks;
  float eps;
  const ember_f32_vec_ops *v;
} row_job;

static void row_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const row_job *j = ctx;
  size_t r0 = j->rows * tile / j->blocks, r1 = j->rows * (tile + 1) / j->blocks;
  for (size_t r = r0; r < r1; r++) {
    const float *x = j->x + r * j->len;
    float *y = j->y + r * j->len;
    if (j->op == EMBER_OP_SOFTMAX || j->op == EMBER_OP_LOG_SOFTMAX)
      j->v->softmax_row(x, j->len, j->op == EMBER_OP_LOG_SOFTMAX, y);
    else
      j->v->norm_row(x, j->len, j->w, j->b, j->eps, j->op == EMBER_OP_RMS_NORM, y);
  }
}

static int rows_applies(const ember_kargs *a) {
  if (!all_f32(a) || a->in[0]->rank < 1) return 0;
  if (a->op == EMBER_OP_SOFTMAX || a->op == EMBER_OP_LOG_SOFTMAX) {
    int64_t axis = ember_attr_i(a, 0);
    int r = a->in[0]->rank;
    return axis == r - 1 || axis == -1;
  }
  return a->op == EMBER_OP_LAYER_NORM || a->op == EMBER_OP_RMS_NORM;
}

static ember_status rows_eval(const ember_kargs *a) {
  row_job j;
  const ember_tensor *x = a->in[0];
  j.op = a->op;
  j.x = x->data;
  j.y = a->out[0]->data;
  j.w = a->n_in > 1 ? a->in[1]->data : NULL;
  j.b = a->n_in > 2 ? a->in[2]->data : NULL;
  j.eps = 0.f;
  if (a->op == EMBER_OP_SOFTMAX || a->op == EMBER_OP_LOG_SOFTMAX) {
    j.len = (size_t)x->dims[x->rank - 1];
  } else {
    int64_t k = ember_attr_i(a, 0); /* n_axes (layer_norm and rms_norm) */
    j.len = 1;
    for (int d = x->rank - (int)k; d < x->rank; d++) j.len *= (size_t)x->dims[d];
    j.eps = (float)ember_attr_f(a, 1);
  }
  j.rows = (size_t)x->numel / j.len;
  j.v = ember_f32_vec();
  j.blocks = blocks_for(j.rows, j.len);
  ember_pool_run(a->pool, j.blocks, row_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_binary = {"f32_binary_rows", binary_applies, no_prepare, binary_eval};
const ember_fast_kernel ember_fast_unary = {"f32_unary_vec", unary_applies, no_prepare, unary_eval};
const ember_fast_kernel ember_fast_rows = {"f32_rows_vec", rows_applies, no_prepare, rows_eval};
