/* Fast fp32 conv2d (NCHW): im2col chunks packed per tile onto the GEMM microkernels (OIHW weights are
 * the GEMM's row-major A, read in place), and depthwise convolutions plane by plane. Each is tested
 * against its reference kernel (runtime/tests/test_fast_kernels.c). */
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_dwconv.h"
#include "f32_gemm.h"
#include "f32_vec.h"
#include "internal.h"

#define CONV_COLS_PER_TILE 64 /* conv2d: output pixels per tile (4 panels of 16) */
/* conv2d: when there are fewer pixel chunks than 2 per thread, tiles also split output channels (each
 * such tile repacks its im2col chunk, so only as many as the threads need) */

static void epilogue(float *c, size_t ldc, size_t rows, size_t cols, const float *bias_col,
                     const float *bias_row, int act, float lo, float hi) {
  if (!bias_col && !bias_row && act == EMBER_ACT_NONE) return;
  const ember_f32_vec_ops *v = ember_f32_vec();
  for (size_t r = 0; r < rows; r++) v->act_row(c + r * ldc, cols, bias_col, bias_row ? bias_row[r] : 0.f, act, lo, hi);
}

static int const_f32(const ember_tensor *t) {
  return t->dtype == EMBER_DTYPE_F32 && t->storage == EMBER_STORAGE_CONST && t->data != NULL;
}

/* ------------------------------------------------------------------------------------ conv2d */

static int conv_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && const_f32(a->in[1]) && (a->n_in < 3 || const_f32(a->in[2]));
}

static ember_status conv_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  const ember_tensor *w = a->in[1];
  size_t k = (size_t)(w->dims[1] * w->dims[2] * w->dims[3]);
  *packed = NULL;
  *bytes = 0;
  *scratch = (uint64_t)k * CONV_COLS_PER_TILE * sizeof(float); /* one im2col chunk per thread */
  return EMBER_OK;
}

typedef struct {
  const float *x, *w, *bias;
  float *y;
  uint8_t *scratch;
  uint64_t stride;
  size_t n, c, h, wd, o, oh, ow, kh, kw, groups, cg, og, k, ohw, chunks, oblocks, orows;
  size_t sh, sw, ph, pw, dh, dw;
  int act;
  float lo, hi;
  ember_f32_ukernel uk;
  size_t mr, nr_step;
  ember_f32_dwconv_fn plane; /* depthwise only */
  ember_f32_dwconv_padded_fn padded;
} conv_job;

/* the geometry, data pointers and epilogue shared by the GEMM and depthwise convolutions */
static void conv_job_init(const ember_kargs *a, conv_job *j) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  memset(j, 0, sizeof *j);
  j->x = x->data;
  j->w = w->data;
  j->bias = a->n_in > 2 ? a->in[2]->data : NULL;
  j->y = y->data;
  j->scratch = a->scratch;
  j->stride = a->scratch_stride;
  j->n = (size_t)x->dims[0];
  j->c = (size_t)x->dims[1];
  j->h = (size_t)x->dims[2];
  j->wd = (size_t)x->dims[3];
  j->o = (size_t)w->dims[0];
  j->kh = (size_t)w->dims[2];
  j->kw = (size_t)w->dims[3];
  j->oh = (size_t)y->dims[2];
  j->ow = (size_t)y->dims[3];
  j->groups = (size_t)ember_attr_i(a, EMBER_A_CONV2D_GROUPS);
  j->cg = j->c / j->groups;
  j->og = j->o / j->groups;
  j->k = j->cg * j->kh * j->kw;
  j->ohw = j->oh * j->ow;
  j->sh = (size_t)ember_attr_i(a, EMBER_A_CONV2D_STRIDE_H);
  j->sw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_STRIDE_W);
  j->ph = (size_t)ember_attr_i(a, EMBER_A_CONV2D_PAD_H);
  j->pw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_PAD_W);
  j->dh = (size_t)ember_attr_i(a, EMBER_A_CONV2D_DIL_H);
  j->dw = (size_t)ember_attr_i(a, EMBER_A_CONV2D_DIL_W);
  j->act = (int)ember_attr_i(a, EMBER_A_CONV2D_ACT);
  j->lo = (float)ember_attr_f(a, EMBER_A_CONV2D_ACT_MIN);
  j->hi = (float)ember_attr_f(a, EMBER_A_CONV2D_ACT_MAX);
}

/* Write n consecutive columns [q, q + n) of row kk of the packed chunk (16-wide panels): from src with
 * stride sw, or zeros when src is NULL. Inline loops, no library calls: segments are at most 16. */
static void put_cols(float *dst, size_t k, size_t kk, size_t q, size_t n, const float *src, size_t sw) {
  while (n) {
    size_t lane = q % EMBER_GEMM_NR, m = EMBER_GEMM_NR - lane < n ? EMBER_GEMM_NR - lane : n;
    float *d = dst + ((q / EMBER_GEMM_NR) * k + kk) * EMBER_GEMM_NR + lane;
    if (!src) {
      for (size_t u = 0; u < m; u++) d[u] = 0.f;
    } else if (sw == 1) {
      for (size_t u = 0; u < m; u++) d[u] = src[u];
      src += m;
    } else {
      for (size_t u = 0; u < m; u++) d[u] = src[u * sw];
      src += m * sw;
    }
    q += m;
    n -= m;
  }
}

/* im2col of output pixels [p0, p0 + cols) of image `img`, group g, packed as 16-wide panels: column q
 * of the chunk goes to panel q / 16, lane q % 16. Pixels are walked as runs along one output row; for
 * each filter tap a run is zeros (padding), one strided copy, zeros. Every lane is written once, so
 * no clearing pass is needed; lanes past `cols` in the last panel are zeroed. */
static void pack_cols(const conv_job *j, size_t img, size_t g, size_t p0, size_t cols, float *dst) {
  const float *xg = j->x + (img * j->c + g * j->cg) * j->h * j->wd;
  const ptrdiff_t sw = (ptrdiff_t)j->sw;
  for (size_t q0 = 0; q0 < cols;) {
    size_t p = p0 + q0, oy = p / j->ow, ox0 = p % j->ow;
    size_t run = j->ow - ox0 < cols - q0 ? j->ow - ox0 : cols - q0;
    for (size_t kk = 0; kk < j->k; kk++) {
      size_t ci = kk / (j->kh * j->kw), r = kk % (j->kh * j->kw);
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + (r / j->kw) * j->dh) - (ptrdiff_t)j->ph;
      ptrdiff_t t_lo = 0, t_hi = 0;
      const float *row = NULL;
      ptrdiff_t off = (ptrdiff_t)((r % j->kw) * j->dw) - (ptrdiff_t)j->pw; /* ix = ox * sw + off */
      if (iy >= 0 && iy < (ptrdiff_t)j->h && (ptrdiff_t)j->wd - 1 - off >= 0) {
        row = xg + (ci * j->h + (size_t)iy) * j->wd;
        ptrdiff_t first_ox = off >= 0 ? 0 : (-off + sw - 1) / sw;
        ptrdiff_t last_ox = ((ptrdiff_t)j->wd - 1 - off) / sw;
        t_lo = first_ox - (ptrdiff_t)ox0;
        t_hi = last_ox - (ptrdiff_t)ox0 + 1;
        t_lo = t_lo < 0 ? 0 : (t_lo > (ptrdiff_t)run ? (ptrdiff_t)run : t_lo);
        t_hi = t_hi > (ptrdiff_t)run ? (ptrdiff_t)run : (t_hi < t_lo ? t_lo : t_hi);
      }
      put_cols(dst, j->k, kk, q0, (size_t)t_lo, NULL, 1);
      if (t_hi > t_lo)
        put_cols(dst, j->k, kk, q0 + (size_t)t_lo, (size_t)(t_hi - t_lo),
                 row + ((ptrdiff_t)ox0 + t_lo) * sw + off, (size_t)sw);
      put_cols(dst, j->k, kk, q0 + (size_t)t_hi, run - (size_t)t_hi, NULL, 1);
    }
    q0 += run;
  }
  size_t padded = (cols + EMBER_GEMM_NR - 1) / EMBER_GEMM_NR * EMBER_GEMM_NR;
  if (padded > cols)
    for (size_t kk = 0; kk < j->k; kk++) put_cols(dst, j->k, kk, cols, padded - cols, NULL, 1);
}

static void conv_tile(void *ctx, size_t tile, int thread) {
  const conv_job *j = ctx;
  size_t ob = tile % j->oblocks, rest = tile / j->oblocks;
  size_t chunk = rest % j->chunks;
  rest /= j->chunks;
  size_t g = rest % j->groups, img = rest / j->groups;
  size_t p0 = chunk * CONV_COLS_PER_TILE;
  size_t cols = j->ohw - p0 < CONV_COLS_PER_TILE ? j->ohw - p0 : CONV_COLS_PER_TILE;
  size_t r_begin = ob * j->orows, r_end = r_begin + j->orows < j->og ? r_begin + j->orows : j->og;
  float *bpack = (float *)(j->scratch + (size_t)thread * j->stride);
  pack_cols(j, img, g, p0, cols, bpack);
  size_t panels = (cols + EMBER_GEMM_NR - 1) / EMBER_GEMM_NR;
  float *yg = j->y + (img * j->o + g * j->og) * j->ohw + p0;
  const float *wg = j->w + g * j->og * j->k;
  for (size_t pc = 0; pc < j->k; pc += EMBER_GEMM_KC) {
    size_t kc = j->k - pc < EMBER_GEMM_KC ? j->k - pc : EMBER_GEMM_KC;
    for (size_t r = r_begin; r < r_end; r += j->mr) {
      size_t mr = r_end - r < j->mr ? r_end - r : j->mr;
      for (size_t pi = 0; pi < panels; pi += j->nr_step / EMBER_GEMM_NR) {
        size_t col = pi * EMBER_GEMM_NR, nr = cols - col < j->nr_step ? cols - col : j->nr_step;
        j->uk(mr, nr, kc, wg + r * j->k + pc, j->k, bpack + (pi * j->k + pc) * EMBER_GEMM_NR, j->k * EMBER_GEMM_NR,
              yg + r * j->ohw + col, j->ohw, pc > 0);
      }
    }
  }
  yg += r_begin * j->ohw;
  const float *bias = j->bias ? j->bias + g * j->og + r_begin : NULL;
  epilogue(yg, j->ohw, r_end - r_begin, cols, NULL, bias, j->act, j->lo, j->hi);
}

static ember_status conv_eval(const ember_kargs *a) {
  conv_job j;
  conv_job_init(a, &j);
  j.chunks = (j.ohw + CONV_COLS_PER_TILE - 1) / CONV_COLS_PER_TILE;
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  j.uk = cfg->fn;
  j.mr = cfg->mr;
  size_t threads = (size_t)ember_pool_threads(a->pool), pixel_tiles = j.n * j.groups * j.chunks;
  j.oblocks = 1;
  if (threads > 1 && pixel_tiles < 2 * threads) {
    size_t want = (2 * threads + pixel_tiles - 1) / pixel_tiles, max_blocks = (j.og + j.mr - 1) / j.mr;
    j.oblocks = want < max_blocks ? want : max_blocks;
  }
  j.orows = (j.og + j.oblocks - 1) / j.oblocks;
  j.orows = (j.orows + j.mr - 1) / j.mr * j.mr; /* whole microkernel rows */
  j.oblocks = (j.og + j.orows - 1) / j.orows;
  j.nr_step = cfg->nr;
  ember_pool_run(a->pool, j.n * j.groups * j.chunks * j.oblocks, conv_tile, &j);
  return EMBER_OK;
}

/* --------------------------------------------------------------------------- depthwise conv2d */

int ember_fast_dwconv_applies(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[1];
  return conv_applies(a) && w->dims[1] == 1 && w->dims[0] == x->dims[1] &&
         ember_attr_i(a, EMBER_A_CONV2D_GROUPS) == x->dims[1];
}

/* stride 1: the padded-plane path (one long multiply-add per tap) needs a padded copy and a row-pitch
 * accumulator per thread */
static int dw_padded(const ember_kargs *a) {
  return ember_attr_i(a, EMBER_A_CONV2D_STRIDE_H) == 1 && ember_attr_i(a, EMBER_A_CONV2D_STRIDE_W) == 1;
}

static ember_status dwconv_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  if (dw_padded(a)) {
    const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
    uint64_t hp = (uint64_t)x->dims[2] + 2 * (uint64_t)ember_attr_i(a, EMBER_A_CONV2D_PAD_H);
    uint64_t wp = (uint64_t)x->dims[3] + 2 * (uint64_t)ember_attr_i(a, EMBER_A_CONV2D_PAD_W);
    uint64_t tail = (uint64_t)(w->dims[3] - 1) * (uint64_t)ember_attr_i(a, EMBER_A_CONV2D_DIL_W);
    *scratch = (hp * wp + tail + (uint64_t)y->dims[2] * wp) * sizeof(float);
  }
  return EMBER_OK;
}


static void dw_tile(void *ctx, size_t tile, int thread) {
  const conv_job *j = ctx;
  size_t ch = tile % j->c;
  float *out = j->y + tile * j->oh * j->ow;
  if (j->padded)
    j->padded(j->x + tile * j->h * j->wd, j->h, j->wd, j->w + ch * j->kh * j->kw, j->kh, j->kw, j->ph, j->pw, j->dh,
              j->dw, j->bias ? j->bias[ch] : 0.f, out, j->oh, j->ow, (float *)(j->scratch + (size_t)thread * j->stride));
  else
    j->plane(j->x + tile * j->h * j->wd, j->h, j->wd, j->w + ch * j->kh * j->kw, j->kh, j->kw, j->sh, j->sw, j->ph,
             j->pw, j->dh, j->dw, j->bias ? j->bias[ch] : 0.f, out, j->oh, j->ow);
  epilogue(out, j->oh * j->ow, 1, j->oh * j->ow, NULL, NULL, j->act, j->lo, j->hi);
}

static ember_status dwconv_eval(const ember_kargs *a) {
  conv_job j;
  conv_job_init(a, &j);
  j.plane = ember_f32_dwconv_plane();
  j.padded = dw_padded(a) ? ember_f32_dwconv_padded() : NULL;
  ember_pool_run(a->pool, j.n * j.c, dw_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_dwconv = {"f32_dwconv_rows", ember_fast_dwconv_applies, dwconv_prepare, dwconv_eval};

const ember_fast_kernel ember_fast_conv = {"f32_conv2d_im2col_gemm", conv_applies, conv_prepare, conv_eval};
