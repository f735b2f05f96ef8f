/* Fast NHWC convolutions (the layout pass's conv2d_nhwc and dwconv2d_nhwc) and max_pool2d_nhwc.
 *
 * conv2d_nhwc is a GEMM: rows = output pixels, columns = output channels, K = KH*KW*C ordered
 * (ky, kx, c). The weight is already the GEMM's B (16-column panels, packed at export, read in place
 * from the file). A tile of output pixels gathers its A block per K block into per-thread scratch:
 * each tap contributes a contiguous run of C floats (or zeros where the tap falls in the padding),
 * i.e. an im2col of one tile only. The microkernels then sweep the tile's columns.
 * dwconv2d_nhwc vectorizes along channels (f32_dwnhwc.inc). Each is tested against its reference
 * kernel (runtime/tests/test_conv_nhwc.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_dwnhwc.h"
#include "f32_gemm.h"
#include "f32_vec.h"
#include "internal.h"

#define PIX_PER_TILE 96   /* output pixels per tile (8 rows of the 12-row microkernel) */
#define KC_NHWC 256       /* K block of the gathered A */
#define COLS_PER_SPLIT 128 /* column block when pixel tiles are too few for the threads */

static int f32_const(const ember_tensor *t) {
  return t->dtype == EMBER_DTYPE_F32 && t->storage == EMBER_STORAGE_CONST && t->data != NULL;
}

/* --------------------------------------------------------------------------------- conv2d_nhwc */

static int conv_nhwc_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && a->in[1]->dtype == EMBER_DTYPE_F32 &&
         ((uintptr_t)a->in[1]->data % 64 == 0 || a->in[1]->data == NULL) && (a->n_in < 3 || f32_const(a->in[2]));
}

static ember_status conv_nhwc_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = ((uint64_t)PIX_PER_TILE * KC_NHWC + 16) * sizeof(float); /* + slack for 16-lane copies */
  return EMBER_OK;
}

typedef struct {
  const float *x, *w, *bias, *x_end;
  float *y;
  uint8_t *scratch;
  uint64_t stride;
  size_t h, wd, c, oh, ow, o, kh, kw, k, sh, sw, ph, pw, dh, dw, pixels, ptiles, cols_per_tile, ctiles;
  int act;
  float lo, hi;
  ember_f32_ukernel uk;
  size_t mr, nr;
} cn_job;

/* A[r][0..kc) = im2col row of pixel p0 + r, columns [pc, pc + kc): each tap is a contiguous run of C
 * floats (zeros in the padding); undilated taps along a row are adjacent in NHWC, so one run covers
 * every in-bounds kx that is left. No divisions per element: the (ky, kx, c) position advances by runs. */
static void gather(const cn_job *j, size_t p0, size_t rows, size_t pc, size_t kc, float *A) {
  const size_t C = j->c, end = pc + kc, hw = j->oh * j->ow;
  size_t img = p0 / hw, oy = p0 % hw / j->ow, ox = p0 % j->ow;
  const size_t ky0 = pc / C / j->kw, kx0 = pc / C % j->kw, ci0 = pc % C;
  for (size_t r = 0; r < rows; r++) {
    const float *xi = j->x + img * j->h * j->wd * C;
    float *dst = A + r * kc;
    size_t k = pc, ky = ky0, kx = kx0, ci = ci0;
    while (k < end) {
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + ky * j->dh) - (ptrdiff_t)j->ph;
      ptrdiff_t ix = (ptrdiff_t)(ox * j->sw + kx * j->dw) - (ptrdiff_t)j->pw;
      size_t run;
      if (iy >= 0 && iy < (ptrdiff_t)j->h && ix >= 0 && ix < (ptrdiff_t)j->wd) {
        size_t span = C - ci;
        if (j->dw == 1) {
          size_t taps = j->kw - kx, room = j->wd - (size_t)ix;
          span = (taps < room ? taps : room) * C - ci;
        }
        run = span < end - k ? span : end - k;
        const float *src = xi + ((size_t)iy * j->wd + (size_t)ix) * C + ci;
        if (run >= 32) {
          memcpy(dst, src, run * sizeof(float));
        } else if (run <= 16 && src + 16 <= j->x_end) {
          /* short runs (few channels): copy a fixed 16 lanes; the lanes past `run` land where the next
           * run (or the scratch slack after the last row) is written next */
          for (size_t u = 0; u < 16; u++) dst[u] = src[u];
        } else {
          for (size_t u = 0; u < run; u++) dst[u] = src[u];
        }
      } else {
        run = C - ci < end - k ? C - ci : end - k;
        for (size_t u = 0; u < run; u++) dst[u] = 0.f;
      }
      dst += run;
      k += run;
      for (ci += run; ci >= C; ci -= C) kx++; /* a run covers at most kw taps */
      for (; kx >= j->kw; kx -= j->kw) ky++;
    }
    if (++ox == j->ow) {
      ox = 0;
      if (++oy == j->oh) {
        oy = 0;
        img++;
      }
    }
  }
}

static void conv_nhwc_tile(void *ctx, size_t tile, int thread) {
  const cn_job *j = ctx;
  size_t ct = tile % j->ctiles, pt = tile / j->ctiles;
  size_t p0 = pt * PIX_PER_TILE, rows = j->pixels - p0 < PIX_PER_TILE ? j->pixels - p0 : PIX_PER_TILE;
  size_t c_begin = ct * j->cols_per_tile, c_end = c_begin + j->cols_per_tile < j->o ? c_begin + j->cols_per_tile : j->o;
  float *A = (float *)(j->scratch + (size_t)thread * j->stride);
  float *y = j->y + p0 * j->o;
  const size_t cols = c_end - c_begin;
  if (j->bias) /* C starts as the bias and every K block accumulates: no separate bias pass */
    for (size_t r = 0; r < rows; r++) memcpy(y + r * j->o + c_begin, j->bias + c_begin, cols * sizeof(float));
  for (size_t pc = 0; pc < j->k; pc += KC_NHWC) {
    size_t kc = j->k - pc < KC_NHWC ? j->k - pc : KC_NHWC;
    gather(j, p0, rows, pc, kc, A);
    for (size_t c0 = c_begin; c0 < c_end; c0 += j->nr) {
      size_t nr = c_end - c0 < j->nr ? c_end - c0 : j->nr;
      const float *panel = j->w + (c0 / EMBER_GEMM_NR) * j->k * EMBER_GEMM_NR + pc * EMBER_GEMM_NR;
      for (size_t r = 0; r < rows; r += j->mr) {
        size_t mr = rows - r < j->mr ? rows - r : j->mr;
        j->uk(mr, nr, kc, A + r * kc, kc, panel, j->k * EMBER_GEMM_NR, y + r * j->o + c0, j->o,
              pc > 0 || j->bias != NULL);
      }
    }
  }
  if (j->act != EMBER_ACT_NONE) {
    const ember_f32_vec_ops *v = ember_f32_vec();
    if (cols == j->o) /* the tile's rows are contiguous: one call */
      v->act_row(y, rows * cols, NULL, 0.f, j->act, j->lo, j->hi);
    else
      for (size_t r = 0; r < rows; r++) v->act_row(y + r * j->o + c_begin, cols, NULL, 0.f, j->act, j->lo, j->hi);
  }
}

static ember_status conv_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  cn_job j;
  memset(&j, 0, sizeof j);
  j.x = x->data;
  j.x_end = j.x + x->numel;
  j.w = a->in[1]->data;
  j.bias = a->n_in > 2 ? a->in[2]->data : NULL;
  j.y = y->data;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  j.h = (size_t)x->dims[1];
  j.wd = (size_t)x->dims[2];
  j.c = (size_t)x->dims[3];
  j.oh = (size_t)y->dims[1];
  j.ow = (size_t)y->dims[2];
  j.o = (size_t)y->dims[3];
  j.kh = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_H);
  j.kw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_KERNEL_W);
  j.k = (size_t)a->in[1]->dims[1];
  j.sh = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_STRIDE_H);
  j.sw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_STRIDE_W);
  j.ph = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_PAD_H);
  j.pw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_PAD_W);
  j.dh = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_DIL_H);
  j.dw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_NHWC_DIL_W);
  j.act = (int)ember_attr_i(a, EMBER_A_CONV2D_NHWC_ACT);
  j.lo = (float)ember_attr_f(a, EMBER_A_CONV2D_NHWC_ACT_MIN);
  j.hi = (float)ember_attr_f(a, EMBER_A_CONV2D_NHWC_ACT_MAX);
  j.pixels = (size_t)x->dims[0] * j.oh * j.ow;
  j.ptiles = (j.pixels + PIX_PER_TILE - 1) / PIX_PER_TILE;
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  j.uk = cfg->fn;
  j.mr = cfg->mr;
  j.nr = cfg->nr;
  size_t threads = (size_t)ember_pool_threads(a->pool);
  j.cols_per_tile = j.o;
  if (threads > 1 && j.ptiles < 4 * threads && j.o > COLS_PER_SPLIT) j.cols_per_tile = COLS_PER_SPLIT;
  j.ctiles = (j.o + j.cols_per_tile - 1) / j.cols_per_tile;
  ember_pool_run(a->pool, j.ptiles * j.ctiles, conv_nhwc_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_conv_nhwc = {"f32_conv2d_nhwc_gemm", conv_nhwc_applies, conv_nhwc_prepare,
                                                conv_nhwc_eval};

/* ------------------------------------------------------------------------------- dwconv2d_nhwc */

static ember_dwnhwc_row_fn dw_row_select(void) {
  const char *force = getenv("EMBER_FORCE_SCALAR");
  if (force && force[0] == '1') return ember_f32_dwnhwc_row_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  const char *cap = getenv("EMBER_MAX_ISA");
  __builtin_cpu_init();
  if (!(cap && strcmp(cap, "avx2") == 0) && __builtin_cpu_supports("avx512f")) return ember_f32_dwnhwc_row_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_dwnhwc_row_avx2;
#endif
#if defined(__aarch64__)
  return ember_f32_dwnhwc_row_neon;
#endif
  return ember_f32_dwnhwc_row_scalar;
}

static int dw_nhwc_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && f32_const(a->in[1]) && (a->n_in < 3 || f32_const(a->in[2]));
}

static ember_status dw_nhwc_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

typedef struct {
  ember_dwnhwc_args args; /* x is image 0; rows index (image, oy) */
  size_t img_in, img_out, oh, rows_per_tile, rows;
  ember_dwnhwc_row_fn row;
  float *y;
} dw_job;

static void dw_nhwc_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const dw_job *j = ctx;
  size_t r0 = tile * j->rows_per_tile, r1 = r0 + j->rows_per_tile < j->rows ? r0 + j->rows_per_tile : j->rows;
  const int fused = j->args.act == EMBER_ACT_NONE || j->args.act == EMBER_ACT_RELU || j->args.act == EMBER_ACT_CLAMP;
  for (size_t r = r0; r < r1; r++) {
    size_t img = r / j->oh, oy = r % j->oh;
    ember_dwnhwc_args a = j->args;
    a.x += img * j->img_in;
    if (!fused) a.act = EMBER_ACT_NONE;
    float *y = j->y + img * j->img_out + oy * j->args.ow * j->args.c;
    j->row(&a, oy, y);
    if (!fused) ember_f32_vec()->act_row(y, j->args.ow * j->args.c, NULL, 0.f, j->args.act, j->args.lo, j->args.hi);
  }
}

static ember_status dw_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  dw_job j;
  memset(&j, 0, sizeof j);
  ember_dwnhwc_args *d = &j.args;
  d->x = x->data;
  d->w = w->data;
  d->bias = a->n_in > 2 ? a->in[2]->data : NULL;
  d->h = (size_t)x->dims[1];
  d->w_in = (size_t)x->dims[2];
  d->c = (size_t)x->dims[3];
  d->kh = (size_t)w->dims[0];
  d->kw = (size_t)w->dims[1];
  d->sh = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_STRIDE_H);
  d->sw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_STRIDE_W);
  d->ph = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_PAD_H);
  d->pw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_PAD_W);
  d->dh = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_DIL_H);
  d->dw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_DIL_W);
  d->ow = (size_t)y->dims[2];
  d->act = (int)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_ACT);
  d->lo = (float)ember_attr_f(a, EMBER_A_DWCONV2D_NHWC_ACT_MIN);
  d->hi = (float)ember_attr_f(a, EMBER_A_DWCONV2D_NHWC_ACT_MAX);
  j.y = y->data;
  j.oh = (size_t)y->dims[1];
  j.img_in = d->h * d->w_in * d->c;
  j.img_out = j.oh * d->ow * d->c;
  j.rows = (size_t)x->dims[0] * j.oh;
  size_t threads = (size_t)ember_pool_threads(a->pool), tiles = 4 * (threads > 0 ? threads : 1);
  j.rows_per_tile = (j.rows + tiles - 1) / tiles;
  j.row = dw_row_select();
  ember_pool_run(a->pool, (j.rows + j.rows_per_tile - 1) / j.rows_per_tile, dw_nhwc_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_dwconv_nhwc = {"f32_dwconv_nhwc", dw_nhwc_applies, dw_nhwc_prepare, dw_nhwc_eval};

/* ----------------------------------------------------------------------------- max_pool2d_nhwc */

typedef struct {
  const float *x;
  float *y;
  size_t n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
} mpn_job;

static void mp_nhwc_row(void *ctx, size_t row, int thread) {
  (void)thread;
  const mpn_job *j = ctx;
  size_t img = row / j->oh, oy = row % j->oh;
  const float *xi = j->x + img * j->h * j->w * j->c;
  float *out = j->y + row * j->ow * j->c;
  for (size_t ox = 0; ox < j->ow; ox++) {
    float *o = out + ox * j->c;
    for (size_t c = 0; c < j->c; c++) o[c] = -INFINITY;
    for (size_t ky = 0; ky < j->kh; ky++) {
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + ky * j->dh) - (ptrdiff_t)j->ph;
      if (iy < 0 || iy >= (ptrdiff_t)j->h) continue;
      for (size_t kx = 0; kx < j->kw; kx++) {
        ptrdiff_t ix = (ptrdiff_t)(ox * j->sw + kx * j->dw) - (ptrdiff_t)j->pw;
        if (ix < 0 || ix >= (ptrdiff_t)j->w) continue;
        const float *src = xi + ((size_t)iy * j->w + (size_t)ix) * j->c;
        /* NaN wins, as in the reference: (v > m || v != v) picks v */
        for (size_t c = 0; c < j->c; c++) o[c] = (src[c] > o[c] || src[c] != src[c]) ? src[c] : o[c];
      }
    }
  }
}

static int mp_nhwc_applies(const ember_kargs *a) { return a->in[0]->dtype == EMBER_DTYPE_F32; }

static ember_status mp_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  mpn_job j = {x->data, y->data, (size_t)x->dims[0], (size_t)x->dims[1], (size_t)x->dims[2], (size_t)x->dims[3],
               (size_t)y->dims[1], (size_t)y->dims[2],
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_KERNEL_H),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_KERNEL_W),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_STRIDE_H),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_STRIDE_W),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_PAD_H),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_PAD_W),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_DIL_H),
               (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_NHWC_DIL_W)};
  ember_pool_run(a->pool, j.n * j.oh, mp_nhwc_row, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_maxpool_nhwc = {"f32_max_pool2d_nhwc", mp_nhwc_applies, dw_nhwc_prepare,
                                                   mp_nhwc_eval};
