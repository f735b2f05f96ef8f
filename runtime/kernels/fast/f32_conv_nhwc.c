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
#include <stdatomic.h>
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

/* Output channels per split when `o` of them are cut into `splits` parts of whole 32-column
 * microkernel tiles (conv2d_nhwc's column blocks, winograd's channel splits). */
static size_t cols_per_split(size_t o, size_t splits) { return ((o + splits - 1) / splits + 31) / 32 * 32; }

static int f32_const(const ember_tensor *t) {
  return t->dtype == EMBER_DTYPE_F32 && t->storage == EMBER_STORAGE_CONST && t->data != NULL;
}

/* Floats of per-thread scratch that gemm_block needs to pack `rows` x KC_NHWC of A (0 when this CPU's
 * microkernel reads A in place), plus 16 for 64-byte alignment. */
static size_t packed_a_floats_k(size_t rows, size_t kc) {
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  if (!cfg->packed) return 0;
  return (rows + EMBER_GEMM_MR_PACK - 1) / EMBER_GEMM_MR_PACK * EMBER_GEMM_MR_PACK * kc + 16;
}

static size_t packed_a_floats(size_t rows) { return packed_a_floats_k(rows, KC_NHWC); }

/* conv2d_nhwc: images with few output pixels (<= SMALL_PIXELS, e.g. 7x7) stream far more weight than
 * activation bytes; a long K block (SMALL_KC) reads and writes C 4x less often */
#define SMALL_PIXELS 72
#define SMALL_KC 1024
#define GATHER_SLACK 32 /* floats past the gathered block that 32-lane copies may write */

static size_t conv_kc(size_t pixels) { return pixels <= SMALL_PIXELS ? SMALL_KC : KC_NHWC; }

/* floats of the gathered A block (plus copy slack) for a conv with `pixels` output pixels */
static size_t conv_a_floats(size_t pixels) {
  size_t rows = pixels < PIX_PER_TILE ? pixels : PIX_PER_TILE;
  return rows * conv_kc(pixels) + GATHER_SLACK;
}

static float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* C[0..rows, c_begin..c_end) (+)= A[0..rows, 0..kc) (row stride lda) x B, B given as the panel of
 * column 0 (`b`, panel p at b + p * panel_stride). Columns outermost, so each B slice stays in L1 across
 * the row micro-panels. With a packed-A microkernel (AVX-512) A is first packed into `ap` (see
 * packed_a_floats), else the microkernel reads it in place. `e` (or NULL): the epilogue of the last K
 * block, bias at column 0 and residual at the block's row 0, column 0; applied in registers when the
 * in-place kernel has a fused variant. Returns 1 when it was applied (else the caller applies it). */
static int gemm_block(const ember_f32_gemm_config *cfg, size_t rows, size_t c_begin, size_t c_end, size_t kc,
                      const float *a, size_t lda, const float *b, size_t panel_stride, float *c, size_t ldc,
                      int accumulate, float *ap, const ember_f32_epi *e) {
  /* short K: packing costs about what the in-place kernel loses; up to 128 columns A would be packed for
   * one or a few B slices (as in linear, PA_MIN_N) */
  if (cfg->packed && kc >= 64 && c_end - c_begin > 128) {
    const size_t mp = EMBER_GEMM_MR_PACK;
    for (size_t r = 0; r < rows; r += mp) cfg->pack_a(rows - r < mp ? rows - r : mp, kc, a + r * lda, lda, ap + r * kc);
    for (size_t c0 = c_begin; c0 < c_end; c0 += cfg->nr) {
      size_t nr = c_end - c0 < cfg->nr ? c_end - c0 : cfg->nr;
      const float *panel = b + (c0 / EMBER_GEMM_NR) * panel_stride;
      for (size_t r = 0; r < rows; r += mp) /* the first micro-panel brings the B slice in: it prefetches */
        (r == 0 ? cfg->packed_stream : cfg->packed)(rows - r < mp ? rows - r : mp, nr, kc, ap + r * kc, panel,
                                                    panel_stride, c + r * ldc + c0, ldc, accumulate, NULL);
    }
    return 0;
  }
  const int fuse = e && cfg->fn_epi &&
                   (e->act == EMBER_ACT_NONE || e->act == EMBER_ACT_RELU || e->act == EMBER_ACT_CLAMP);
  for (size_t c0 = c_begin; c0 < c_end; c0 += cfg->nr) {
    size_t nr = c_end - c0 < cfg->nr ? c_end - c0 : cfg->nr;
    const float *panel = b + (c0 / EMBER_GEMM_NR) * panel_stride;
    for (size_t r = 0; r < rows; r += cfg->mr) {
      size_t mr = rows - r < cfg->mr ? rows - r : cfg->mr;
      if (fuse) {
        ember_f32_epi ep = *e;
        ep.bias = e->bias ? e->bias + c0 : NULL;
        ep.res = e->res ? e->res + r * e->ldr + c0 : NULL;
        cfg->fn_epi(mr, nr, kc, a + r * lda, lda, panel, panel_stride, c + r * ldc + c0, ldc, accumulate, &ep);
      } else {
        cfg->fn(mr, nr, kc, a + r * lda, lda, panel, panel_stride, c + r * ldc + c0, ldc, accumulate);
      }
    }
  }
  return fuse;
}

/* --------------------------------------------------------------------------------- conv2d_nhwc */

static int conv_nhwc_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && a->in[1]->dtype == EMBER_DTYPE_F32 &&
         ((uintptr_t)a->in[1]->data % 64 == 0 || a->in[1]->data == NULL) && (a->n_in < 3 || f32_const(a->in[2]));
}

static ember_status conv_nhwc_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  /* the gathered A (+ slack for 32-lane copies), then its packed micro-panels */
  const ember_tensor *y = a->out[0];
  size_t pixels = (size_t)(y->dims[0] * y->dims[1] * y->dims[2]), rows = pixels < PIX_PER_TILE ? pixels : PIX_PER_TILE;
  *scratch = ((uint64_t)conv_a_floats(pixels) + 16 + packed_a_floats_k(rows, conv_kc(pixels))) * sizeof(float);
  return EMBER_OK;
}

typedef struct {
  const float *x, *w, *bias, *x_end, *res; /* res: optional residual, the output's layout */
  float *y;
  uint8_t *scratch;
  uint64_t stride;
  size_t h, wd, c, oh, ow, o, kh, kw, k, sh, sw, ph, pw, dh, dw, pixels, ptiles, cols_per_tile, ctiles;
  int act;
  float lo, hi;
  const ember_f32_gemm_config *cfg;
} cn_job;

/* A[r][0..kc) = im2col row of pixel p0 + r, columns [pc, pc + kc): each tap is a contiguous run of C
 * floats (zeros in the padding); undilated taps along a row are adjacent in NHWC, so one run covers
 * every in-bounds kx that is left. No divisions per element: the (ky, kx, c) position advances by runs. */
/* n <= 32 floats; whole 16-float pieces when the source has them (the lanes past n land where the next
 * segment, or the slack after the block, is written next) */
static inline void copy_short(float *dst, const float *src, size_t n, const float *x_end) {
  if (n <= 16 && src + 16 <= x_end) {
    memcpy(dst, src, 16 * sizeof(float));
  } else if (n <= 32 && src + 32 <= x_end) {
    memcpy(dst, src, 32 * sizeof(float));
  } else {
    memcpy(dst, src, n * sizeof(float));
  }
}

/* The whole K in one block, undilated along x, short kernel rows (KW * C <= 32 floats: the first layer of a
 * vision model, 3 channels): per pixel and kernel row one segment of KW * C floats, or per-tap copies
 * at the left and right edges. */
static void gather_whole_k(const cn_job *j, size_t p0, size_t rows, float *A) {
  const size_t C = j->c, seg = j->kw * C, hw = j->oh * j->ow;
  size_t img = p0 / hw, oy = p0 % hw / j->ow, ox = p0 % j->ow;
  for (size_t r = 0; r < rows; r++) {
    const float *xi = j->x + img * j->h * j->wd * C;
    float *dst = A + r * j->k;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * j->sw) - (ptrdiff_t)j->pw;
    const int inside_x = ix0 >= 0 && ix0 + (ptrdiff_t)j->kw <= (ptrdiff_t)j->wd;
    for (size_t ky = 0; ky < j->kh; ky++, dst += seg) {
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + ky * j->dh) - (ptrdiff_t)j->ph;
      if (iy < 0 || iy >= (ptrdiff_t)j->h) {
        memset(dst, 0, seg * sizeof(float));
      } else if (inside_x) {
        copy_short(dst, xi + ((size_t)iy * j->wd + (size_t)ix0) * C, seg, j->x_end);
      } else {
        for (size_t kx = 0; kx < j->kw; kx++) {
          ptrdiff_t ix = ix0 + (ptrdiff_t)kx;
          if (ix < 0 || ix >= (ptrdiff_t)j->wd) memset(dst + kx * C, 0, C * sizeof(float));
          else memcpy(dst + kx * C, xi + ((size_t)iy * j->wd + (size_t)ix) * C, C * sizeof(float));
        }
      }
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

static void gather(const cn_job *j, size_t p0, size_t rows, size_t pc, size_t kc, float *A) {
  if (pc == 0 && kc == j->k && j->dw == 1 && j->kw * j->c <= 32) {
    gather_whole_k(j, p0, rows, A);
    return;
  }
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
        if (run > 32) {
          memcpy(dst, src, run * sizeof(float));
        } else if (run <= 16 && src + 16 <= j->x_end) {
          /* short runs (few channels): copy a fixed 16 (or 32) lanes; the lanes past `run` land where the
           * next run (or the scratch slack after the last row) is written next */
          for (size_t u = 0; u < 16; u++) dst[u] = src[u];
        } else if (src + 32 <= j->x_end) {
          for (size_t u = 0; u < 32; u++) dst[u] = src[u];
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
  const size_t kcmax = conv_kc(j->pixels);
  float *ap = align64(A + conv_a_floats(j->pixels));
  const ember_f32_epi e = {j->bias, j->res ? j->res + p0 * j->o : NULL, j->o, j->act, j->lo, j->hi};
  int done = 0;
  for (size_t pc = 0; pc < j->k; pc += kcmax) {
    size_t kc = j->k - pc < kcmax ? j->k - pc : kcmax;
    gather(j, p0, rows, pc, kc, A);
    done = gemm_block(j->cfg, rows, c_begin, c_end, kc, A, kc, j->w + pc * EMBER_GEMM_NR, j->k * EMBER_GEMM_NR, y,
                      j->o, pc > 0, ap, pc + kc == j->k ? &e : NULL);
  }
  /* else bias and activation in one pass over the tile (the first K block overwrote C) */
  if (!done && (j->bias || j->res || j->act != EMBER_ACT_NONE))
    ember_f32_vec()->bias_act_rows(y + c_begin, rows, cols, j->o, j->bias ? j->bias + c_begin : NULL,
                                   j->res ? j->res + p0 * j->o + c_begin : NULL, j->o, j->act, j->lo, j->hi);
}

static ember_status conv_nhwc_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  cn_job j;
  memset(&j, 0, sizeof j);
  j.x = x->data;
  j.x_end = j.x + x->numel;
  j.w = a->in[1]->data;
  j.bias = a->n_in > 2 ? a->in[2]->data : NULL;
  j.res = a->n_in > 3 ? a->in[3]->data : NULL;
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
  j.cfg = ember_f32_gemm_select();
  size_t threads = (size_t)ember_pool_threads(a->pool);
  j.cols_per_tile = j.o;
  if (threads > 1 && j.ptiles < 4 * threads && j.o > COLS_PER_SPLIT) {
    /* Too few pixel tiles to share out: split the columns too. Every column tile gathers its pixels'
     * im2col rows again, so with fewer pixel tiles than threads (a 7x7 map is one tile) the columns go
     * in one block per thread and a pixel tile is gathered once per thread, not once per 128 columns:
     * ResNet-18's 7x7 3x3 convolutions at 2 threads took 1.14 -> 1.00 ms. */
    j.cols_per_tile = COLS_PER_SPLIT;
    if (j.ptiles < threads) j.cols_per_tile = cols_per_split(j.o, (threads + j.ptiles - 1) / j.ptiles);
  }
  j.ctiles = (j.o + j.cols_per_tile - 1) / j.cols_per_tile;
  ember_pool_run(a->pool, j.ptiles * j.ctiles, conv_nhwc_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_conv_nhwc = {"f32_conv2d_nhwc_gemm", conv_nhwc_applies, conv_nhwc_prepare,
                                                conv_nhwc_eval};

/* ------------------------------------------------------------------------------- dwconv2d_nhwc */

/* The widest ISA this CPU runs for the NHWC kernels here and in q8_conv_nhwc.c / q8_elementwise.c,
 * honouring EMBER_FORCE_SCALAR=1 and EMBER_MAX_ISA=avx2 like the GEMM selection (dispatch.c); chosen
 * once per process. AVX-512 means F and BW (the kernels' files are compiled with both). */
static _Atomic int g_isa;

static int isa_uncached(void) {
  const char *force = getenv("EMBER_FORCE_SCALAR");
  if (force && force[0] == '1') return EMBER_CONV_ISA_SCALAR;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  const char *cap = getenv("EMBER_MAX_ISA");
  __builtin_cpu_init();
  if (!(cap && strcmp(cap, "avx2") == 0) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
    return EMBER_CONV_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return EMBER_CONV_ISA_AVX2;
#endif
#if defined(__aarch64__)
  return EMBER_CONV_ISA_NEON;
#endif
  return EMBER_CONV_ISA_SCALAR;
}

int ember_conv_isa(void) {
  int v = atomic_load_explicit(&g_isa, memory_order_relaxed);
  if (!v) {
    v = isa_uncached();
    atomic_store_explicit(&g_isa, v, memory_order_relaxed);
  }
  return v;
}

static ember_dwnhwc_row_fn dw_row_select(void) {
  switch (ember_conv_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case EMBER_CONV_ISA_AVX512: return ember_f32_dwnhwc_row_avx512;
    case EMBER_CONV_ISA_AVX2: return ember_f32_dwnhwc_row_avx2;
#endif
#if defined(__aarch64__)
    case EMBER_CONV_ISA_NEON: return ember_f32_dwnhwc_row_neon;
#endif
    default: return ember_f32_dwnhwc_row_scalar;
  }
}

static int dw_nhwc_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && f32_const(a->in[1]) && (a->n_in < 3 || f32_const(a->in[2]));
}

/* Small maps (the border is a large share of the pixels): input rows are copied into a ring of zero-padded
 * rows and the row kernel sees an unpadded image whose every pixel is interior, so no pixel takes the
 * per-tap bounds checks. Geometry of that padded view: */
#define DW_PAD_MAX_W 32  /* input widths up to this take the padded rows */
#define DW_PAD_MAX_KH 16 /* ring slots */
typedef struct {
  size_t pb, pr, hp, wp; /* padding below / right that the taps reach; padded height / width */
  size_t row_floats;     /* one padded row, rounded to 16 floats */
} dw_pad_geom;

static int dw_pad_geometry(const ember_kargs *a, dw_pad_geom *g) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  size_t h = (size_t)x->dims[1], wd = (size_t)x->dims[2], c = (size_t)x->dims[3];
  size_t kh = (size_t)w->dims[0], kw = (size_t)w->dims[1], oh = (size_t)y->dims[1], ow = (size_t)y->dims[2];
  size_t sh = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_STRIDE_H), sw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_STRIDE_W);
  size_t ph = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_PAD_H), pw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_PAD_W);
  size_t dh = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_DIL_H), dw = (size_t)ember_attr_i(a, EMBER_A_DWCONV2D_NHWC_DIL_W);
  if (wd > DW_PAD_MAX_W || kh > DW_PAD_MAX_KH || (ph == 0 && pw == 0) || oh == 0 || ow == 0) return 0;
  size_t reach_y = (oh - 1) * sh + (kh - 1) * dh + 1, reach_x = (ow - 1) * sw + (kw - 1) * dw + 1;
  g->pb = reach_y > h + ph ? reach_y - h - ph : 0;
  g->pr = reach_x > wd + pw ? reach_x - wd - pw : 0;
  g->hp = ph + h + g->pb;
  g->wp = pw + wd + g->pr;
  g->row_floats = (g->wp * c + 15) / 16 * 16;
  return 1;
}

/* per thread: kh ring slots + one zero row (floats), then the row table (hp pointers) */
static uint64_t dw_pad_scratch(const dw_pad_geom *g, size_t kh) {
  return (uint64_t)((kh + 1) * g->row_floats) * sizeof(float) + (uint64_t)g->hp * sizeof(float *) + 64;
}

static ember_status mp_nhwc_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status dw_nhwc_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  dw_pad_geom g;
  *packed = NULL;
  *bytes = 0;
  *scratch = dw_pad_geometry(a, &g) ? dw_pad_scratch(&g, (size_t)a->in[1]->dims[0]) : 0;
  return EMBER_OK;
}

typedef struct {
  ember_dwnhwc_args args; /* x is image 0; rows index (image, oy) */
  size_t img_in, img_out, oh, rows_per_tile, rows;
  ember_dwnhwc_row_fn row;
  float *y;
  int padded; /* dw_pad_geom: padded rows in scratch */
  dw_pad_geom pad;
  uint8_t *scratch;
  uint64_t stride;
} dw_job;

/* the padded view's rows for output row oy of image x: ring slots (made when missing) or the zero row */
static void dw_pad_rows(const dw_job *j, const float *x, size_t oy, float *ring, const float *zero, const float **tab,
                        ptrdiff_t *tag) {
  const ember_dwnhwc_args *d = &j->args;
  const size_t kh = d->kh, C = d->c, rf = j->pad.row_floats;
  int keep[DW_PAD_MAX_KH] = {0};
  ptrdiff_t need[DW_PAD_MAX_KH];
  for (size_t ky = 0; ky < kh; ky++) { /* padded row oy * sh + ky * dh is input row that - ph */
    size_t ip = oy * d->sh + ky * d->dh;
    ptrdiff_t iy = (ptrdiff_t)ip - (ptrdiff_t)d->ph;
    need[ky] = iy >= 0 && iy < (ptrdiff_t)d->h ? iy : -1;
    tab[ip] = zero;
    for (size_t s = 0; s < kh && need[ky] >= 0; s++)
      if (tag[s] == need[ky]) {
        tab[ip] = ring + s * rf;
        keep[s] = 1;
        need[ky] = -1; /* found */
      }
  }
  for (size_t ky = 0; ky < kh; ky++) {
    if (need[ky] < 0) continue;
    size_t s = 0;
    while (keep[s]) s++; /* kh slots, at most kh kept: one is free */
    float *row = ring + s * rf;
    memset(row, 0, d->pw * C * sizeof(float));
    memcpy(row + d->pw * C, x + (size_t)need[ky] * d->w_in * C, d->w_in * C * sizeof(float));
    memset(row + (d->pw + d->w_in) * C, 0, j->pad.pr * C * sizeof(float));
    tag[s] = need[ky];
    keep[s] = 1;
    tab[oy * d->sh + ky * d->dh] = row;
  }
}

static void dw_nhwc_tile(void *ctx, size_t tile, int thread) {
  const dw_job *j = ctx;
  size_t r0 = tile * j->rows_per_tile, r1 = r0 + j->rows_per_tile < j->rows ? r0 + j->rows_per_tile : j->rows;
  const int fused = j->args.act == EMBER_ACT_NONE || j->args.act == EMBER_ACT_RELU || j->args.act == EMBER_ACT_CLAMP;
  float *ring = NULL, *zero = NULL;
  const float **tab = NULL;
  ptrdiff_t tag[DW_PAD_MAX_KH];
  size_t tag_img = (size_t)-1;
  if (j->padded) {
    ring = (float *)(void *)(j->scratch + (size_t)thread * j->stride);
    zero = ring + j->args.kh * j->pad.row_floats;
    tab = (const float **)(void *)(zero + j->pad.row_floats);
    memset(zero, 0, j->pad.row_floats * sizeof(float));
  }
  for (size_t r = r0; r < r1; r++) {
    size_t img = r / j->oh, oy = r % j->oh;
    ember_dwnhwc_args a = j->args;
    a.x += img * j->img_in;
    if (!fused) a.act = EMBER_ACT_NONE;
    if (j->padded) { /* the kernel sees the padded view: no padding left, every pixel interior */
      if (img != tag_img) { /* a new image: the ring holds nothing of it */
        for (size_t s = 0; s < a.kh; s++) tag[s] = -1;
        tag_img = img;
      }
      dw_pad_rows(j, a.x, oy, ring, zero, tab, tag);
      a.rows = tab;
      a.h = j->pad.hp;
      a.w_in = j->pad.wp;
      a.ph = 0;
      a.pw = 0;
    }
    float *y = j->y + img * j->img_out + oy * j->args.ow * j->args.c;
    j->row(&a, oy, y);
    if (!fused) ember_f32_vec()->act_row(y, j->args.ow * j->args.c, NULL, 0.f, j->args.act, j->args.lo, j->args.hi);
  }
}

/* Output rows per tile. One thread: 4 tiles, as before. Several: the pool gives each thread a
 * contiguous range of tiles, so pick, among 4 down to 1 tiles per thread, the tile height whose ranges
 * give the busiest thread the fewest rows (the smallest such height, for stealing). 14 rows on 2
 * threads: 7 tiles of 2 split 6 : 8 rows, 2 tiles of 7 split 7 : 7. */
static size_t dw_rows_per_tile(size_t rows, size_t threads) {
  if (threads <= 1) return rows >= 4 ? (rows + 3) / 4 : 1;
  size_t lo = (rows + 4 * threads - 1) / (4 * threads), hi = (rows + threads - 1) / threads;
  if (lo == 0) lo = 1;
  size_t best = lo, best_load = (size_t)-1;
  for (size_t rpt = lo; rpt <= hi; rpt++) {
    size_t tiles = (rows + rpt - 1) / rpt, load = 0;
    for (size_t t = 0; t < threads; t++) {
      size_t b = tiles * t / threads * rpt, e = tiles * (t + 1) / threads * rpt;
      size_t r = (e < rows ? e : rows) - (b < rows ? b : rows);
      if (r > load) load = r;
    }
    if (load < best_load) best_load = load, best = rpt;
  }
  return best;
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
  j.rows_per_tile = dw_rows_per_tile(j.rows, (size_t)ember_pool_threads(a->pool));
  j.row = dw_row_select();
  j.padded = dw_pad_geometry(a, &j.pad);
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
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
  const ember_f32_vec_ops *v = ember_f32_vec();
  for (size_t ox = 0; ox < j->ow; ox++) {
    float *o = out + ox * j->c;
    for (size_t c = 0; c < j->c; c++) o[c] = -INFINITY;
    for (size_t ky = 0; ky < j->kh; ky++) {
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + ky * j->dh) - (ptrdiff_t)j->ph;
      if (iy < 0 || iy >= (ptrdiff_t)j->h) continue;
      for (size_t kx = 0; kx < j->kw; kx++) {
        ptrdiff_t ix = (ptrdiff_t)(ox * j->sw + kx * j->dw) - (ptrdiff_t)j->pw;
        if (ix < 0 || ix >= (ptrdiff_t)j->w) continue;
        v->max_into(o, xi + ((size_t)iy * j->w + (size_t)ix) * j->c, j->c); /* NaN wins, as in the reference */
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

const ember_fast_kernel ember_fast_maxpool_nhwc = {"f32_max_pool2d_nhwc", mp_nhwc_applies, mp_nhwc_prepare,
                                                   mp_nhwc_eval};

/* ----------------------------------------------------------------------------- conv2d_winograd */
/* Winograd F(2x2, 3x3) in NHWC: a block of TB tiles at a time (sized so its transformed inputs V and
 * GEMM outputs M stay in L2): input transform V[xi][t][c] = (B^T d B)[xi] along contiguous channels,
 * 16 GEMMs M[xi] = V[xi] U[xi] on the microkernels (U panel-packed at export, read in place), output
 * transform y = A^T m A + bias, activation, clipped at odd edges. 2.25x fewer multiplies than direct. */

typedef struct {
  ember_wino_geom g;
  const float *u;
  uint8_t *scratch;
  uint64_t stride;
  size_t tiles, panels, col_splits, cols_per_split;
  int act; /* the node's activation (g.act is what the output transform fuses) */
  ember_wino_in_fn in;
  ember_wino_out_fn out;
  const ember_f32_gemm_config *cfg;
} wg_job;

/* Tiles per block: V + M = 16 * tb * (c + o) floats stay within about 1 MiB of L2. When all tiles fit
 * in a few blocks' worth (small images, e.g. 7x7) they form one block, so the transformed weights
 * (16/9 of the direct bytes) are streamed once, and threads split the output channels instead. */
static size_t wino_tiles_per_block(size_t c, size_t o, size_t tiles) {
  size_t tb = 16384 / (c + o);
  tb = tb >= 96 ? 96 : (tb >= 12 ? tb / 12 * 12 : (tb < 4 ? 4 : tb));
  return tiles <= 64 && tiles > tb ? tiles : tb;
}

static uint64_t wino_scratch_floats(size_t c, size_t o, size_t tiles) {
  size_t tb = wino_tiles_per_block(c, o, tiles);
  /* V, M, row tmp, zeros, packed A micro-panels */
  return (uint64_t)16 * tb * (c + o) + 16 * (uint64_t)c + (uint64_t)c + packed_a_floats(tb);
}

static size_t wino_tiles(const ember_tensor *y) {
  return (size_t)y->dims[0] * (((size_t)y->dims[1] + 1) / 2) * (((size_t)y->dims[2] + 1) / 2);
}

static int wino_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && a->in[1]->dtype == EMBER_DTYPE_F32 &&
         ((uintptr_t)a->in[1]->data % 64 == 0 || a->in[1]->data == NULL) && (a->n_in < 3 || f32_const(a->in[2]));
}

static ember_status wino_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = wino_scratch_floats((size_t)a->in[0]->dims[3], (size_t)a->out[0]->dims[3], wino_tiles(a->out[0])) *
             sizeof(float);
  return EMBER_OK;
}

static void wino_block(void *ctx, size_t job, int thread) {
  const wg_job *j = ctx;
  const ember_wino_geom *g = &j->g;
  const size_t C = g->c, O = g->o, tb = g->tb, block = job / j->col_splits;
  const size_t o0 = job % j->col_splits * j->cols_per_split, o1 = o0 + j->cols_per_split < O ? o0 + j->cols_per_split : O;
  float *V = (float *)(j->scratch + (size_t)thread * j->stride), *M = V + 16 * tb * C, *tmp = M + 16 * tb * O;
  float *zeros = tmp + 16 * C;
  for (size_t c = 0; c < C; c++) zeros[c] = 0.f;
  size_t t0 = block * tb, n = j->tiles - t0 < tb ? j->tiles - t0 : tb;
  for (size_t t = 0; t < n; t++) j->in(g, t0 + t, t, V, tmp, zeros);
  for (size_t xi = 0; xi < 16; xi++) {
    const float *a = V + xi * tb * C, *u = j->u + xi * j->panels * C * EMBER_GEMM_NR;
    float *m = M + xi * tb * O;
    for (size_t pc = 0; pc < C; pc += KC_NHWC) {
      size_t kc = C - pc < KC_NHWC ? C - pc : KC_NHWC;
      gemm_block(j->cfg, n, o0, o1, kc, a + pc, C, u + pc * EMBER_GEMM_NR, C * EMBER_GEMM_NR, m, O, pc > 0,
                 align64(zeros + C), NULL);
    }
  }
  for (size_t t = 0; t < n; t++) j->out(g, t0 + t, t, M, o0, o1);
  if (j->act != g->act) { /* an activation the transform does not fuse: over the block's pixels */
    const ember_f32_vec_ops *v = ember_f32_vec();
    for (size_t t = t0; t < t0 + n; t++) {
      size_t per_img = g->th * g->tw, img = t / per_img, ty = t % per_img / g->tw, tx = t % g->tw;
      for (size_t dy = 0; dy < 2 && 2 * ty + dy < g->oh; dy++) {
        size_t px = 2 * tx + 1 < g->ow ? 2 : 1;
        for (size_t p = 0; p < px; p++)
          v->act_row(g->y + ((img * g->oh + 2 * ty + dy) * g->ow + 2 * tx + p) * O + o0, o1 - o0, NULL, 0.f, j->act,
                     g->lo, g->hi);
      }
    }
  }
}

static void wino_select(wg_job *j) {
  j->in = ember_f32_wino_in_scalar;
  j->out = ember_f32_wino_out_scalar;
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == EMBER_CONV_ISA_AVX512) {
    j->in = ember_f32_wino_in_avx512;
    j->out = ember_f32_wino_out_avx512;
  } else if (ember_conv_isa() == EMBER_CONV_ISA_AVX2) {
    j->in = ember_f32_wino_in_avx2;
    j->out = ember_f32_wino_out_avx2;
  }
#endif
}

static ember_status wino_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  wg_job j;
  memset(&j, 0, sizeof j);
  ember_wino_geom *g = &j.g;
  g->x = x->data;
  g->bias = a->n_in > 2 ? a->in[2]->data : NULL;
  g->res = a->n_in > 3 ? a->in[3]->data : NULL;
  g->y = y->data;
  g->h = (size_t)x->dims[1];
  g->w = (size_t)x->dims[2];
  g->c = (size_t)x->dims[3];
  g->oh = (size_t)y->dims[1];
  g->ow = (size_t)y->dims[2];
  g->o = (size_t)y->dims[3];
  g->ph = (size_t)ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_H);
  g->pw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_PAD_W);
  g->th = (g->oh + 1) / 2;
  g->tw = (g->ow + 1) / 2;
  g->tb = wino_tiles_per_block(g->c, g->o, wino_tiles(y));
  j.act = (int)ember_attr_i(a, EMBER_A_CONV2D_WINOGRAD_ACT);
  g->act = j.act == EMBER_ACT_RELU || j.act == EMBER_ACT_CLAMP ? j.act : EMBER_ACT_NONE;
  g->lo = (float)ember_attr_f(a, EMBER_A_CONV2D_WINOGRAD_ACT_MIN);
  g->hi = (float)ember_attr_f(a, EMBER_A_CONV2D_WINOGRAD_ACT_MAX);
  j.u = a->in[1]->data;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  j.tiles = (size_t)x->dims[0] * g->th * g->tw;
  j.panels = (size_t)a->in[1]->dims[1];
  j.cfg = ember_f32_gemm_select();
  wino_select(&j);
  size_t blocks = (j.tiles + g->tb - 1) / g->tb, threads = (size_t)ember_pool_threads(a->pool);
  j.col_splits = 1;
  j.cols_per_split = g->o;
  if (blocks < 2 * threads && threads > 1 && g->o >= 64) { /* few tiles: split the output channels too */
    /* each split transforms its block's input tiles again: with fewer blocks than threads, one split
     * per thread (as conv2d_nhwc's column blocks) */
    size_t want = blocks < threads ? (threads + blocks - 1) / blocks : (2 * threads + blocks - 1) / blocks;
    j.cols_per_split = cols_per_split(g->o, want);
    j.col_splits = (g->o + j.cols_per_split - 1) / j.cols_per_split;
  }
  ember_pool_run(a->pool, blocks * j.col_splits, wino_block, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_conv_winograd = {"f32_conv2d_winograd_f2x2_3x3", wino_applies, wino_prepare,
                                                    wino_eval};

/* ------------------------------------------------------------------------------------ pwdw_nhwc */
/* A 1x1 convolution feeding a depthwise one, fused: each thread walks a range of output rows and
 * makes the expanded input rows just before the depthwise row kernel needs them, into a ring of
 * (KH - 1) * dil + 1 rows (W x n floats each, in L2), so the expanded tensor is never stored whole.
 * A ring row is one GEMM: W pixels x C_in times the panel-packed pointwise weight, bias pre-filled,
 * then the pointwise activation over the row. Rows shared by two thread ranges are made twice. */

typedef struct {
  ember_dwnhwc_args dw; /* geometry of the depthwise part; rows set per tile */
  const float *x, *panels, *pbias;
  float *y;
  int pact;
  float plo, phi;
  size_t h, w, cin, e, oh, span, ring, tiles_per_img, rows_per_tile;
  uint8_t *scratch;
  uint64_t stride;
  ember_dwnhwc_row_fn row;
  const ember_f32_gemm_config *cfg;
} pd_job;

static size_t pd_span(const ember_kargs *a) {
  return ((size_t)a->in[3]->dims[0] - 1) * (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_DIL_H) + 1;
}

static int pwdw_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && a->in[1]->dtype == EMBER_DTYPE_F32 &&
         ((uintptr_t)a->in[1]->data % 64 == 0 || a->in[1]->data == NULL) && f32_const(a->in[2]) && f32_const(a->in[3]) &&
         f32_const(a->in[4]);
}

static ember_status pwdw_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  const ember_tensor *x = a->in[0];
  *packed = NULL;
  *bytes = 0;
  /* the row table first (H pointers, rounded to 64 bytes), then the ring */
  *scratch = ((uint64_t)x->dims[1] * sizeof(float *) + 63) / 64 * 64 +
             ((uint64_t)pd_span(a) * (uint64_t)x->dims[2] * (uint64_t)a->out[0]->dims[3] +
              packed_a_floats((size_t)x->dims[2])) * sizeof(float);
  return EMBER_OK;
}

/* expanded row r of image img into dst (W x e floats) */
static void pd_make_row(const pd_job *j, size_t img, size_t r, float *dst, float *ap) {
  const float *a = j->x + (img * j->h + r) * j->w * j->cin;
  /* the first K block overwrites C (K is often 16..32 here: loading C for a pre-filled bias would cost
   * as much as the multiplies), then bias and activation in one pass over the row */
  const ember_f32_epi e = {j->pbias, NULL, 0, j->pact, j->plo, j->phi};
  int done = 0;
  for (size_t pc = 0; pc < j->cin; pc += KC_NHWC) {
    size_t kc = j->cin - pc < KC_NHWC ? j->cin - pc : KC_NHWC;
    done = gemm_block(j->cfg, j->w, 0, j->e, kc, a + pc, j->cin, j->panels + pc * EMBER_GEMM_NR, j->cin * EMBER_GEMM_NR,
                      dst, j->e, pc > 0, ap, pc + kc == j->cin ? &e : NULL);
  }
  if (!done) ember_f32_vec()->bias_act_rows(dst, j->w, j->e, j->e, j->pbias, NULL, 0, j->pact, j->plo, j->phi);
}

static void pwdw_tile(void *ctx, size_t tile, int thread) {
  const pd_job *j = ctx;
  size_t img = tile / j->tiles_per_img, t = tile % j->tiles_per_img;
  size_t oy0 = t * j->rows_per_tile, oy1 = oy0 + j->rows_per_tile < j->oh ? oy0 + j->rows_per_tile : j->oh;
  uint8_t *base = j->scratch + (size_t)thread * j->stride;
  const float **rows = (const float **)(void *)base;
  float *ring = (float *)(void *)(base + (j->h * sizeof(float *) + 63) / 64 * 64);
  float *ap = align64(ring + j->ring * j->w * j->e);
  ember_dwnhwc_args a = j->dw;
  a.rows = rows;
  const int fused = a.act == EMBER_ACT_NONE || a.act == EMBER_ACT_RELU || a.act == EMBER_ACT_CLAMP;
  if (!fused) a.act = EMBER_ACT_NONE;
  ptrdiff_t made = -1; /* highest expanded row made in this tile */
  for (size_t oy = oy0; oy < oy1; oy++) {
    ptrdiff_t lo = (ptrdiff_t)(oy * a.sh) - (ptrdiff_t)a.ph, hi = lo + (ptrdiff_t)j->span - 1;
    if (lo < 0) lo = 0;
    if (hi > (ptrdiff_t)j->h - 1) hi = (ptrdiff_t)j->h - 1;
    for (ptrdiff_t r = made + 1 > lo ? made + 1 : lo; r <= hi; r++) {
      float *slot = ring + ((size_t)r % j->ring) * j->w * j->e;
      pd_make_row(j, img, (size_t)r, slot, ap);
      rows[r] = slot;
      made = r;
    }
    float *y = j->y + (img * j->oh + oy) * a.ow * a.c;
    j->row(&a, oy, y);
    if (!fused) ember_f32_vec()->act_row(y, a.ow * a.c, NULL, 0.f, j->dw.act, j->dw.lo, j->dw.hi);
  }
}

static ember_status pwdw_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[3], *y = a->out[0];
  pd_job j;
  memset(&j, 0, sizeof j);
  ember_dwnhwc_args *d = &j.dw;
  d->w = w->data;
  d->bias = a->in[4]->data;
  d->h = (size_t)x->dims[1];
  d->w_in = (size_t)x->dims[2];
  d->c = (size_t)y->dims[3];
  d->kh = (size_t)w->dims[0];
  d->kw = (size_t)w->dims[1];
  d->sh = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_STRIDE_H);
  d->sw = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_STRIDE_W);
  d->ph = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_PAD_H);
  d->pw = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_PAD_W);
  d->dh = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_DIL_H);
  d->dw = (size_t)ember_attr_i(a, EMBER_A_PWDW_NHWC_DIL_W);
  d->ow = (size_t)y->dims[2];
  d->act = (int)ember_attr_i(a, EMBER_A_PWDW_NHWC_ACT);
  d->lo = (float)ember_attr_f(a, EMBER_A_PWDW_NHWC_ACT_MIN);
  d->hi = (float)ember_attr_f(a, EMBER_A_PWDW_NHWC_ACT_MAX);
  j.x = x->data;
  j.panels = a->in[1]->data;
  j.pbias = a->in[2]->data;
  j.y = y->data;
  j.pact = (int)ember_attr_i(a, EMBER_A_PWDW_NHWC_PW_ACT);
  j.plo = (float)ember_attr_f(a, EMBER_A_PWDW_NHWC_PW_ACT_MIN);
  j.phi = (float)ember_attr_f(a, EMBER_A_PWDW_NHWC_PW_ACT_MAX);
  j.h = d->h;
  j.w = d->w_in;
  j.cin = (size_t)x->dims[3];
  j.e = d->c;
  j.oh = (size_t)y->dims[1];
  j.span = pd_span(a);
  j.ring = j.span;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  j.row = dw_row_select();
  j.cfg = ember_f32_gemm_select();
  size_t threads = (size_t)ember_pool_threads(a->pool), n = (size_t)x->dims[0];
  /* one row range per image and thread (x2 for balance when there are threads to balance) */
  size_t want = threads > 1 ? (2 * threads + n - 1) / n : 1;
  j.rows_per_tile = (j.oh + want - 1) / want;
  j.tiles_per_img = (j.oh + j.rows_per_tile - 1) / j.rows_per_tile;
  ember_pool_run(a->pool, n * j.tiles_per_img, pwdw_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_pwdw_nhwc = {"f32_pwdw_nhwc_fused", pwdw_applies, pwdw_prepare, pwdw_eval};
