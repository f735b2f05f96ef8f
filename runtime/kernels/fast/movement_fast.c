/* Fast permute, two shapes of it:
 * - the last axis stays last (the attention head split/merge pattern, e.g. [0,2,1,3]): each output row
 *   of the last dimension is one contiguous copy from the input. Any dtype.
 * - a batched 2-D transpose of 4-byte or 1-byte elements: the axes after the first rotate, e.g. NCHW <-> NHWC
 *   ([0,2,3,1] and [0,3,1,2]): input [B, P, Q] -> output [B, Q, P], in 16 x 16 blocks so both sides
 *   are read and written a cache line at a time. */
#include <string.h>

#include "../../src/threadpool.h"
#include "internal.h"

typedef struct {
  const unsigned char *src;
  unsigned char *dst;
  int rank;
  int64_t odims[EMBER_MAX_RANK], sstr[EMBER_MAX_RANK]; /* source strides (elements) per output axis */
  size_t rows, row_bytes, es, blocks;
} perm_job;

static void perm_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const perm_job *j = ctx;
  size_t r0 = j->rows * tile / j->blocks, r1 = j->rows * (tile + 1) / j->blocks;
  for (size_t r = r0; r < r1; r++) {
    int64_t rem = (int64_t)r, off = 0;
    for (int d = j->rank - 2; d >= 0; d--) {
      int64_t idx = rem % j->odims[d];
      rem /= j->odims[d];
      off += idx * j->sstr[d];
    }
    memcpy(j->dst + r * j->row_bytes, j->src + (size_t)off * j->es, j->row_bytes);
  }
}

/* s > 1 if perm = [0, s, s+1, .., r-1, 1, .., s-1] (a rotation of the non-batch axes), else 0 */
static int rotation_split(const ember_kargs *a) {
  int r = a->in[0]->rank;
  if (r < 3 || ember_attr_i(a, EMBER_A_PERMUTE_PERM) != 0) return 0;
  int s = (int)ember_attr_i(a, EMBER_A_PERMUTE_PERM + 1);
  if (s < 2 || s >= r) return 0;
  for (int d = 1; d < r; d++) {
    int want = d <= r - s ? s + d - 1 : d - (r - s);
    if (ember_attr_i(a, EMBER_A_PERMUTE_PERM + d) != want) return 0;
  }
  return s;
}

static int permute_applies(const ember_kargs *a) {
  const ember_tensor *x = a->in[0];
  int r = x->rank;
  if (rotation_split(a) && (ember_dtype_size(x->dtype) == 4 || ember_dtype_size(x->dtype) == 1)) return 1;
  return r >= 2 && ember_attr_i(a, EMBER_A_PERMUTE_PERM + r - 1) == r - 1 && x->dims[r - 1] >= 4;
}

typedef struct {
  const void *src;
  void *dst;
  size_t b, p, q, pblocks, qblocks, es;
} tr_job;

#define TR_BLOCK 16

/* one tile = one batch item x a band of 16 source rows (p), all columns (q) */
#define TR_LOOP(T)                                                                              \
  {                                                                                             \
    const T *src = (const T *)j->src + bi * j->p * j->q;                                        \
    T *dst = (T *)j->dst + bi * j->p * j->q;                                                    \
    for (size_t q0 = 0; q0 < j->q; q0 += TR_BLOCK) {                                            \
      size_t q1 = q0 + TR_BLOCK < j->q ? q0 + TR_BLOCK : j->q;                                  \
      for (size_t qq = q0; qq < q1; qq++)                                                       \
        for (size_t pp = p0; pp < p1; pp++) dst[qq * j->p + pp] = src[pp * j->q + qq];          \
    }                                                                                           \
  }

/* one tile = one batch item x a band of 16 source rows (p), all columns (q) */
/* few source rows (an image's 3 or 4 channels going NHWC): one tile = a band of TR_QBAND columns, each
 * output pixel written whole; the row count a constant so the loop has no inner trip count */
#define TR_QBAND 4096
#define TR_FEW(P)                                                                     \
  for (size_t qq = q0; qq < q1; qq++)                                                 \
    for (size_t pp = 0; pp < (P); pp++) dst[qq * (P) + pp] = src[pp * j->q + qq];

static void tr_few_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const tr_job *j = ctx;
  size_t bi = tile / j->qblocks, q0 = (tile % j->qblocks) * TR_QBAND, q1 = q0 + TR_QBAND < j->q ? q0 + TR_QBAND : j->q;
  const uint32_t *src = (const uint32_t *)j->src + bi * j->p * j->q;
  uint32_t *dst = (uint32_t *)j->dst + bi * j->p * j->q;
  switch (j->p) {
    case 1: TR_FEW(1) break;
    case 2: TR_FEW(2) break;
    case 3: TR_FEW(3) break;
    default: TR_FEW(4) break;
  }
}
#undef TR_FEW

static void tr_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const tr_job *j = ctx;
  size_t bi = tile / j->pblocks, p0 = (tile % j->pblocks) * TR_BLOCK;
  size_t p1 = p0 + TR_BLOCK < j->p ? p0 + TR_BLOCK : j->p;
  if (j->es == 4) TR_LOOP(uint32_t)
  else TR_LOOP(uint8_t)
}

static ember_status transpose_eval(const ember_kargs *a, int split) {
  const ember_tensor *x = a->in[0];
  tr_job j;
  j.src = x->data;
  j.dst = a->out[0]->data;
  j.es = ember_dtype_size(x->dtype);
  j.b = (size_t)x->dims[0];
  j.p = 1;
  j.q = 1;
  for (int d = 1; d < x->rank; d++) {
    if (d < split) j.p *= (size_t)x->dims[d];
    else j.q *= (size_t)x->dims[d];
  }
  j.pblocks = (j.p + TR_BLOCK - 1) / TR_BLOCK;
  if (j.es == 4 && j.p <= 4) {
    j.qblocks = (j.q + TR_QBAND - 1) / TR_QBAND;
    ember_pool_run(a->pool, j.b * j.qblocks, tr_few_tile, &j);
    return EMBER_OK;
  }
  ember_pool_run(a->pool, j.b * j.pblocks, tr_tile, &j);
  return EMBER_OK;
}

static ember_status permute_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status permute_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  int split = rotation_split(a);
  if (split && (ember_dtype_size(x->dtype) == 4 || ember_dtype_size(x->dtype) == 1)) return transpose_eval(a, split);
  perm_job j;
  int r = x->rank;
  int64_t xs[EMBER_MAX_RANK], s = 1;
  for (int d = r - 1; d >= 0; d--) {
    xs[d] = s;
    s *= x->dims[d];
  }
  j.rank = r;
  for (int d = 0; d < r; d++) {
    j.odims[d] = y->dims[d];
    j.sstr[d] = xs[ember_attr_i(a, EMBER_A_PERMUTE_PERM + d)];
  }
  j.es = ember_dtype_size(x->dtype);
  j.row_bytes = (size_t)y->dims[r - 1] * j.es;
  j.rows = (size_t)y->numel / (size_t)y->dims[r - 1];
  j.src = x->data;
  j.dst = y->data;
  j.blocks = (size_t)y->nbytes >= (1u << 18) && j.rows >= 16 ? 16 : 1;
  ember_pool_run(a->pool, j.blocks, perm_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_permute = {"permute_rows", permute_applies, permute_prepare, permute_eval};
