/* Fast q4linear (docs/quantization.md, rule 7). The int4 weight is read in place from the mapped file,
 * once per call for decode: no unpacked or repacked copy is kept.
 *
 * prepare (at load): a side table per 16-column tile, group-major: the float16 scales (bit copies) and
 * the int16 weight sums per group (for the activation zero point), 4 bytes per group and column; and the
 * kernel choice (it fixes the row format).
 * eval, decode path (every CPU; M < EMBER_Q4_GEMM_MIN_M or no GEMM kernel): phase 1 quantizes each row of
 * x once (rule 5) and splits it into its even and odd positions (zero padded to 64 bytes), with 8 * the
 * sum of each group; phase 2 splits the 16-column tiles across the threads, and for each tile runs the
 * GEMV microkernel over the rows three at a time (the tile's weights stay in L1 between row blocks).
 * eval, prefill path (AVX-512 VNNI, M >= EMBER_Q4_GEMM_MIN_M): phase 1 writes each row as u8 quads with
 * the zero-point correction quads (q4_gemm_avx512vnni.c); phase 2 gives each thread 32-column tiles: the
 * two 16-column panels are unpacked to int8 once into the thread's scratch and reused by all rows.
 * Both then apply the row scale, bias and activation in the reference kernel's order. Needs group_size %
 * 32 == 0 (16-byte blocks). */
#include <stdlib.h>

#include "../ref/quant_util.h"
#include "q4_gemm.h"
#include "threadpool.h"

#define EMBER_Q4_GEMM_MIN_M 16 /* below, the GEMV kernel over L1-resident tiles wins (unpacking costs ~ 8 rows of work) */

static int q4_applies(const ember_kargs *a) {
  if (a->op != EMBER_OP_Q4LINEAR || a->n_in < 3) return 0;
  int64_t gs = ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE);
  return gs % 32 == 0 && gs <= 4096 && a->in[1]->storage == EMBER_STORAGE_CONST && a->in[1]->data != NULL &&
         a->in[2]->storage == EMBER_STORAGE_CONST && a->in[2]->data != NULL;
}

static uint64_t up64(uint64_t v) { return (v + 63) / 64 * 64; }

typedef struct q4_layout {
  int64_t m, k, n, gs, g, tiles, eq, slot;
  int gemm;
  uint64_t kbp, row_bytes, xs_off, zp_off, tmp_off, panel_bytes, panel_off, total, half;
} q4_layout;

static q4_layout layout(const ember_kargs *a, const ember_q4_config *cfg) {
  q4_layout l;
  const ember_tensor *x = a->in[0];
  l.k = 2 * a->in[1]->dims[1];
  l.n = a->in[1]->dims[0];
  l.m = rf_prod(x, 0, x->rank - 1);
  l.gs = ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE);
  l.g = l.k / l.gs;
  l.tiles = (l.n + EMBER_Q4_NR - 1) / EMBER_Q4_NR;
  l.gemm = cfg->gemm != NULL && l.m >= EMBER_Q4_GEMM_MIN_M;
  l.eq = (int64_t)ember_q4_gemm_eq((size_t)l.gs);
  l.slot = l.gs / 4 + l.eq;
  l.kbp = up64((uint64_t)l.k / 2);
  l.row_bytes = l.gemm ? (uint64_t)(l.g * l.slot * 4) /* packed: the GEMM kernel strides by this */ : 2 * l.kbp + up64(4 * (uint64_t)l.g); /* ev, od, q8sum */
  l.xs_off = (uint64_t)l.m * l.row_bytes;
  l.zp_off = l.xs_off + up64(4 * (uint64_t)l.m);
  l.tmp_off = l.zp_off + up64(4 * (uint64_t)l.m);
  l.panel_bytes = l.gemm ? (uint64_t)(l.g * l.slot * 64) : 0;
  l.panel_off = l.tmp_off + up64((uint64_t)l.k);
  l.total = l.panel_off + 2 * l.panel_bytes;
  l.half = up64((uint64_t)(l.tiles * l.g * EMBER_Q4_NR) * 2);
  return l;
}

/* packed: the kernel choice (64 bytes), float16 scales [tiles][g][16], int16 weight sums [tiles][g][16]
 * (zero for padding columns) */
static ember_status q4_prepare(const ember_kargs *a, void **packed, uint64_t *packed_bytes,
                               uint64_t *scratch_per_thread) {
  const ember_q4_config *cfg = ember_q4_select();
  q4_layout l = layout(a, cfg);
  uint64_t bytes = 64 + 2 * l.half;
  unsigned char *mem = aligned_alloc(64, bytes);
  if (!mem) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "no memory for the q4 side table");
  memset(mem, 0, bytes);
  memcpy(mem, &cfg, sizeof cfg);
  uint16_t *st = (uint16_t *)(mem + 64);
  int16_t *wt = (int16_t *)(mem + 64 + l.half);
  const uint16_t *h = a->in[2]->data;
  const uint8_t *w = a->in[1]->data;
  for (int64_t n = 0; n < l.n; n++)
    for (int64_t g = 0; g < l.g; g++) {
      int32_t s = 0;
      for (int64_t k = g * l.gs; k < (g + 1) * l.gs; k++) s += ember_q4_get(w + n * (l.k / 2), k);
      int64_t at = ((n / EMBER_Q4_NR) * l.g + g) * EMBER_Q4_NR + n % EMBER_Q4_NR;
      st[at] = h[n * l.g + g];
      wt[at] = (int16_t)s; /* -8 * gs <= s <= 7 * gs and gs <= 4096: fits int16 */
    }
  *packed = mem;
  *packed_bytes = bytes;
  *scratch_per_thread = l.total;
  return EMBER_OK;
}

typedef struct q4_job {
  const ember_kargs *a;
  q4_layout l;
  const ember_q4_config *cfg;
  ember_q4_weights w;
  ember_q_quantize_fn quantize;
  unsigned char *scratch; /* rows, xs, zp: thread 0's slot; tmp and panels: each thread's own */
  uint64_t stride;
  int64_t tiles_per_task; /* 16-column tiles (GEMV) or 32-column tiles (GEMM) per task */
} q4_job;

static void prep_row(void *ctx, size_t r, int thread) {
  const q4_job *j = ctx;
  const q4_layout *l = &j->l;
  int8_t *tmp = (int8_t *)(j->scratch + (uint64_t)thread * j->stride + l->tmp_off);
  unsigned char *row = j->scratch + r * l->row_bytes;
  float *xs = (float *)(j->scratch + l->xs_off);
  int32_t *zp = (int32_t *)(j->scratch + l->zp_off);
  j->quantize((const float *)j->a->in[0]->data + (int64_t)r * l->k, l->k, tmp, &xs[r], &zp[r]);
  if (l->gemm) { /* per group: gs bytes q + 128, then 4 * eq bytes 128 + zp */
    for (int64_t g = 0; g < l->g; g++) {
      unsigned char *d = row + g * l->slot * 4;
      for (int64_t t = 0; t < l->gs; t++) d[t] = (unsigned char)((uint8_t)tmp[g * l->gs + t] ^ 0x80u);
      memset(d + l->gs, 128 + zp[r], (size_t)(4 * l->eq));
    }
    return;
  }
  int8_t *ev = (int8_t *)row, *od = (int8_t *)(row + l->kbp);
  int32_t *q8sum = (int32_t *)(row + 2 * l->kbp);
  ember_q4_split(tmp, (size_t)l->k, ev, od);
  memset(ev + l->k / 2, 0, l->kbp - (uint64_t)l->k / 2);
  memset(od + l->k / 2, 0, l->kbp - (uint64_t)l->k / 2);
  for (int64_t g = 0; g < l->g; g++) {
    int32_t s = 0;
    for (int64_t k = g * l->gs; k < (g + 1) * l->gs; k++) s += tmp[k];
    q8sum[g] = 8 * s;
  }
}

/* y rows m0 .. m0 + mr, columns n0 .. n0 + nc from the kernel's accumulators (row stride lda) */
static void finish(const q4_job *j, const float *acc, int64_t lda, int64_t m0, int64_t mr, int64_t n0, int64_t nc) {
  const ember_kargs *a = j->a;
  const float *bias = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  const float *xs = (const float *)(j->scratch + j->l.xs_off);
  int act = (int)ember_attr_i(a, EMBER_A_Q4LINEAR_ACT);
  float lo = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MIN), hi = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MAX);
  for (int64_t r = 0; r < mr; r++) { /* plain column loops: the compiler vectorizes them (same operations) */
    float s = xs[m0 + r];
    float *yr = (float *)a->out[0]->data + (m0 + r) * j->l.n + n0;
    const float *ar = acc + r * lda;
    for (int64_t c = 0; c < nc; c++) yr[c] = ar[c] * s;
    if (bias)
      for (int64_t c = 0; c < nc; c++) yr[c] = yr[c] + bias[n0 + c];
    if (act != EMBER_ACT_NONE)
      for (int64_t c = 0; c < nc; c++) yr[c] = ember_act(yr[c], act, lo, hi);
  }
}

static void gemv_tiles(void *ctx, size_t task, int thread) {
  (void)thread;
  const q4_job *j = ctx;
  const q4_layout *l = &j->l;
  const int32_t *zp = (const int32_t *)(j->scratch + l->zp_off);
  int64_t t0 = (int64_t)task * j->tiles_per_task, t1 = t0 + j->tiles_per_task < l->tiles ? t0 + j->tiles_per_task : l->tiles;
  float acc[EMBER_Q4_MR * EMBER_Q4_NR];
  for (int64_t t = t0; t < t1; t++) {
    int64_t n0 = t * EMBER_Q4_NR, nc = l->n - n0 < EMBER_Q4_NR ? l->n - n0 : EMBER_Q4_NR;
    for (int64_t m0 = 0; m0 < l->m; m0 += EMBER_Q4_MR) {
      int64_t mr = l->m - m0 < EMBER_Q4_MR ? l->m - m0 : EMBER_Q4_MR;
      ember_q4_rows rows;
      for (int64_t r = 0; r < EMBER_Q4_MR; r++) {
        int64_t rr = m0 + (r < mr ? r : 0);
        const unsigned char *row = j->scratch + (uint64_t)rr * l->row_bytes;
        rows.ev[r] = (const int8_t *)row;
        rows.od[r] = (const int8_t *)(row + l->kbp);
        rows.q8sum[r] = (const int32_t *)(row + 2 * l->kbp);
        rows.zp[r] = zp[rr];
      }
      j->cfg->fn(&j->w, (size_t)n0, (size_t)nc, &rows, (size_t)mr, acc);
      finish(j, acc, EMBER_Q4_NR, m0, mr, n0, nc);
    }
  }
}

static void gemm_tiles(void *ctx, size_t task, int thread) {
  const q4_job *j = ctx;
  const q4_layout *l = &j->l;
  int64_t tiles32 = (l->n + EMBER_Q4_GEMM_NR - 1) / EMBER_Q4_GEMM_NR;
  int64_t t0 = (int64_t)task * j->tiles_per_task, t1 = t0 + j->tiles_per_task < tiles32 ? t0 + j->tiles_per_task : tiles32;
  int8_t *p0 = (int8_t *)(j->scratch + (uint64_t)thread * j->stride + l->panel_off), *p1 = p0 + l->panel_bytes;
  float acc[EMBER_Q4_GEMM_MR * EMBER_Q4_GEMM_NR];
  for (int64_t t = t0; t < t1; t++) {
    int64_t n0 = t * EMBER_Q4_GEMM_NR, nc = l->n - n0 < EMBER_Q4_GEMM_NR ? l->n - n0 : EMBER_Q4_GEMM_NR;
    j->cfg->unpack(&j->w, (size_t)n0, (size_t)(nc < 16 ? nc : 16), (size_t)l->eq, p0);
    /* a ragged tile of <= 16 columns multiplies panel 0 twice; the extra columns are dropped */
    if (nc > 16) j->cfg->unpack(&j->w, (size_t)n0 + 16, (size_t)(nc - 16), (size_t)l->eq, p1);
    const uint16_t *s0 = j->w.scale + (n0 / 16) * l->g * 16, *s1 = nc > 16 ? s0 + l->g * 16 : s0;
    for (int64_t m0 = 0; m0 < l->m; m0 += EMBER_Q4_GEMM_MR) {
      int64_t mr = l->m - m0 < EMBER_Q4_GEMM_MR ? l->m - m0 : EMBER_Q4_GEMM_MR;
      j->cfg->gemm((size_t)mr, (size_t)l->g, (size_t)l->slot, j->scratch + (uint64_t)m0 * l->row_bytes, p0,
                   nc > 16 ? p1 : p0, s0, s1, acc);
      finish(j, acc, EMBER_Q4_GEMM_NR, m0, mr, n0, nc);
    }
  }
}

static void run(ember_pool *pool, size_t n, ember_task_fn fn, void *ctx) {
  if (pool) {
    ember_pool_run(pool, n, fn, ctx);
  } else {
    for (size_t t = 0; t < n; t++) fn(ctx, t, 0);
  }
}

static ember_status q4_eval(const ember_kargs *a) {
  q4_job j;
  j.a = a;
  memcpy(&j.cfg, a->packed, sizeof j.cfg);
  j.l = layout(a, j.cfg);
  j.quantize = ember_q_quantize_select();
  j.scratch = a->scratch;
  j.stride = a->pool ? a->scratch_stride : 0;
  if (j.l.m == 0 || j.l.n == 0) return EMBER_OK;
  const unsigned char *side = a->packed;
  j.w.w = a->in[1]->data;
  j.w.scale = (const uint16_t *)(side + 64);
  j.w.wsum = (const int16_t *)(side + 64 + j.l.half);
  j.w.n = (size_t)j.l.n;
  j.w.kb = (size_t)j.l.k / 2;
  j.w.groups = (size_t)j.l.g;
  j.w.gs = (size_t)j.l.gs;
  run(a->pool, (size_t)j.l.m, prep_row, &j);
  int threads = a->pool ? ember_pool_threads(a->pool) : 1;
  int64_t tiles = j.l.gemm ? (j.l.n + EMBER_Q4_GEMM_NR - 1) / EMBER_Q4_GEMM_NR : j.l.tiles;
  j.tiles_per_task = threads > 1 ? (tiles + 4 * threads - 1) / (4 * threads) : tiles;
  run(a->pool, (size_t)((tiles + j.tiles_per_task - 1) / j.tiles_per_task), j.l.gemm ? gemm_tiles : gemv_tiles, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_q4_linear_kernel = {"q4_linear_gemv_gemm", q4_applies, q4_prepare, q4_eval};
