/* Fast scaled dot-product attention, blocked: per (batch, query block of 32 rows) tile, K and V are
 * packed into the GEMM microkernels' 16-column panels, the block's scores (32 x S: never the whole
 * L x S matrix) come from one GEMM, each row is scaled, masked and softmaxed in place, and a second
 * GEMM multiplies by V. Broadcast k/v/mask batch dims, bool or additive masks, is_causal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_attention.h"
#include "f32_gemm.h"
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
  ember_f32_sdpa_softmax_fn softmax;
  const ember_f32_gemm_config *gemm;
  size_t kpanels, vpanels;
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
  float *kp = (float *)(j->scratch + (size_t)thread * j->stride);
  float *vp = kp + j->kpanels * j->e * 16, *sc = vp + j->vpanels * j->s * 16;
  const float *kb = j->k + koff, *vb = j->v + voff;
  /* K as panels of 16 keys (k x 16 with k = E), V as panels of 16 output columns (k = S) */
  for (size_t p = 0; p < j->kpanels; p++)
    for (size_t d = 0; d < j->e; d++)
      for (size_t c = 0; c < 16; c++) {
        size_t key = p * 16 + c;
        kp[(p * j->e + d) * 16 + c] = key < j->s ? kb[key * j->e + d] : 0.f;
      }
  for (size_t p = 0; p < j->vpanels; p++)
    for (size_t s = 0; s < j->s; s++)
      for (size_t c = 0; c < 16; c++) {
        size_t col = p * 16 + c;
        vp[(p * j->s + s) * 16 + c] = col < j->ev ? vb[s * j->ev + col] : 0.f;
      }
  size_t r0 = qb * SDPA_ROWS_PER_TILE, r1 = r0 + SDPA_ROWS_PER_TILE < j->l ? r0 + SDPA_ROWS_PER_TILE : j->l;
  const size_t mr = j->gemm->mr, nr = j->gemm->nr;
  const float *q = j->q + (bi * j->l + r0) * j->e;
  for (size_t r = 0; r < r1 - r0; r += mr) {
    size_t m = r1 - r0 - r < mr ? r1 - r0 - r : mr;
    for (size_t c = 0; c < j->s; c += nr)
      j->gemm->fn(m, j->s - c < nr ? j->s - c : nr, j->e, q + r * j->e, j->e, kp + (c / 16) * j->e * 16, j->e * 16,
                  sc + r * j->s + c, j->s, 0);
  }
  for (size_t i = r0; i < r1; i++) {
    size_t lim = j->causal ? (i + 1 < j->s ? i + 1 : j->s) : j->s;
    const void *mrow = NULL;
    if (j->mask) mrow = j->mask + (size_t)(moff + (int64_t)i * j->mstr[j->rank - 2]) * j->mask_esize;
    j->softmax(sc + (i - r0) * j->s, j->s, lim, j->scale, mrow, j->mask_bool, (ptrdiff_t)j->mstr[j->rank - 1]);
  }
  float *y = j->y + (bi * j->l + r0) * j->ev;
  for (size_t r = 0; r < r1 - r0; r += mr) {
    size_t m = r1 - r0 - r < mr ? r1 - r0 - r : mr;
    for (size_t c = 0; c < j->ev; c += nr)
      j->gemm->fn(m, j->ev - c < nr ? j->ev - c : nr, j->s, sc + r * j->s, j->s, vp + (c / 16) * j->s * 16, j->s * 16,
                  y + r * j->ev + c, j->ev, 0);
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
  /* K and V panels + one block of scores; sizes were validated by the reference check */
  const ember_tensor *v = a->in[2];
  uint64_t e = (uint64_t)k->dims[r - 1], s = (uint64_t)k->dims[r - 2], ev = (uint64_t)v->dims[r - 1];
  uint64_t kpan = (s + 15) / 16, vpan = (ev + 15) / 16;
  *scratch = (kpan * e * 16 + vpan * s * 16 + SDPA_ROWS_PER_TILE * s) * sizeof(float);
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
  j.softmax = ember_f32_sdpa_softmax();
  j.gemm = ember_f32_gemm_select();
  j.kpanels = (j.s + 15) / 16;
  j.vpanels = (j.ev + 15) / 16;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  ember_pool_run(a->pool, j.batch * j.qblocks, sdpa_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_sdpa = {"f32_sdpa_blocked_gemm", sdpa_applies, sdpa_prepare, sdpa_eval};
