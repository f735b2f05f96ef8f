/* The NHWC fast kernels (conv2d_nhwc, dwconv2d_nhwc with every row kernel this CPU runs,
 * max_pool2d_nhwc, and the batched-transpose permute) against their reference kernels, on random
 * shapes: channel counts of 1, 3, primes and vector tails, K larger than one K block, more pixels and
 * columns than one tile, borders on every side, strides and dilations, 1 and 3 threads.
 * Prints "N passed, M failed". */
#include "../kernels/fast/f32_dwnhwc.h"
#include "../kernels/fast/q8_dwnhwc.h"
#include "../kernels/fast/q8_dwpair.h"
#include "fast_test_util.h"

static int64_t conv_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) { return (n + 2 * p - d * (k - 1) - 1) / s + 1; }

static void set_act(int64_t *slots, int act) {
  double lo = 0.0, hi = 6.0;
  slots[0] = act;
  memcpy(&slots[1], &lo, 8);
  memcpy(&slots[2], &hi, 8);
}

static void test_conv2d_nhwc(ember_pool *pool) {
  static const int acts[4] = {EMBER_ACT_NONE, EMBER_ACT_RELU, EMBER_ACT_CLAMP, EMBER_ACT_HARDSWISH};
  for (int trial = 0; trial < 70; trial++) {
    int64_t n = (int64_t)irand(1, 2), c = trial % 7 == 0 ? 3 : (int64_t)irand(1, trial % 5 == 0 ? 90 : 20);
    int64_t o = trial % 6 == 0 ? (int64_t)irand(129, 300) : (int64_t)irand(1, 50);
    int64_t kh = (int64_t)irand(1, 4), kw = (int64_t)irand(1, 4), sh = (int64_t)irand(1, 3), sw = (int64_t)irand(1, 3);
    int64_t dh = (int64_t)irand(1, 2), dw = trial % 3 ? 1 : (int64_t)irand(1, 2), ph = (int64_t)irand(0, 2),
            pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, trial % 4 ? 12 : 40) + dh * (kh - 1), w = (int64_t)irand(1, 17) + dw * (kw - 1);
    int64_t oh = conv_out(h, kh, sh, ph, dh), ow = conv_out(w, kw, sw, pw, dw), k = kh * kw * c, panels = (o + 15) / 16;
    int64_t xd[4] = {n, h, w, c}, pd[3] = {panels, k, 16}, bd[1] = {o}, yd[4] = {n, oh, ow, o};
    float *xv = frand_array(n * h * w * c), *bv = frand_array(o);
    float *pv = aligned_alloc(64, (size_t)(panels * k * 16) * 4 + 64);
    for (int64_t i = 0; i < panels * k * 16; i++) pv[i] = (i % 16) + (i / (k * 16)) * 16 < o ? frand() : 0.f;
    float *yr = calloc((size_t)(n * oh * ow * o), 4), *yf = calloc((size_t)(n * oh * ow * o), 4);
    ember_tensor x = tensor(4, xd, EMBER_STORAGE_ARENA, xv), wp = tensor(3, pd, EMBER_STORAGE_CONST, pv);
    ember_tensor b = tensor(1, bd, EMBER_STORAGE_CONST, bv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    float *rv = frand_array(n * oh * ow * o); /* a residual for every third trial */
    ember_tensor rt = tensor(4, yd, EMBER_STORAGE_ARENA, rv);
    const ember_tensor *in[4] = {&x, &wp, &b, &rt};
    int n_in = trial % 3 == 2 ? 4 : (trial % 2 ? 3 : 2);
    int64_t attr[12] = {o, kh, kw, sh, sw, ph, pw, dh, dw};
    set_act(&attr[9], acts[trial % 4]);
    char what[200];
    snprintf(what, sizeof what,
             "conv2d_nhwc n=%lld %lldx%lldx%lld o=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld p=%lld,%lld act=%d threads=%d (+res every 3rd)",
             (long long)n, (long long)h, (long long)w, (long long)c, (long long)o, (long long)kh, (long long)kw,
             (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)ph, (long long)pw, acts[trial % 4],
             ember_pool_threads(pool));
    compare_op(EMBER_OP_CONV2D_NHWC, in, n_in, &y1, &y2, attr, 12, pool, what);
    free(rv);
    free(xv);
    free(pv);
    free(bv);
    free(yr);
    free(yf);
  }
}

static void test_winograd(ember_pool *pool) {
  static const int acts[4] = {EMBER_ACT_NONE, EMBER_ACT_RELU, EMBER_ACT_CLAMP, EMBER_ACT_HARDSWISH};
  for (int trial = 0; trial < 50; trial++) {
    int64_t n = (int64_t)irand(1, 2), c = trial % 5 == 0 ? (int64_t)irand(257, 300) : (int64_t)irand(1, 70);
    int64_t o = trial % 4 == 0 ? (int64_t)irand(100, 200) : (int64_t)irand(1, 40);
    int64_t ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, trial % 3 ? 9 : 30) + 2, w = (int64_t)irand(1, 13) + 2;
    int64_t oh = h + 2 * ph - 2, ow = w + 2 * pw - 2, panels = (o + 15) / 16;
    int64_t xd[4] = {n, h, w, c}, ud[4] = {16, panels, c, 16}, bd[1] = {o}, yd[4] = {n, oh, ow, o};
    float *xv = frand_array(n * h * w * c), *bv = frand_array(o);
    float *uv = aligned_alloc(64, (size_t)(16 * panels * c * 16) * 4 + 64);
    for (int64_t i = 0; i < 16 * panels * c * 16; i++) uv[i] = (i / (c * 16)) % panels * 16 + i % 16 < o ? frand() : 0.f;
    float *yr = calloc((size_t)(n * oh * ow * o), 4), *yf = calloc((size_t)(n * oh * ow * o), 4);
    ember_tensor x = tensor(4, xd, EMBER_STORAGE_ARENA, xv), u = tensor(4, ud, EMBER_STORAGE_CONST, uv);
    ember_tensor b = tensor(1, bd, EMBER_STORAGE_CONST, bv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    float *rv = frand_array(n * oh * ow * o); /* a residual for every third trial */
    ember_tensor rt = tensor(4, yd, EMBER_STORAGE_ARENA, rv);
    const ember_tensor *in[4] = {&x, &u, &b, &rt};
    int n_in = trial % 3 == 2 ? 4 : (trial % 2 ? 3 : 2);
    int64_t attr[6] = {o, ph, pw};
    set_act(&attr[3], acts[trial % 4]);
    char what[200];
    snprintf(what, sizeof what, "conv2d_winograd n=%lld %lldx%lldx%lld o=%lld p=%lld,%lld act=%d threads=%d",
             (long long)n, (long long)h, (long long)w, (long long)c, (long long)o, (long long)ph, (long long)pw,
             acts[trial % 4], ember_pool_threads(pool));
    /* float32 Winograd rounds transformed values (|v| up to 4 |x|, |u| up to 2.25 |w|) in sums of C terms and
     * then sums 9 of those: its error grows like sqrt(C) times a constant larger than direct convolution's
     * (the reference computes the same algorithm in double); seen: 3e-5 at C = 270 */
    compare_op_tol(EMBER_OP_CONV2D_WINOGRAD, in, n_in, &y1, &y2, attr, 6, pool, what, 4e-6 * sqrt((double)c + 16.0));
    free(rv);
    free(xv);
    free(uv);
    free(bv);
    free(yr);
    free(yf);
  }
}

static void test_pwdw(ember_pool *pool) {
  static const int acts[4] = {EMBER_ACT_NONE, EMBER_ACT_RELU, EMBER_ACT_CLAMP, EMBER_ACT_HARDSWISH};
  for (int trial = 0; trial < 50; trial++) {
    int64_t n = (int64_t)irand(1, 2), cin = (int64_t)irand(1, trial % 5 == 0 ? 300 : 40);
    int64_t e = trial % 3 == 0 ? 16 * (int64_t)irand(1, 6) : (int64_t)irand(1, 70);
    int64_t kh = trial % 3 ? 3 : (int64_t)irand(1, 5), kw = trial % 3 ? 3 : (int64_t)irand(1, 5);
    int64_t sh = (int64_t)irand(1, 2), sw = (int64_t)irand(1, 2), dh = trial % 5 ? 1 : 2, dw = trial % 7 ? 1 : 2;
    int64_t ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, 16) + dh * (kh - 1), w = (int64_t)irand(1, 25) + dw * (kw - 1);
    int64_t oh = conv_out(h, kh, sh, ph, dh), ow = conv_out(w, kw, sw, pw, dw), panels = (e + 15) / 16;
    int64_t xd[4] = {n, h, w, cin}, pd[3] = {panels, cin, 16}, ed[1] = {e}, wd[3] = {kh, kw, e}, yd[4] = {n, oh, ow, e};
    float *xv = frand_array(n * h * w * cin), *pbv = frand_array(e), *wv = frand_array(kh * kw * e), *bv = frand_array(e);
    float *pv = aligned_alloc(64, (size_t)(panels * cin * 16) * 4 + 64);
    for (int64_t i = 0; i < panels * cin * 16; i++) pv[i] = (i % 16) + (i / (cin * 16)) * 16 < e ? frand() : 0.f;
    float *yr = calloc((size_t)(n * oh * ow * e), 4), *yf = calloc((size_t)(n * oh * ow * e), 4);
    ember_tensor x = tensor(4, xd, EMBER_STORAGE_ARENA, xv), p = tensor(3, pd, EMBER_STORAGE_CONST, pv);
    ember_tensor pb = tensor(1, ed, EMBER_STORAGE_CONST, pbv), wt = tensor(3, wd, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(1, ed, EMBER_STORAGE_CONST, bv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    const ember_tensor *in[5] = {&x, &p, &pb, &wt, &b};
    int64_t attr[13] = {e};
    set_act(&attr[1], acts[trial % 4]);
    attr[4] = sh, attr[5] = sw, attr[6] = ph, attr[7] = pw, attr[8] = dh, attr[9] = dw;
    set_act(&attr[10], acts[(trial / 4) % 4]);
    char what[220];
    snprintf(what, sizeof what,
             "pwdw_nhwc n=%lld %lldx%lldx%lld e=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld p=%lld,%lld acts=%d,%d threads=%d",
             (long long)n, (long long)h, (long long)w, (long long)cin, (long long)e, (long long)kh, (long long)kw,
             (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)ph, (long long)pw, acts[trial % 4],
             acts[(trial / 4) % 4], ember_pool_threads(pool));
    compare_op(EMBER_OP_PWDW_NHWC, in, 5, &y1, &y2, attr, 13, pool, what);
    free(xv);
    free(pv);
    free(pbv);
    free(wv);
    free(bv);
    free(yr);
    free(yf);
  }
}

static ember_tensor qtensor(int rank, const int64_t *dims, int dtype, int storage, void *data) {
  ember_tensor t = tensor(rank, dims, storage, data);
  t.dtype = dtype;
  t.nbytes = (uint64_t)t.numel * (dtype == EMBER_DTYPE_I8 ? 1u : 4u);
  return t;
}

/* int8 depthwise: the fast kernel and every ISA's row kernel equal the reference bit for bit */
static void test_qdwconv_nhwc(ember_pool *pool) {
  for (int trial = 0; trial < 60; trial++) {
    /* whole 16- and 8-channel blocks (the tap-pair kernels) and ragged channel counts (the row kernels) */
    int64_t n = (int64_t)irand(1, 2), c = trial % 3 == 0   ? 16 * (int64_t)irand(1, 6)
                                         : trial % 3 == 1 ? 8 * (int64_t)irand(1, 9)
                                                          : (int64_t)irand(1, 70);
    int64_t kh = trial % 3 ? 3 : (int64_t)irand(1, 5), kw = trial % 3 ? 3 : (int64_t)irand(1, 5);
    int64_t sh = (int64_t)irand(1, 2), sw = (int64_t)irand(1, 2), dh = trial % 5 ? 1 : 2, dw = trial % 7 ? 1 : 2;
    int64_t ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, 12) + dh * (kh - 1), w = (int64_t)irand(1, 20) + dw * (kw - 1);
    int64_t oh = conv_out(h, kh, sh, ph, dh), ow = conv_out(w, kw, sw, pw, dw);
    int64_t xd[4] = {n, h, w, c}, wd[3] = {kh, kw, c}, cd[1] = {c}, yd[4] = {n, oh, ow, c};
    int8_t *xv = malloc((size_t)(n * h * w * c)), *wv = malloc((size_t)(kh * kw * c));
    int32_t *bv = malloc((size_t)c * 4);
    float *sv = malloc((size_t)c * 4);
    for (int64_t i = 0; i < n * h * w * c; i++) xv[i] = (int8_t)(int)irand(0, 255); /* -128..127 incl. extremes */
    for (int64_t i = 0; i < kh * kw * c; i++) wv[i] = (int8_t)((int)irand(0, 254) - 127);
    for (int64_t i = 0; i < c; i++) {
      bv[i] = trial == 0 && i == 0 ? (1 << 30) + 5 : (int32_t)irand(0, 20000) - 10000; /* one past the clamp */
      sv[i] = (float)irand(1, 1000) * 1e-5f;
    }
    if (trial % 10 == 3) sv[c - 1] = trial % 20 == 3 ? INFINITY : NAN; /* the row kernels then, same bytes */
    int8_t *yr = calloc((size_t)(n * oh * ow * c), 1), *yf = calloc((size_t)(n * oh * ow * c), 1);
    ember_tensor x = qtensor(4, xd, EMBER_DTYPE_I8, EMBER_STORAGE_ARENA, xv);
    ember_tensor wt = qtensor(3, wd, EMBER_DTYPE_I8, EMBER_STORAGE_CONST, wv);
    ember_tensor b = qtensor(1, cd, EMBER_DTYPE_I32, EMBER_STORAGE_CONST, bv);
    ember_tensor s = qtensor(1, cd, EMBER_DTYPE_F32, EMBER_STORAGE_CONST, sv);
    ember_tensor y1 = qtensor(4, yd, EMBER_DTYPE_I8, 0, yr), y2 = qtensor(4, yd, EMBER_DTYPE_I8, 0, yf);
    const ember_tensor *in[4] = {&x, &wt, &b, &s};
    int64_t xzp = (int64_t)irand(0, 40) - 20, yzp = (int64_t)irand(0, 40) - 20, qmin = trial % 2 ? -128 : yzp;
    int64_t attr[10] = {sh, sw, ph, pw, dh, dw, xzp, yzp, qmin, 127};
    char what[200];
    snprintf(what, sizeof what, "qdwconv2d_nhwc n=%lld %lldx%lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld p=%lld,%lld threads=%d",
             (long long)n, (long long)h, (long long)w, (long long)c, (long long)kh, (long long)kw, (long long)sh,
             (long long)sw, (long long)dh, (long long)dw, (long long)ph, (long long)pw, ember_pool_threads(pool));
    compare_op_tol(EMBER_OP_QDWCONV2D_NHWC, in, 4, &y1, &y2, attr, 10, pool, what, -1.0);
    if (ember_pool_threads(pool) == 1) {
      int32_t *bc = malloc((size_t)c * 4), *acc = malloc((size_t)c * 4);
      for (int64_t i = 0; i < c; i++) bc[i] = bv[i] > (1 << 30) ? (1 << 30) : (bv[i] < -(1 << 30) ? -(1 << 30) : bv[i]);
      ember_q8dw_args a = {xv, wv, bc, sv, (size_t)h, (size_t)w, (size_t)c, (size_t)kh, (size_t)kw, (size_t)sh,
                           (size_t)sw, (size_t)ph, (size_t)pw, (size_t)dh, (size_t)dw, (size_t)ow,
                           (int32_t)xzp, (int32_t)yzp, (int32_t)qmin, 127};
      ember_q8dw_row_fn fns[4] = {ember_q8_dwnhwc_row_scalar, NULL, NULL, NULL};
      const char *names[4] = {"scalar", "avx2", "avx512", "avx512 16-channel blocks"};
#if defined(__x86_64__) || defined(__i386__)
      if (__builtin_cpu_supports("avx2")) fns[1] = ember_q8_dwnhwc_row_avx2;
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        fns[2] = ember_q8_dwnhwc_row_avx512;
        if (c % 16 == 0) fns[3] = ember_q8_dwnhwc_row16_avx512;
      }
#endif
      for (int k = 0; k < 4; k++) {
        if (!fns[k]) continue;
        memset(yf, 0, (size_t)(n * oh * ow * c));
        for (int64_t img = 0; img < n; img++) {
          a.x = xv + img * h * w * c;
          for (int64_t oy = 0; oy < oh; oy++) fns[k](&a, (size_t)oy, yf + ((img * oh + oy) * ow) * c, acc);
        }
        char w2[240];
        snprintf(w2, sizeof w2, "%s row kernel %s", what, names[k]);
        check(memcmp(yf, yr, (size_t)(n * oh * ow * c)) == 0, w2, 0);
      }
      /* every tap-pair kernel this CPU runs, whole images through the ring of pair rows */
      const ember_q8dwp_isa *pk[4];
      int npk = ember_q8dwp_available(pk, 4);
      ember_q8dwp_plan pl;
      memset(&pl, 0, sizeof pl);
      pl.h = (size_t)h;
      pl.w_in = (size_t)w;
      pl.c = (size_t)c;
      pl.kh = (size_t)kh;
      pl.kw = (size_t)kw;
      pl.sh = (size_t)sh;
      pl.sw = (size_t)sw;
      pl.ph = (size_t)ph;
      pl.pw = (size_t)pw;
      pl.dh = (size_t)dh;
      pl.dw = (size_t)dw;
      pl.oh = (size_t)oh;
      pl.ow = (size_t)ow;
      pl.x_zp = (int32_t)xzp;
      pl.y_zp = (int32_t)yzp;
      pl.qmin = (int32_t)qmin;
      pl.qmax = 127;
      pl.bias = bc;
      pl.scale = sv;
      ember_q8dwp_geometry(&pl);
      int32_t *wp = malloc(pl.kh * pl.np * pl.c * 4);
      void *ring = aligned_alloc(64, ember_q8dwp_scratch(&pl) + 64);
      ember_q8dwp_pack(&pl, wv, wp);
      pl.wp = wp;
      int finite = 1;
      for (int64_t i = 0; i < c; i++) finite &= isfinite(sv[i]) != 0;
      for (int k = 0; k < npk && finite; k++) {
        if (c % (int64_t)pk[k]->cblock) continue;
        memset(yf, 0, (size_t)(n * oh * ow * c));
        for (int64_t img = 0; img < n; img++) /* split in two parts, as threads would: each refills the ring */
          for (int part = 0; part < 2; part++)
            ember_q8dwp_rows(&pl, pk[k], xv + img * h * w * c, yf + img * oh * ow * c, (size_t)(part * oh / 2),
                             (size_t)((part + 1) * oh / 2), ring);
        char w2[240];
        snprintf(w2, sizeof w2, "%s tap pairs %s", what, pk[k]->name);
        check(memcmp(yf, yr, (size_t)(n * oh * ow * c)) == 0, w2, 0);
      }
      free(wp);
      free(ring);
      free(bc);
      free(acc);
    }
    free(xv);
    free(wv);
    free(bv);
    free(sv);
    free(yr);
    free(yf);
  }
}

/* int8 dense NHWC convolution (gathered onto the int8 GEMM): fast == reference bit for bit */
static void test_qconv_nhwc(ember_pool *pool) {
  for (int trial = 0; trial < 40; trial++) {
    int64_t n = (int64_t)irand(1, 2), c = trial % 4 == 0 ? 3 : (int64_t)irand(1, 40), o = (int64_t)irand(1, 70);
    int64_t kh = (int64_t)irand(1, 4), kw = (int64_t)irand(1, 4), sh = (int64_t)irand(1, 2), sw = (int64_t)irand(1, 2);
    int64_t dh = trial % 5 ? 1 : 2, dw = trial % 7 ? 1 : 2, ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, 12) + dh * (kh - 1), w = (int64_t)irand(1, 15) + dw * (kw - 1);
    int64_t oh = conv_out(h, kh, sh, ph, dh), ow = conv_out(w, kw, sw, pw, dw);
    int64_t xd[4] = {n, h, w, c}, wd[4] = {o, kh, kw, c}, od[1] = {o}, yd[4] = {n, oh, ow, o};
    int8_t *xv = malloc((size_t)(n * h * w * c)), *wv = malloc((size_t)(o * kh * kw * c));
    int32_t *bv = malloc((size_t)o * 4);
    float *sv = malloc((size_t)o * 4);
    for (int64_t i = 0; i < n * h * w * c; i++) xv[i] = (int8_t)(int)irand(0, 255);
    for (int64_t i = 0; i < o * kh * kw * c; i++) wv[i] = (int8_t)((int)irand(0, 254) - 127);
    for (int64_t i = 0; i < o; i++) {
      bv[i] = (int32_t)irand(0, 40000) - 20000;
      sv[i] = (float)irand(1, 1000) * 1e-6f;
    }
    int8_t *yr = calloc((size_t)(n * oh * ow * o), 1), *yf = calloc((size_t)(n * oh * ow * o), 1);
    ember_tensor x = qtensor(4, xd, EMBER_DTYPE_I8, EMBER_STORAGE_ARENA, xv);
    ember_tensor wt = qtensor(4, wd, EMBER_DTYPE_I8, EMBER_STORAGE_CONST, wv);
    ember_tensor b = qtensor(1, od, EMBER_DTYPE_I32, EMBER_STORAGE_CONST, bv);
    ember_tensor s = qtensor(1, od, EMBER_DTYPE_F32, EMBER_STORAGE_CONST, sv);
    ember_tensor y1 = qtensor(4, yd, EMBER_DTYPE_I8, 0, yr), y2 = qtensor(4, yd, EMBER_DTYPE_I8, 0, yf);
    const ember_tensor *in[4] = {&x, &wt, &b, &s};
    int64_t attr[10] = {sh, sw, ph, pw, dh, dw, (int64_t)irand(0, 40) - 20, (int64_t)irand(0, 40) - 20, -128, 127};
    char what[200];
    snprintf(what, sizeof what, "qconv2d_nhwc n=%lld %lldx%lldx%lld o=%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld p=%lld,%lld threads=%d",
             (long long)n, (long long)h, (long long)w, (long long)c, (long long)o, (long long)kh, (long long)kw,
             (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)ph, (long long)pw,
             ember_pool_threads(pool));
    compare_op_tol(EMBER_OP_QCONV2D_NHWC, in, 4, &y1, &y2, attr, 10, pool, what, -1.0);
    free(xv);
    free(wv);
    free(bv);
    free(sv);
    free(yr);
    free(yf);
  }
}

/* quantize and qadd: fast == reference bit for bit, incl. NaN, infinities, ties and saturation */
static void test_q8_elementwise(ember_pool *pool) {
  for (int trial = 0; trial < 20; trial++) {
    int64_t n = trial < 4 ? (int64_t)irand(1, 40) : (int64_t)irand(1000, 70000), d[1] = {n};
    float *x = malloc((size_t)n * 4);
    int8_t *a = malloc((size_t)n), *b = malloc((size_t)n), *yr = calloc((size_t)n, 1), *yf = calloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
      x[i] = frand() * 300.f;
      if (i % 97 == 0) x[i] = (float)(int)(frand() * 100.f) + 0.5f; /* ties: rint to even */
      a[i] = (int8_t)(int)irand(0, 255);
      b[i] = (int8_t)(int)irand(0, 255);
    }
    x[0] = NAN;
    if (n > 2) x[1] = INFINITY, x[2] = -INFINITY;
    double s = 0.37 + 0.01 * trial, am = 0.7, bm = 1.3;
    int64_t qattr[2], aattr[7];
    memcpy(&qattr[0], &s, 8);
    qattr[1] = trial % 5 - 2;
    ember_tensor xt = qtensor(1, d, EMBER_DTYPE_F32, 0, x), y1 = qtensor(1, d, EMBER_DTYPE_I8, 0, yr);
    ember_tensor y2 = qtensor(1, d, EMBER_DTYPE_I8, 0, yf);
    const ember_tensor *qin[1] = {&xt};
    char what[96];
    snprintf(what, sizeof what, "quantize n=%lld threads=%d", (long long)n, ember_pool_threads(pool));
    compare_op_tol(EMBER_OP_QUANTIZE, qin, 1, &y1, &y2, qattr, 2, pool, what, -1.0);
    aattr[0] = 3, aattr[1] = -4, aattr[2] = 1;
    memcpy(&aattr[3], &am, 8);
    memcpy(&aattr[4], &bm, 8);
    aattr[5] = trial % 2 ? -128 : 1, aattr[6] = 127;
    ember_tensor at = qtensor(1, d, EMBER_DTYPE_I8, 0, a), bt = qtensor(1, d, EMBER_DTYPE_I8, 0, b);
    const ember_tensor *ain[2] = {&at, &bt};
    snprintf(what, sizeof what, "qadd n=%lld threads=%d", (long long)n, ember_pool_threads(pool));
    compare_op_tol(EMBER_OP_QADD, ain, 2, &y1, &y2, aattr, 7, pool, what, -1.0);
    free(x);
    free(a);
    free(b);
    free(yr);
    free(yf);
  }
}

typedef struct {
  ember_dwnhwc_row_fn fn;
  const char *name;
} row_kernel;

/* every row kernel this CPU can run, on the same inputs as the reference */
static int row_kernels(row_kernel *out) {
  int n = 0;
  out[n++] = (row_kernel){ember_f32_dwnhwc_row_scalar, "scalar"};
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out[n++] = (row_kernel){ember_f32_dwnhwc_row_avx2, "avx2"};
  if (__builtin_cpu_supports("avx512f")) out[n++] = (row_kernel){ember_f32_dwnhwc_row_avx512, "avx512"};
#endif
#if defined(__aarch64__)
  out[n++] = (row_kernel){ember_f32_dwnhwc_row_neon, "neon"};
#endif
  return n;
}

static void test_dwconv2d_nhwc(ember_pool *pool) {
  row_kernel kernels[4];
  int nk = row_kernels(kernels);
  for (int trial = 0; trial < 60; trial++) {
    int64_t n = (int64_t)irand(1, 2), c = trial % 4 == 0 ? 16 * (int64_t)irand(1, 4) : (int64_t)irand(1, 70);
    int64_t kh = trial % 3 ? 3 : (int64_t)irand(1, 5), kw = trial % 3 ? 3 : (int64_t)irand(1, 5);
    int64_t sh = (int64_t)irand(1, 2), sw = (int64_t)irand(1, 2), dh = trial % 5 ? 1 : 2, dw = trial % 7 ? 1 : 2;
    int64_t ph = (int64_t)irand(0, 2), pw = (int64_t)irand(0, 2);
    int64_t h = (int64_t)irand(1, 14) + dh * (kh - 1), w = (int64_t)irand(1, 30) + dw * (kw - 1);
    if (trial < 4) { /* MobileNet's shapes: the 3x3 stride-1/2 register-blocked path on every ISA */
      c = 48;
      kh = kw = 3;
      dh = dw = 1;
      sh = sw = 1 + trial % 2;
      ph = pw = 1;
      h = 9;
      w = 21 + trial / 2;
    }
    int64_t oh = conv_out(h, kh, sh, ph, dh), ow = conv_out(w, kw, sw, pw, dw);
    int64_t xd[4] = {n, h, w, c}, wd[3] = {kh, kw, c}, bd[1] = {c}, yd[4] = {n, oh, ow, c};
    float *xv = frand_array(n * h * w * c), *wv = frand_array(kh * kw * c), *bv = frand_array(c);
    float *yr = calloc((size_t)(n * oh * ow * c), 4), *yf = calloc((size_t)(n * oh * ow * c), 4);
    ember_tensor x = tensor(4, xd, EMBER_STORAGE_ARENA, xv), wt = tensor(3, wd, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(1, bd, EMBER_STORAGE_CONST, bv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    const ember_tensor *in[3] = {&x, &wt, &b};
    int act = trial % 3 == 0 ? EMBER_ACT_CLAMP : (trial % 3 == 1 ? EMBER_ACT_RELU : EMBER_ACT_SIGMOID);
    int64_t attr[9] = {sh, sw, ph, pw, dh, dw};
    set_act(&attr[6], act);
    char what[200];
    snprintf(what, sizeof what, "dwconv2d_nhwc n=%lld %lldx%lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld p=%lld,%lld act=%d threads=%d",
             (long long)n, (long long)h, (long long)w, (long long)c, (long long)kh, (long long)kw, (long long)sh,
             (long long)sw, (long long)dh, (long long)dw, (long long)ph, (long long)pw, act, ember_pool_threads(pool));
    int with_bias = trial % 2;
    compare_op(EMBER_OP_DWCONV2D_NHWC, in, with_bias ? 3 : 2, &y1, &y2, attr, 9, pool, what);
    if (ember_pool_threads(pool) == 1 && act != EMBER_ACT_SIGMOID) { /* each ISA's row kernel directly */
      ember_dwnhwc_args a = {xv, NULL, wv, with_bias ? bv : NULL, (size_t)h, (size_t)w, (size_t)c, (size_t)kh, (size_t)kw,
                             (size_t)sh, (size_t)sw, (size_t)ph, (size_t)pw, (size_t)dh, (size_t)dw, (size_t)ow,
                             act, 0.f, 6.f};
      for (int kk = 0; kk < nk; kk++) {
        memset(yf, 0, (size_t)(n * oh * ow * c) * 4);
        for (int64_t img = 0; img < n; img++) {
          a.x = xv + img * h * w * c;
          for (int64_t oy = 0; oy < oh; oy++) kernels[kk].fn(&a, (size_t)oy, yf + ((img * oh + oy) * ow) * c);
        }
        double e = max_rel_err(yf, yr, (size_t)(n * oh * ow * c));
        char w2[240];
        snprintf(w2, sizeof w2, "%s row kernel %s", what, kernels[kk].name);
        check(e < 2e-5, w2, e);
      }
    }
    free(xv);
    free(wv);
    free(bv);
    free(yr);
    free(yf);
  }
}

static void test_maxpool_nhwc(ember_pool *pool) {
  for (int trial = 0; trial < 30; trial++) {
    int64_t kh = (int64_t)irand(1, 4), kw = (int64_t)irand(1, 4), sh = (int64_t)irand(1, 3), sw = (int64_t)irand(1, 3);
    int64_t dh = (int64_t)irand(1, 2), dw = (int64_t)irand(1, 2), ph = (int64_t)irand(0, (size_t)kh / 2);
    int64_t pw = (int64_t)irand(0, (size_t)kw / 2), ceil_mode = (int64_t)(rnd() & 1);
    int64_t n = (int64_t)irand(1, 2), c = (int64_t)irand(1, 40);
    int64_t h = (int64_t)irand(1, 20) + dh * (kh - 1), w = (int64_t)irand(1, 20) + dw * (kw - 1);
    int64_t span_h = h + 2 * ph - dh * (kh - 1) - 1, span_w = w + 2 * pw - dw * (kw - 1) - 1;
    int64_t oh = (ceil_mode ? (span_h + sh - 1) / sh : span_h / sh) + 1;
    int64_t ow = (ceil_mode ? (span_w + sw - 1) / sw : span_w / sw) + 1;
    if (ceil_mode && (oh - 1) * sh >= h + ph) oh--;
    if (ceil_mode && (ow - 1) * sw >= w + pw) ow--;
    int64_t xd[4] = {n, h, w, c}, yd[4] = {n, oh, ow, c};
    float *xv = frand_array(n * c * h * w), *yr = calloc((size_t)(n * c * oh * ow), 4), *yf = calloc((size_t)(n * c * oh * ow), 4);
    ember_tensor x = tensor(4, xd, 0, xv), y1 = tensor(4, yd, 0, yr), y2 = tensor(4, yd, 0, yf);
    const ember_tensor *in[1] = {&x};
    int64_t attr[9] = {kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode};
    char what[128];
    snprintf(what, sizeof what, "max_pool2d_nhwc %lldx%lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld ceil %lld",
             (long long)h, (long long)w, (long long)c, (long long)kh, (long long)kw, (long long)sh, (long long)sw,
             (long long)dh, (long long)dw, (long long)ph, (long long)pw, (long long)ceil_mode);
    compare_op(EMBER_OP_MAX_POOL2D_NHWC, in, 1, &y1, &y2, attr, 9, pool, what);
    free(xv);
    free(yr);
    free(yf);
  }
}

/* permutes that rotate the non-batch axes (NCHW <-> NHWC and their rank-3/5 relatives) */
static void test_transpose(ember_pool *pool) {
  for (int trial = 0; trial < 40; trial++) {
    int r = (int)irand(3, 5), s = (int)irand(2, (size_t)r - 1);
    int64_t xd[5], yd[5], perm[8] = {0, 1, 2, 3, 4, 5, 6, 7}, n = 1;
    for (int d = 0; d < r; d++) xd[d] = (int64_t)irand(1, d == 0 ? 3 : 37);
    if (trial < 8) { /* an image going NHWC: 1-4 channels, more pixels than one column band */
      r = 4;
      s = 2;
      xd[1] = (int64_t)irand(1, 4);
      xd[2] = 60 + trial;
      xd[3] = 71;
    }
    for (int d = 1; d < r; d++) perm[d] = d <= r - s ? s + d - 1 : d - (r - s);
    for (int d = 0; d < r; d++) {
      yd[d] = xd[perm[d]];
      n *= xd[d];
    }
    float *xv = frand_array(n), *yr = calloc((size_t)n, 4), *yf = calloc((size_t)n, 4);
    int dt = trial % 2 ? EMBER_DTYPE_I8 : EMBER_DTYPE_F32; /* int8: quantized activations change layout too */
    ember_tensor x = qtensor(r, xd, dt, 0, xv), y1 = qtensor(r, yd, dt, 0, yr), y2 = qtensor(r, yd, dt, 0, yf);
    const ember_tensor *in[1] = {&x};
    char what[64];
    snprintf(what, sizeof what, "permute rotation rank %d split %d %s", r, s, dt == EMBER_DTYPE_I8 ? "i8" : "f32");
    compare_op_tol(EMBER_OP_PERMUTE, in, 1, &y1, &y2, perm, 8, pool, what, -1.0); /* a copy: bit-exact */
    free(xv);
    free(yr);
    free(yf);
  }
}

/* f32 reduce_mean / reduce_sum over a contiguous run of axes before the last (global average pooling in
 * NHWC): the fast kernel sums in double in the reference's order, so it must equal the reference bit for bit */
static void test_reduce(ember_pool *pool) {
  for (int trial = 0; trial < 40; trial++) {
    int r = (int)irand(2, 5);
    int64_t xd[5], yd[5], n = 1;
    for (int d = 0; d < r; d++) {
      xd[d] = d == r - 1 ? (int64_t)irand(4, 300) : (int64_t)irand(1, 9); /* inner >= 4: the fast kernel */
      n *= xd[d];
    }
    int first = (int)irand(0, (size_t)r - 2), last = (int)irand((size_t)first, (size_t)r - 2);
    int64_t mask = 0;
    for (int d = first; d <= last; d++) mask |= (int64_t)1 << d;
    int64_t keep = trial % 2, yr_ = 0;
    for (int d = 0; d < r; d++)
      if (!((mask >> d) & 1)) yd[yr_++] = xd[d];
      else if (keep) yd[yr_++] = 1;
    int64_t yn = 1;
    for (int d = 0; d < yr_; d++) yn *= yd[d];
    float *xv = frand_array(n), *y1v = calloc((size_t)yn + 1, 4), *y2v = calloc((size_t)yn + 1, 4);
    if (trial == 3) xv[0] = NAN;
    int32_t op = trial % 3 ? EMBER_OP_REDUCE_MEAN : EMBER_OP_REDUCE_SUM;
    ember_tensor x = qtensor(r, xd, EMBER_DTYPE_F32, 0, xv), y1 = qtensor((int)yr_, yd, EMBER_DTYPE_F32, 0, y1v);
    ember_tensor y2 = qtensor((int)yr_, yd, EMBER_DTYPE_F32, 0, y2v);
    const ember_tensor *in[1] = {&x};
    int64_t attr[2] = {mask, keep};
    char what[96];
    snprintf(what, sizeof what, "%s rank %d mask %#llx keepdim %lld", op == EMBER_OP_REDUCE_MEAN ? "reduce_mean" : "reduce_sum",
             r, (unsigned long long)mask, (long long)keep);
    compare_op_tol(op, in, 1, &y1, &y2, attr, 2, pool, what, -1.0);
    free(xv);
    free(y1v);
    free(y2v);
  }
}

int main(void) {
  for (int threads = 1; threads <= 3; threads += 2) {
    ember_pool *pool = ember_pool_create(threads);
    test_conv2d_nhwc(pool);
    test_winograd(pool);
    test_pwdw(pool);
    test_qdwconv_nhwc(pool);
    test_q8_elementwise(pool);
    test_qconv_nhwc(pool);
    test_dwconv2d_nhwc(pool);
    test_maxpool_nhwc(pool);
    test_transpose(pool);
    test_reduce(pool);
    ember_pool_free(pool);
  }
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail != 0;
}
