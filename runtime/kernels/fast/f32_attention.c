/* Fast scaled dot-product attention: per (batch, query block) tile, K is transposed once into scratch,
 * then each query row runs the vectorized row kernel (scores for one row at a time: never more than
 * one row of scores exists). Broadcast k/v/mask batch dims, bool or additive masks, is_causal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_attention.h"
#include "internal.h"

#define SDPA_ROWS_PER_TILE 32

typedef struct {
  const float *q, *k, *v;
  const uint8_t *mask;
  int mask_bool, causal;
  float *y;
  size_t batch, l, s, e, ev, qblocks;
  float scale;
  int rank;
  int64_t bdims[EMBER_MAX_RANK];
  int64_t kstr[EMBER_MAX_RANK], vstr[EMBER_MAX_RANK], mstr[EMBER_MAX_RANK]; /* in elements, 0 = broadcast */
  size_t mask_esize;
  ember_f32_sdpa_row_fn row;
  uint8_t *scratch;
  uint64_t stride;
} sdpa_job;

static void sdpa_tile(void *ctx, size_t tile, int thread) {
  const sdpa_job *j = ctx;
  size_t bi = tile / j->qblocks, qb = tile % j->qblocks;
  /* offsets of k, v and mask for batch index bi (row-major over the batch dims) */
  int64_t koff = 0, voff = 0, moff = 0, rem = (int64_t)bi;
  for (int d = j->rank - 3; d >= 0; d--) {
    int64_t idx = rem % j->bdims[d];
    rem /= j->bdims[d];
    koff += idx * j->kstr[d];
    voff += idx * j->vstr[d];
    moff += idx * j->mstr[d];
  }
  float *kt = (float *)(j->scratch + (size_t)thread * j->stride);
  float *scores = kt + j->e * j->s;
  const float *kb = j->k + koff;
  for (size_t s = 0; s < j->s; s++)
    for (size_t d = 0; d < j->e; d++) kt[d * j->s + s] = kb[s * j->e + d];
  size_t r0 = qb * SDPA_ROWS_PER_TILE, r1 = r0 + SDPA_ROWS_PER_TILE < j->l ? r0 + SDPA_ROWS_PER_TILE : j->l;
  for (size_t i = r0; i < r1; i++) {
    size_t lim = j->causal ? (i + 1 < j->s ? i + 1 : j->s) : j->s;
    const void *mrow = NULL;
    if (j->mask)
      mrow = j->mask + (size_t)(moff + (int64_t)i * j->mstr[j->rank - 2]) * j->mask_esize;
    j->row(j->q + (bi * j->l + i) * j->e, j->e, kt, j->s, lim, j->v + voff, j->ev, j->ev, j->scale, mrow,
           j->mask_bool, (ptrdiff_t)j->mstr[j->rank - 1], scores, j->y + (bi * j->l + i) * j->ev);
  }
}

static void strides_for(const ember_tensor *t, int rank, const int64_t *dims, int64_t *out) {
  ember_broadcast_strides(t, rank, dims, out);
}

static int sdpa_applies(const ember_kargs *a) { return a->in[0]->dtype == EMBER_DTYPE_F32; }

static ember_status sdpa_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  const ember_tensor *k = a->in[1];
  int r = k->rank;
  *packed = NULL;
  *bytes = 0;
  /* K transposed + one row of scores; sizes were validated by the reference check */
  *scratch = (uint64_t)(k->dims[r - 1] * k->dims[r - 2] + k->dims[r - 2]) * sizeof(float);
  return EMBER_OK;
}

static ember_status sdpa_eval(const ember_kargs *a) {
  const ember_tensor *q = a->in[0], *k = a->in[1], *v = a->in[2], *m = a->n_in > 3 ? a->in[3] : NULL;
  sdpa_job j;
  memset(&j, 0, sizeof j);
  int r = q->rank;
  j.rank = r;
  j.q = q->data;
  j.k = k->data;
  j.v = v->data;
  j.y = a->out[0]->data;
  j.l = (size_t)q->dims[r - 2];
  j.e = (size_t)q->dims[r - 1];
  j.s = (size_t)k->dims[r - 2];
  j.ev = (size_t)v->dims[r - 1];
  j.batch = 1;
  for (int d = 0; d < r - 2; d++) {
    j.bdims[d] = q->dims[d];
    j.batch *= (size_t)q->dims[d];
  }
  double scale = ember_attr_f(a, EMBER_A_SDPA_SCALE);
  j.scale = (float)(scale != 0.0 ? scale : 1.0 / sqrt((double)j.e));
  j.causal = (int)ember_attr_i(a, EMBER_A_SDPA_IS_CAUSAL);
  /* strides in elements over q's full shape: batch dims, then (L or S, E or Ev) */
  int64_t full[EMBER_MAX_RANK], st[EMBER_MAX_RANK];
  for (int d = 0; d < r; d++) full[d] = q->dims[d];
  full[r - 2] = k->dims[r - 2];
  full[r - 1] = k->dims[r - 1];
  strides_for(k, r, full, st);
  for (int d = 0; d < r - 2; d++) j.kstr[d] = st[d];
  full[r - 1] = v->dims[r - 1];
  strides_for(v, r, full, st);
  for (int d = 0; d < r - 2; d++) j.vstr[d] = st[d];
  if (m) {
    full[r - 2] = q->dims[r - 2];
    full[r - 1] = k->dims[r - 2];
    strides_for(m, r, full, j.mstr);
    j.mask = m->data;
    j.mask_bool = m->dtype == EMBER_DTYPE_BOOL;
    j.mask_esize = ember_dtype_size(m->dtype);
  }
  j.qblocks = (j.l + SDPA_ROWS_PER_TILE - 1) / SDPA_ROWS_PER_TILE;
  j.row = ember_f32_sdpa_row();
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  ember_pool_run(a->pool, j.batch * j.qblocks, sdpa_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_sdpa = {"f32_sdpa_rowwise", sdpa_applies, sdpa_prepare, sdpa_eval};
