/* Fast fp32 linear on the GEMM microkernels, with weights packed at export (linear_packed) or once at
 * load (linear), a fused bias + activation epilogue, K blocking for cache, and tiles spread over the
 * session's thread pool; and the fast-kernel table. Convolutions are in f32_conv.c.
 * Each is tested against its reference kernel (runtime/tests/test_fast_kernels.c). */
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "f32_gemm.h"
#include "f32_vec.h"
#include "internal.h"

#define MROWS_PER_TILE 96  /* linear: rows of x per tile */
#define NCOLS_PER_TILE 128 /* linear: output columns per tile (8 panels of 16) */

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* bias (per column, or per row), the optional residual (rows ldr apart) and the activation, one pass */
static void epilogue(float *c, size_t ldc, size_t rows, size_t cols, const float *bias_col,
                     const float *bias_row, const float *res, size_t ldr, int act, float lo, float hi) {
  if (!bias_col && !bias_row && !res && act == EMBER_ACT_NONE) return;
  const ember_f32_vec_ops *v = ember_f32_vec();
  if (!bias_row) { /* the common case: one call for the tile, bias and activation in one pass */
    v->bias_act_rows(c, rows, cols, ldc, bias_col, res, ldr, act, lo, hi);
    return;
  }
  for (size_t r = 0; r < rows; r++) v->act_row(c + r * ldc, cols, bias_col, bias_row ? bias_row[r] : 0.f, act, lo, hi);
}

static int const_f32(const ember_tensor *t) {
  return t->dtype == EMBER_DTYPE_F32 && t->storage == EMBER_STORAGE_CONST && t->data != NULL;
}

/* ------------------------------------------------------------------------------------ linear */

static int linear_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && const_f32(a->in[1]) && (a->n_in < 3 || const_f32(a->in[2]));
}

/* Packed-A path (CPUs whose config has a packed-A microkernel, i.e. AVX-512).
 * Loop order inside a tile (BLIS): K blocks of kc, then 32-column B slices, then 12-row A micro-panels.
 * A tile is up to PA_MC rows x nc columns. Its A block (rows x kc) is packed per K block into the
 * thread's scratch and stays in L2; each B slice (kc x 32 read in place from the 16-column panels,
 * 128 KiB at kc = 1024) stays in L2 while the block's micro-panels stream past it. One thread: tiles are
 * row blocks with all columns, so A is packed exactly once. Several threads and too few row blocks to
 * share out (prefill-sized M): A is packed once, in parallel, into one shared buffer (first pool run),
 * then tiles split the columns too (second pool run) without packing A again. */
#define PA_MC 144     /* rows per tile at most (a multiple of 12): up to this M, one row tile */
/* Past PA_MC rows, tiles of about this many. Smaller A blocks left more of L2 to the B slices: on the
 * 1024^3 GEMM (B 4 MiB), alternated against 132-row tiles, 96 and 72 rows measured +1.5-2.5% at one
 * thread (in L3, after another GEMM and from memory alike) and 72 +3% at two (15 tiles share out
 * better than 8 or 11). M <= PA_MC stays one tile: MiniLM's M = 128 split in two measured 1.5% slower,
 * since its B is then streamed twice. */
#define PA_MC_SPLIT 72
#define PA_KC 1024    /* K block at most (see pa_kc) */
#define PA_SHARED_MAX (1u << 20) /* bytes: a packed A up to this size may be shared by all threads */
#define PA_PACK_SERIAL_MAX (256u << 10) /* a shared A up to this size is packed by the caller alone */
/* Up to this many output columns the in-place kernel runs instead: one 128-column tile covers them all,
 * so it reads each A row once anyway and packing A is a pass for nothing. MobileNetV2 (N = 16..1280,
 * pixels x channels) measured 4-6% faster with 128 than with packing every N (64 and 256 in between). */
#define PA_MIN_N 128

/* K block: K is cut into equal blocks (multiples of 8) of at most PA_KC. A tile's packed A block
 * (<= 144 x 1024 floats, 576 KiB) stays in L2 and each B slice (kc x 32, 128 KiB) in L2 while the
 * block's micro-panels stream past it; C is read and written once per K block. Blocks of 1024 measured
 * ~3% faster than 512 on the 1024^3 GEMM (C touched once instead of twice, one A pack pass per tile
 * instead of two, longer sequential B runs) and 5-30% faster on tiles of few rows (decode batches,
 * prefill), where each B slice is reused only a few times and streaming B dominates. The price: each
 * output is one fp32 chain over up to 1024 terms, so the 1024^3 max error against float64 went from
 * 1.1e-4 to 2.3e-4 (OpenBLAS 9.1e-5; results ~1e2 in magnitude, so ~2e-6 relative). */
static size_t pa_kc(size_t k) {
  size_t blocks = (k + PA_KC - 1) / PA_KC;
  return round_up((k + blocks - 1) / blocks, 8);
}

/* the whole A packed: K blocks one after another, each holding all micro-panels of its kc columns */
static uint64_t pa_shared_bytes(size_t m, size_t k) {
  return (uint64_t)round_up(m, EMBER_GEMM_MR_PACK) * round_up(k, 8) * sizeof(float);
}

static uint64_t pa_scratch_bytes(size_t m, size_t k) {
  uint64_t block = (uint64_t)round_up(m < PA_MC ? m : PA_MC, EMBER_GEMM_MR_PACK) * pa_kc(k) * sizeof(float);
  uint64_t shared = pa_shared_bytes(m, k);
  if (shared <= PA_SHARED_MAX && shared > block) block = shared;
  return block + EMBER_ALIGN;
}

/* Per-thread scratch of the packed-A path, 0 when this CPU's kernel reads A in place. */
static uint64_t linear_scratch(const ember_kargs *a, size_t k) {
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  if (!cfg->packed || k == 0) return 0;
  size_t m = (size_t)(a->in[0]->numel / (int64_t)k);
  return pa_scratch_bytes(m, k);
}

/* W[N, K] -> panels of 16 output columns: packed[p][k][j] = W[16p + j][k], zero past N. */
static ember_status linear_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  const ember_tensor *w = a->in[1];
  size_t n = (size_t)w->dims[0], k = (size_t)w->dims[1];
  size_t panels = (n + EMBER_GEMM_NR - 1) / EMBER_GEMM_NR;
  size_t total = panels * k * EMBER_GEMM_NR * sizeof(float);
  float *p = aligned_alloc(EMBER_ALIGN, round_up(total ? total : EMBER_ALIGN, EMBER_ALIGN));
  if (!p) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "cannot pack %zu bytes of weights", total);
  const float *src = w->data;
  for (size_t pi = 0; pi < panels; pi++)
    for (size_t kk = 0; kk < k; kk++)
      for (size_t j = 0; j < EMBER_GEMM_NR; j++) {
        size_t col = pi * EMBER_GEMM_NR + j;
        p[(pi * k + kk) * EMBER_GEMM_NR + j] = col < n ? src[col * k + kk] : 0.f;
      }
  *packed = p;
  *bytes = total;
  *scratch = linear_scratch(a, k);
  return EMBER_OK;
}

typedef struct {
  const float *x, *packed, *bias;
  const float *res; /* linear_packed's optional residual, the output's layout */
  float *y;
  size_t m, n, k, panels, mtiles, nr_step, col_blocks;
  int act;
  float lo, hi;
  ember_f32_ukernel uk;
  ember_f32_ukernel_epi uk_epi; /* the in-place kernel with the epilogue fused, when it can apply this act */
  size_t mr;
  ember_f32_gemv_fn gemv;
  /* packed-A path */
  ember_f32_ukernel_pa ukp, ukp_stream; /* ukp_stream: the first micro-panel over each B slice */
  ember_f32_pack_a_fn pack_a;
  uint8_t *scratch;
  size_t scratch_stride, mc, nc, kc, col_tiles, m_pad;
  float *shared_a; /* NULL: each tile packs its own A block */
} linear_job;

static float *pa_scratch(const linear_job *j, int thread) {
  uintptr_t sp = (uintptr_t)(j->scratch + (size_t)thread * j->scratch_stride);
  return (float *)((sp + EMBER_ALIGN - 1) / EMBER_ALIGN * EMBER_ALIGN);
}

/* first pool run of the shared variant: micro-panel `tile` of A, every K block */
static void linear_pa_pack(void *ctx, size_t tile, int thread) {
  (void)thread;
  const linear_job *j = ctx;
  size_t r = tile * EMBER_GEMM_MR_PACK, mr = j->m - r < EMBER_GEMM_MR_PACK ? j->m - r : EMBER_GEMM_MR_PACK;
  for (size_t pc = 0; pc < j->k; pc += j->kc) {
    size_t kc = j->k - pc < j->kc ? j->k - pc : j->kc;
    j->pack_a(mr, kc, j->x + r * j->k + pc, j->k, j->shared_a + pc * j->m_pad + r * kc);
  }
}

static void linear_pa_tile(void *ctx, size_t tile, int thread) {
  const linear_job *j = ctx;
  size_t cb = tile % j->col_tiles, mb = tile / j->col_tiles;
  size_t row0 = mb * j->mc, rows = j->m - row0 < j->mc ? j->m - row0 : j->mc;
  size_t col0 = cb * j->nc, cols = j->n - col0 < j->nc ? j->n - col0 : j->nc;
  const size_t pstride = j->k * EMBER_GEMM_NR;
  for (size_t pc = 0; pc < j->k; pc += j->kc) {
    size_t kc = j->k - pc < j->kc ? j->k - pc : j->kc;
    float *ap;
    if (j->shared_a) {
      ap = j->shared_a + pc * j->m_pad + row0 * kc;
    } else {
      ap = pa_scratch(j, thread);
      for (size_t r = 0; r < rows; r += EMBER_GEMM_MR_PACK) {
        size_t mr = rows - r < EMBER_GEMM_MR_PACK ? rows - r : EMBER_GEMM_MR_PACK;
        j->pack_a(mr, kc, j->x + (row0 + r) * j->k + pc, j->k, ap + r * kc);
      }
    }
    for (size_t c0 = col0; c0 < col0 + cols; c0 += 32) {
      size_t nr = col0 + cols - c0 < 32 ? col0 + cols - c0 : 32;
      const float *panel = j->packed + (c0 / EMBER_GEMM_NR) * pstride + pc * EMBER_GEMM_NR;
      float *yc = j->y + row0 * j->n + c0;
      for (size_t r = 0; r < rows; r += EMBER_GEMM_MR_PACK) {
        size_t mr = rows - r < EMBER_GEMM_MR_PACK ? rows - r : EMBER_GEMM_MR_PACK;
        (r == 0 ? j->ukp_stream : j->ukp)(mr, nr, kc, ap + r * kc, panel, pstride, yc + r * j->n, j->n, pc > 0,
                                          ember_f32_next_slice_share(j->packed, j->k, j->kc, col0, cols, c0, pc, kc,
                                                                     r / EMBER_GEMM_MR_PACK));
      }
    }
  }
  epilogue(j->y + row0 * j->n + col0, j->n, rows, cols, j->bias ? j->bias + col0 : NULL, NULL,
           j->res ? j->res + row0 * j->n + col0 : NULL, j->n, j->act, j->lo, j->hi);
}

static void linear_pa_run(const ember_kargs *a, linear_job *j, const ember_f32_gemm_config *cfg) {
  size_t threads = (size_t)ember_pool_threads(a->pool);
  j->ukp = cfg->packed;
  j->ukp_stream = cfg->packed_stream;
  j->pack_a = cfg->pack_a;
  j->scratch = a->scratch;
  j->scratch_stride = (size_t)a->scratch_stride;
  j->kc = pa_kc(j->k);
  j->m_pad = round_up(j->m, EMBER_GEMM_MR_PACK);
  size_t row_tiles = j->m <= PA_MC ? 1 : (j->m + PA_MC_SPLIT - 1) / PA_MC_SPLIT;
  j->mc = round_up((j->m + row_tiles - 1) / row_tiles, EMBER_GEMM_MR_PACK);
  row_tiles = (j->m + j->mc - 1) / j->mc;
  j->shared_a = NULL;
  j->nc = round_up(j->n, 32);
  if (threads > 1 && row_tiles < 2 * threads && pa_shared_bytes(j->m, j->k) + EMBER_ALIGN <= j->scratch_stride) {
    /* too few row tiles to share out: pack A once for everyone, then split columns: about 4 tiles
     * per thread, each a whole number of 32-column B slices, so that the pool's per-thread ranges
     * split the slices evenly (5 tiles of 64 columns for N = 320 gave one thread 3, the other 2) */
    j->shared_a = pa_scratch(j, 0);
    size_t panels = j->m_pad / EMBER_GEMM_MR_PACK;
    if (pa_shared_bytes(j->m, j->k) <= PA_PACK_SERIAL_MAX) /* a few microseconds: not worth a pool run */
      for (size_t i = 0; i < panels; i++) linear_pa_pack(j, i, 0);
    else
      ember_pool_run(a->pool, panels, linear_pa_pack, j);
    size_t want = (4 * threads + row_tiles - 1) / row_tiles, slices = (j->n + 31) / 32;
    j->nc = 32 * (want < slices ? slices / want : 1);
  }
  j->col_tiles = (j->n + j->nc - 1) / j->nc;
  ember_pool_run(a->pool, j->col_tiles * row_tiles, linear_pa_tile, j);
}

static void linear_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const linear_job *j = ctx;
  /* tile = NCOLS_PER_TILE columns x MROWS_PER_TILE rows; inside, K blocks of KC: each B slice
   * (KC x nr_step) stays in L1 across the row blocks, each A block (rows x KC) in L2 across columns */
  size_t cb = tile % j->col_blocks, mi = tile / j->col_blocks;
  size_t row0 = mi * MROWS_PER_TILE, rows = j->m - row0 < MROWS_PER_TILE ? j->m - row0 : MROWS_PER_TILE;
  size_t tcol0 = cb * NCOLS_PER_TILE, tcols = j->n - tcol0 < NCOLS_PER_TILE ? j->n - tcol0 : NCOLS_PER_TILE;
  for (size_t pc = 0; pc < j->k; pc += EMBER_GEMM_KC) {
    size_t kc = j->k - pc < EMBER_GEMM_KC ? j->k - pc : EMBER_GEMM_KC;
    for (size_t c0 = tcol0; c0 < tcol0 + tcols; c0 += j->nr_step) {
      size_t nr = tcol0 + tcols - c0 < j->nr_step ? tcol0 + tcols - c0 : j->nr_step;
      const float *panel = j->packed + (c0 / EMBER_GEMM_NR) * j->k * EMBER_GEMM_NR + pc * EMBER_GEMM_NR;
      const int fuse = j->uk_epi && pc + kc == j->k; /* the last K block: epilogue in registers */
      for (size_t r = 0; r < rows; r += j->mr) {
        size_t mr = rows - r < j->mr ? rows - r : j->mr;
        float *yc = j->y + (row0 + r) * j->n + c0;
        if (fuse) {
          ember_f32_epi e = {j->bias ? j->bias + c0 : NULL, j->res ? j->res + (row0 + r) * j->n + c0 : NULL, j->n,
                             j->act, j->lo, j->hi};
          j->uk_epi(mr, nr, kc, j->x + (row0 + r) * j->k + pc, j->k, panel, j->k * EMBER_GEMM_NR, yc, j->n, pc > 0, &e);
        } else {
          j->uk(mr, nr, kc, j->x + (row0 + r) * j->k + pc, j->k, panel, j->k * EMBER_GEMM_NR, yc, j->n, pc > 0);
        }
      }
    }
  }
  if (!j->uk_epi)
    epilogue(j->y + row0 * j->n + tcol0, j->n, rows, tcols, j->bias ? j->bias + tcol0 : NULL, NULL,
             j->res ? j->res + row0 * j->n + tcol0 : NULL, j->n, j->act, j->lo, j->hi);
}

#define GEMV_PANELS_PER_TILE 8 /* 128 output columns */

/* rows of x < GEMV_MAX_ROWS: one streaming pass over the weights per row (decode-time shapes) */
#define GEMV_MAX_ROWS 4

static void gemv_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const linear_job *j = ctx;
  size_t col0 = tile * GEMV_PANELS_PER_TILE * EMBER_GEMM_NR;
  size_t cols = j->n - col0 < GEMV_PANELS_PER_TILE * EMBER_GEMM_NR ? j->n - col0 : GEMV_PANELS_PER_TILE * EMBER_GEMM_NR;
  for (size_t r = 0; r < j->m; r++) {
    float *y = j->y + r * j->n + col0;
    j->gemv(cols, j->k, j->x + r * j->k, j->packed + col0 * j->k, y);
    epilogue(y, j->n, 1, cols, j->bias ? j->bias + col0 : NULL, NULL, j->res ? j->res + r * j->n + col0 : NULL, j->n,
             j->act, j->lo, j->hi);
  }
}

static void linear_run(const ember_kargs *a, const float *panels, size_t n, size_t k, int act, float lo, float hi) {
  const ember_tensor *x = a->in[0];
  linear_job j;
  j.k = k;
  j.n = n;
  j.m = (size_t)(x->numel / (int64_t)j.k);
  j.x = x->data;
  j.packed = panels;
  j.bias = a->n_in > 2 ? a->in[2]->data : NULL;
  j.res = a->n_in > 3 ? a->in[3]->data : NULL;
  j.y = a->out[0]->data;
  j.panels = (j.n + EMBER_GEMM_NR - 1) / EMBER_GEMM_NR;
  j.mtiles = (j.m + MROWS_PER_TILE - 1) / MROWS_PER_TILE;
  j.act = act;
  j.lo = lo;
  j.hi = hi;
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  j.uk = cfg->fn;
  j.uk_epi = cfg->fn_epi && j.k > 0 && (act == EMBER_ACT_NONE || act == EMBER_ACT_RELU || act == EMBER_ACT_CLAMP) ? cfg->fn_epi
                                                                                                        : NULL;
  j.mr = cfg->mr;
  j.nr_step = cfg->nr;
  j.col_blocks = (j.n + NCOLS_PER_TILE - 1) / NCOLS_PER_TILE;
  j.gemv = cfg->gemv;
  if (j.m < GEMV_MAX_ROWS) {
    ember_pool_run(a->pool, (j.panels + GEMV_PANELS_PER_TILE - 1) / GEMV_PANELS_PER_TILE, gemv_tile, &j);
    return;
  }
  if (j.n > PA_MIN_N && cfg->packed && a->scratch && j.k > 0 && j.n > 0 &&
      (uint64_t)a->scratch_stride >= pa_scratch_bytes(j.m, j.k)) {
    linear_pa_run(a, &j, cfg);
    return;
  }
  ember_pool_run(a->pool, j.col_blocks * j.mtiles, linear_tile, &j);
}

static ember_status linear_eval(const ember_kargs *a) {
  linear_run(a, a->packed, (size_t)a->in[1]->dims[0], (size_t)a->in[1]->dims[1],
             (int)ember_attr_i(a, EMBER_A_LINEAR_ACT), (float)ember_attr_f(a, EMBER_A_LINEAR_ACT_MIN),
             (float)ember_attr_f(a, EMBER_A_LINEAR_ACT_MAX));
  return EMBER_OK;
}

/* linear_packed: the weight already is in panel layout (packed at export): used in place, no copy. */
static int linear_packed_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_F32 && a->in[1]->dtype == EMBER_DTYPE_F32 &&
         ((uintptr_t)a->in[1]->data % 32 == 0 || a->in[1]->data == NULL);
}

static ember_status linear_packed_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  *packed = NULL;
  *bytes = 0;
  *scratch = linear_scratch(a, (size_t)a->in[1]->dims[1]);
  return EMBER_OK;
}

static ember_status linear_packed_eval(const ember_kargs *a) {
  linear_run(a, a->in[1]->data, (size_t)ember_attr_i(a, EMBER_A_LINEAR_PACKED_N), (size_t)a->in[1]->dims[1],
             (int)ember_attr_i(a, EMBER_A_LINEAR_PACKED_ACT), (float)ember_attr_f(a, EMBER_A_LINEAR_PACKED_ACT_MIN),
             (float)ember_attr_f(a, EMBER_A_LINEAR_PACKED_ACT_MAX));
  return EMBER_OK;
}

/* ------------------------------------------------------------------------------------ table */

extern const ember_fast_kernel ember_fast_sdpa;   /* f32_attention.c */
extern const ember_fast_kernel ember_fast_binary; /* f32_elementwise.c */
extern const ember_fast_kernel ember_fast_unary;
extern const ember_fast_kernel ember_fast_rows;
extern const ember_fast_kernel ember_fast_permute; /* movement_fast.c */
extern const ember_fast_kernel ember_fast_reduce;  /* f32_reduce.c */
extern const ember_fast_kernel ember_fast_maxpool; /* f32_maxpool.c */
extern const ember_fast_kernel ember_fast_conv;    /* f32_conv.c */
extern const ember_fast_kernel ember_fast_dwconv;
int ember_fast_dwconv_applies(const ember_kargs *a);
extern const ember_fast_kernel ember_fast_conv_nhwc; /* f32_conv_nhwc.c */
extern const ember_fast_kernel ember_fast_dwconv_nhwc;
extern const ember_fast_kernel ember_fast_maxpool_nhwc;
extern const ember_fast_kernel ember_fast_conv_winograd;
extern const ember_fast_kernel ember_fast_pwdw_nhwc;
extern const ember_fast_kernel ember_fast_qdwconv_nhwc; /* q8_conv_nhwc.c */

static const ember_fast_kernel kLinear = {"f32_linear_gemm", linear_applies, linear_prepare, linear_eval};
static const ember_fast_kernel kLinearPacked = {"f32_linear_gemm_inplace", linear_packed_applies,
                                                 linear_packed_prepare, linear_packed_eval};

const ember_fast_kernel *ember_fast_kernel_for(int32_t op) {
  switch (op) {
    case EMBER_OP_LINEAR: return &kLinear;
    case EMBER_OP_LINEAR_PACKED: return &kLinearPacked;
    case EMBER_OP_SDPA: return &ember_fast_sdpa;
    case EMBER_OP_ADD: case EMBER_OP_SUB: case EMBER_OP_MUL: case EMBER_OP_DIV: case EMBER_OP_MAXIMUM:
    case EMBER_OP_MINIMUM: return &ember_fast_binary;
    case EMBER_OP_RELU: case EMBER_OP_SIGMOID: case EMBER_OP_TANH: case EMBER_OP_SILU: case EMBER_OP_EXP:
    case EMBER_OP_NEG: case EMBER_OP_SQRT: case EMBER_OP_RSQRT: case EMBER_OP_RECIPROCAL: case EMBER_OP_ABS:
    case EMBER_OP_HARDSWISH: case EMBER_OP_GELU: case EMBER_OP_CLAMP: return &ember_fast_unary;
    case EMBER_OP_LAYER_NORM: case EMBER_OP_RMS_NORM: case EMBER_OP_SOFTMAX: case EMBER_OP_LOG_SOFTMAX:
      return &ember_fast_rows;
    case EMBER_OP_PERMUTE: return &ember_fast_permute;
    case EMBER_OP_REDUCE_MEAN: case EMBER_OP_REDUCE_SUM: return &ember_fast_reduce;
    case EMBER_OP_MAX_POOL2D: return &ember_fast_maxpool;
    case EMBER_OP_CONV2D_NHWC: return &ember_fast_conv_nhwc;
    case EMBER_OP_DWCONV2D_NHWC: return &ember_fast_dwconv_nhwc;
    case EMBER_OP_MAX_POOL2D_NHWC: return &ember_fast_maxpool_nhwc;
    case EMBER_OP_CONV2D_WINOGRAD: return &ember_fast_conv_winograd;
    case EMBER_OP_PWDW_NHWC: return &ember_fast_pwdw_nhwc;
    case EMBER_OP_QDWCONV2D_NHWC: return &ember_fast_qdwconv_nhwc;
    case EMBER_OP_CONV2D: return &ember_fast_conv; /* depthwise nodes are redirected in ember_fast_kernel_select */
    default: return NULL;
  }
}

const ember_fast_kernel *ember_quant_fast_kernel_select(const ember_kargs *a); /* quant_fast.c */

const ember_fast_kernel *ember_fast_kernel_select(const ember_kargs *a) {
  if (a->op >= EMBER_OP_QUANTIZE) return ember_quant_fast_kernel_select(a); /* quantized ops (ids 100+) */
  if (a->op == EMBER_OP_CONV2D && ember_fast_dwconv_applies(a)) return &ember_fast_dwconv;
  const ember_fast_kernel *k = ember_fast_kernel_for(a->op);
  return k && k->applies(a) ? k : NULL;
}
