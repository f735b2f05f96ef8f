/* Fast q4linear: rows of x are quantized once (rule 5 of docs/quantization.md) into scratch in the
 * deinterleaved chunk order; the int4 weight is read in place from the mapped file (never unpacked);
 * per output, the exact per-group integer sums come from the SIMD group-dot kernel and the float
 * accumulation over groups runs in the reference kernel's order, so the result equals it bit for bit.
 * prepare converts the float16 group scales to float32 once (exact). Needs group_size % 32 == 0. */
#include <stdlib.h>

#include "../ref/quant_util.h"
#include "q4_gemm.h"
#include "threadpool.h"

#define TILE_N 32

static int q4_applies(const ember_kargs *a) {
  if (a->op != EMBER_OP_Q4LINEAR || a->n_in < 3) return 0;
  int64_t gs = ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE);
  return gs % 32 == 0 && a->in[2]->storage == EMBER_STORAGE_CONST && a->in[2]->data != NULL;
}

typedef struct q4_layout {
  int64_t m, k, n, gs, g;
  uint64_t a_bytes, tmp_off, isum_off, total;
} q4_layout;

static q4_layout layout(const ember_kargs *a) {
  q4_layout l;
  const ember_tensor *x = a->in[0];
  l.k = 2 * a->in[1]->dims[1];
  l.n = a->in[1]->dims[0];
  l.m = rf_prod(x, 0, x->rank - 1);
  l.gs = ember_attr_i(a, EMBER_A_Q4LINEAR_GROUP_SIZE);
  l.g = l.k / l.gs;
  l.a_bytes = (uint64_t)(l.m * l.k + 8 * l.m + 63) / 64 * 64;
  l.tmp_off = l.a_bytes;
  l.isum_off = l.tmp_off + (uint64_t)(l.k + 63) / 64 * 64;
  l.total = l.isum_off + (uint64_t)(4 * l.g + 63) / 64 * 64;
  return l;
}

/* packed: float32 scales [n * g], then int32 weight sums per group [n * g] (for the zero point) */
static ember_status q4_prepare(const ember_kargs *a, void **packed, uint64_t *packed_bytes,
                               uint64_t *scratch_per_thread) {
  q4_layout l = layout(a);
  size_t bytes = (size_t)(l.n * l.g) * 8 + 64;
  float *sc = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!sc) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "no memory for q4 scales");
  int32_t *wgs = (int32_t *)(sc + l.n * l.g);
  const uint16_t *h = a->in[2]->data;
  const uint8_t *w = a->in[1]->data;
  for (int64_t i = 0; i < l.n * l.g; i++) sc[i] = ember_f16_to_f32(h[i]);
  for (int64_t n = 0; n < l.n; n++)
    for (int64_t g = 0; g < l.g; g++) {
      int32_t s = 0;
      for (int64_t k = g * l.gs; k < (g + 1) * l.gs; k++) s += ember_q4_get(w + n * (l.k / 2), k);
      wgs[n * l.g + g] = s;
    }
  *packed = sc;
  *packed_bytes = bytes;
  *scratch_per_thread = l.total;
  return EMBER_OK;
}

typedef struct q4_job {
  const ember_kargs *a;
  q4_layout l;
  const ember_q4_config *cfg;
  unsigned char *scratch;
  uint64_t stride;
  int8_t *arows;
  float *xs;
  int32_t *zp;
  int64_t tiles_n;
} q4_job;

static void quantize_row(void *ctx, size_t r, int thread) {
  const q4_job *j = ctx;
  int8_t *tmp = (int8_t *)(j->scratch + (uint64_t)thread * j->stride + j->l.tmp_off);
  ember_q_quantize_row((const float *)j->a->in[0]->data + (int64_t)r * j->l.k, j->l.k, tmp, &j->xs[r], &j->zp[r]);
  ember_q4_deinterleave(tmp, (size_t)j->l.k, j->arows + (int64_t)r * j->l.k);
}

static void tile(void *ctx, size_t t, int thread) {
  const q4_job *j = ctx;
  const ember_kargs *a = j->a;
  const q4_layout *l = &j->l;
  int32_t *isum = (int32_t *)(j->scratch + (uint64_t)thread * j->stride + l->isum_off);
  const uint8_t *w = a->in[1]->data;
  const float *sc = a->packed, *bias = a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  float *y = a->out[0]->data;
  int act = (int)ember_attr_i(a, EMBER_A_Q4LINEAR_ACT);
  float lo = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MIN), hi = rf_attr_float(a, EMBER_A_Q4LINEAR_ACT_MAX);
  int64_t m = (int64_t)t / j->tiles_n, n0 = ((int64_t)t % j->tiles_n) * TILE_N;
  int64_t n1 = n0 + TILE_N < l->n ? n0 + TILE_N : l->n;
  const int8_t *ar = j->arows + m * l->k;
  const int32_t *wgs = (const int32_t *)(sc + l->n * l->g), zp = j->zp[m];
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *wr = w + n * (l->k / 2);
    j->cfg->fn((size_t)l->g, (size_t)l->gs, ar, wr, isum);
    float acc = 0.0f;
    for (int64_t g = 0; g < l->g; g++) {
      float p = (float)(isum[g] - zp * wgs[n * l->g + g]) * sc[n * l->g + g];
      acc = acc + p;
    }
    float v = acc * j->xs[m];
    if (bias) v = v + bias[n];
    y[m * l->n + n] = ember_act(v, act, lo, hi);
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
  j.l = layout(a);
  j.cfg = ember_q4_select();
  j.scratch = a->scratch;
  j.stride = a->pool ? a->scratch_stride : 0;
  j.arows = a->scratch;
  j.xs = (float *)(j.scratch + j.l.m * j.l.k);
  j.zp = (int32_t *)(j.xs + j.l.m);
  if (j.l.m == 0 || j.l.n == 0) return EMBER_OK;
  run(a->pool, (size_t)j.l.m, quantize_row, &j);
  j.tiles_n = (j.l.n + TILE_N - 1) / TILE_N;
  run(a->pool, (size_t)(j.l.m * j.tiles_n), tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_q4_linear_kernel = {"q4_linear_groupdot", q4_applies, q4_prepare, q4_eval};
