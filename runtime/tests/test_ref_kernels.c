/* Tests of the reference kernels: hand-computed values, independent naive formulations, and the
 * rejection of bad shapes and attributes. No framework; the last line is "N passed, M failed". */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ref_kernels.h"

static int g_pass, g_fail;

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (cond) {                                           \
      g_pass++;                                           \
    } else {                                              \
      g_fail++;                                           \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);         \
      printf(__VA_ARGS__);                                \
      printf("\n");                                       \
    }                                                     \
  } while (0)

#define F32 EMBER_DTYPE_F32
#define I32 EMBER_DTYPE_I32
#define I64 EMBER_DTYPE_I64
#define BOOL EMBER_DTYPE_BOOL
#define NONE (-1)

/* ------------------------------------------------------------------------------------ helpers */
static ember_tensor tn(int32_t dt, void *data, int rank, const int64_t *dims) {
  ember_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dt;
  t.rank = rank;
  t.numel = 1;
  for (int i = 0; i < rank; i++) {
    t.dims[i] = dims[i];
    t.numel *= dims[i];
  }
  t.nbytes = (uint64_t)t.numel * ember_dtype_size(dt);
  t.data = data;
  return t;
}
#define D(...) ((const int64_t[]){__VA_ARGS__})
#define R(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), D(__VA_ARGS__)
#define T(dt, data, ...) tn(dt, data, R(__VA_ARGS__))
#define T0(dt, data) tn(dt, data, 0, NULL)

static int64_t fbits(double d) {
  int64_t v;
  memcpy(&v, &d, sizeof v);
  return v;
}

static char g_err[512];
static uint64_t g_scratch;

/* Run check (and eval if `eval`) of `op` with the given inputs and output. Returns the first failing
 * status. Also verifies that the kernel table accepts the keyed input's dtype. */
static ember_status run_op(int op, ember_tensor **ins, int n_in, ember_tensor *out, const int64_t *attr, int n_attr,
                           bool eval, uint32_t flags) {
  const ember_kernel *k = ember_kernel_for(op);
  g_err[0] = 0;
  if (!k) {
    snprintf(g_err, sizeof g_err, "no kernel");
    return EMBER_ERR_UNSUPPORTED;
  }
  ember_tensor *outs[1] = {out};
  ember_kargs a;
  memset(&a, 0, sizeof a);
  a.op = op;
  a.in = (const ember_tensor *const *)ins;
  a.n_in = n_in;
  a.out = outs;
  a.n_out = 1;
  a.attr = attr;
  a.n_attr = n_attr;
  a.flags = flags;
  a.err = g_err;
  a.err_len = sizeof g_err;
  /* check sees no data pointers, as during validation */
  void *saved[EMBER_MAX_INPUTS + 1];
  for (int i = 0; i < n_in; i++) {
    saved[i] = ins[i]->data;
    ins[i]->data = NULL;
  }
  saved[n_in] = out->data;
  out->data = NULL;
  uint64_t scratch = 12345;
  ember_status s = k->check(&a, &scratch);
  for (int i = 0; i < n_in; i++) ins[i]->data = saved[i];
  out->data = saved[n_in];
  g_scratch = scratch;
  if (s != EMBER_OK) return s;
  if (!eval) return EMBER_OK;
  if (n_in > 0 && !(k->dtypes & (1u << ins[k->key_input]->dtype))) {
    snprintf(g_err, sizeof g_err, "kernel table does not accept dtype %d", (int)ins[k->key_input]->dtype);
    return EMBER_ERR_UNSUPPORTED;
  }
  size_t sb = (size_t)((scratch + 63) / 64 * 64);
  void *scr = sb ? aligned_alloc(64, sb) : NULL;
  if (sb) memset(scr, 0xAB, sb);
  a.scratch = scr;
  s = k->eval(&a);
  free(scr);
  return s;
}

/* Convenience wrappers with a list of input tensors. */
#define INS(...) ((ember_tensor *[]){__VA_ARGS__})
#define NINS(...) (int)(sizeof((ember_tensor *[]){__VA_ARGS__}) / sizeof(ember_tensor *))
#define RUN(op, out, attr, nattr, ...) run_op(op, INS(__VA_ARGS__), NINS(__VA_ARGS__), out, attr, nattr, true, 0)
#define CHK(op, out, attr, nattr, ...) run_op(op, INS(__VA_ARGS__), NINS(__VA_ARGS__), out, attr, nattr, false, 0)

static bool close_f(float got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs((double)got - want) <= tol * (1.0 + fabs(want));
}
static int expect_arr(const char *what, const float *got, const double *want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; i++) {
    if (!close_f(got[i], want[i], tol)) {
      printf("  %s[%lld]: got %.9g want %.9g\n", what, (long long)i, (double)got[i], want[i]);
      return 0;
    }
  }
  return 1;
}
static int expect_ff(const char *what, const float *got, const float *want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; i++) {
    if (!close_f(got[i], want[i], tol)) {
      printf("  %s[%lld]: got %.9g want %.9g\n", what, (long long)i, (double)got[i], (double)want[i]);
      return 0;
    }
  }
  return 1;
}
#define EXPECT(what, got, tol, ...)                                                              \
  do {                                                                                           \
    const double want_[] = {__VA_ARGS__};                                                        \
    int64_t n_ = (int64_t)(sizeof want_ / sizeof want_[0]);                                      \
    CHECK(expect_arr(what, got, want_, n_, tol), "%s values", what);                             \
  } while (0)
#define OK(s) CHECK((s) == EMBER_OK, "expected OK, got %d: %s", (int)(s), g_err)
#define REJECT(s, msg) CHECK((s) != EMBER_OK && g_err[0], "%s: expected a rejection, got %d", msg, (int)(s))

static uint32_t g_rng = 12345u;
static float rnd(void) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return (float)((g_rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}
static void fill(float *p, int64_t n) {
  for (int64_t i = 0; i < n; i++) p[i] = rnd();
}
static float *falloc(int64_t n) {
  float *p = calloc((size_t)(n ? n : 1), sizeof(float));
  if (!p) abort();
  return p;
}

/* Conv/linear/binary attribute sets. */
static void conv_attrs(int64_t *at, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t g,
                       int64_t act, double lo, double hi) {
  at[EMBER_A_CONV2D_STRIDE_H] = sh;
  at[EMBER_A_CONV2D_STRIDE_W] = sw;
  at[EMBER_A_CONV2D_PAD_H] = ph;
  at[EMBER_A_CONV2D_PAD_W] = pw;
  at[EMBER_A_CONV2D_DIL_H] = dh;
  at[EMBER_A_CONV2D_DIL_W] = dw;
  at[EMBER_A_CONV2D_GROUPS] = g;
  at[EMBER_A_CONV2D_ACT] = act;
  at[EMBER_A_CONV2D_ACT_MIN] = fbits(lo);
  at[EMBER_A_CONV2D_ACT_MAX] = fbits(hi);
}
static const int64_t *epi(int64_t *at, int64_t act, double lo, double hi) {
  at[0] = act;
  at[1] = fbits(lo);
  at[2] = fbits(hi);
  return at;
}

/* ------------------------------------------------------------------------------------- conv2d */
/* Independent formulation: explicit zero-padded im2col matrix per (image, group), then a matmul. */
static void conv_im2col(const float *x, int64_t N, int64_t C, int64_t H, int64_t W, const float *w, int64_t O,
                        int64_t KH, int64_t KW, const float *bias, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                        int64_t dh, int64_t dw, int64_t g, float *y, int64_t OH, int64_t OW) {
  int64_t CG = C / g, OG = O / g, rows = CG * KH * KW, cols = OH * OW;
  double *col = calloc((size_t)(rows * cols + 1), sizeof(double));
  for (int64_t n = 0; n < N; n++)
    for (int64_t gi = 0; gi < g; gi++) {
      for (int64_t c = 0; c < CG; c++)
        for (int64_t ky = 0; ky < KH; ky++)
          for (int64_t kx = 0; kx < KW; kx++)
            for (int64_t oy = 0; oy < OH; oy++)
              for (int64_t ox = 0; ox < OW; ox++) {
                int64_t iy = oy * sh + ky * dh - ph, ix = ox * sw + kx * dw - pw;
                double v = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[((n * C + gi * CG + c) * H + iy) * W + ix] : 0.0;
                col[((c * KH + ky) * KW + kx) * cols + oy * OW + ox] = v;
              }
      for (int64_t o = 0; o < OG; o++)
        for (int64_t p = 0; p < cols; p++) {
          double acc = bias ? bias[gi * OG + o] : 0.0;
          for (int64_t r = 0; r < rows; r++) acc += (double)w[(gi * OG + o) * rows + r] * col[r * cols + p];
          y[(n * O + gi * OG + o) * cols + p] = (float)acc;
        }
    }
  free(col);
}

static void test_conv2d(void) {
  int64_t at[EMBER_NSLOTS_CONV2D];
  /* hand: 3x3 input 1..9, 2x2 weight [[1,0],[0,-1]], bias 0.5 -> x[i][j] - x[i+1][j+1] + 0.5 = -3.5 */
  {
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 0, 0, -1}, b[1] = {0.5f}, y[4];
    ember_tensor tx = T(F32, x, 1, 1, 3, 3), tw = T(F32, w, 1, 1, 2, 2), tb = T(F32, b, 1), ty = T(F32, y, 1, 1, 2, 2);
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 1, EMBER_ACT_NONE, -INFINITY, INFINITY);
    OK(RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb));
    EXPECT("conv hand", y, 1e-6, -3.5, -3.5, -3.5, -3.5);
    CHECK(g_scratch == 0, "conv scratch");
    /* relu epilogue clamps all to 0; clamp epilogue to [-1, 1] */
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 1, EMBER_ACT_RELU, 0, 0);
    OK(RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb));
    EXPECT("conv relu", y, 0, 0, 0, 0, 0);
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 1, EMBER_ACT_CLAMP, -1.0, 1.0);
    OK(RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb));
    EXPECT("conv clamp", y, 0, -1, -1, -1, -1);
    /* padding 1, stride 2, 1x1 kernel of 2 -> 3x3 output sampling rows/cols -1, 1, 3 */
    float y2[9];
    float w1[1] = {2};
    ember_tensor tw1 = T(F32, w1, 1, 1, 1, 1), ty2 = T(F32, y2, 1, 1, 3, 3);
    conv_attrs(at, 2, 2, 1, 1, 1, 1, 1, EMBER_ACT_NONE, 0, 0);
    OK(RUN(EMBER_OP_CONV2D, &ty2, at, EMBER_NSLOTS_CONV2D, &tx, &tw1));
    EXPECT("conv pad/stride", y2, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0);
  }
  /* random configurations against im2col */
  struct {
    int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, g;
    bool bias;
  } cfg[] = {
      {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},  {1, 4, 9, 8, 6, 3, 2, 2, 3, 1, 0, 1, 2, 2, false},
      {1, 6, 8, 8, 6, 3, 3, 1, 1, 2, 2, 2, 2, 6, true},  {2, 4, 5, 7, 8, 1, 1, 2, 1, 0, 0, 1, 1, 4, true},
      {1, 2, 10, 3, 3, 5, 1, 3, 1, 2, 0, 1, 1, 1, true}, {1, 8, 6, 6, 4, 2, 2, 2, 2, 1, 1, 3, 1, 2, false},
  };
  for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
    int64_t N = cfg[ci].N, C = cfg[ci].C, H = cfg[ci].H, W = cfg[ci].W, O = cfg[ci].O, KH = cfg[ci].KH, KW = cfg[ci].KW;
    int64_t g = cfg[ci].g, CG = C / g;
    int64_t OH = (H + 2 * cfg[ci].ph - cfg[ci].dh * (KH - 1) - 1) / cfg[ci].sh + 1;
    int64_t OW = (W + 2 * cfg[ci].pw - cfg[ci].dw * (KW - 1) - 1) / cfg[ci].sw + 1;
    float *x = falloc(N * C * H * W), *w = falloc(O * CG * KH * KW), *b = falloc(O), *y = falloc(N * O * OH * OW),
          *r = falloc(N * O * OH * OW);
    fill(x, N * C * H * W);
    fill(w, O * CG * KH * KW);
    fill(b, O);
    ember_tensor tx = tn(F32, x, 4, D(N, C, H, W)), tw = tn(F32, w, 4, D(O, CG, KH, KW)), tb = tn(F32, b, 1, D(O));
    ember_tensor ty = tn(F32, y, 4, D(N, O, OH, OW));
    conv_attrs(at, cfg[ci].sh, cfg[ci].sw, cfg[ci].ph, cfg[ci].pw, cfg[ci].dh, cfg[ci].dw, g, EMBER_ACT_NONE, 0, 0);
    ember_status s = cfg[ci].bias ? RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb)
                                  : RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw);
    OK(s);
    conv_im2col(x, N, C, H, W, w, O, KH, KW, cfg[ci].bias ? b : NULL, cfg[ci].sh, cfg[ci].sw, cfg[ci].ph, cfg[ci].pw,
                cfg[ci].dh, cfg[ci].dw, g, r, OH, OW);
    CHECK(expect_ff("conv vs im2col", y, r, N * O * OH * OW, 1e-5), "conv config %d vs im2col", (int)ci);
    /* grouped conv == each group run alone as an ungrouped conv */
    if (g > 1) {
      int64_t OG = O / g;
      float *xg = falloc(N * CG * H * W), *yg = falloc(N * OG * OH * OW);
      bool same = true;
      for (int64_t gi = 0; gi < g; gi++) {
        for (int64_t n = 0; n < N; n++)
          memcpy(xg + n * CG * H * W, x + (n * C + gi * CG) * H * W, (size_t)(CG * H * W) * sizeof(float));
        ember_tensor txg = tn(F32, xg, 4, D(N, CG, H, W)), twg = tn(F32, w + gi * OG * CG * KH * KW, 4, D(OG, CG, KH, KW));
        ember_tensor tbg = tn(F32, b + gi * OG, 1, D(OG)), tyg = tn(F32, yg, 4, D(N, OG, OH, OW));
        int64_t at1[EMBER_NSLOTS_CONV2D];
        conv_attrs(at1, cfg[ci].sh, cfg[ci].sw, cfg[ci].ph, cfg[ci].pw, cfg[ci].dh, cfg[ci].dw, 1, EMBER_ACT_NONE, 0, 0);
        s = cfg[ci].bias ? RUN(EMBER_OP_CONV2D, &tyg, at1, EMBER_NSLOTS_CONV2D, &txg, &twg, &tbg)
                         : RUN(EMBER_OP_CONV2D, &tyg, at1, EMBER_NSLOTS_CONV2D, &txg, &twg);
        OK(s);
        for (int64_t n = 0; n < N; n++)
          same = same && expect_ff("group slice", yg + n * OG * OH * OW, y + (n * O + gi * OG) * OH * OW, OG * OH * OW, 1e-6);
      }
      CHECK(same, "grouped conv config %d equals per-group convs", (int)ci);
      free(xg);
      free(yg);
    }
    free(x), free(w), free(b), free(y), free(r);
  }
  /* rejections */
  {
    float x[1], w[1], b[2], y[1];
    ember_tensor tx = T(F32, x, 1, 4, 5, 5), tw = T(F32, w, 6, 2, 3, 3), ty = T(F32, y, 1, 6, 3, 3);
    ember_tensor tb = T(F32, b, 6), tbad = T(F32, b, 5);
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 2, 0, 0, 0);
    OK(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb));
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tbad), "conv bias shape");
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv channels/groups mismatch");
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 4, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv groups not dividing O");
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv groups 0");
    conv_attrs(at, 0, 1, 0, 0, 1, 1, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv stride 0");
    conv_attrs(at, 1, 1, 0, 0, 0, 1, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv dilation 0");
    conv_attrs(at, 1, 1, -1, 0, 1, 1, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv negative pad");
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 2, 99, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv bad act");
    conv_attrs(at, 1, 1, INT64_MAX / 2 + 7, 0, 1, 1, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv overflowing pad");
    conv_attrs(at, 1, 1, 0, 0, INT64_MAX, INT64_MAX, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv overflowing dilation");
    /* huge pad with huge stride: no overflow, output 1x1 would be wrong shape for y */
    conv_attrs(at, INT64_MAX, INT64_MAX, INT64_MAX / 4, INT64_MAX / 4, 1, 1, 2, 0, 0, 0);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv huge pad/stride, wrong output");
    conv_attrs(at, 1, 1, 0, 0, 1, 1, 2, 0, 0, 0);
    ember_tensor ty_bad = T(F32, y, 1, 6, 3, 4);
    REJECT(CHK(EMBER_OP_CONV2D, &ty_bad, at, EMBER_NSLOTS_CONV2D, &tx, &tw), "conv wrong output shape");
    ember_tensor tw3 = T(F32, w, 6, 2, 3);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw3), "conv 3-D weight");
    ember_tensor tw_big = T(F32, w, 6, 2, 7, 7);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw_big), "conv empty output");
    ember_tensor txi = T(I32, x, 1, 4, 5, 5);
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &txi, &tw), "conv i32 input");
    REJECT(CHK(EMBER_OP_CONV2D, &ty, at, 3, &tx, &tw), "conv too few attribute slots");
  }
  /* huge pad and stride that still produce a 1x1 output: eval must stay in bounds (all zero taps) */
  {
    float x[4] = {1, 2, 3, 4}, w[1] = {1}, b[1] = {0.25f}, y[1] = {-1};
    ember_tensor tx = T(F32, x, 1, 1, 2, 2), tw = T(F32, w, 1, 1, 1, 1), tb = T(F32, b, 1), ty = T(F32, y, 1, 1, 1, 1);
    conv_attrs(at, INT64_MAX, INT64_MAX, INT64_MAX / 4, INT64_MAX / 4, 1, 1, 1, 0, 0, 0);
    OK(RUN(EMBER_OP_CONV2D, &ty, at, EMBER_NSLOTS_CONV2D, &tx, &tw, &tb));
    EXPECT("conv huge pad", y, 0, 0.25);
  }
}

/* --------------------------------------------------------------------------------------- gemm */
static void test_gemm(void) {
  int64_t at[3];
  {
    /* x [2,3] . W[2,3]^T + b */
    float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, b[2] = {10, -1}, y[4];
    ember_tensor tx = T(F32, x, 2, 3), tw = T(F32, w, 2, 3), tb = T(F32, b, 2), ty = T(F32, y, 2, 2);
    OK(RUN(EMBER_OP_LINEAR, &ty, epi(at, 0, 0, 0), 3, &tx, &tw, &tb));
    EXPECT("linear", y, 1e-6, 8, 2, 8, 6.5);
    OK(RUN(EMBER_OP_LINEAR, &ty, epi(at, 0, 0, 0), 3, &tx, &tw));
    EXPECT("linear nobias", y, 1e-6, -2, 3, -2, 7.5);
    OK(RUN(EMBER_OP_LINEAR, &ty, epi(at, EMBER_ACT_RELU, 0, 0), 3, &tx, &tw));
    EXPECT("linear relu", y, 1e-6, 0, 3, 0, 7.5);
    OK(RUN(EMBER_OP_LINEAR, &ty, epi(at, EMBER_ACT_CLAMP, -1, 5), 3, &tx, &tw));
    EXPECT("linear clamp", y, 1e-6, -1, 3, -1, 5);
    /* rank-1 input and rank-3 input */
    ember_tensor tx1 = T(F32, x, 3), ty1 = T(F32, y, 2);
    OK(RUN(EMBER_OP_LINEAR, &ty1, epi(at, 0, 0, 0), 3, &tx1, &tw, &tb));
    EXPECT("linear 1d", y, 1e-6, 8, 2);
    ember_tensor tx3 = T(F32, x, 2, 1, 3), ty3 = T(F32, y, 2, 1, 2);
    OK(RUN(EMBER_OP_LINEAR, &ty3, epi(at, 0, 0, 0), 3, &tx3, &tw, &tb));
    EXPECT("linear 3d", y, 1e-6, 8, 2, 8, 6.5);
    ember_tensor tbad = T(F32, x, 2, 2), tbb = T(F32, b, 3), tyb = T(F32, y, 2, 3);
    REJECT(CHK(EMBER_OP_LINEAR, &ty, epi(at, 0, 0, 0), 3, &tbad, &tw), "linear K mismatch");
    REJECT(CHK(EMBER_OP_LINEAR, &ty, epi(at, 0, 0, 0), 3, &tx, &tw, &tbb), "linear bias shape");
    REJECT(CHK(EMBER_OP_LINEAR, &tyb, epi(at, 0, 0, 0), 3, &tx, &tw), "linear out shape");
    REJECT(CHK(EMBER_OP_LINEAR, &ty, epi(at, -1, 0, 0), 3, &tx, &tw), "linear bad act");
    ember_tensor tw1 = T(F32, w, 6);
    REJECT(CHK(EMBER_OP_LINEAR, &ty, epi(at, 0, 0, 0), 3, &tx, &tw1), "linear 1-D weight");
  }
  {
    /* matmul with broadcast batch dims: a [2,1,2,3] @ b [3,3,2] -> [2,3,2,2], against a naive loop */
    float a[12], b[18], y[24];
    fill(a, 12);
    fill(b, 18);
    ember_tensor ta = T(F32, a, 2, 1, 2, 3), tb = T(F32, b, 3, 3, 2), ty = T(F32, y, 2, 3, 2, 2);
    OK(RUN(EMBER_OP_MATMUL, &ty, NULL, 0, &ta, &tb));
    double want[24];
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int m = 0; m < 2; m++)
          for (int n = 0; n < 2; n++) {
            double acc = 0;
            for (int k = 0; k < 3; k++) acc += (double)a[(i * 2 + m) * 3 + k] * b[(j * 3 + k) * 2 + n];
            want[((i * 3 + j) * 2 + m) * 2 + n] = acc;
          }
    CHECK(expect_arr("matmul bcast", y, want, 24, 1e-6), "matmul broadcast batch");
    CHECK(g_scratch >= 2 * sizeof(double), "matmul scratch for one output row (%llu)", (unsigned long long)g_scratch);
    /* plain 2x2 */
    float p[4] = {1, 2, 3, 4}, q[4] = {5, 6, 7, 8}, r[4];
    ember_tensor tp = T(F32, p, 2, 2), tq = T(F32, q, 2, 2), tr = T(F32, r, 2, 2);
    OK(RUN(EMBER_OP_MATMUL, &tr, NULL, 0, &tp, &tq));
    EXPECT("matmul 2x2", r, 1e-6, 19, 22, 43, 50);
    ember_tensor tbad = T(F32, b, 3, 2, 3), tyb = T(F32, y, 2, 3, 2, 3);
    REJECT(CHK(EMBER_OP_MATMUL, &ty, NULL, 0, &ta, &tbad), "matmul K mismatch");
    REJECT(CHK(EMBER_OP_MATMUL, &tyb, NULL, 0, &ta, &tb), "matmul out shape");
    ember_tensor ta3 = T(F32, a, 3, 1, 2, 3), ty3 = T(F32, y, 3, 2, 2, 2), tc = T(F32, b, 2, 1, 3, 2);
    REJECT(CHK(EMBER_OP_MATMUL, &ty3, NULL, 0, &ta3, &tc), "matmul batch not broadcastable");
    ember_tensor t1 = T(F32, a, 3);
    REJECT(CHK(EMBER_OP_MATMUL, &tr, NULL, 0, &t1, &tq), "matmul 1-D");
  }
}

/* ------------------------------------------------------------------------------ binary & friends */
static void test_binary(void) {
  int64_t at[3];
  {
    /* [2,3] + [3] broadcast, then sub/mul/div/max/min/pow */
    float a[6] = {1, -2, 3, -4, 5, -6}, b[3] = {0.5f, 2, -1}, y[6];
    ember_tensor ta = T(F32, a, 2, 3), tb = T(F32, b, 3), ty = T(F32, y, 2, 3);
    OK(RUN(EMBER_OP_ADD, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("add", y, 1e-7, 1.5, 0, 2, -3.5, 7, -7);
    OK(RUN(EMBER_OP_ADD, &ty, epi(at, EMBER_ACT_RELU, 0, 0), 3, &ta, &tb));
    EXPECT("add relu", y, 1e-7, 1.5, 0, 2, 0, 7, 0);
    OK(RUN(EMBER_OP_SUB, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("sub", y, 1e-7, 0.5, -4, 4, -4.5, 3, -5);
    OK(RUN(EMBER_OP_MUL, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("mul", y, 1e-7, 0.5, -4, -3, -2, 10, 6);
    OK(RUN(EMBER_OP_DIV, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("div", y, 1e-7, 2, -1, -3, -8, 2.5, 6);
    OK(RUN(EMBER_OP_MAXIMUM, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("maximum", y, 0, 1, 2, 3, 0.5, 5, -1);
    OK(RUN(EMBER_OP_MINIMUM, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    EXPECT("minimum", y, 0, 0.5, -2, -1, -4, 2, -6);
    OK(RUN(EMBER_OP_POW, &ty, epi(at, 0, 0, 0), 3, &tb, &ta)); /* b [3] ** a [2,3] */
    EXPECT("pow", y, 1e-6, 0.5, 0.25, -1, 16, 32, 1);
    OK(RUN(EMBER_OP_MUL, &ty, epi(at, EMBER_ACT_SIGMOID, 0, 0), 3, &ta, &tb));
    EXPECT("mul sigmoid", y, 1e-6, 1 / (1 + exp(-0.5)), 1 / (1 + exp(4.0)), 1 / (1 + exp(3.0)), 1 / (1 + exp(2.0)),
           1 / (1 + exp(-10.0)), 1 / (1 + exp(-6.0)));
    /* NaN propagates through maximum/minimum like numpy */
    float n1[2] = {NAN, 1}, n2[2] = {0, NAN}, ny[2];
    ember_tensor tn1 = T(F32, n1, 2), tn2 = T(F32, n2, 2), tny = T(F32, ny, 2);
    OK(RUN(EMBER_OP_MAXIMUM, &tny, epi(at, 0, 0, 0), 3, &tn1, &tn2));
    CHECK(isnan(ny[0]) && isnan(ny[1]), "maximum NaN");
    /* in place: out aliases input 0 */
    float c[6] = {1, 2, 3, 4, 5, 6};
    ember_tensor tc = T(F32, c, 2, 3), tco = T(F32, c, 2, 3);
    OK(RUN(EMBER_OP_ADD, &tco, epi(at, 0, 0, 0), 3, &tc, &tb));
    EXPECT("add in place", c, 0, 1.5, 4, 2, 4.5, 7, 5);
    /* both operands broadcast: [2,1] * [1,3] -> [2,3] */
    float p[2] = {2, 3}, q[3] = {1, 10, 100}, r[6];
    ember_tensor tp = T(F32, p, 2, 1), tq = T(F32, q, 1, 3), tr = T(F32, r, 2, 3);
    OK(RUN(EMBER_OP_MUL, &tr, epi(at, 0, 0, 0), 3, &tp, &tq));
    EXPECT("outer mul", r, 0, 2, 20, 200, 3, 30, 300);
    /* rejections */
    ember_tensor tbad = T(F32, b, 4), tyb = T(F32, y, 3, 2), tyi = T(I32, y, 2, 3), tbi = T(I32, b, 3);
    REJECT(CHK(EMBER_OP_ADD, &ty, epi(at, 0, 0, 0), 3, &ta, &tbad), "add not broadcastable");
    REJECT(CHK(EMBER_OP_ADD, &tyb, epi(at, 0, 0, 0), 3, &ta, &tb), "add wrong out shape");
    REJECT(CHK(EMBER_OP_ADD, &tyi, epi(at, 0, 0, 0), 3, &ta, &tb), "add wrong out dtype");
    REJECT(CHK(EMBER_OP_ADD, &ty, epi(at, 0, 0, 0), 3, &ta, &tbi), "add mixed dtypes");
    REJECT(CHK(EMBER_OP_ADD, &ty, epi(at, 42, 0, 0), 3, &ta, &tb), "add bad act");
    ember_tensor tai = T(I32, a, 2, 3);
    REJECT(CHK(EMBER_OP_POW, &tyi, epi(at, 0, 0, 0), 3, &tai, &tbi), "pow on i32");
  }
  {
    /* integers: truncating division, wrap-around, division by zero is a run-time error */
    int32_t a[6] = {7, -7, 7, -7, INT32_MIN, INT32_MAX}, b[6] = {2, 2, -2, -2, -1, 1}, y[6];
    ember_tensor ta = T(I32, a, 6), tb = T(I32, b, 6), ty = T(I32, y, 6);
    OK(RUN(EMBER_OP_DIV, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    CHECK(y[0] == 3 && y[1] == -3 && y[2] == -3 && y[3] == 3 && y[4] == INT32_MIN && y[5] == INT32_MAX, "i32 div trunc");
    OK(RUN(EMBER_OP_ADD, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    CHECK(y[0] == 9 && y[4] == INT32_MAX && y[5] == INT32_MIN, "i32 add wraps");
    OK(RUN(EMBER_OP_MUL, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    CHECK(y[1] == -14 && y[4] == INT32_MIN, "i32 mul");
    OK(RUN(EMBER_OP_MAXIMUM, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    CHECK(y[0] == 7 && y[1] == 2 && y[4] == -1, "i32 maximum");
    OK(RUN(EMBER_OP_SUB, &ty, epi(at, 0, 0, 0), 3, &ta, &tb));
    CHECK(y[4] == INT32_MIN + 1 && y[5] == INT32_MAX - 1 && y[3] == -5, "i32 sub");
    int32_t z[1] = {0};
    ember_tensor tz = T(I32, z, 1);
    ember_status s = RUN(EMBER_OP_DIV, &ty, epi(at, 0, 0, 0), 3, &ta, &tz);
    CHECK(s == EMBER_ERR_RUNTIME && strstr(g_err, "zero"), "i32 div by zero -> runtime error (%d: %s)", (int)s, g_err);
    int64_t la[3] = {INT64_MIN, 9000000000000000001LL, -5}, lb[3] = {-1, 3, 3}, ly[3];
    ember_tensor tla = T(I64, la, 3), tlb = T(I64, lb, 3), tly = T(I64, ly, 3);
    OK(RUN(EMBER_OP_DIV, &tly, epi(at, 0, 0, 0), 3, &tla, &tlb));
    CHECK(ly[0] == INT64_MIN && ly[1] == 3000000000000000000LL && ly[2] == -1, "i64 div");
    OK(RUN(EMBER_OP_MINIMUM, &tly, epi(at, 0, 0, 0), 3, &tla, &tlb));
    CHECK(ly[0] == INT64_MIN && ly[1] == 3 && ly[2] == -5, "i64 minimum");
    int64_t lz[3] = {1, 0, 1};
    ember_tensor tlz = T(I64, lz, 3);
    s = RUN(EMBER_OP_DIV, &tly, epi(at, 0, 0, 0), 3, &tla, &tlz);
    CHECK(s == EMBER_ERR_RUNTIME, "i64 div by zero -> runtime error");
  }
}

static void test_compare_where(void) {
  {
    float a[4] = {1, 2, 3, NAN}, b[2] = {2, 3};
    uint8_t y[8];
    ember_tensor ta = T(F32, a, 4, 1), tb = T(F32, b, 2), ty = T(BOOL, y, 4, 2);
    const uint8_t want[6][8] = {
        {0, 0, 1, 0, 0, 1, 0, 0}, /* eq */ {1, 1, 0, 1, 1, 0, 1, 1}, /* ne */ {1, 1, 0, 1, 0, 0, 0, 0}, /* lt */
        {1, 1, 1, 1, 0, 1, 0, 0}, /* le */ {0, 0, 0, 0, 1, 0, 0, 0}, /* gt */ {0, 0, 1, 0, 1, 1, 0, 0}, /* ge */
    };
    for (int k = 0; k < 6; k++) {
      OK(RUN(EMBER_OP_EQ + k, &ty, NULL, 0, &ta, &tb));
      CHECK(memcmp(y, want[k], 8) == 0, "compare op %d", EMBER_OP_EQ + k);
    }
    int64_t ia[3] = {5, -1, 7}, ib[3] = {5, 0, 8};
    ember_tensor tia = T(I64, ia, 3), tib = T(I64, ib, 3), tiy = T(BOOL, y, 3);
    OK(RUN(EMBER_OP_LE, &tiy, NULL, 0, &tia, &tib));
    CHECK(y[0] == 1 && y[1] == 1 && y[2] == 1, "i64 le");
    OK(RUN(EMBER_OP_GT, &tiy, NULL, 0, &tia, &tib));
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0, "i64 gt");
    uint8_t p[4] = {0, 1, 0, 1}, q[4] = {0, 0, 1, 1}, r[4];
    ember_tensor tp = T(BOOL, p, 4), tq = T(BOOL, q, 4), tr = T(BOOL, r, 4);
    OK(RUN(EMBER_OP_LOGICAL_AND, &tr, NULL, 0, &tp, &tq));
    CHECK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 1, "logical_and");
    OK(RUN(EMBER_OP_LOGICAL_OR, &tr, NULL, 0, &tp, &tq));
    CHECK(r[0] == 0 && r[1] == 1 && r[2] == 1 && r[3] == 1, "logical_or");
    OK(RUN(EMBER_OP_EQ, &tr, NULL, 0, &tp, &tq));
    CHECK(r[0] == 1 && r[1] == 0 && r[2] == 0 && r[3] == 1, "bool eq");
    ember_tensor tyf = T(F32, y, 4, 2), tbi = T(I32, b, 2);
    REJECT(CHK(EMBER_OP_LT, &tyf, NULL, 0, &ta, &tb), "compare f32 output");
    REJECT(CHK(EMBER_OP_LT, &ty, NULL, 0, &ta, &tbi), "compare mixed dtypes");
    ember_tensor tyb = T(BOOL, y, 2, 4);
    REJECT(CHK(EMBER_OP_LT, &tyb, NULL, 0, &ta, &tb), "compare wrong out shape");
  }
  {
    /* where: cond [2,1], a [3], b scalar -> [2,3] */
    uint8_t c[2] = {1, 0};
    float a[3] = {1, 2, 3}, b[1] = {-9}, y[6];
    ember_tensor tc = T(BOOL, c, 2, 1), ta = T(F32, a, 3), tb = T0(F32, b), ty = T(F32, y, 2, 3);
    OK(RUN(EMBER_OP_WHERE, &ty, NULL, 0, &tc, &ta, &tb));
    EXPECT("where", y, 0, 1, 2, 3, -9, -9, -9);
    int64_t ia[2] = {10, 20}, ib[2] = {-1, -2}, iy[2];
    uint8_t c2[2] = {0, 1};
    ember_tensor tc2 = T(BOOL, c2, 2), tia = T(I64, ia, 2), tib = T(I64, ib, 2), tiy = T(I64, iy, 2);
    OK(RUN(EMBER_OP_WHERE, &tiy, NULL, 0, &tc2, &tia, &tib));
    CHECK(iy[0] == -1 && iy[1] == 20, "where i64");
    /* in place on bool values: out aliases cond */
    uint8_t bc[3] = {1, 0, 1}, bx[3] = {0, 0, 0}, by[3] = {1, 1, 1};
    ember_tensor tbc = T(BOOL, bc, 3), tbx = T(BOOL, bx, 3), tby = T(BOOL, by, 3), tbo = T(BOOL, bc, 3);
    OK(RUN(EMBER_OP_WHERE, &tbo, NULL, 0, &tbc, &tbx, &tby));
    CHECK(bc[0] == 0 && bc[1] == 1 && bc[2] == 0, "where bool in place");
    ember_tensor tcf = T(F32, a, 2, 1), tbi = T(I64, ib, 1), tyb = T(F32, y, 3, 2);
    REJECT(CHK(EMBER_OP_WHERE, &ty, NULL, 0, &tcf, &ta, &tb), "where float cond");
    REJECT(CHK(EMBER_OP_WHERE, &ty, NULL, 0, &tc, &ta, &tbi), "where mixed value dtypes");
    REJECT(CHK(EMBER_OP_WHERE, &tyb, NULL, 0, &tc, &ta, &tb), "where wrong out shape");
  }
}

/* ------------------------------------------------------------------------------- softmax & norms */
static void test_softmax(void) {
  int64_t at[1];
  {
    float x[6] = {1, 2, 3, 1000, 1001, 1002}, y[6], z[6];
    ember_tensor tx = T(F32, x, 2, 3), ty = T(F32, y, 2, 3), tz = T(F32, z, 2, 3);
    double e1 = exp(1.0), e2 = exp(2.0), e3 = exp(3.0), s = e1 + e2 + e3;
    at[0] = -1;
    OK(RUN(EMBER_OP_SOFTMAX, &ty, at, 1, &tx));
    EXPECT("softmax", y, 1e-6, e1 / s, e2 / s, e3 / s, e1 / s, e2 / s, e3 / s); /* stable for large inputs */
    OK(RUN(EMBER_OP_LOG_SOFTMAX, &tz, at, 1, &tx));
    EXPECT("log_softmax", z, 1e-6, 1 - log(s), 2 - log(s), 3 - log(s), 1 - log(s), 2 - log(s), 3 - log(s));
    at[0] = 0; /* along axis 0: pairs (1, 1000) etc. */
    OK(RUN(EMBER_OP_SOFTMAX, &ty, at, 1, &tx));
    EXPECT("softmax axis0", y, 1e-6, 0, 0, 0, 1, 1, 1);
    /* -inf entries get probability 0 (log_softmax -inf) */
    float xm[3] = {0, -INFINITY, 0}, ym[3];
    ember_tensor txm = T(F32, xm, 3), tym = T(F32, ym, 3);
    at[0] = 0;
    OK(RUN(EMBER_OP_SOFTMAX, &tym, at, 1, &txm));
    EXPECT("softmax -inf", ym, 1e-7, 0.5, 0, 0.5);
    OK(RUN(EMBER_OP_LOG_SOFTMAX, &tym, at, 1, &txm));
    EXPECT("log_softmax -inf", ym, 1e-7, -log(2.0), -INFINITY, -log(2.0));
    /* rank 0: one element */
    float x0[1] = {5}, y0[1];
    ember_tensor tx0 = T0(F32, x0), ty0 = T0(F32, y0);
    OK(RUN(EMBER_OP_SOFTMAX, &ty0, at, 1, &tx0));
    EXPECT("softmax rank 0", y0, 0, 1);
    at[0] = 2;
    REJECT(CHK(EMBER_OP_SOFTMAX, &ty, at, 1, &tx), "softmax axis 2 of rank 2");
    at[0] = -3;
    REJECT(CHK(EMBER_OP_SOFTMAX, &ty, at, 1, &tx), "softmax axis -3 of rank 2");
    at[0] = INT64_MIN;
    REJECT(CHK(EMBER_OP_SOFTMAX, &ty, at, 1, &tx), "softmax axis INT64_MIN");
    ember_tensor tyb = T(F32, y, 3, 2);
    at[0] = 1;
    REJECT(CHK(EMBER_OP_SOFTMAX, &tyb, at, 1, &tx), "softmax shape");
  }
  {
    /* random [3,4,5] along the middle axis: each fibre sums to 1, log_softmax == log(softmax) */
    float x[60], y[60], z[60];
    fill(x, 60);
    for (int i = 0; i < 60; i++) x[i] *= 20;
    ember_tensor tx = T(F32, x, 3, 4, 5), ty = T(F32, y, 3, 4, 5), tz = T(F32, z, 3, 4, 5);
    at[0] = -2;
    OK(RUN(EMBER_OP_SOFTMAX, &ty, at, 1, &tx));
    OK(RUN(EMBER_OP_LOG_SOFTMAX, &tz, at, 1, &tx));
    bool sums = true, logs = true;
    for (int o = 0; o < 3; o++)
      for (int i = 0; i < 5; i++) {
        double s = 0;
        for (int k = 0; k < 4; k++) {
          int idx = (o * 4 + k) * 5 + i;
          s += y[idx];
          if (y[idx] > 1e-30 && fabs(log((double)y[idx]) - z[idx]) > 1e-4) logs = false;
        }
        if (fabs(s - 1) > 1e-5) sums = false;
      }
    CHECK(sums, "softmax fibres sum to 1");
    CHECK(logs, "log_softmax == log(softmax)");
  }
}

static void test_norms(void) {
  int64_t at[2];
  {
    float x[6] = {1, 2, 3, 4, 6, 8}, w[3] = {1, 2, 0.5f}, b[3] = {0, 1, -1}, y[6];
    ember_tensor tx = T(F32, x, 2, 3), tw = T(F32, w, 3), tb = T(F32, b, 3), ty = T(F32, y, 2, 3);
    at[0] = 1;
    at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx));
    double r = sqrt(1.5);
    EXPECT("layer_norm", y, 1e-6, -r, 0, r, -r, 0, r);
    OK(RUN(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx, &tw, &tb));
    EXPECT("layer_norm affine", y, 1e-6, -r, 1, 0.5 * r - 1, -r, 1, 0.5 * r - 1);
    at[1] = fbits(1e-5);
    OK(RUN(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx, &tw));
    double r1 = 1 / sqrt(2.0 / 3 + 1e-5), r2 = 2 / sqrt(8.0 / 3 + 1e-5);
    EXPECT("layer_norm eps weight", y, 1e-6, -r1, 0, 0.5 * r1, -r2, 0, 0.5 * r2);
    /* over both axes */
    at[0] = 2;
    at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx));
    double mu = 4, var = (9 + 4 + 1 + 0 + 4 + 16) / 6.0, sd = sqrt(var);
    EXPECT("layer_norm 2 axes", y, 1e-6, -3 / sd, -2 / sd, -1 / sd, 0, 2 / sd, 4 / sd);
    (void)mu;
    ember_tensor tw2 = T(F32, w, 3, 1);
    REJECT(CHK(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx, &tw), "layer_norm 2 axes with [3] weight");
    REJECT(CHK(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx, &tw2), "layer_norm weight [3,1]");
    at[0] = 3;
    REJECT(CHK(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx), "layer_norm n_axes > rank");
    at[0] = 0;
    REJECT(CHK(EMBER_OP_LAYER_NORM, &ty, at, 2, &tx), "layer_norm n_axes 0");
    /* rms_norm */
    at[0] = 1;
    at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_RMS_NORM, &ty, at, 2, &tx, &tw));
    double q1 = sqrt(14.0 / 3), q2 = sqrt(116.0 / 3);
    EXPECT("rms_norm", y, 1e-6, 1 / q1, 4 / q1, 1.5 / q1, 4 / q2, 12 / q2, 4 / q2);
    REJECT(CHK(EMBER_OP_RMS_NORM, &ty, at, 2, &tx, &tw, &tb), "rms_norm with 3 inputs");
    ember_tensor tw4 = T(F32, w, 4);
    REJECT(CHK(EMBER_OP_RMS_NORM, &ty, at, 2, &tx, &tw4), "rms_norm weight shape");
  }
  {
    /* batch_norm over axis 1 of [2,2,2] */
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, m[2] = {1, 2}, v[2] = {4, 0.25f}, w[2] = {2, 1}, b[2] = {0, 10}, y[8];
    ember_tensor tx = T(F32, x, 2, 2, 2), tm = T(F32, m, 2), tv = T(F32, v, 2), tw = T(F32, w, 2), tb = T(F32, b, 2);
    ember_tensor ty = T(F32, y, 2, 2, 2);
    at[0] = fbits(0.0);
    OK(RUN(EMBER_OP_BATCH_NORM, &ty, at, 1, &tx, &tm, &tv, &tw, &tb));
    EXPECT("batch_norm", y, 1e-6, 0, 1, 12, 14, 4, 5, 20, 22);
    ember_tensor tm3 = T(F32, m, 3), tx1 = T(F32, x, 8);
    REJECT(CHK(EMBER_OP_BATCH_NORM, &ty, at, 1, &tx, &tm3, &tv, &tw, &tb), "batch_norm param shape");
    REJECT(CHK(EMBER_OP_BATCH_NORM, &tx1, at, 1, &tx1, &tm, &tv, &tw, &tb), "batch_norm rank 1");
  }
}

/* ---------------------------------------------------------------------------------------- pools */
/* ops._pool_out, written the Python way (small values only). */
static int64_t py_floordiv(int64_t a, int64_t b) { return (a - ((a % b) + b) % b) / b; }
static int64_t py_pool_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, int ceil_mode) {
  int64_t span = n + 2 * p - dil * (k - 1) - 1;
  int64_t o = (ceil_mode ? -py_floordiv(-span, s) : py_floordiv(span, s)) + 1;
  if (ceil_mode && (o - 1) * s >= n + p) o--;
  return o;
}

/* Naive pools mirroring ops._maxpool_ref / _avgpool_ref: list the window taps, filter the valid ones. */
static void naive_pool(bool is_max, const float *x, int64_t NC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t OH, int64_t OW, int cip,
                       int64_t divisor, double *out) {
  for (int64_t c = 0; c < NC; c++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t ys[64], xs[64], nvy = 0, nvx = 0;
        for (int64_t k = 0; k < kh; k++) {
          int64_t yy = oy * sh - ph + k * dh;
          if (yy >= 0 && yy < H) ys[nvy++] = yy;
        }
        for (int64_t k = 0; k < kw; k++) {
          int64_t xx = ox * sw - pw + k * dw;
          if (xx >= 0 && xx < W) xs[nvx++] = xx;
        }
        double acc = is_max ? -INFINITY : 0.0;
        for (int64_t i = 0; i < nvy; i++)
          for (int64_t j = 0; j < nvx; j++) {
            double v = x[(c * H + ys[i]) * W + xs[j]];
            if (is_max) acc = v > acc ? v : acc;
            else acc += v;
          }
        if (!is_max) {
          int64_t y0 = oy * sh - ph, x0 = ox * sw - pw;
          int64_t y1 = y0 + kh < H + ph ? y0 + kh : H + ph, x1 = x0 + kw < W + pw ? x0 + kw : W + pw;
          double div = divisor ? (double)divisor : cip ? (double)((y1 - y0) * (x1 - x0)) : (double)(nvy * nvx);
          acc /= div;
        }
        out[(c * OH + oy) * OW + ox] = acc;
      }
}

static void pool_attrs(int64_t *at, bool is_max, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                       int64_t dh, int64_t dw, int64_t ceil_mode, int64_t cip, int64_t divisor) {
  at[0] = kh, at[1] = kw, at[2] = sh, at[3] = sw, at[4] = ph, at[5] = pw;
  if (is_max) {
    at[EMBER_A_MAX_POOL2D_DIL_H] = dh, at[EMBER_A_MAX_POOL2D_DIL_W] = dw, at[EMBER_A_MAX_POOL2D_CEIL_MODE] = ceil_mode;
  } else {
    at[EMBER_A_AVG_POOL2D_CEIL_MODE] = ceil_mode, at[EMBER_A_AVG_POOL2D_COUNT_INCLUDE_PAD] = cip;
    at[EMBER_A_AVG_POOL2D_DIVISOR] = divisor;
  }
}

static void test_pools(void) {
  int64_t at[9];
  {
    /* hand: 4x4, k2 s2 */
    float x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, y[4];
    ember_tensor tx = T(F32, x, 1, 1, 4, 4), ty = T(F32, y, 1, 1, 2, 2);
    pool_attrs(at, true, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0);
    OK(RUN(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx));
    EXPECT("max_pool hand", y, 0, 6, 8, 14, 16);
    pool_attrs(at, false, 2, 2, 2, 2, 0, 0, 1, 1, 0, 1, 0);
    OK(RUN(EMBER_OP_AVG_POOL2D, &ty, at, 9, &tx));
    EXPECT("avg_pool hand", y, 1e-6, 3.5, 5.5, 11.5, 13.5);
    /* k3 s2 ceil_mode on 4x4 -> 2x2 (last window starts at 2 < 4) */
    pool_attrs(at, true, 3, 3, 2, 2, 0, 0, 1, 1, 1, 0, 0);
    OK(RUN(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx));
    EXPECT("max_pool ceil", y, 0, 11, 12, 15, 16);
    /* avg with pad 1, k3 s3 on 4x4: include pad -> sum/9, exclude pad -> sum/count */
    pool_attrs(at, false, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1, 0);
    OK(RUN(EMBER_OP_AVG_POOL2D, &ty, at, 9, &tx));
    EXPECT("avg_pool include pad", y, 1e-6, 14 / 9.0, 22 / 9.0, 46 / 9.0, 54 / 9.0);
    pool_attrs(at, false, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0);
    OK(RUN(EMBER_OP_AVG_POOL2D, &ty, at, 9, &tx));
    EXPECT("avg_pool exclude pad", y, 1e-6, 14 / 4.0, 22 / 4.0, 46 / 4.0, 54 / 4.0);
    pool_attrs(at, false, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 7);
    OK(RUN(EMBER_OP_AVG_POOL2D, &ty, at, 9, &tx));
    EXPECT("avg_pool divisor", y, 1e-6, 2, 22 / 7.0, 46 / 7.0, 54 / 7.0);
    /* max with padding: border windows ignore the padding (values all negative) */
    float xn[4] = {-1, -2, -3, -4}, yn[4];
    ember_tensor txn = T(F32, xn, 1, 1, 2, 2), tyn = T(F32, yn, 1, 1, 2, 2);
    pool_attrs(at, true, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0);
    ember_tensor tyn3 = T(F32, yn, 1, 1, 3, 3);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &tyn, at, 9, &txn), "max_pool wrong output shape");
    float y9[9];
    tyn3.data = y9;
    OK(RUN(EMBER_OP_MAX_POOL2D, &tyn3, at, 9, &txn));
    EXPECT("max_pool pad", y9, 0, -1, -1, -2, -1, -1, -2, -3, -3, -4);
    /* dilation can leave a window with no in-bounds tap (taps at -1 and 2 of a 2x2 input): -inf */
    float yd[1];
    ember_tensor tyd = T(F32, yd, 1, 1, 1, 1);
    pool_attrs(at, true, 2, 2, 1, 1, 1, 1, 3, 3, 0, 0, 0);
    OK(RUN(EMBER_OP_MAX_POOL2D, &tyd, at, 9, &txn));
    EXPECT("max_pool empty window", yd, 0, -INFINITY);
    /* NaN propagates through max_pool */
    float xq[4] = {1, NAN, 3, 4}, yq[1];
    ember_tensor txq = T(F32, xq, 1, 1, 2, 2), tyq = T(F32, yq, 1, 1, 1, 1);
    pool_attrs(at, true, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0);
    OK(RUN(EMBER_OP_MAX_POOL2D, &tyq, at, 9, &txq));
    CHECK(isnan(yq[0]), "max_pool NaN");
    /* rejections */
    pool_attrs(at, true, 2, 2, 2, 2, 2, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool pad > kernel/2");
    pool_attrs(at, true, 2, 2, 0, 2, 0, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool stride 0");
    pool_attrs(at, true, 0, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool kernel 0");
    pool_attrs(at, true, 2, 2, 2, 2, 0, 0, 0, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool dilation 0");
    pool_attrs(at, true, INT64_MAX, 2, 2, 2, INT64_MAX / 2, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool huge kernel/pad");
    pool_attrs(at, true, 2, 2, 2, 2, 0, 0, INT64_MAX, 1, 1, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool huge dilation");
    pool_attrs(at, true, 5, 5, 1, 1, 0, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx), "pool empty output");
    ember_tensor tx3 = T(F32, x, 4, 4);
    pool_attrs(at, true, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0);
    REJECT(CHK(EMBER_OP_MAX_POOL2D, &ty, at, 9, &tx3), "pool 2-D input");
  }
  /* random configurations against the naive reference-style implementation */
  struct {
    int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil;
  } cfg[] = {
      {7, 6, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {8, 8, 3, 3, 2, 2, 1, 1, 2, 1, 0}, {5, 9, 2, 4, 3, 2, 1, 2, 1, 2, 1},
      {6, 6, 4, 4, 3, 3, 2, 2, 1, 1, 1}, {3, 5, 3, 3, 2, 2, 0, 1, 1, 1, 1}, {9, 4, 5, 1, 4, 1, 2, 0, 1, 1, 0},
      {3, 3, 4, 4, 2, 2, 0, 0, 1, 1, 1}, /* input smaller than the kernel: only ceil mode gives an output */
  };
  for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
    int64_t NC = 6, H = cfg[ci].H, W = cfg[ci].W;
    for (int is_max = 0; is_max < 2; is_max++) {
      int64_t dh = is_max ? cfg[ci].dh : 1, dw = is_max ? cfg[ci].dw : 1;
      int64_t OH = py_pool_out(H, cfg[ci].kh, cfg[ci].sh, cfg[ci].ph, dh, (int)cfg[ci].ceil);
      int64_t OW = py_pool_out(W, cfg[ci].kw, cfg[ci].sw, cfg[ci].pw, dw, (int)cfg[ci].ceil);
      if (OH <= 0 || OW <= 0) continue;
      float *x = falloc(NC * H * W), *y = falloc(NC * OH * OW);
      double *r = calloc((size_t)(NC * OH * OW), sizeof(double));
      fill(x, NC * H * W);
      ember_tensor tx = tn(F32, x, 4, D(2, 3, H, W)), ty = tn(F32, y, 4, D(2, 3, OH, OW));
      for (int cip = 0; cip < (is_max ? 1 : 3); cip++) {
        int64_t divisor = cip == 2 ? 3 : 0;
        pool_attrs(at, is_max, cfg[ci].kh, cfg[ci].kw, cfg[ci].sh, cfg[ci].sw, cfg[ci].ph, cfg[ci].pw, dh, dw, cfg[ci].ceil,
                   cip == 1, divisor);
        OK(RUN(is_max ? EMBER_OP_MAX_POOL2D : EMBER_OP_AVG_POOL2D, &ty, at, 9, &tx));
        naive_pool(is_max, x, NC, H, W, cfg[ci].kh, cfg[ci].kw, cfg[ci].sh, cfg[ci].sw, cfg[ci].ph, cfg[ci].pw, dh, dw, OH,
                   OW, cip == 1, divisor, r);
        CHECK(expect_arr("pool vs naive", y, r, NC * OH * OW, 1e-6), "pool config %d max=%d cip=%d", (int)ci, is_max, cip);
        /* the output shape off by one in ceil direction must be rejected */
        ember_tensor tyb = tn(F32, y, 4, D(2, 3, OH + 1, OW));
        REJECT(CHK(is_max ? EMBER_OP_MAX_POOL2D : EMBER_OP_AVG_POOL2D, &tyb, at, 9, &tx), "pool shape off by one");
      }
      free(x), free(y), free(r);
    }
  }
  {
    /* adaptive: 5 -> 3 uses windows [0,2) [1,4) [3,5) */
    float x[10] = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}, y[6];
    ember_tensor tx = T(F32, x, 1, 1, 2, 5), ty = T(F32, y, 1, 1, 2, 3);
    int64_t aa[2] = {2, 3};
    OK(RUN(EMBER_OP_ADAPTIVE_AVG_POOL2D, &ty, aa, 2, &tx));
    EXPECT("adaptive", y, 1e-6, 1.5, 3, 4.5, 15, 30, 45);
    ember_tensor ty1 = T(F32, y, 1, 1, 1, 1);
    int64_t a1[2] = {1, 1};
    OK(RUN(EMBER_OP_ADAPTIVE_AVG_POOL2D, &ty1, a1, 2, &tx));
    EXPECT("adaptive global", y, 1e-6, 16.5);
    /* upsampling: 2 -> 3 rows windows [0,1) [0,2) [1,2) */
    ember_tensor tx2 = T(F32, x, 1, 1, 2, 1), ty3 = T(F32, y, 1, 1, 3, 1);
    int64_t a3[2] = {3, 1};
    OK(RUN(EMBER_OP_ADAPTIVE_AVG_POOL2D, &ty3, a3, 2, &tx2));
    EXPECT("adaptive up", y, 1e-6, 1, 1.5, 2);
    int64_t a0[2] = {0, 1};
    REJECT(CHK(EMBER_OP_ADAPTIVE_AVG_POOL2D, &ty1, a0, 2, &tx), "adaptive size 0");
    REJECT(CHK(EMBER_OP_ADAPTIVE_AVG_POOL2D, &ty, a1, 2, &tx), "adaptive wrong output");
  }
}

/* --------------------------------------------------------------------------------------- reduce */
static void test_reduce(void) {
  int64_t at[2];
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)i;
  ember_tensor tx = T(F32, x, 2, 3, 4);
  {
    float y[8];
    ember_tensor ty = T(F32, y, 2, 4), tyk = T(F32, y, 2, 1, 4);
    at[0] = 2, at[1] = 0; /* axis 1 */
    OK(RUN(EMBER_OP_REDUCE_SUM, &ty, at, 2, &tx));
    EXPECT("reduce_sum axis1", y, 0, 12, 15, 18, 21, 48, 51, 54, 57);
    OK(RUN(EMBER_OP_REDUCE_MEAN, &ty, at, 2, &tx));
    EXPECT("reduce_mean axis1", y, 1e-7, 4, 5, 6, 7, 16, 17, 18, 19);
    at[1] = 1;
    OK(RUN(EMBER_OP_REDUCE_MAX, &tyk, at, 2, &tx));
    EXPECT("reduce_max axis1 keepdim", y, 0, 8, 9, 10, 11, 20, 21, 22, 23);
    REJECT(CHK(EMBER_OP_REDUCE_MAX, &ty, at, 2, &tx), "reduce keepdim shape");
  }
  {
    float y[3];
    ember_tensor ty = T(F32, y, 3);
    at[0] = 5, at[1] = 0; /* axes 0 and 2 */
    OK(RUN(EMBER_OP_REDUCE_SUM, &ty, at, 2, &tx));
    EXPECT("reduce_sum axes 0,2", y, 0, 6 + 54, 22 + 70, 38 + 86);
    float s[1];
    ember_tensor ts = T0(F32, s), ts3 = T(F32, s, 1, 1, 1);
    at[0] = 7;
    OK(RUN(EMBER_OP_REDUCE_MEAN, &ts, at, 2, &tx));
    EXPECT("reduce_mean all", s, 1e-7, 11.5);
    at[1] = 1;
    OK(RUN(EMBER_OP_REDUCE_MAX, &ts3, at, 2, &tx));
    EXPECT("reduce_max all keepdim", s, 0, 23);
    float xn[3] = {1, NAN, 2}, yn[1];
    ember_tensor txn = T(F32, xn, 3), tyn = T0(F32, yn);
    at[0] = 1, at[1] = 0;
    OK(RUN(EMBER_OP_REDUCE_MAX, &tyn, at, 2, &txn));
    CHECK(isnan(yn[0]), "reduce_max NaN propagates");
    at[0] = 8;
    REJECT(CHK(EMBER_OP_REDUCE_SUM, &ts3, at, 2, &tx), "reduce mask beyond rank");
    at[0] = -1;
    REJECT(CHK(EMBER_OP_REDUCE_SUM, &ts3, at, 2, &tx), "reduce negative mask");
    /* mask 0 is the identity */
    float z[24];
    ember_tensor tz = T(F32, z, 2, 3, 4);
    at[0] = 0, at[1] = 0;
    OK(RUN(EMBER_OP_REDUCE_SUM, &tz, at, 2, &tx));
    CHECK(memcmp(z, x, sizeof z) == 0, "reduce mask 0 identity");
  }
  {
    int32_t xi[6] = {INT32_MAX, 1, -5, 7, 2, -9}, yi[2];
    ember_tensor txi = T(I32, xi, 2, 3), tyi = T(I32, yi, 2);
    at[0] = 2, at[1] = 0;
    OK(RUN(EMBER_OP_REDUCE_SUM, &tyi, at, 2, &txi));
    CHECK(yi[0] == INT32_MAX - 4, "i32 sum wraps (%d)", yi[0]);
    CHECK(yi[1] == 0, "i32 sum");
    OK(RUN(EMBER_OP_REDUCE_MAX, &tyi, at, 2, &txi));
    CHECK(yi[0] == INT32_MAX && yi[1] == 7, "i32 max");
    REJECT(CHK(EMBER_OP_REDUCE_MEAN, &tyi, at, 2, &txi), "reduce_mean on i32");
    int64_t xl[4] = {-3, -8, 5, -1}, yl[2];
    ember_tensor txl = T(I64, xl, 2, 2), tyl = T(I64, yl, 2);
    at[0] = 1;
    OK(RUN(EMBER_OP_REDUCE_MAX, &tyl, at, 2, &txl));
    CHECK(yl[0] == 5 && yl[1] == -1, "i64 max axis 0");
    /* max over an empty axis has no identity */
    float e[1], ye[3];
    ember_tensor te = T(F32, e, 0, 3), tye = T(F32, ye, 3);
    REJECT(CHK(EMBER_OP_REDUCE_MAX, &tye, at, 2, &te), "reduce_max over empty axis");
    OK(RUN(EMBER_OP_REDUCE_SUM, &tye, at, 2, &te));
    EXPECT("reduce_sum empty", ye, 0, 0, 0, 0);
  }
}

/* ------------------------------------------------------------------------------------- movement */
static void test_movement(void) {
  {
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {0};
    ember_tensor tx = T(F32, x, 2, 3), ty = T(F32, y, 3, 2), ty5 = T(F32, y, 5);
    OK(RUN(EMBER_OP_RESHAPE, &ty, NULL, 0, &tx));
    EXPECT("reshape copy", y, 0, 1, 2, 3, 4, 5, 6);
    float y2[6] = {0};
    ty.data = y2;
    OK(run_op(EMBER_OP_RESHAPE, INS(&tx), 1, &ty, NULL, 0, true, EMBER_NODE_ALIAS));
    CHECK(y2[0] == 0 && y2[5] == 0, "reshape alias does nothing");
    REJECT(CHK(EMBER_OP_RESHAPE, &ty5, NULL, 0, &tx), "reshape numel");
    ember_tensor tyi = T(I32, y, 3, 2);
    REJECT(CHK(EMBER_OP_RESHAPE, &tyi, NULL, 0, &tx), "reshape dtype");
    /* copy */
    float c[6];
    ember_tensor tc = T(F32, c, 2, 3);
    OK(RUN(EMBER_OP_COPY, &tc, NULL, 0, &tx));
    CHECK(memcmp(c, x, sizeof c) == 0, "copy");
    REJECT(CHK(EMBER_OP_COPY, &ty, NULL, 0, &tx), "copy shape");
  }
  {
    /* permute [2,3,4] by (2,0,1) -> [4,2,3]; out[k][i][j] = x[i][j][k] */
    int64_t x[24], y[24];
    for (int i = 0; i < 24; i++) x[i] = i * 7;
    ember_tensor tx = T(I64, x, 2, 3, 4), ty = T(I64, y, 4, 2, 3);
    int64_t at[8] = {2, 0, 1, 99, -5, 3, 3, 3}; /* slots past the rank are ignored */
    OK(RUN(EMBER_OP_PERMUTE, &ty, at, 8, &tx));
    bool ok = true;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) ok = ok && y[(k * 2 + i) * 3 + j] == x[(i * 3 + j) * 4 + k];
    CHECK(ok, "permute 3-D");
    int64_t bad[8] = {0, 0, 1, 3, 4, 5, 6, 7};
    REJECT(CHK(EMBER_OP_PERMUTE, &ty, bad, 8, &tx), "permute duplicate");
    int64_t bad2[8] = {2, 0, 3, 3, 4, 5, 6, 7};
    REJECT(CHK(EMBER_OP_PERMUTE, &ty, bad2, 8, &tx), "permute out of range");
    int64_t id[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    REJECT(CHK(EMBER_OP_PERMUTE, &ty, id, 8, &tx), "permute output dims");
    uint8_t bx[6] = {1, 0, 0, 1, 1, 0}, by[6];
    ember_tensor tbx = T(BOOL, bx, 2, 3), tby = T(BOOL, by, 3, 2);
    int64_t tr[8] = {1, 0, 2, 3, 4, 5, 6, 7};
    OK(RUN(EMBER_OP_PERMUTE, &tby, tr, 8, &tbx));
    CHECK(by[0] == 1 && by[1] == 1 && by[2] == 0 && by[3] == 1 && by[4] == 0 && by[5] == 0, "permute bool transpose");
  }
  {
    /* expand [3,1] -> [2,3,2] */
    int32_t x[3] = {1, 2, 3}, y[12];
    ember_tensor tx = T(I32, x, 3, 1), ty = T(I32, y, 2, 3, 2);
    OK(RUN(EMBER_OP_EXPAND, &ty, NULL, 0, &tx));
    const int32_t want[12] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3};
    CHECK(memcmp(y, want, sizeof want) == 0, "expand");
    ember_tensor tyb = T(I32, y, 2, 2, 2), tys = T(I32, y, 3);
    REJECT(CHK(EMBER_OP_EXPAND, &tyb, NULL, 0, &tx), "expand 3 -> 2");
    REJECT(CHK(EMBER_OP_EXPAND, &tys, NULL, 0, &tx), "expand to lower rank");
  }
  {
    /* concat three inputs along axis -1 and along axis 0 */
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c[6] = {7, 8, 9, 10, 11, 12}, y[12];
    ember_tensor ta = T(F32, a, 2, 2), tb = T(F32, b, 2, 1), tc = T(F32, c, 2, 3), ty = T(F32, y, 2, 6);
    int64_t ax = -1;
    OK(RUN(EMBER_OP_CONCAT, &ty, &ax, 1, &ta, &tb, &tc));
    EXPECT("concat -1", y, 0, 1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12);
    ember_tensor tc0 = T(F32, c, 3, 2), ty0 = T(F32, y, 5, 2);
    ax = 0;
    OK(RUN(EMBER_OP_CONCAT, &ty0, &ax, 1, &ta, &tc0));
    EXPECT("concat 0", y, 0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12);
    REJECT(CHK(EMBER_OP_CONCAT, &ty, &ax, 1, &ta, &tb, &tc), "concat mismatched non-axis dims");
    ax = 2;
    REJECT(CHK(EMBER_OP_CONCAT, &ty, &ax, 1, &ta, &tb, &tc), "concat axis out of range");
    ax = 1;
    ember_tensor tbi = T(I32, b, 2, 1), tyb = T(F32, y, 2, 5);
    REJECT(CHK(EMBER_OP_CONCAT, &ty, &ax, 1, &ta, &tbi, &tc), "concat dtype mismatch");
    REJECT(CHK(EMBER_OP_CONCAT, &tyb, &ax, 1, &ta, &tb, &tc), "concat output size");
    REJECT(run_op(EMBER_OP_CONCAT, INS(&ta), 0, &ty, &ax, 1, false, 0), "concat with no inputs");
    int64_t la[2] = {1, 2}, lb[1] = {3}, ly[3];
    ember_tensor tla = T(I64, la, 2), tlb = T(I64, lb, 1), tly = T(I64, ly, 3);
    ax = 0;
    OK(RUN(EMBER_OP_CONCAT, &tly, &ax, 1, &tla, &tlb));
    CHECK(ly[0] == 1 && ly[1] == 2 && ly[2] == 3, "concat i64");
  }
  {
    /* slice axis 1 of [2,7]: [1:6:2] -> cols 1,3,5 */
    int32_t x[14], y[14];
    for (int i = 0; i < 14; i++) x[i] = i;
    ember_tensor tx = T(I32, x, 2, 7), ty = T(I32, y, 2, 3);
    int64_t at[4] = {-1, 1, 6, 2};
    OK(RUN(EMBER_OP_SLICE, &ty, at, 4, &tx));
    CHECK(y[0] == 1 && y[1] == 3 && y[2] == 5 && y[3] == 8 && y[4] == 10 && y[5] == 12, "slice step 2");
    int64_t at2[4] = {1, 1, 7, 2}; /* [1:7:2] -> 1,3,5 too */
    OK(RUN(EMBER_OP_SLICE, &ty, at2, 4, &tx));
    CHECK(y[2] == 5 && y[5] == 12, "slice to end");
    int64_t at3[4] = {0, 1, 2, 1};
    ember_tensor ty1 = T(I32, y, 1, 7);
    OK(RUN(EMBER_OP_SLICE, &ty1, at3, 4, &tx));
    CHECK(y[0] == 7 && y[6] == 13, "slice axis 0");
    int64_t bad[][4] = {{1, 1, 8, 1}, {1, 3, 2, 1}, {1, -1, 2, 1}, {1, 0, 3, 0}, {2, 0, 3, 1}, {1, 0, 7, INT64_MAX}};
    for (int i = 0; i < 5; i++) REJECT(CHK(EMBER_OP_SLICE, &ty, bad[i], 4, &tx), "slice bad attrs");
    ember_tensor tyh = T(I32, y, 2, 1);
    OK(CHK(EMBER_OP_SLICE, &tyh, bad[5], 4, &tx)); /* huge step: one element */
    REJECT(CHK(EMBER_OP_SLICE, &ty, bad[5], 4, &tx), "slice huge step wrong shape");
    int64_t emp[4] = {1, 4, 4, 1};
    ember_tensor tye = T(I32, y, 2, 0);
    OK(RUN(EMBER_OP_SLICE, &tye, emp, 4, &tx));
  }
  {
    /* pad [2,2] by ((1,0),(0,2)) with 9 */
    float x[4] = {1, 2, 3, 4}, y[12];
    ember_tensor tx = T(F32, x, 2, 2), ty = T(F32, y, 3, 4);
    int64_t at[17] = {0};
    at[0] = 1, at[1] = 0, at[2] = 0, at[3] = 2;
    at[16] = fbits(9.0);
    OK(RUN(EMBER_OP_PAD, &ty, at, 17, &tx));
    EXPECT("pad", y, 0, 9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9);
    at[9] = -1; /* negative in an unused slot is still rejected, as in ops.py */
    REJECT(CHK(EMBER_OP_PAD, &ty, at, 17, &tx), "pad negative");
    at[9] = 0;
    at[1] = INT64_MAX;
    REJECT(CHK(EMBER_OP_PAD, &ty, at, 17, &tx), "pad overflow");
    at[1] = 1;
    REJECT(CHK(EMBER_OP_PAD, &ty, at, 17, &tx), "pad wrong shape");
  }
  {
    /* cast */
    float f[8] = {1.9f, -1.9f, 0.f, NAN, 3e9f, -3e9f, 1e30f, -0.5f};
    int32_t i32[8];
    int64_t i64[8];
    uint8_t b[8];
    float back[8];
    ember_tensor tf = T(F32, f, 8), ti = T(I32, i32, 8), tl = T(I64, i64, 8), tb = T(BOOL, b, 8), tback = T(F32, back, 8);
    int64_t at[1] = {I32};
    OK(RUN(EMBER_OP_CAST, &ti, at, 1, &tf));
    CHECK(i32[0] == 1 && i32[1] == -1 && i32[2] == 0 && i32[3] == 0 && i32[4] == INT32_MAX && i32[5] == INT32_MIN &&
              i32[6] == INT32_MAX && i32[7] == 0,
          "cast f32->i32 trunc/saturate/NaN");
    at[0] = I64;
    OK(RUN(EMBER_OP_CAST, &tl, at, 1, &tf));
    CHECK(i64[0] == 1 && i64[1] == -1 && i64[3] == 0 && i64[4] == 3000000000LL && i64[5] == -3000000000LL &&
              i64[6] == INT64_MAX,
          "cast f32->i64");
    at[0] = BOOL;
    OK(RUN(EMBER_OP_CAST, &tb, at, 1, &tf));
    CHECK(b[0] == 1 && b[2] == 0 && b[3] == 1 && b[7] == 1, "cast f32->bool");
    at[0] = F32;
    OK(RUN(EMBER_OP_CAST, &tback, at, 1, &tb));
    EXPECT("cast bool->f32", back, 0, 1, 1, 0, 1, 1, 1, 1, 1);
    int32_t odd[2] = {16777217, -3};
    float of[2];
    ember_tensor todd = T(I32, odd, 2), tof = T(F32, of, 2);
    at[0] = F32;
    OK(RUN(EMBER_OP_CAST, &tof, at, 1, &todd));
    CHECK(of[0] == 16777216.f && of[1] == -3.f, "cast i32->f32 rounds to nearest");
    int64_t big[3] = {4294967297LL, -1, 2147483648LL};
    int32_t w[3];
    ember_tensor tbig = T(I64, big, 3), tw = T(I32, w, 3);
    at[0] = I32;
    OK(RUN(EMBER_OP_CAST, &tw, at, 1, &tbig));
    CHECK(w[0] == 1 && w[1] == -1 && w[2] == INT32_MIN, "cast i64->i32 wraps");
    /* in place f32 -> i32 (same size) */
    float g[3] = {2.5f, -7.9f, 100.f};
    ember_tensor tg = T(F32, g, 3), tgo = T(I32, g, 3);
    OK(RUN(EMBER_OP_CAST, &tgo, at, 1, &tg));
    int32_t gi[3];
    memcpy(gi, g, sizeof gi);
    CHECK(gi[0] == 2 && gi[1] == -7 && gi[2] == 100, "cast in place");
    at[0] = I64;
    REJECT(CHK(EMBER_OP_CAST, &ti, at, 1, &tf), "cast attr != output dtype");
    at[0] = EMBER_DTYPE_F16;
    REJECT(CHK(EMBER_OP_CAST, &ti, at, 1, &tf), "cast to f16");
    at[0] = I32;
    ember_tensor ti4 = T(I32, i32, 4);
    REJECT(CHK(EMBER_OP_CAST, &ti4, at, 1, &tf), "cast shape");
  }
}

/* ------------------------------------------------------------------------------------ embedding */
static void test_embedding(void) {
  float w[8] = {0, 1, 10, 11, 20, 21, 30, 31}, y[12];
  int32_t idx[2][3] = {{3, 0, 2}, {1, 1, 0}};
  ember_tensor tw = T(F32, w, 4, 2), ti = T(I32, idx, 2, 3), ty = T(F32, y, 2, 3, 2);
  OK(RUN(EMBER_OP_EMBEDDING, &ty, NULL, 0, &tw, &ti));
  EXPECT("embedding i32", y, 0, 30, 31, 0, 1, 20, 21, 10, 11, 10, 11, 0, 1);
  int64_t l[2] = {2, 3};
  ember_tensor tl = T(I64, l, 2), tyl = T(F32, y, 2, 2);
  OK(RUN(EMBER_OP_EMBEDDING, &tyl, NULL, 0, &tw, &tl));
  EXPECT("embedding i64", y, 0, 20, 21, 30, 31);
  int64_t s0[1] = {1};
  ember_tensor ts = T0(I64, s0), tys = T(F32, y, 2);
  OK(RUN(EMBER_OP_EMBEDDING, &tys, NULL, 0, &tw, &ts));
  EXPECT("embedding scalar index", y, 0, 10, 11);
  int64_t bad[2] = {1, 4};
  ember_tensor tbad = T(I64, bad, 2);
  ember_status s = RUN(EMBER_OP_EMBEDDING, &tyl, NULL, 0, &tw, &tbad);
  CHECK(s == EMBER_ERR_RUNTIME && strstr(g_err, "index 4 out of range [0, 4)"), "embedding index 4 (%d: %s)", (int)s, g_err);
  int32_t neg[1] = {-1};
  ember_tensor tneg = T(I32, neg, 1), ty1 = T(F32, y, 1, 2);
  s = RUN(EMBER_OP_EMBEDDING, &ty1, NULL, 0, &tw, &tneg);
  CHECK(s == EMBER_ERR_RUNTIME && strstr(g_err, "index -1 out of range"), "embedding index -1 (%d: %s)", (int)s, g_err);
  int64_t huge[1] = {INT64_MIN};
  ember_tensor thuge = T(I64, huge, 1);
  s = RUN(EMBER_OP_EMBEDDING, &ty1, NULL, 0, &tw, &thuge);
  CHECK(s == EMBER_ERR_RUNTIME, "embedding INT64_MIN index");
  ember_tensor tif = T(F32, l, 2), tw3 = T(F32, w, 2, 2, 2), tyw = T(F32, y, 2, 3);
  REJECT(CHK(EMBER_OP_EMBEDDING, &tyl, NULL, 0, &tw, &tif), "embedding float indices");
  REJECT(CHK(EMBER_OP_EMBEDDING, &tyl, NULL, 0, &tw3, &tl), "embedding 3-D table");
  REJECT(CHK(EMBER_OP_EMBEDDING, &tyw, NULL, 0, &tw, &tl), "embedding output shape");
  int64_t i8[1] = {0};
  ember_tensor t8 = tn(I64, i8, 8, D(1, 1, 1, 1, 1, 1, 1, 1)), ty8 = tn(F32, y, 8, D(1, 1, 1, 1, 1, 1, 1, 2));
  REJECT(CHK(EMBER_OP_EMBEDDING, &ty8, NULL, 0, &tw, &t8), "embedding rank-8 indices (output rank 9)");
}

/* ------------------------------------------------------------------------------------------ sdpa */
/* Naive attention over explicit (already broadcast) [B, L, E], [B, S, E], [B, S, Ev] and an additive
 * mask [B, L, S] (NULL for none; -inf for masked). Fully masked rows give zeros. */
static void naive_sdpa(const float *q, const float *k, const float *v, const double *mask, int64_t B, int64_t L, int64_t S,
                       int64_t E, int64_t Ev, double scale, double *out) {
  double sc[64];
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < L; i++) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; j++) {
        double d = 0;
        for (int64_t e = 0; e < E; e++) d += (double)q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        sc[j] = d * scale + (mask ? mask[(b * L + i) * S + j] : 0.0);
        if (sc[j] > mx) mx = sc[j];
      }
      double den = 0;
      for (int64_t j = 0; j < S; j++) den += sc[j] == -INFINITY ? 0.0 : exp(sc[j] - mx);
      for (int64_t e = 0; e < Ev; e++) {
        double acc = 0;
        if (den > 0)
          for (int64_t j = 0; j < S; j++) acc += (sc[j] == -INFINITY ? 0.0 : exp(sc[j] - mx)) / den * v[(b * S + j) * Ev + e];
        out[(b * L + i) * Ev + e] = acc;
      }
    }
}

static void test_sdpa(void) {
  int64_t at[2];
  {
    /* hand: scores [0, ln 3] with scale 1 -> p = [1/4, 3/4]; v = [4, 8] -> 7 */
    float q[1] = {1}, k[2] = {0, (float)log(3.0)}, v[2] = {4, 8}, y[1];
    ember_tensor tq = T(F32, q, 1, 1), tk = T(F32, k, 2, 1), tv = T(F32, v, 2, 1), ty = T(F32, y, 1, 1);
    at[0] = 0, at[1] = fbits(1.0);
    OK(RUN(EMBER_OP_SDPA, &ty, at, 2, &tq, &tk, &tv));
    EXPECT("sdpa hand", y, 1e-6, 7);
    CHECK(g_scratch >= 2 * sizeof(float), "sdpa requests scratch for S scores (%llu)", (unsigned long long)g_scratch);
    /* default scale 1/sqrt(E) with E = 4: q.k = 2*ln3 -> scaled ln3 */
    float q4[4] = {1, 1, 1, 1}, k4[8] = {0, 0, 0, 0, 0.5f * (float)log(3.0), 0.5f * (float)log(3.0), 0.5f * (float)log(3.0),
                                        0.5f * (float)log(3.0)};
    ember_tensor tq4 = T(F32, q4, 1, 4), tk4 = T(F32, k4, 2, 4);
    at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_SDPA, &ty, at, 2, &tq4, &tk4, &tv));
    EXPECT("sdpa default scale", y, 1e-6, 7);
    /* causal with L=2, S=2: row 0 sees only key 0 */
    float q2[2] = {1, 1}, y2[2];
    ember_tensor tq2 = T(F32, q2, 2, 1), ty2 = T(F32, y2, 2, 1);
    at[0] = 1, at[1] = fbits(1.0);
    OK(RUN(EMBER_OP_SDPA, &ty2, at, 2, &tq2, &tk, &tv));
    EXPECT("sdpa causal hand", y2, 1e-6, 4, 7);
  }
  {
    /* q [2,3,4,5], k/v [2,3,4,5]/[2,3,4,3]: causal == explicit bool tril mask == naive */
    enum { B = 6, L = 4, S = 4, E = 5, EV = 3 };
    float q[B * L * E], k[B * S * E], v[B * S * EV], y1[B * L * EV], y2[B * L * EV];
    fill(q, B * L * E), fill(k, B * S * E), fill(v, B * S * EV);
    ember_tensor tq = T(F32, q, 2, 3, L, E), tk = T(F32, k, 2, 3, S, E), tv = T(F32, v, 2, 3, S, EV);
    ember_tensor ty1 = T(F32, y1, 2, 3, L, EV), ty2 = T(F32, y2, 2, 3, L, EV);
    at[0] = 1, at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv));
    uint8_t tril[L * S];
    double madd[B * L * S];
    for (int i = 0; i < L; i++)
      for (int j = 0; j < S; j++) tril[i * S + j] = j <= i;
    for (int b = 0; b < B; b++)
      for (int i = 0; i < L * S; i++) madd[b * L * S + i] = tril[i] ? 0.0 : -INFINITY;
    ember_tensor tm = T(BOOL, tril, L, S);
    at[0] = 0;
    OK(RUN(EMBER_OP_SDPA, &ty2, at, 2, &tq, &tk, &tv, &tm));
    CHECK(expect_ff("causal vs mask", y1, y2, B * L * EV, 1e-6), "sdpa causal == bool tril mask");
    double want[B * L * EV];
    naive_sdpa(q, k, v, madd, B, L, S, E, EV, 1 / sqrt((double)E), want);
    CHECK(expect_arr("causal vs naive", y1, want, B * L * EV, 1e-5), "sdpa causal vs naive");
    /* additive float mask [L, S] broadcast over batch, scale 0.7 */
    float fm[L * S];
    fill(fm, L * S);
    for (int b = 0; b < B; b++)
      for (int i = 0; i < L * S; i++) madd[b * L * S + i] = fm[i];
    ember_tensor tfm = T(F32, fm, L, S);
    at[0] = 0, at[1] = fbits(0.7);
    OK(RUN(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv, &tfm));
    naive_sdpa(q, k, v, madd, B, L, S, E, EV, 0.7, want);
    CHECK(expect_arr("float mask vs naive", y1, want, B * L * EV, 1e-5), "sdpa float mask vs naive");
    /* a bool mask [2,1,L,S] whose row 1 is all false in batch 0: that row is zeros */
    uint8_t bm[2 * L * S];
    for (int i = 0; i < 2 * L * S; i++) bm[i] = (uint8_t)((i * 7 + 3) % 5 != 0);
    for (int j = 0; j < S; j++) bm[1 * S + j] = 0;
    for (int b = 0; b < B; b++)
      for (int i = 0; i < L * S; i++) madd[b * L * S + i] = bm[(b / 3) * L * S + i] ? 0.0 : -INFINITY;
    ember_tensor tbm = T(BOOL, bm, 2, 1, L, S);
    at[0] = 0, at[1] = fbits(0.0);
    OK(RUN(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv, &tbm));
    naive_sdpa(q, k, v, madd, B, L, S, E, EV, 1 / sqrt((double)E), want);
    CHECK(expect_arr("bool mask vs naive", y1, want, B * L * EV, 1e-5), "sdpa bool mask vs naive");
    bool zeros = true;
    for (int b = 0; b < 3; b++)
      for (int e = 0; e < EV; e++) zeros = zeros && y1[(b * L + 1) * EV + e] == 0.f;
    CHECK(zeros, "sdpa fully masked row gives zeros");
    /* k/v batch broadcast: k [1,3,S,E], v [2,1,S,EV] against explicitly broadcast copies */
    float kb[B * S * E], vb[B * S * EV];
    for (int b = 0; b < B; b++) {
      memcpy(kb + b * S * E, k + (b % 3) * S * E, sizeof(float) * S * E);
      memcpy(vb + b * S * EV, v + (b / 3) * S * EV, sizeof(float) * S * EV);
    }
    ember_tensor tk1 = T(F32, k, 1, 3, S, E), tv1 = T(F32, v, 2, 1, S, EV);
    OK(RUN(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk1, &tv1));
    naive_sdpa(q, kb, vb, NULL, B, L, S, E, EV, 1 / sqrt((double)E), want);
    CHECK(expect_arr("kv broadcast vs naive", y1, want, B * L * EV, 1e-5), "sdpa k/v batch broadcast");
    /* rejections */
    ember_tensor tk3 = T(F32, k, 3, 2, S, E), tkE = T(F32, k, 2, 3, S, E - 1), tvS = T(F32, v, 2, 3, S - 1, EV);
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk3, &tv), "sdpa k batch not broadcastable to q");
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tkE, &tv), "sdpa E mismatch");
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tvS), "sdpa S mismatch");
    ember_tensor tmi = T(I32, fm, L, S), tmb = T(F32, fm, L, S + 1), tmr = T(F32, fm, 1, 1, 1, 1, 1);
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv, &tmi), "sdpa i32 mask");
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv, &tmb), "sdpa mask shape");
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk, &tv, &tmr), "sdpa mask rank too high");
    ember_tensor tyb = T(F32, y1, 2, 3, L, EV + 1), tk2 = T(F32, k, 3, S, E);
    REJECT(CHK(EMBER_OP_SDPA, &tyb, at, 2, &tq, &tk, &tv), "sdpa output shape");
    REJECT(CHK(EMBER_OP_SDPA, &ty1, at, 2, &tq, &tk2, &tv), "sdpa k rank");
    ember_tensor tq0 = T(F32, q, 1, 0), tk0 = T(F32, k, 2, 0), ty0 = T(F32, y1, 1, 3), tv0 = T(F32, v, 2, 3);
    REJECT(CHK(EMBER_OP_SDPA, &ty0, at, 2, &tq0, &tk0, &tv0), "sdpa E=0 with default scale");
  }
}

int main(void) {
  test_conv2d();
  test_gemm();
  test_binary();
  test_compare_where();
  test_softmax();
  test_norms();
  test_pools();
  test_reduce();
  test_movement();
  test_embedding();
  test_sdpa();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
