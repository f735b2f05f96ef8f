/* Fast int8 NHWC depthwise convolution (qdwconv2d_nhwc). On x86 the tap-pair kernels (q8_dwpair.h:
 * two taps per 16-bit multiply-add, pair rows in a per-thread ring) run when the channels fill whole
 * registers and the scales are finite; otherwise output rows go to the per-ISA row kernel
 * (q8_dwnhwc.inc) that vectorizes along channels. Rows are spread over the thread pool. The clamped
 * bias and the weight pairs are prepared once at load. Bit-identical to the reference kernel
 * (runtime/tests/test_conv_nhwc.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "../ref/quant_util.h"
#include "cpu_features.h"
#include "internal.h"
#include "f32_dwnhwc.h"
#include "q8_dwnhwc.h"
#include "q8_dwpair.h"

/* the NHWC kernels' ISA choice (f32_conv_nhwc.c); NEON takes the portable loops */
#define Q8_AVX2 EMBER_CONV_ISA_AVX2
#define Q8_AVX512 EMBER_CONV_ISA_AVX512

static ember_q8dw_row_fn row_select(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512) return ember_q8_dwnhwc_row_avx512;
  if (ember_conv_isa() == Q8_AVX2) return ember_q8_dwnhwc_row_avx2;
#endif
  return ember_q8_dwnhwc_row_scalar;
}

ember_q8_epilogue_fn ember_q8_epilogue_select(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512) return ember_q8_dwnhwc_epilogue_avx512;
  if (ember_conv_isa() == Q8_AVX2) return ember_q8_dwnhwc_epilogue_avx2;
#endif
  return ember_q8_dwnhwc_epilogue_scalar;
}

static int qdw_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_I8 && a->in[1]->storage == EMBER_STORAGE_CONST && a->in[1]->data &&
         a->in[2]->storage == EMBER_STORAGE_CONST && a->in[2]->data && a->in[3]->storage == EMBER_STORAGE_CONST &&
         a->in[3]->data;
}

/* ------------------------------------------------------------------- tap pairs (q8_dwpair.h) */
void ember_q8dwp_geometry(ember_q8dwp_plan *p) {
  p->np = (p->kw + 1) / 2;
  p->g = (2 * p->dw) % p->sw == 0 ? p->sw : 1;
  p->step = p->sw / p->g;
  p->joff = 2 * p->dw / p->g;
  p->pn = p->ow ? ((p->ow - 1) * p->sw + 2 * (p->np - 1) * p->dw) / p->g + 1 : 0;
}

void ember_q8dwp_pack(const ember_q8dwp_plan *p, const int8_t *w, int32_t *wp) {
  const size_t C = p->c;
  for (size_t ky = 0; ky < p->kh; ky++)
    for (size_t j = 0; j < p->np; j++)
      for (size_t c = 0; c < C; c++) {
        uint32_t lo = (uint16_t)(int16_t)w[(ky * p->kw + 2 * j) * C + c];
        uint32_t hi = 2 * j + 1 < p->kw ? (uint16_t)(int16_t)w[(ky * p->kw + 2 * j + 1) * C + c] : 0u;
        uint32_t v = lo | hi << 16;
        memcpy(&wp[(ky * p->np + j) * C + c], &v, 4);
      }
}

static size_t pair_row_bytes(const ember_q8dwp_plan *p) { return (p->pn * p->c * 4 + 63) / 64 * 64; }

size_t ember_q8dwp_scratch(const ember_q8dwp_plan *p) { return p->kh * pair_row_bytes(p); }

void ember_q8dwp_rows(const ember_q8dwp_plan *p, const ember_q8dwp_isa *isa, const int8_t *x, int8_t *y, size_t oy0,
                      size_t oy1, void *scratch) {
  ptrdiff_t tag[EMBER_Q8DWP_MAX_KH]; /* the input row each ring slot holds, -1: none */
  const size_t rb = pair_row_bytes(p), kh = p->kh;
  for (size_t s = 0; s < kh; s++) tag[s] = -1;
  for (size_t oy = oy0; oy < oy1; oy++) {
    const int32_t *rows[EMBER_Q8DWP_MAX_KH];
    ptrdiff_t need[EMBER_Q8DWP_MAX_KH];
    int keep[EMBER_Q8DWP_MAX_KH] = {0};
    for (size_t ky = 0; ky < kh; ky++) {
      ptrdiff_t iy = (ptrdiff_t)(oy * p->sh + ky * p->dh) - (ptrdiff_t)p->ph;
      need[ky] = iy >= 0 && iy < (ptrdiff_t)p->h ? iy : -1;
      rows[ky] = NULL;
      for (size_t s = 0; s < kh && need[ky] >= 0; s++)
        if (tag[s] == need[ky]) {
          rows[ky] = (const int32_t *)(void *)((unsigned char *)scratch + s * rb);
          keep[s] = 1;
        }
    }
    for (size_t ky = 0; ky < kh; ky++) {
      if (need[ky] < 0 || rows[ky]) continue;
      size_t s = 0;
      while (keep[s]) s++; /* kh slots, at most kh rows kept: one is free */
      int32_t *pr = (int32_t *)(void *)((unsigned char *)scratch + s * rb);
      isa->build(p, x + (size_t)need[ky] * p->w_in * p->c, pr);
      tag[s] = need[ky];
      keep[s] = 1;
      rows[ky] = pr;
    }
    isa->row(p, rows, y + oy * p->ow * p->c);
  }
}

int ember_q8dwp_available(const ember_q8dwp_isa **out, int max) {
  int n = 0;
#if defined(__x86_64__) || defined(__i386__)
  static const ember_q8dwp_isa k512v = {ember_q8dwp_build_avx512, ember_q8dwp_row_avx512vnni, 16, "avx512vnni"};
  static const ember_q8dwp_isa k512 = {ember_q8dwp_build_avx512, ember_q8dwp_row_avx512, 16, "avx512"};
  static const ember_q8dwp_isa k2 = {ember_q8dwp_build_avx2, ember_q8dwp_row_avx2, 8, "avx2"};
  int isa = ember_conv_isa();
  if (isa == Q8_AVX512 && ember_cpu_avx512vnni() && n < max) out[n++] = &k512v;
  if (isa == Q8_AVX512 && n < max) out[n++] = &k512;
  if ((isa == Q8_AVX512 || isa == Q8_AVX2) && n < max) out[n++] = &k2;
#else
  (void)out;
  (void)max;
#endif
  return n;
}

/* ------------------------------------------------------------------------------------- the op */
typedef struct qdw_packed {
  const ember_q8dwp_isa *pairs; /* NULL: the row kernels */
  int32_t *bias;                /* [C] clamped */
  int32_t *wp;                  /* pairs: [KH][np][C] */
} qdw_packed;

static void plan_of(const ember_kargs *a, ember_q8dwp_plan *p) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  memset(p, 0, sizeof *p);
  p->h = (size_t)x->dims[1];
  p->w_in = (size_t)x->dims[2];
  p->c = (size_t)x->dims[3];
  p->kh = (size_t)w->dims[0];
  p->kw = (size_t)w->dims[1];
  p->sh = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_H);
  p->sw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_W);
  p->ph = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_PAD_H);
  p->pw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_PAD_W);
  p->dh = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_DIL_H);
  p->dw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_DIL_W);
  p->oh = (size_t)y->dims[1];
  p->ow = (size_t)y->dims[2];
  p->x_zp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_X_ZP);
  p->y_zp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_Y_ZP);
  p->qmin = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMIN);
  p->qmax = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMAX);
  p->scale = a->in[3]->data;
  ember_q8dwp_geometry(p);
}

/* the pair kernel for this node, or NULL when its preconditions do not hold */
static const ember_q8dwp_isa *pairs_for(const ember_kargs *a, const ember_q8dwp_plan *p) {
  const ember_q8dwp_isa *isa[1];
  if (ember_q8dwp_available(isa, 1) < 1 || p->c % isa[0]->cblock || p->kh > EMBER_Q8DWP_MAX_KH || !p->sw || !p->dw)
    return NULL;
  if (p->x_zp < -128 || p->x_zp > 127 || p->y_zp < -128 || p->y_zp > 127 || p->qmin > p->qmax) return NULL;
  for (size_t c = 0; c < p->c; c++)
    if (!isfinite(p->scale[c])) return NULL; /* the reordered requantization needs finite scales */
  return isa[0];
}

static ember_status qdw_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  ember_q8dwp_plan p;
  plan_of(a, &p);
  const ember_q8dwp_isa *pairs = pairs_for(a, &p);
  size_t c = p.c, head = (sizeof(qdw_packed) + 63) / 64 * 64, bb = (c * 4 + 63) / 64 * 64;
  size_t wb = pairs ? p.kh * p.np * c * 4 : 0, total = head + bb + wb;
  unsigned char *mem = aligned_alloc(64, (total + 63) / 64 * 64);
  if (!mem) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", total);
  qdw_packed *q = (qdw_packed *)(void *)mem;
  q->pairs = pairs;
  q->bias = (int32_t *)(void *)(mem + head);
  q->wp = pairs ? (int32_t *)(void *)(mem + head + bb) : NULL;
  const int32_t *src = a->in[2]->data;
  for (size_t i = 0; i < c; i++) q->bias[i] = ember_q_bias(src[i]);
  if (pairs) ember_q8dwp_pack(&p, a->in[1]->data, q->wp);
  *packed = mem;
  *bytes = total;
  *scratch = pairs ? ember_q8dwp_scratch(&p) : c * sizeof(int32_t);
  return EMBER_OK;
}

typedef struct {
  ember_q8dw_args args;
  ember_q8dwp_plan plan;
  const ember_q8dwp_isa *pairs;
  const int8_t *x;
  int8_t *y;
  uint8_t *scratch;
  uint64_t stride;
  size_t oh, rows, rows_per_tile, img_in, img_out, parts;
  ember_q8dw_row_fn row;
} qdw_job;

static void qdw_tile(void *ctx, size_t tile, int thread) {
  const qdw_job *j = ctx;
  void *mem = j->scratch + (size_t)thread * j->stride;
  if (j->pairs) { /* tile = (image, part of its rows): each part fills its own ring */
    size_t img = tile / j->parts, part = tile % j->parts;
    size_t oy0 = part * j->oh / j->parts, oy1 = (part + 1) * j->oh / j->parts;
    ember_q8dwp_rows(&j->plan, j->pairs, j->x + img * j->img_in, j->y + img * j->img_out, oy0, oy1, mem);
    return;
  }
  int32_t *acc = mem;
  size_t r0 = tile * j->rows_per_tile, r1 = r0 + j->rows_per_tile < j->rows ? r0 + j->rows_per_tile : j->rows;
  for (size_t r = r0; r < r1; r++) {
    size_t img = r / j->oh, oy = r % j->oh;
    ember_q8dw_args a = j->args;
    a.x += img * j->img_in;
    j->row(&a, oy, j->y + img * j->img_out + oy * a.ow * a.c, acc);
  }
}

static ember_status qdw_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  const qdw_packed *q = a->packed;
  qdw_job j;
  memset(&j, 0, sizeof j);
  /* one reading of the geometry and zero points (plan_of), shared by both kernel families */
  plan_of(a, &j.plan);
  const ember_q8dwp_plan *p = &j.plan;
  ember_q8dw_args *d = &j.args;
  d->x = x->data;
  d->w = w->data;
  d->bias = q->bias;
  d->scale = p->scale;
  d->h = p->h;
  d->w_in = p->w_in;
  d->c = p->c;
  d->kh = p->kh;
  d->kw = p->kw;
  d->sh = p->sh;
  d->sw = p->sw;
  d->ph = p->ph;
  d->pw = p->pw;
  d->dh = p->dh;
  d->dw = p->dw;
  d->ow = p->ow;
  d->x_zp = p->x_zp;
  d->y_zp = p->y_zp;
  d->qmin = p->qmin;
  d->qmax = p->qmax;
  j.x = x->data;
  j.y = y->data;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  j.oh = (size_t)y->dims[1];
  j.rows = (size_t)x->dims[0] * j.oh;
  j.img_in = d->h * d->w_in * d->c;
  j.img_out = j.oh * d->ow * d->c;
  size_t threads = (size_t)ember_pool_threads(a->pool), tiles = 4 * (threads > 0 ? threads : 1);
  if (j.rows == 0) return EMBER_OK;
  if (q->pairs) {
    j.plan.bias = q->bias;
    j.plan.wp = q->wp;
    j.pairs = q->pairs;
    /* one ring per part: 1 thread runs each image in one part; more split rows (finer than threads,
     * so a slow core does not hold up the rest) at the cost of KH - 1 extra pair rows per part */
    j.parts = threads > 1 ? (tiles < j.oh ? tiles : j.oh) : 1;
    ember_pool_run(a->pool, (size_t)x->dims[0] * j.parts, qdw_tile, &j);
    return EMBER_OK;
  }
  j.rows_per_tile = (j.rows + tiles - 1) / tiles;
  j.row = row_select();
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512 && d->c % 16 == 0) j.row = ember_q8_dwnhwc_row16_avx512;
#endif
  ember_pool_run(a->pool, (j.rows + j.rows_per_tile - 1) / j.rows_per_tile, qdw_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_qdwconv_nhwc = {"q8_dwconv_nhwc", qdw_applies, qdw_prepare, qdw_eval};
