/* Fast kernels for the quantized ops: qlinear, dqlinear and qconv2d (groups == 1) as one int8 GEMM.
 *
 * prepare (at load): the constant int8 weight is copied into rows of kp bytes (K rounded up to
 * EMBER_Q8_KP, zero padded, 64-byte aligned) and its row sums are computed.
 * eval: phase 1 fills the A rows in scratch (qlinear: copy; dqlinear: per-row dynamic quantization;
 * qconv2d: im2col with padding = x_zp), zero padded to kp; phase 2 runs the microkernel over
 * 4 x 4 blocks in tiles across the thread pool and applies the epilogue with the very functions the
 * reference kernels use (quant_util.h), so results equal the reference bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "../ref/quant_util.h"
#include "q4_gemm.h"
#include "q8_dwnhwc.h"
#include "q8_gemm.h"
#include "threadpool.h"

#define TILE_M 16
#define TILE_N 64

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

typedef struct q8_packed {
  int64_t n, k, kp;
  const ember_q8_config *cfg; /* chosen at load: the weight layout depends on it */
  int32_t *wsum;
  int32_t *qbias, *qk; /* qlinear / qconv2d_nhwc epilogue per column: clamped bias, (a_offset + x_zp) * wsum */
  int32_t *qb;         /* qbias - qk, for the fused epilogue (cfg->panel_rq) */
  int finite_scales;   /* the fused epilogue's reordered requantization needs them */
  int8_t *w; /* cfg->panel: 16-column VNNI panels [round_up(n, 32) / 16][kp / 4][16][4]; else rows [round_up(n, 4)][kp] */
} q8_packed;

static int64_t gemm_k(const ember_kargs *a) {
  const ember_tensor *w = a->in[1];
  return a->op == EMBER_OP_QCONV2D || a->op == EMBER_OP_QCONV2D_NHWC ? w->dims[1] * w->dims[2] * w->dims[3]
                                                                     : w->dims[1];
}

static int q8_applies(const ember_kargs *a) {
  if (a->n_in < 2) return 0;
  const ember_tensor *w = a->in[1];
  if (w->storage != EMBER_STORAGE_CONST || !w->data || w->dtype != EMBER_DTYPE_I8) return 0;
  if (a->op == EMBER_OP_QCONV2D && ember_attr_i(a, EMBER_A_QCONV2D_GROUPS) != 1) return 0;
  return 1;
}

static int64_t a_rows(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  if (a->op == EMBER_OP_QCONV2D) return y->dims[0] * y->dims[2] * y->dims[3];
  if (a->op == EMBER_OP_QCONV2D_NHWC) return y->dims[0] * y->dims[1] * y->dims[2];
  return rf_prod(x, 0, x->rank - 1);
}

static ember_status q8_prepare(const ember_kargs *a, void **packed, uint64_t *packed_bytes,
                               uint64_t *scratch_per_thread) {
  const ember_q8_config *cfg = ember_q8_select();
  /* dot kernels step 64 bytes of K at a time; panel kernels 4 (a quad), so small K wastes little */
  int64_t n = a->in[1]->dims[0], k = gemm_k(a), kp = round_up(k > 0 ? k : 1, cfg->panel ? 4 : EMBER_Q8_KP);
  int64_t np = round_up(n, cfg->panel ? EMBER_Q8_PANEL_NR : 4);
  size_t head = (sizeof(q8_packed) + 63) / 64 * 64, sums = (size_t)round_up(n * 4, 64);
  int epi = a->op == EMBER_OP_QLINEAR || a->op == EMBER_OP_QCONV2D_NHWC;
  size_t terms = epi ? 3 * sums : 0;
  size_t total = head + sums + terms + (size_t)(np * kp);
  unsigned char *mem = aligned_alloc(64, total);
  if (!mem) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "no memory to pack an int8 weight");
  memset(mem, 0, total);
  q8_packed *p = (q8_packed *)mem;
  p->n = n;
  p->k = k;
  p->kp = kp;
  p->cfg = cfg;
  p->wsum = (int32_t *)(mem + head);
  p->qbias = epi ? (int32_t *)(mem + head + sums) : NULL;
  p->qk = epi ? (int32_t *)(mem + head + 2 * sums) : NULL;
  p->qb = epi ? (int32_t *)(mem + head + 3 * sums) : NULL;
  p->w = (int8_t *)(mem + head + sums + terms);
  const int8_t *w = a->in[1]->data;
  for (int64_t j = 0; j < n; j++) {
    int32_t s = 0;
    for (int64_t i = 0; i < k; i++) {
      int8_t v = w[j * k + i];
      if (cfg->panel)
        p->w[(j / 16) * kp * 16 + (i / 4) * 64 + (j % 16) * 4 + i % 4] = v;
      else
        p->w[j * kp + i] = v;
      s += v;
    }
    p->wsum[j] = s;
  }
  if (epi) { /* made once here, not on every run: the bias and x_zp are constants of the node */
    const int32_t *b = a->in[2]->data;
    int32_t k0 = cfg->a_offset + (int32_t)ember_attr_i(a, a->op == EMBER_OP_QLINEAR ? EMBER_A_QLINEAR_X_ZP
                                                                                     : EMBER_A_QCONV2D_NHWC_X_ZP);
    const float *sc = a->in[3]->data;
    p->finite_scales = 1;
    for (int64_t j = 0; j < n; j++) {
      p->qbias[j] = ember_q_bias(b[j]);
      p->qk[j] = k0 * p->wsum[j];
      p->qb[j] = (int32_t)((uint32_t)p->qbias[j] - (uint32_t)p->qk[j]); /* as the kernels' wrapping int32 */
      p->finite_scales &= isfinite(sc[j]) != 0;
    }
  }
  *packed = mem;
  *packed_bytes = total;
  int64_t m = a_rows(a);
  /* the A rows of all M (shared, in thread 0's slot) plus the row scales and zero points */
  *scratch_per_thread = (uint64_t)(m * kp + 8 * m + 64);
  return EMBER_OK;
}

typedef struct q8_job {
  const ember_kargs *a;
  const q8_packed *p;
  const ember_q8_config *cfg;
  int8_t *arows;
  float *rscale;
  int32_t *rzp;
  ember_q_quantize_fn quantize;
  int64_t m, rows_per_tile, tiles_n;
  ember_q8_epilogue_fn epilogue;
  int tile_epilogue; /* qlinear on AVX-512: ember_q8_epilogue_tile_avx512 */
  int fused;         /* qlinear / qconv2d_nhwc with finite scales: cfg->panel_rq */
} q8_job;

/* dst[i] = src[i] ^ flip for n bytes, 8 at a time (fixed-size memcpy compiles to plain loads and stores:
 * no library call per tap, which dominated the gather of small-channel convolutions) */
static inline void copy_flip(int8_t *restrict dst, const int8_t *restrict src, int64_t n, uint64_t flip8) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= flip8;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++) dst[i] = (int8_t)((uint8_t)src[i] ^ (uint8_t)flip8);
}

/* qconv2d_nhwc's A rows: row = output pixel, columns (ky, kx, c) = runs of C bytes (KW * C when the
 * kernel row lies inside the image and is not dilated), padding = x_zp; flipped for the VNNI kernels */
static void fill_rows_nhwc(const q8_job *j, int64_t r0, int64_t r1) {
  const ember_kargs *a = j->a;
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  const int8_t *x = xt->data;
  int64_t H = xt->dims[1], W = xt->dims[2], C = xt->dims[3], KH = wt->dims[1], KW = wt->dims[2];
  int64_t OH = yt->dims[1], OW = yt->dims[2], kp = j->p->kp, k = j->p->k;
  int64_t sh = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_STRIDE_H), sw = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_PAD_H), pw = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_DIL_H), dw = ember_attr_i(a, EMBER_A_QCONV2D_NHWC_DIL_W);
  uint8_t flip = j->p->cfg->a_offset ? 0x80u : 0u;
  uint64_t flip8 = 0x0101010101010101ull * flip;
  int8_t pad = (int8_t)((uint8_t)ember_attr_i(a, EMBER_A_QCONV2D_NHWC_X_ZP) ^ flip);
  for (int64_t r = r0; r < r1; r++) {
    int8_t *dst = j->arows + r * kp;
    int64_t n = r / (OH * OW), oy = (r / OW) % OH, ox = r % OW, i = 0;
    int64_t ix0 = ox * sw - pw, inside_x = dw == 1 && ix0 >= 0 && ix0 + KW <= W;
    for (int64_t ky = 0; ky < KH; ky++) {
      int64_t iy = oy * sh - ph + ky * dh;
      const int8_t *xrow = x + (n * H + iy) * W * C;
      if (iy < 0 || iy >= H) {
        memset(dst + i, pad, (size_t)(KW * C));
        i += KW * C;
      } else if (inside_x) {
        copy_flip(dst + i, xrow + ix0 * C, KW * C, flip8);
        i += KW * C;
      } else {
        for (int64_t kx = 0; kx < KW; kx++, i += C) {
          int64_t ix = ix0 + kx * dw;
          if (ix < 0 || ix >= W) memset(dst + i, pad, (size_t)C);
          else copy_flip(dst + i, xrow + ix * C, C, flip8);
        }
      }
    }
    memset(dst + k, (int)flip, (size_t)(kp - k)); /* B is zero there: any value adds nothing */
  }
}

/* phase 1: A rows [tile * rows_per_tile, ...) */
static void fill_rows(void *ctx, size_t tile, int thread) {
  (void)thread;
  const q8_job *j = ctx;
  const ember_kargs *a = j->a;
  int64_t kp = j->p->kp, k = j->p->k;
  int64_t r0 = (int64_t)tile * j->rows_per_tile, r1 = r0 + j->rows_per_tile < j->m ? r0 + j->rows_per_tile : j->m;
  if (a->op == EMBER_OP_QCONV2D && a->in[1]->dims[2] == 1 && a->in[1]->dims[3] == 1 &&
      ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_H) == 1 && ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_W) == 1 &&
      ember_attr_i(a, EMBER_A_QCONV2D_PAD_H) == 0 && ember_attr_i(a, EMBER_A_QCONV2D_PAD_W) == 0) {
    /* 1x1 conv: im2col is a transpose; walk each channel plane contiguously */
    int64_t C = a->in[0]->dims[1], hw = a->in[0]->dims[2] * a->in[0]->dims[3];
    const int8_t *x = a->in[0]->data;
    uint8_t flip = j->p->cfg->a_offset ? 0x80u : 0u;
    for (int64_t r = r0; r < r1; r++) memset(j->arows + r * kp + k, flip, (size_t)(kp - k));
    for (int64_t r = r0; r < r1;) {
      int64_t n = r / hw, e = (n + 1) * hw < r1 ? (n + 1) * hw : r1; /* rows of one image */
      for (int64_t c = 0; c < C; c++) {
        const int8_t *src = x + (n * C + c) * hw - n * hw;
        for (int64_t q = r; q < e; q++) j->arows[q * kp + c] = (int8_t)((uint8_t)src[q] ^ flip);
      }
      r = e;
    }
    return;
  }
  if (a->op == EMBER_OP_QCONV2D_NHWC) {
    fill_rows_nhwc(j, r0, r1);
    return;
  }
  if (a->op == EMBER_OP_QLINEAR) { /* rows of x, flipped on the way */
    uint8_t flip = j->p->cfg->a_offset ? 0x80u : 0u;
    for (int64_t r = r0; r < r1; r++) {
      copy_flip(j->arows + r * kp, (const int8_t *)a->in[0]->data + r * k, k, 0x0101010101010101ull * flip);
      memset(j->arows + r * kp + k, (int)flip, (size_t)(kp - k));
    }
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    int8_t *dst = j->arows + r * kp;
    if (a->op == EMBER_OP_DQLINEAR) {
      j->quantize((const float *)a->in[0]->data + r * k, k, dst, &j->rscale[r], &j->rzp[r]);
    } else { /* im2col: row = output pixel (n, oy, ox), column = (c, ky, kx) as in the weight */
      const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
      const int8_t *x = xt->data;
      int64_t C = xt->dims[1], H = xt->dims[2], W = xt->dims[3], KH = wt->dims[2], KW = wt->dims[3];
      int64_t OH = yt->dims[2], OW = yt->dims[3];
      int64_t sh = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_W);
      int64_t ph = ember_attr_i(a, EMBER_A_QCONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_QCONV2D_PAD_W);
      int64_t dh = ember_attr_i(a, EMBER_A_QCONV2D_DIL_H), dw = ember_attr_i(a, EMBER_A_QCONV2D_DIL_W);
      int8_t zp = (int8_t)ember_attr_i(a, EMBER_A_QCONV2D_X_ZP);
      int64_t n = r / (OH * OW), oy = (r / OW) % OH, ox = r % OW, i = 0;
      for (int64_t c = 0; c < C; c++) {
        const int8_t *xc = x + (n * C + c) * H * W;
        for (int64_t ky = 0; ky < KH; ky++) {
          int64_t iy = oy * sh - ph + ky * dh;
          for (int64_t kx = 0; kx < KW; kx++, i++) {
            int64_t ix = ox * sw - pw + kx * dw;
            dst[i] = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? zp : xc[iy * W + ix];
          }
        }
      }
    }
    memset(dst + k, 0, (size_t)(kp - k));
    if (j->p->cfg->a_offset) /* VNNI kernels read A as unsigned: a + 128 */
      for (int64_t i = 0; i < kp; i++) dst[i] = (int8_t)((uint8_t)dst[i] ^ 0x80u);
  }
}

/* phase 2: output tile (rows TILE_M x columns TILE_N) */
static void gemm_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const q8_job *j = ctx;
  const ember_kargs *a = j->a;
  const q8_packed *p = j->p;
  int64_t m0 = (int64_t)(tile / (size_t)j->tiles_n) * TILE_M, n0 = (int64_t)(tile % (size_t)j->tiles_n) * TILE_N;
  int64_t m1 = m0 + TILE_M < j->m ? m0 + TILE_M : j->m, n1 = n0 + TILE_N < p->n ? n0 + TILE_N : p->n;
  int64_t N = p->n, kp = p->kp;
  int32_t c[EMBER_Q8_PANEL_MR * EMBER_Q8_PANEL_NR];
  int32_t off = j->cfg->a_offset;
  const int32_t *wsum = p->wsum;
  int dyn = a->op == EMBER_OP_DQLINEAR, conv = a->op == EMBER_OP_QCONV2D;
  /* dqlinear */
  const float *ws = a->in[2]->data, *fbias = dyn && a->n_in > 3 ? (const float *)a->in[3]->data : NULL;
  int act = dyn ? (int)ember_attr_i(a, EMBER_A_DQLINEAR_ACT) : 0;
  float alo = dyn ? rf_attr_float(a, EMBER_A_DQLINEAR_ACT_MIN) : 0.f;
  float ahi = dyn ? rf_attr_float(a, EMBER_A_DQLINEAR_ACT_MAX) : 0.f;
  float *yf = a->out[0]->data;
  /* qlinear / qconv2d: the x_zp, y_zp, qmin, qmax slots follow each op's own leading attributes */
  int at = conv ? EMBER_A_QCONV2D_X_ZP
                : (a->op == EMBER_OP_QCONV2D_NHWC ? EMBER_A_QCONV2D_NHWC_X_ZP : EMBER_A_QLINEAR_X_ZP);
  int32_t xzp = dyn ? 0 : (int32_t)ember_attr_i(a, at), yzp = dyn ? 0 : (int32_t)ember_attr_i(a, at + 1);
  int32_t lo = dyn ? 0 : (int32_t)ember_attr_i(a, at + 2), hi = dyn ? 0 : (int32_t)ember_attr_i(a, at + 3);
  const int32_t *bias = a->in[2]->data;
  const float *scale = dyn ? NULL : (const float *)a->in[3]->data;
  int8_t *yq = a->out[0]->data;
  int64_t hw = conv ? a->out[0]->dims[2] * a->out[0]->dims[3] : 1;
  int panel = j->cfg->panel != NULL;
  /* qlinear epilogue terms per column: the clamped bias and (a_offset + x_zp) * sum of the weights */
  int32_t qacc[EMBER_Q8_PANEL_NR > EMBER_Q8_NR ? EMBER_Q8_PANEL_NR : EMBER_Q8_NR];
  const int32_t *qbias = p->qbias, *qk = p->qk;
  int64_t bm = panel ? EMBER_Q8_PANEL_MR : EMBER_Q8_MR, bn = panel ? EMBER_Q8_PANEL_NR : EMBER_Q8_NR;
  for (int64_t m = m0; m < m1; m += bm) {
    size_t mr = (size_t)(m1 - m < bm ? m1 - m : bm);
    for (int64_t n = n0; n < n1; n += bn) {
      size_t nr = (size_t)(n1 - n < bn ? n1 - n : bn);
      if (j->fused) { /* GEMM and requantization in one call: the int32 tile stays in registers */
        ember_q8_requant rq = {p->qb + n, scale + n, yzp, lo, hi};
        j->cfg->panel_rq(mr, nr, (size_t)kp, (const uint8_t *)(j->arows + m * kp), p->w + n * kp, yq + m * N + n,
                         (size_t)N, &rq);
        continue;
      }
      if (panel)
        j->cfg->panel(mr, (size_t)kp, (const uint8_t *)(j->arows + m * kp), p->w + n * kp, c, EMBER_Q8_PANEL_NR);
      else
        j->cfg->fn(mr, nr, (size_t)kp, j->arows + m * kp, p->w + n * kp, c, EMBER_Q8_PANEL_NR);
#if defined(__x86_64__) || defined(__i386__)
      if (j->tile_epilogue && nr <= 32) { /* qlinear, AVX-512: the whole tile in one call */
        ember_q8_epilogue_tile_avx512(mr, nr, c, EMBER_Q8_PANEL_NR, qbias + n, qk + n, scale + n, yzp, lo, hi,
                                      yq + m * N + n, (size_t)N);
        continue;
      }
#endif
      for (size_t r = 0; r < mr; r++) {
        int64_t mm = m + (int64_t)r;
        if (dyn) { /* a plain loop over the columns: the compiler vectorizes it (same operations, same order) */
          const int32_t *cr = c + r * EMBER_Q8_PANEL_NR, *ws_n = wsum + n;
          const float *wsc = ws + n;
          float *yr = yf + mm * N + n, rs = j->rscale[mm];
          int32_t k0 = off + j->rzp[mm];
          for (size_t q = 0; q < nr; q++) {
            float s = rs * wsc[q];
            yr[q] = (float)(cr[q] - k0 * ws_n[q]) * s;
          }
          if (fbias)
            for (size_t q = 0; q < nr; q++) yr[q] = yr[q] + fbias[n + (int64_t)q];
          if (act)
            for (size_t q = 0; q < nr; q++) yr[q] = ember_act(yr[q], act, alo, ahi);
          continue;
        }
        if (!conv) { /* qlinear: the row is contiguous; the per-ISA epilogue (kernels/fast/q8_dwnhwc.inc) does
                      * the same integer and float operations in the same order as ember_q_requant */
          j->epilogue(nr, c + r * EMBER_Q8_PANEL_NR, qbias + n, qk + n, scale + n, yzp, lo, hi, yq + mm * N + n, qacc);
          continue;
        }
        int64_t ybase = (mm / hw) * N * hw + mm % hw; /* NCHW: pixel mm, channel 0 */
        int64_t ystep = conv ? hw : 1;
        for (size_t q = 0; q < nr; q++) {
          int64_t nn = n + (int64_t)q;
          int32_t raw = c[r * EMBER_Q8_PANEL_NR + q];
          if (dyn) {
            int32_t acc = raw - (off + j->rzp[mm]) * wsum[nn];
            float s = j->rscale[mm] * ws[nn];
            float v = (float)acc * s;
            if (fbias) v = v + fbias[nn];
            yf[mm * N + nn] = act ? ember_act(v, act, alo, ahi) : v;
          } else {
            int32_t acc = ember_q_bias(bias[nn]) + raw - (off + xzp) * wsum[nn];
            int8_t y = ember_q_requant(acc, scale[nn], yzp, lo, hi);
            yq[ybase + nn * ystep] = y;
          }
        }
      }
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

static ember_status q8_eval(const ember_kargs *a) {
  q8_job j;
  j.a = a;
  j.p = a->packed;
  j.cfg = j.p->cfg;
  j.m = a_rows(a);
  j.arows = a->scratch;
  j.rscale = (float *)((unsigned char *)a->scratch + j.m * j.p->kp);
  j.rzp = (int32_t *)(j.rscale + j.m);
  j.quantize = ember_q_quantize_select();
  if (j.m == 0 || j.p->n == 0) return EMBER_OK;
  int threads = a->pool ? ember_pool_threads(a->pool) : 1;
  j.rows_per_tile = (j.m + 4 * threads - 1) / (4 * threads);
  if (j.rows_per_tile < 1) j.rows_per_tile = 1;
  j.epilogue = ember_q8_epilogue_select();
  j.tile_epilogue = 0;
#if defined(__x86_64__) || defined(__i386__)
  j.tile_epilogue = j.p->qbias && j.epilogue == ember_q8_dwnhwc_epilogue_avx512;
#endif
  j.fused = j.p->qb && j.p->finite_scales && j.cfg->panel && j.cfg->panel_rq;
  run(a->pool, (size_t)((j.m + j.rows_per_tile - 1) / j.rows_per_tile), fill_rows, &j);
  j.tiles_n = (j.p->n + TILE_N - 1) / TILE_N;
  run(a->pool, (size_t)(((j.m + TILE_M - 1) / TILE_M) * j.tiles_n), gemm_tile, &j);
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------ depthwise qconv2d */
/* groups == in channels == out channels: one plane at a time, the plane copied into scratch as int16
 * (x - x_zp) with a zero border (so padding adds 0), then branch-free taps over each output row,
 * int32 row accumulators, and the reference requantization. */
static int dw_applies(const ember_kargs *a) {
  if (a->op != EMBER_OP_QCONV2D || a->n_in < 4) return 0;
  const ember_tensor *x = a->in[0], *w = a->in[1];
  int64_t g = ember_attr_i(a, EMBER_A_QCONV2D_GROUPS);
  return g > 1 && w->dims[1] == 1 && x->dims[1] == g && w->dims[0] == g;
}

typedef struct dw_dims {
  int64_t hp, wp, row_off, plane_bytes;
} dw_dims;

static dw_dims dw_layout(const ember_kargs *a) {
  dw_dims d;
  const ember_tensor *x = a->in[0], *y = a->out[0], *w = a->in[1];
  int64_t sh = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_W);
  int64_t dh = ember_attr_i(a, EMBER_A_QCONV2D_DIL_H), dwl = ember_attr_i(a, EMBER_A_QCONV2D_DIL_W);
  /* rows/columns the taps can reach: enough for every output, at least the padded input */
  int64_t hp = (y->dims[2] - 1) * sh + (w->dims[2] - 1) * dh + 1, wp = (y->dims[3] - 1) * sw + (w->dims[3] - 1) * dwl + 1;
  int64_t ph = ember_attr_i(a, EMBER_A_QCONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_QCONV2D_PAD_W);
  if (hp < x->dims[2] + ph) hp = x->dims[2] + ph;
  if (wp < x->dims[3] + pw) wp = x->dims[3] + pw;
  d.hp = hp;
  d.wp = wp;
  d.plane_bytes = (hp * wp * 2 + 63) / 64 * 64;
  d.row_off = d.plane_bytes;
  return d;
}

static ember_status dw_prepare(const ember_kargs *a, void **packed, uint64_t *packed_bytes,
                               uint64_t *scratch_per_thread) {
  dw_dims d = dw_layout(a);
  *packed = NULL;
  *packed_bytes = 0;
  *scratch_per_thread = (uint64_t)(d.plane_bytes + a->out[0]->dims[3] * 4 + 64);
  return EMBER_OK;
}

typedef struct dw_job {
  const ember_kargs *a;
  dw_dims d;
  unsigned char *scratch;
  uint64_t stride;
} dw_job;

static void dw_plane(void *ctx, size_t plane, int thread) {
  const dw_job *j = ctx;
  const ember_kargs *a = j->a;
  const ember_tensor *xt = a->in[0], *wt = a->in[1], *yt = a->out[0];
  int64_t C = xt->dims[1], H = xt->dims[2], W = xt->dims[3], KH = wt->dims[2], KW = wt->dims[3];
  int64_t OH = yt->dims[2], OW = yt->dims[3], c = (int64_t)plane % C;
  int64_t sh = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_QCONV2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_QCONV2D_PAD_H), pw = ember_attr_i(a, EMBER_A_QCONV2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_QCONV2D_DIL_H), dwl = ember_attr_i(a, EMBER_A_QCONV2D_DIL_W);
  int32_t xzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_X_ZP), yzp = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_Y_ZP);
  int32_t lo = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_QMIN), hi = (int32_t)ember_attr_i(a, EMBER_A_QCONV2D_QMAX);
  int16_t *xp = (int16_t *)(j->scratch + (uint64_t)thread * j->stride);
  int32_t *acc = (int32_t *)(j->scratch + (uint64_t)thread * j->stride + (uint64_t)j->d.row_off);
  const int8_t *x = (const int8_t *)xt->data + (int64_t)plane * H * W, *w = (const int8_t *)wt->data + c * KH * KW;
  int64_t hp = j->d.hp, wp = j->d.wp;
  memset(xp, 0, (size_t)(hp * wp) * 2);
  for (int64_t iy = 0; iy < H; iy++)
    for (int64_t ix = 0; ix < W; ix++) xp[(iy + ph) * wp + ix + pw] = (int16_t)(x[iy * W + ix] - xzp);
  int32_t b = ember_q_bias(((const int32_t *)a->in[2]->data)[c]);
  float s = ((const float *)a->in[3]->data)[c];
  int8_t *y = (int8_t *)yt->data + (int64_t)plane * OH * OW;
  for (int64_t oy = 0; oy < OH; oy++) {
    for (int64_t ox = 0; ox < OW; ox++) acc[ox] = b;
    for (int64_t ky = 0; ky < KH; ky++) {
      const int16_t *row = xp + (oy * sh + ky * dh) * wp;
      for (int64_t kx = 0; kx < KW; kx++) {
        int32_t wv = w[ky * KW + kx];
        const int16_t *r = row + kx * dwl;
        if (sw == 1)
          for (int64_t ox = 0; ox < OW; ox++) acc[ox] += r[ox] * wv;
        else
          for (int64_t ox = 0; ox < OW; ox++) acc[ox] += r[ox * sw] * wv;
      }
    }
    for (int64_t ox = 0; ox < OW; ox++) y[oy * OW + ox] = ember_q_requant(acc[ox], s, yzp, lo, hi);
  }
}

static ember_status dw_eval(const ember_kargs *a) {
  dw_job j;
  j.a = a;
  j.d = dw_layout(a);
  j.scratch = a->scratch;
  j.stride = a->pool ? a->scratch_stride : 0;
  size_t planes = (size_t)(a->in[0]->dims[0] * a->in[0]->dims[1]);
  if (a->pool) {
    ember_pool_run(a->pool, planes, dw_plane, &j);
  } else {
    for (size_t p = 0; p < planes; p++) dw_plane(&j, p, 0);
  }
  return EMBER_OK;
}

static const ember_fast_kernel kQ8Dw = {"q8_dwconv_rows", dw_applies, dw_prepare, dw_eval};

extern const ember_fast_kernel ember_q4_linear_kernel; /* q4_linear.c */
static const ember_fast_kernel kQ8 = {"q8_gemm", q8_applies, q8_prepare, q8_eval};

/* Called from ember_fast_kernel_select (kernels/fast/f32_linear.c) for the quantized ops. */
extern const ember_fast_kernel ember_fast_q8_quantize, ember_fast_q8_qadd; /* q8_elementwise.c */

const ember_fast_kernel *ember_quant_fast_kernel_select(const ember_kargs *a) {
  switch (a->op) {
    case EMBER_OP_QLINEAR:
    case EMBER_OP_DQLINEAR:
    case EMBER_OP_QCONV2D: return dw_applies(a) ? &kQ8Dw : q8_applies(a) ? &kQ8 : NULL;
    case EMBER_OP_QCONV2D_NHWC: return q8_applies(a) ? &kQ8 : NULL;
    case EMBER_OP_Q4LINEAR: return ember_q4_linear_kernel.applies(a) ? &ember_q4_linear_kernel : NULL;
    case EMBER_OP_QUANTIZE: return ember_fast_q8_quantize.applies(a) ? &ember_fast_q8_quantize : NULL;
    case EMBER_OP_QADD: return ember_fast_q8_qadd.applies(a) ? &ember_fast_q8_qadd : NULL;
    default: return NULL;
  }
}
