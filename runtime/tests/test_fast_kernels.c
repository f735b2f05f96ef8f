/* Fast kernels against the reference kernels (the oracle): every GEMM microkernel this CPU can run
 * against a naive product, and the fast linear / conv2d against ref linear / conv2d, on random shapes
 * with sizes of 1, primes and tails that do not fill a register, with 1 and 3 threads.
 * Prints "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/fast/f32_gemm.h"
#include "../kernels/fast/vmath.h"
#include "fast_test_util.h"

static void test_ukernel(ember_f32_ukernel uk, size_t max_mr, size_t max_nr, const char *name) {
  for (int trial = 0; trial < 300; trial++) {
    size_t mr = irand(1, max_mr), nr = irand(1, max_nr), k = trial < 20 ? (size_t)trial + 1 : irand(1, 700);
    size_t lda = k + irand(0, 3), ldc = nr + irand(0, 5);
    size_t panels = (nr + 15) / 16, stride = k * 16 + 16 * irand(0, 2); /* panels not always adjacent */
    int acc = (int)(rnd() & 1);
    float *a = malloc(sizeof(float) * mr * lda), *b = aligned_alloc(64, sizeof(float) * (stride * panels + 16));
    float *c = malloc(sizeof(float) * mr * ldc), *want = malloc(sizeof(float) * mr * ldc);
    for (size_t i = 0; i < mr * lda; i++) a[i] = frand();
    for (size_t i = 0; i < stride * panels; i++) b[i] = frand();
    for (size_t i = 0; i < mr * ldc; i++) c[i] = want[i] = frand();
    for (size_t r = 0; r < mr; r++)
      for (size_t j = 0; j < nr; j++) {
        double s = 0;
        for (size_t p = 0; p < k; p++) s += (double)a[r * lda + p] * b[(j / 16) * stride + p * 16 + j % 16];
        want[r * ldc + j] = (float)(acc ? want[r * ldc + j] + s : s);
      }
    uk(mr, nr, k, a, lda, b, stride, c, ldc, acc);
    double e = max_rel_err(c, want, mr * ldc); /* columns past nr must be untouched too */
    char what[128];
    snprintf(what, sizeof what, "%s mr=%zu nr=%zu k=%zu acc=%d", name, mr, nr, k, acc);
    check(e < 1e-4 * sqrt((double)k + 1), what, e);
    free(a);
    free(b);
    free(c);
    free(want);
  }
}

/* packed-A microkernel + its packer: pack mr rows (zero rows past mr checked), then the product */
static void test_ukernel_packed(ember_f32_ukernel_pa uk, ember_f32_pack_a_fn pack, const char *name) {
  const size_t mrp = EMBER_GEMM_MR_PACK;
  for (int trial = 0; trial < 400; trial++) {
    size_t mr = trial < 24 ? (size_t)trial % mrp + 1 : irand(1, mrp);
    size_t nr = trial < 24 ? (trial < 12 ? 32 : 16) : irand(1, 32);
    size_t k = trial < 40 ? (size_t)trial + 1 : irand(1, 700);
    size_t lda = k + irand(0, 19), ldc = nr + irand(0, 5);
    size_t panels = (nr + 15) / 16, stride = k * 16 + 16 * irand(0, 2); /* panels not always adjacent */
    int acc = (int)(rnd() & 1);
    float *a = malloc(sizeof(float) * mr * lda), *b = aligned_alloc(64, sizeof(float) * (stride * panels + 16));
    float *ap = aligned_alloc(64, (sizeof(float) * (mrp * k + 16) + 63) / 64 * 64);
    float *c = malloc(sizeof(float) * mr * ldc), *want = malloc(sizeof(float) * mr * ldc);
    for (size_t i = 0; i < mr * lda; i++) a[i] = frand();
    for (size_t i = 0; i < stride * panels; i++) b[i] = frand();
    for (size_t i = 0; i < mrp * k + 16; i++) ap[i] = 777.f;
    for (size_t i = 0; i < mr * ldc; i++) c[i] = want[i] = frand();
    pack(mr, k, a, lda, ap);
    int pack_ok = ap[mrp * k] == 777.f; /* nothing written past the panel */
    for (size_t p = 0; p < k; p++)
      for (size_t r = 0; r < mrp; r++) pack_ok &= ap[p * mrp + r] == (r < mr ? a[r * lda + p] : 0.f);
    char what[128];
    snprintf(what, sizeof what, "%s pack mr=%zu k=%zu", name, mr, k);
    check(pack_ok, what, 0);
    for (size_t r = 0; r < mr; r++)
      for (size_t j = 0; j < nr; j++) {
        double sum = 0;
        for (size_t p = 0; p < k; p++) sum += (double)a[r * lda + p] * b[(j / 16) * stride + p * 16 + j % 16];
        want[r * ldc + j] = (float)(acc ? want[r * ldc + j] + sum : sum);
      }
    uk(mr, nr, k, ap, b, stride, c, ldc, acc, trial % 3 ? b : NULL); /* prefetch hints never change a result */
    double e = max_rel_err(c, want, mr * ldc); /* columns past nr must be untouched too */
    snprintf(what, sizeof what, "%s mr=%zu nr=%zu k=%zu acc=%d", name, mr, nr, k, acc);
    check(e < 1e-4 * sqrt((double)k + 1), what, e);
    free(a);
    free(b);
    free(ap);
    free(c);
    free(want);
  }
}

static void test_gemv(ember_f32_gemv_fn fn, const char *name) {
  for (int trial = 0; trial < 100; trial++) {
    size_t n = irand(1, 90), k = trial < 10 ? (size_t)trial + 1 : irand(1, 500), panels = (n + 15) / 16;
    float *x = frand_array((int64_t)k), *w = aligned_alloc(64, sizeof(float) * panels * k * 16);
    float *y = malloc(sizeof(float) * (n + 1)), *want = malloc(sizeof(float) * n);
    for (size_t i = 0; i < panels * k * 16; i++) w[i] = frand();
    y[n] = 12345.f; /* guard: nothing past n is written */
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t p = 0; p < k; p++) s += (double)x[p] * w[(j / 16) * k * 16 + p * 16 + j % 16];
      want[j] = (float)s;
    }
    fn(n, k, x, w, y);
    char what[96];
    snprintf(what, sizeof what, "%s n=%zu k=%zu", name, n, k);
    double e = max_rel_err(y, want, n);
    check(e < 1e-4 * sqrt((double)k + 1) && y[n] == 12345.f, what, e);
    free(x);
    free(w);
    free(y);
    free(want);
  }
}

static double g_tol = 2e-5; /* compare_op's bound on max_rel_err; long fp32 sums (linear, K > 600) raise it */

static void compare_op_gtol(int32_t op, const ember_tensor **in, int n_in, ember_tensor *y_ref, ember_tensor *y_fast,
                            const int64_t *attr, int n_attr, ember_pool *pool, const char *what) {
  compare_op_tol(op, in, n_in, y_ref, y_fast, attr, n_attr, pool, what, g_tol);
}
static void test_linear(ember_pool *pool) {
  for (int trial = 0; trial < 56; trial++) {
    int64_t m = (int64_t)irand(1, trial % 3 ? 20 : 100), k = (int64_t)irand(1, 600);
    int64_t n = (int64_t)irand(1, trial % 4 ? 70 : 300); /* past 128 columns: the packed-A path (AVX-512) */
    if (trial >= 40) { /* the blocked GEMM's edges: several row tiles (M not a multiple of 12), K blocks with a
                          ragged last one, N not a multiple of 32, one huge K; decode rows (m < 4) too */
      /* 52..55: several row tiles and K blocks with bias and an activation (the epilogue runs once, after
         the last K block) */
      static const int64_t ms[16] = {4, 13, 150, 301, 97, 2, 12, 145, 290, 25, 3, 288, 277, 145, 12, 300};
      static const int64_t ks[16] = {1100, 2600, 513, 300, 4100, 700, 255, 640, 129, 1999, 1025, 1030, 1537, 1024, 2049, 517};
      static const int64_t ns[16] = {33, 200, 47, 161, 80, 130, 96, 17, 300, 64, 75, 544, 129, 33, 32, 1};
      m = ms[trial - 40];
      k = ks[trial - 40];
      n = ns[trial - 40];
    }
    g_tol = k > 600 ? 2e-5 * sqrt((double)k / 600.0) : 2e-5; /* fp32 sums of k terms (K blocks <= 1024) */
    int64_t xd[2] = {m, k}, wd[2] = {n, k}, bd[1] = {n}, yd[2] = {m, n};
    float *xv = frand_array(m * k), *wv = frand_array(n * k), *bv = frand_array(n);
    float *yr = calloc((size_t)(m * n), 4), *yf = calloc((size_t)(m * n), 4);
    ember_tensor x = tensor(2, xd, EMBER_STORAGE_ARENA, xv), w = tensor(2, wd, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(1, bd, EMBER_STORAGE_CONST, bv), y1 = tensor(2, yd, 0, yr), y2 = tensor(2, yd, 0, yf);
    const ember_tensor *in[3] = {&x, &w, &b};
    double lo = -0.5, hi = 0.5;
    int act = trial >= 52 ? (trial - 52) * 2 + 1 : trial % 9, with_bias = trial % 2 || trial >= 52;
    int64_t attr[3] = {(int64_t)act, 0, 0};
    memcpy(&attr[1], &lo, 8);
    memcpy(&attr[2], &hi, 8);
    char what[128];
    snprintf(what, sizeof what, "linear m=%lld k=%lld n=%lld act=%d threads=%d", (long long)m, (long long)k,
             (long long)n, act, ember_pool_threads(pool));
    compare_op_gtol(EMBER_OP_LINEAR, in, with_bias ? 3 : 2, &y1, &y2, attr, 3, pool, what);
    /* the same product with the weight packed into panels (as the exporter writes linear_packed) */
    int64_t panels = (n + 15) / 16, pd[3] = {panels, k, 16};
    float *pv = aligned_alloc(64, (size_t)(panels * k * 16) * 4 + 64);
    for (int64_t p = 0; p < panels; p++)
      for (int64_t kk = 0; kk < k; kk++)
        for (int64_t jj = 0; jj < 16; jj++)
          pv[(p * k + kk) * 16 + jj] = p * 16 + jj < n ? wv[(p * 16 + jj) * k + kk] : 0.f;
    ember_tensor wp = tensor(3, pd, EMBER_STORAGE_CONST, pv);
    const ember_tensor *inp[3] = {&x, &wp, &b};
    int64_t pattr[4] = {n, attr[0], attr[1], attr[2]};
    memset(yr, 0, (size_t)(m * n) * 4);
    memset(yf, 0, (size_t)(m * n) * 4);
    strncat(what, " packed", sizeof what - strlen(what) - 1);
    compare_op_gtol(EMBER_OP_LINEAR_PACKED, inp, with_bias ? 3 : 2, &y1, &y2, pattr, 4, pool, what);
    if (trial % 3 == 0 || trial >= 40) { /* a fused residual (the output's shape), added before the activation */
      float *rv = frand_array(m * n);
      ember_tensor res = tensor(2, yd, EMBER_STORAGE_ARENA, rv);
      const ember_tensor *inr[4] = {&x, &wp, &b, &res};
      memset(yr, 0, (size_t)(m * n) * 4);
      memset(yf, 0, (size_t)(m * n) * 4);
      strncat(what, " residual", sizeof what - strlen(what) - 1);
      compare_op_gtol(EMBER_OP_LINEAR_PACKED, inr, 4, &y1, &y2, pattr, 4, pool, what);
      free(rv);
    }
    free(pv);
    free(xv);
    free(wv);
    free(bv);
    free(yr);
    free(yf);
  }
  g_tol = 2e-5;
}

static void test_conv(ember_pool *pool) {
  for (int trial = 0; trial < 90; trial++) {
    int64_t groups = trial % 4 == 0 ? (int64_t)irand(2, 5) : 1;
    int depthwise = trial % 5 == 1;
    int64_t cg = depthwise ? 1 : (int64_t)irand(1, 9), og = depthwise ? 1 : (int64_t)irand(1, 13);
    if (depthwise) groups = (int64_t)irand(1, 12);
    if (trial % 10 == 3) og = (int64_t)irand(97, 230); /* more output channels than one tile holds */
    int unit_stride = depthwise && trial % 2 == 0;     /* the padded-plane depthwise path */
    int64_t n = (int64_t)irand(1, 2), c = cg * groups, o = og * groups;
    int64_t kh = (int64_t)irand(1, 5), kw = (int64_t)irand(1, 5), sh = (int64_t)irand(1, 3), sw = (int64_t)irand(1, 3);
    if (unit_stride) sh = sw = 1;
    int64_t dh = (int64_t)irand(1, 2), dw = (int64_t)irand(1, 2), ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, 19) + dh * (kh - 1), wd = (int64_t)irand(1, 23) + dw * (kw - 1);
    int64_t oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, ow = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    int64_t xd[4] = {n, c, h, wd}, wdims[4] = {o, cg, kh, kw}, bd[1] = {o}, yd[4] = {n, o, oh, ow};
    float *xv = frand_array(n * c * h * wd), *wv = frand_array(o * cg * kh * kw), *bv = frand_array(o);
    float *yr = calloc((size_t)(n * o * oh * ow), 4), *yf = calloc((size_t)(n * o * oh * ow), 4);
    ember_tensor x = tensor(4, xd, EMBER_STORAGE_ARENA, xv), w = tensor(4, wdims, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(1, bd, EMBER_STORAGE_CONST, bv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    const ember_tensor *in[3] = {&x, &w, &b};
    double lo = 0.0, hi = 6.0;
    int64_t attr[10] = {sh, sw, ph, pw, dh, dw, groups, trial % 3 == 0 ? EMBER_ACT_CLAMP : EMBER_ACT_NONE, 0, 0};
    memcpy(&attr[8], &lo, 8);
    memcpy(&attr[9], &hi, 8);
    char what[200];
    snprintf(what, sizeof what, "conv2d n=%lld c=%lld o=%lld g=%lld %lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld "
             "p=%lld,%lld threads=%d", (long long)n, (long long)c, (long long)o, (long long)groups, (long long)h,
             (long long)wd, (long long)kh, (long long)kw, (long long)sh, (long long)sw, (long long)dh, (long long)dw,
             (long long)ph, (long long)pw, ember_pool_threads(pool));
    compare_op_gtol(EMBER_OP_CONV2D, in, trial % 2 ? 3 : 2, &y1, &y2, attr, 10, pool, what);
    free(xv);
    free(wv);
    free(bv);
    free(yr);
    free(yf);
  }
}

static void test_vexp(void) {
  double worst = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = -87.f + 175.f * (float)i / 200000.f;
    double want = exp((double)x), got = ember_expf_poly(x);
    double rel = fabs(got - want) / want;
    if (rel > worst) worst = rel;
  }
  check(worst < 3e-7, "vexp relative error over [-87, 88]", worst);
  check(ember_expf_poly(-1000.f) == 0.f && ember_expf_poly(-INFINITY) == 0.f, "vexp underflow to 0", 0);
  check(ember_expf_poly(NAN) != ember_expf_poly(NAN), "vexp NaN", 0);
}

static void test_vmath(void) {
  double e_erf = 0, e_tanh = 0, e_sig = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = -12.f + 24.f * (float)i / 200000.f;
    double d1 = fabs((double)ember_erff_poly(x) - erf((double)x));
    double d2 = fabs((double)ember_tanhf_poly(x) - tanh((double)x));
    double d3 = fabs((double)ember_sigmoidf(x) - 1.0 / (1.0 + exp(-(double)x)));
    if (d1 > e_erf) e_erf = d1;
    if (d2 > e_tanh) e_tanh = d2;
    if (d3 > e_sig) e_sig = d3;
  }
  check(e_erf < 5e-7, "erf approximation absolute error over [-12, 12]", e_erf);
  check(e_tanh < 5e-7, "tanh approximation absolute error over [-12, 12]", e_tanh);
  check(e_sig < 2e-7, "sigmoid absolute error over [-12, 12]", e_sig);
}

/* fast elementwise / norm / softmax kernels against the reference on random shapes */
static void test_elementwise(ember_pool *pool) {
  static const int32_t bin_ops[] = {EMBER_OP_ADD, EMBER_OP_SUB, EMBER_OP_MUL, EMBER_OP_DIV, EMBER_OP_MAXIMUM,
                                    EMBER_OP_MINIMUM};
  for (int trial = 0; trial < 80; trial++) {
    int r = (int)irand(1, 4);
    int64_t od[4], ad[4], bd[4];
    int64_t n = 1;
    for (int d = 0; d < r; d++) {
      od[d] = (int64_t)irand(1, trial % 7 == 0 && d == r - 1 ? 300 : 13);
      n *= od[d];
      ad[d] = rnd() % 4 == 0 ? 1 : od[d];
      bd[d] = rnd() % 3 == 0 ? 1 : od[d];
    }
    for (int d = 0; d < r; d++) ad[d] = od[d]; /* a full: the kernel under test sees b broadcast */
    int rb = (int)irand(1, (size_t)r); /* b may have lower rank (right-aligned) */
    int64_t bdr[4];
    for (int d = 0; d < rb; d++) bdr[d] = bd[r - rb + d];
    int64_t nb = 1;
    for (int d = 0; d < rb; d++) nb *= bdr[d];
    float *av = frand_array(n), *bv = frand_array(nb), *yr = calloc((size_t)n, 4), *yf = calloc((size_t)n, 4);
    for (int64_t i = 0; i < nb; i++) bv[i] = bv[i] + (bv[i] >= 0 ? 0.5f : -0.5f); /* away from 0 for div */
    int swap = trial % 2;
    ember_tensor ta = tensor(r, ad, 0, av), tb = tensor(rb, bdr, 0, bv), y1 = tensor(r, od, 0, yr), y2 = tensor(r, od, 0, yf);
    const ember_tensor *in[2] = {swap ? &tb : &ta, swap ? &ta : &tb};
    int32_t op = bin_ops[trial % 6];
    double lo = -0.25, hi = 0.75;
    int64_t attr[3] = {(int64_t)(trial % 9), 0, 0};
    memcpy(&attr[1], &lo, 8);
    memcpy(&attr[2], &hi, 8);
    char what[128];
    snprintf(what, sizeof what, "binary op %d rank %d (b rank %d, swapped %d) act %d threads %d", op, r, rb, swap,
             trial % 9, ember_pool_threads(pool));
    ember_kargs probe;
    memset(&probe, 0, sizeof probe);
    probe.op = op;
    probe.in = in;
    probe.n_in = 2;
    ember_tensor *o[1] = {&y1};
    probe.out = o;
    probe.n_out = 1;
    if (ember_fast_kernel_select(&probe)) compare_op_gtol(op, in, 2, &y1, &y2, attr, 3, pool, what);
    /* unary + norms + softmax on the full tensor */
    static const int32_t un_ops[] = {EMBER_OP_RELU, EMBER_OP_SIGMOID, EMBER_OP_TANH, EMBER_OP_SILU, EMBER_OP_EXP,
                                     EMBER_OP_NEG, EMBER_OP_HARDSWISH, EMBER_OP_GELU, EMBER_OP_ABS};
    int32_t uop = un_ops[trial % 9];
    const ember_tensor *uin[1] = {&ta};
    int64_t uattr[1] = {trial % 2};
    snprintf(what, sizeof what, "unary op %d n %lld", uop, (long long)n);
    compare_op_gtol(uop, uin, 1, &y1, &y2, uattr, uop == EMBER_OP_GELU ? 1 : 0, pool, what);
    int64_t sattr[1] = {r - 1};
    snprintf(what, sizeof what, "softmax rank %d last %lld", r, (long long)od[r - 1]);
    compare_op_gtol(trial % 2 ? EMBER_OP_SOFTMAX : EMBER_OP_LOG_SOFTMAX, uin, 1, &y1, &y2, sattr, 1, pool, what);
    int64_t k = (int64_t)irand(1, (size_t)r), nd[4], nn = 1;
    for (int d = 0; d < k; d++) {
      nd[d] = od[r - k + d];
      nn *= nd[d];
    }
    float *wv = frand_array(nn), *bb = frand_array(nn);
    ember_tensor tw = tensor((int)k, nd, 0, wv), tbias = tensor((int)k, nd, 0, bb);
    const ember_tensor *nin[3] = {&ta, &tw, &tbias};
    double eps = 1e-5;
    int64_t nattr[2] = {k, 0};
    memcpy(&nattr[1], &eps, 8);
    int nin_count = (int)(1 + trial % 3);
    snprintf(what, sizeof what, "layer_norm rank %d axes %lld inputs %d", r, (long long)k, nin_count);
    compare_op_gtol(EMBER_OP_LAYER_NORM, nin, nin_count, &y1, &y2, nattr, 2, pool, what);
    snprintf(what, sizeof what, "rms_norm rank %d axes %lld inputs %d", r, (long long)k, nin_count > 2 ? 2 : nin_count);
    compare_op_gtol(EMBER_OP_RMS_NORM, nin, nin_count > 2 ? 2 : nin_count, &y1, &y2, nattr, 2, pool, what);
    free(av);
    free(bv);
    free(yr);
    free(yf);
    free(wv);
    free(bb);
  }
}

static void test_maxpool(ember_pool *pool) {
  for (int trial = 0; trial < 40; trial++) {
    int64_t kh = (int64_t)irand(1, 4), kw = (int64_t)irand(1, 4), sh = (int64_t)irand(1, 3), sw = (int64_t)irand(1, 3);
    int64_t dh = (int64_t)irand(1, 2), dw = (int64_t)irand(1, 2), ph = (int64_t)irand(0, (size_t)kh / 2);
    int64_t pw = (int64_t)irand(0, (size_t)kw / 2), ceil_mode = (int64_t)(rnd() & 1);
    int64_t n = (int64_t)irand(1, 2), c = (int64_t)irand(1, 5);
    int64_t h = (int64_t)irand(1, 30) + dh * (kh - 1), w = (int64_t)irand(1, 30) + dw * (kw - 1);
    /* output size exactly as the op table's rule (checked by the reference check below) */
    int64_t span_h = h + 2 * ph - dh * (kh - 1) - 1, span_w = w + 2 * pw - dw * (kw - 1) - 1;
    int64_t oh = (ceil_mode ? (span_h + sh - 1) / sh : span_h / sh) + 1;
    int64_t ow = (ceil_mode ? (span_w + sw - 1) / sw : span_w / sw) + 1;
    if (ceil_mode && (oh - 1) * sh >= h + ph) oh--;
    if (ceil_mode && (ow - 1) * sw >= w + pw) ow--;
    int64_t xd[4] = {n, c, h, w}, yd[4] = {n, c, oh, ow};
    float *xv = frand_array(n * c * h * w), *yr = calloc((size_t)(n * c * oh * ow), 4), *yf = calloc((size_t)(n * c * oh * ow), 4);
    ember_tensor x = tensor(4, xd, 0, xv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    const ember_tensor *in[1] = {&x};
    int64_t attr[9] = {kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode};
    char what[128];
    snprintf(what, sizeof what, "max_pool2d %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld ceil %lld", (long long)h,
             (long long)w, (long long)kh, (long long)kw, (long long)sh, (long long)sw, (long long)dh, (long long)dw,
             (long long)ph, (long long)pw, (long long)ceil_mode);
    compare_op_gtol(EMBER_OP_MAX_POOL2D, in, 1, &y1, &y2, attr, 9, pool, what);
    free(xv);
    free(yr);
    free(yf);
  }
}

static void test_permute(ember_pool *pool) {
  for (int trial = 0; trial < 40; trial++) {
    int r = (int)irand(2, 5);
    int64_t xd[5], yd[5], perm[8] = {0, 1, 2, 3, 4, 5, 6, 7}, n = 1;
    for (int d = 0; d < r; d++) {
      xd[d] = (int64_t)irand(1, d == r - 1 ? 40 : 9);
      n *= xd[d];
    }
    xd[r - 1] = xd[r - 1] < 4 ? 4 : xd[r - 1];
    n = 1;
    for (int d = 0; d < r; d++) n *= xd[d];
    for (int d = r - 2; d > 0; d--) { /* shuffle the leading axes, keep the last */
      int e = (int)irand(0, (size_t)d);
      int64_t t = perm[d];
      perm[d] = perm[e];
      perm[e] = t;
    }
    for (int d = 0; d < r; d++) yd[d] = xd[perm[d]];
    float *xv = frand_array(n), *yr = calloc((size_t)n, 4), *yf = calloc((size_t)n, 4);
    ember_tensor x = tensor(r, xd, 0, xv), y1 = tensor(r, yd, 0, yr), y2 = tensor(r, yd, 0, yf);
    const ember_tensor *in[1] = {&x};
    char what[64];
    snprintf(what, sizeof what, "permute rank %d", r);
    compare_op_gtol(EMBER_OP_PERMUTE, in, 1, &y1, &y2, perm, 8, pool, what);
    free(xv);
    free(yr);
    free(yf);
  }
}

static void test_sdpa(ember_pool *pool) {
  for (int trial = 0; trial < 60; trial++) {
    int64_t b = (int64_t)irand(1, 2), h = (int64_t)irand(1, 3), l = (int64_t)irand(1, 40), s = (int64_t)irand(1, 45);
    int64_t e = (int64_t)irand(1, 40), ev = (int64_t)irand(1, 20);
    int kv_bcast = trial % 4 == 1;
    int64_t qd[4] = {b, h, l, e}, kd[4] = {b, kv_bcast ? 1 : h, s, e}, vd[4] = {b, kv_bcast ? 1 : h, s, ev};
    int64_t yd[4] = {b, h, l, ev};
    float *qv = frand_array(b * h * l * e), *kvv = frand_array(b * kd[1] * s * e), *vv = frand_array(b * vd[1] * s * ev);
    float *yr = calloc((size_t)(b * h * l * ev), 4), *yf = calloc((size_t)(b * h * l * ev), 4);
    ember_tensor q = tensor(4, qd, 0, qv), k = tensor(4, kd, 0, kvv), v = tensor(4, vd, 0, vv);
    ember_tensor y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    int kind = trial % 3; /* 0 none, 1 bool [b,1,l,s] or [s], 2 float [l, s] */
    int64_t md_bool[4] = {b, 1, l, s}, md_f[2] = {l, s};
    uint8_t *mb = NULL;
    float *mf = NULL;
    ember_tensor mask;
    if (kind == 1) {
      mb = malloc((size_t)(b * l * s));
      for (int64_t i = 0; i < b * l * s; i++) mb[i] = (uint8_t)(rnd() % 5 != 0);
      mask = tensor(4, md_bool, 0, (float *)mb);
      mask.dtype = EMBER_DTYPE_BOOL;
      mask.nbytes = (uint64_t)mask.numel;
    } else if (kind == 2) {
      mf = frand_array(l * s);
      mask = tensor(2, md_f, 0, mf);
    }
    const ember_tensor *in[4] = {&q, &k, &v, &mask};
    double scale = trial % 5 == 0 ? 0.3 : 0.0;
    int64_t attr[2] = {trial % 2 && kind == 0 ? 1 : 0, 0};
    memcpy(&attr[1], &scale, 8);
    char what[160];
    snprintf(what, sizeof what, "sdpa b=%lld h=%lld l=%lld s=%lld e=%lld ev=%lld kv_bcast=%d mask=%d causal=%lld threads=%d",
             (long long)b, (long long)h, (long long)l, (long long)s, (long long)e, (long long)ev, kv_bcast, kind,
             (long long)attr[0], ember_pool_threads(pool));
    compare_op_gtol(EMBER_OP_SDPA, in, kind ? 4 : 3, &y1, &y2, attr, 2, pool, what);
    free(qv);
    free(kvv);
    free(vv);
    free(yr);
    free(yf);
    free(mb);
    free(mf);
  }
}

int main(void) {
  test_vexp();
  test_vmath();
  test_ukernel(ember_f32_gemm_6x16_scalar, 6, 16, "scalar");
  test_gemv(ember_f32_gemv_p16_scalar, "gemv_scalar");
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    test_ukernel(ember_f32_gemm_6x16_avx2_fma, 6, 16, "avx2_fma");
    test_gemv(ember_f32_gemv_p16_avx2, "gemv_avx2");
  }
  else printf("note: this CPU has no AVX2+FMA; that microkernel was not run\n");
  if (__builtin_cpu_supports("avx512f")) {
    test_ukernel(ember_f32_gemm_12x16_avx512f, 12, 16, "avx512f_12x16");
    test_ukernel(ember_f32_gemm_12x32_avx512f, 12, 32, "avx512f_12x32");
    test_gemv(ember_f32_gemv_p16_avx512, "gemv_avx512");
  }
  else printf("note: this CPU has no AVX-512F; that microkernel was not run\n");
#endif
#if defined(__aarch64__)
  test_ukernel(ember_f32_gemm_6x16_neon, 6, 16, "neon");
#endif
  printf("selected microkernel: %s\n", ember_f32_gemm_ukernel_name());
  const ember_f32_gemm_config *cfg = ember_f32_gemm_select();
  if (cfg->packed) { /* AVX-512 for now */
    test_ukernel_packed(cfg->packed, cfg->pack_a, "packed-A kernel");
    check(cfg->packed_stream != NULL, "a packed-A config has its streaming twin", 0);
    test_ukernel_packed(cfg->packed_stream, cfg->pack_a, "packed-A kernel, streaming B");
  }
  for (int threads = 1; threads <= 3; threads += 2) {
    ember_pool *pool = ember_pool_create(threads);
    test_linear(pool);
    test_conv(pool);
    test_sdpa(pool);
    test_elementwise(pool);
    test_permute(pool);
    test_maxpool(pool);
    ember_pool_free(pool);
  }
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail != 0;
}
