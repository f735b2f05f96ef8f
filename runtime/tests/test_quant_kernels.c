/* Quantized kernels: every int8 dot-product microkernel this CPU can run against a naive sum, and the
 * fast qlinear / dqlinear / qconv2d (with each dispatch choice: best, AVX2 cap, forced scalar; 1 and 3
 * threads) against the reference kernels, bit for bit, on random shapes with sizes of 1, primes and
 * tails that do not fill a register. Prints "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/fast/q4_gemm.h"
#include "../kernels/fast/q8_gemm.h"
#include "internal.h"
#include "quant_util.h"
#include "ref_kernels.h"
#include "threadpool.h"

const ember_fast_kernel *ember_quant_fast_kernel_select(const ember_kargs *a);

static int g_pass, g_fail;
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static int8_t i8rand(void) { return (int8_t)(int32_t)irand(-128, 127); }
static float frand(void) { return (float)(rnd() % 20001) / 10000.f - 1.f; }

static void check(int ok, const char *what) {
  if (ok) {
    g_pass++;
  } else {
    g_fail++;
    printf("FAIL %s\n", what);
  }
}

static void test_microkernels(void) {
  const ember_q8_config *cfgs[8];
  int n = ember_q8_available(cfgs, 8);
  for (int c = 0; c < n; c++) {
    int ok = 1;
    for (int trial = 0; trial < 200 && ok; trial++) {
      size_t mr = (size_t)irand(1, 4), nr = (size_t)irand(1, 4), kp = (size_t)irand(1, 12) * EMBER_Q8_KP;
      int8_t *a = aligned_alloc(64, 4 * kp), *b = aligned_alloc(64, 4 * kp);
      for (size_t i = 0; i < 4 * kp; i++) {
        a[i] = trial % 7 == 0 ? -128 : i8rand(); /* extremes: -128 * -128 sums must stay exact */
        b[i] = trial % 7 == 0 ? -128 : i8rand();
      }
      int32_t got[4 * 5];
      for (size_t i = 0; i < 20; i++) got[i] = 0x5A5A5A5A;
      cfgs[c]->fn(mr, nr, kp, a, b, got, 5);
      for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) {
          int32_t want = 0x5A5A5A5A;
          if (i < mr && j < nr) {
            int32_t s = 0, bs = 0;
            for (size_t k = 0; k < kp; k++) {
              s += (int32_t)a[i * kp + k] * b[j * kp + k];
              bs += b[j * kp + k];
            }
            want = s + cfgs[c]->a_offset * bs;
          }
          if (got[i * 5 + j] != want) ok = 0;
        }
      free(a);
      free(b);
    }
    char what[96];
    snprintf(what, sizeof what, "microkernel %s", cfgs[c]->name);
    check(ok, what);
    printf("tested %s\n", cfgs[c]->name);
  }
}

/* the panel kernels with the requantization fused (panel_rq) against a naive sum + ember_q_requant */
static void test_panel_rq(void) {
  const ember_q8_config *cfgs[8];
  int n = ember_q8_available(cfgs, 8);
  for (int c = 0; c < n; c++) {
    if (!cfgs[c]->panel_rq) continue;
    int ok = 1;
    for (int trial = 0; trial < 300 && ok; trial++) {
      size_t mr = (size_t)irand(1, 8), nr = (size_t)irand(1, 32), kp = 4 * (size_t)irand(1, 40);
      uint8_t *a = aligned_alloc(64, (8 * kp + 63) / 64 * 64);
      int8_t *b = aligned_alloc(64, 32 * kp + 64);
      for (size_t i = 0; i < 8 * kp; i++) a[i] = (uint8_t)(trial % 7 == 0 ? 0 : irand(0, 255));
      for (size_t i = 0; i < 32 * kp; i++) b[i] = trial % 7 == 0 ? -128 : i8rand();
      int32_t qb[32];
      float sc[32];
      for (int j = 0; j < 32; j++) {
        qb[j] = (int32_t)irand(-3000000, 3000000);
        /* tiny to huge: products far past int8 (and past 2^31 as a float) must clamp as the reference does */
        sc[j] = trial % 11 == 0 ? 1e30f : (float)irand(1, 100000) * 1e-9f;
      }
      int32_t zp = (int32_t)irand(-128, 127), lo = trial % 2 ? -128 : zp, hi = trial % 3 ? 127 : (zp > 0 ? 127 : zp + 100);
      ember_q8_requant rq = {qb, sc, zp, lo, hi};
      int8_t got[8 * 40];
      memset(got, 0x5A, sizeof got);
      cfgs[c]->panel_rq(mr, nr, kp, a, b, got, 40, &rq);
      for (size_t i = 0; i < 8 && ok; i++)
        for (size_t j = 0; j < 40; j++) {
          int8_t want = 0x5A;
          if (i < mr && j < nr) {
            int32_t sum = 0;
            for (size_t k = 0; k < kp; k++) { /* A as stored (u8 when a_offset = 128), B in VNNI panels */
              int32_t av = cfgs[c]->a_offset ? (int32_t)a[i * kp + k] : (int32_t)(int8_t)a[i * kp + k];
              sum += av * b[(j / 16) * kp * 16 + (k / 4) * 64 + (j % 16) * 4 + k % 4];
            }
            want = ember_q_requant((int32_t)((uint32_t)sum + (uint32_t)qb[j]), sc[j], zp, lo, hi);
          }
          if (got[i * 40 + j] != want) ok = 0;
        }
      free(a);
      free(b);
    }
    char what[96];
    snprintf(what, sizeof what, "panel + requantization %s", cfgs[c]->name);
    check(ok, what);
    printf("tested %s\n", what);
  }
}

static ember_tensor tensor(int32_t dtype, int rank, const int64_t *dims, int storage, void *data) {
  ember_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.rank = rank;
  t.numel = 1;
  for (int i = 0; i < rank; i++) {
    t.dims[i] = dims[i];
    t.numel *= dims[i];
  }
  t.nbytes = (uint64_t)t.numel * ember_dtype_size(dtype);
  t.storage = (uint32_t)storage;
  t.data = data;
  return t;
}

/* ref kernel vs fast kernel, outputs compared byte for byte */
static void compare_op(int32_t op, const ember_tensor **in, int n_in, ember_tensor *y_ref, ember_tensor *y_fast,
                       const int64_t *attr, int n_attr, ember_pool *pool, const char *what) {
  char err[256] = {0};
  ember_kargs a;
  memset(&a, 0, sizeof a);
  a.op = op;
  a.in = in;
  a.n_in = n_in;
  a.n_out = 1;
  a.attr = attr;
  a.n_attr = n_attr;
  a.err = err;
  a.err_len = sizeof err;
  ember_tensor *outs[1] = {y_ref};
  a.out = outs;
  uint64_t scratch = 0;
  if (ember_kernel_for(op)->check(&a, &scratch) != EMBER_OK) {
    check(0, err);
    return;
  }
  void *ref_scratch = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
  a.scratch = ref_scratch;
  ember_kernel_for(op)->eval(&a);
  const ember_fast_kernel *fk = ember_fast_kernel_select(&a);
  if (!fk || fk != ember_quant_fast_kernel_select(&a)) {
    check(0, "fast kernel does not apply");
    free(ref_scratch);
    return;
  }
  void *packed = NULL;
  uint64_t packed_bytes = 0, per_thread = 0;
  if (fk->prepare(&a, &packed, &packed_bytes, &per_thread) != EMBER_OK) {
    check(0, err);
    free(ref_scratch);
    return;
  }
  int threads = ember_pool_threads(pool);
  uint64_t stride = (per_thread + 63) / 64 * 64;
  void *scratch_mem = aligned_alloc(64, stride * (uint64_t)threads + 64);
  outs[0] = y_fast;
  a.scratch = scratch_mem;
  a.scratch_stride = stride;
  a.packed = packed;
  a.pool = pool;
  fk->eval(&a);
  check(memcmp(y_fast->data, y_ref->data, y_ref->nbytes) == 0, what);
  if (getenv("EMBER_TEST_SHOW_DIFF") && y_ref->dtype == EMBER_DTYPE_F32 && memcmp(y_fast->data, y_ref->data, y_ref->nbytes))
    for (int64_t i = 0, shown = 0; i < y_ref->numel && shown < 6; i++)
      if (((float *)y_fast->data)[i] != ((float *)y_ref->data)[i])
        printf("  [%lld] fast %g ref %g\n", (long long)i, ((float *)y_fast->data)[i], ((float *)y_ref->data)[i]), shown++;
  free(packed);
  free(scratch_mem);
  free(ref_scratch);
}

static void *i8_array(int64_t n) {
  int8_t *p = malloc((size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = i8rand();
  return p;
}

static void fill_qparams(int64_t n, int32_t *bias, float *scale) {
  for (int64_t i = 0; i < n; i++) {
    /* mostly moderate biases, sometimes beyond the +-2^30 clamp */
    bias[i] = rnd() % 9 == 0 ? (int32_t)(rnd() << 1) : (int32_t)irand(-200000, 200000);
    scale[i] = (0.5f + (float)(rnd() % 1000) / 1000.f) / 40000.f;
  }
}

static void test_qlinear(ember_pool *pool, const char *mode) {
  for (int trial = 0; trial < 30; trial++) {
    int64_t m = trial < 3 ? 1 : irand(1, trial % 3 ? 13 : 70), k = trial < 5 ? trial + 1 : irand(1, 700);
    int64_t n = irand(1, 70);
    int dyn = trial % 2;
    int64_t xd[2] = {m, k}, wd[2] = {n, k}, vd[1] = {n}, yd[2] = {m, n};
    void *xv = dyn ? malloc((size_t)(m * k) * 4) : i8_array(m * k), *wv = i8_array(n * k);
    if (dyn)
      for (int64_t i = 0; i < m * k; i++) ((float *)xv)[i] = frand() * 3.f + (trial % 4 == 1 ? 1.f : 0.f);
    int32_t *bv = malloc((size_t)n * 4);
    float *sv = malloc((size_t)n * 4), *fb = malloc((size_t)n * 4);
    fill_qparams(n, bv, sv);
    for (int64_t i = 0; i < n; i++) fb[i] = frand();
    size_t ys = dyn ? 4 : 1;
    void *yr = calloc((size_t)(m * n), ys), *yf = calloc((size_t)(m * n), ys);
    ember_tensor x = tensor(dyn ? EMBER_DTYPE_F32 : EMBER_DTYPE_I8, 2, xd, EMBER_STORAGE_ARENA, xv);
    ember_tensor w = tensor(EMBER_DTYPE_I8, 2, wd, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(EMBER_DTYPE_I32, 1, vd, EMBER_STORAGE_CONST, bv);
    ember_tensor s = tensor(EMBER_DTYPE_F32, 1, vd, EMBER_STORAGE_CONST, sv);
    ember_tensor fbias = tensor(EMBER_DTYPE_F32, 1, vd, EMBER_STORAGE_CONST, fb);
    int32_t ydt = dyn ? EMBER_DTYPE_F32 : EMBER_DTYPE_I8;
    ember_tensor y1 = tensor(ydt, 2, yd, 0, yr), y2 = tensor(ydt, 2, yd, 0, yf);
    char what[160];
    snprintf(what, sizeof what, "%s m=%lld k=%lld n=%lld threads=%d %s", dyn ? "dqlinear" : "qlinear",
             (long long)m, (long long)k, (long long)n, ember_pool_threads(pool), mode);
    if (dyn) {
      const ember_tensor *in[4] = {&x, &w, &s, &fbias};
      double lo = -0.5, hi = 0.5;
      int64_t attr[3] = {trial % 4 == 3 ? EMBER_ACT_RELU : EMBER_ACT_NONE, 0, 0};
      memcpy(&attr[1], &lo, 8);
      memcpy(&attr[2], &hi, 8);
      compare_op(EMBER_OP_DQLINEAR, in, trial % 4 == 1 ? 3 : 4, &y1, &y2, attr, 3, pool, what);
    } else {
      const ember_tensor *in[4] = {&x, &w, &b, &s};
      int64_t attr[4] = {irand(-128, 127), irand(-128, 127), trial % 3 ? -128 : irand(-128, 0), 127};
      compare_op(EMBER_OP_QLINEAR, in, 4, &y1, &y2, attr, 4, pool, what);
    }
    free(xv);
    free(wv);
    free(bv);
    free(sv);
    free(fb);
    free(yr);
    free(yf);
  }
}

static void test_qconv(ember_pool *pool, const char *mode) {
  for (int trial = 0; trial < 30; trial++) {
    int depthwise = trial % 3 == 2; /* groups == channels: the row-wise depthwise kernel */
    int64_t n = irand(1, 2), c = irand(1, 9), o = depthwise ? c : irand(1, 13), g = depthwise ? c : 1;
    int64_t kh = irand(1, 5), kw = irand(1, 5), sh = irand(1, 3), sw = irand(1, 3);
    int64_t dh = irand(1, 2), dw = irand(1, 2), ph = irand(0, 2), pw = irand(0, 2);
    if (trial % 5 == 0) kh = kw = sh = sw = 1, ph = pw = 0; /* pointwise: the transposing im2col */
    int64_t h = irand(1, 13) + dh * (kh - 1), wd = irand(1, 17) + dw * (kw - 1);
    int64_t oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, ow = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    int64_t xd[4] = {n, c, h, wd}, wdims[4] = {o, c / g, kh, kw}, vd[1] = {o}, yd[4] = {n, o, oh, ow};
    void *xv = i8_array(n * c * h * wd), *wv = i8_array(o * (c / g) * kh * kw);
    int32_t *bv = malloc((size_t)o * 4);
    float *sv = malloc((size_t)o * 4);
    fill_qparams(o, bv, sv);
    void *yr = calloc((size_t)(n * o * oh * ow), 1), *yf = calloc((size_t)(n * o * oh * ow), 1);
    ember_tensor x = tensor(EMBER_DTYPE_I8, 4, xd, EMBER_STORAGE_ARENA, xv);
    ember_tensor w = tensor(EMBER_DTYPE_I8, 4, wdims, EMBER_STORAGE_CONST, wv);
    ember_tensor b = tensor(EMBER_DTYPE_I32, 1, vd, EMBER_STORAGE_CONST, bv);
    ember_tensor s = tensor(EMBER_DTYPE_F32, 1, vd, EMBER_STORAGE_CONST, sv);
    ember_tensor y1 = tensor(EMBER_DTYPE_I8, 4, yd, 0, yr), y2 = tensor(EMBER_DTYPE_I8, 4, yd, 0, yf);
    const ember_tensor *in[4] = {&x, &w, &b, &s};
    int64_t attr[11] = {sh, sw, ph, pw, dh, dw, g, irand(-128, 127), irand(-128, 127), -128, irand(0, 127)};
    char what[200];
    snprintf(what, sizeof what, "qconv2d g=%lld n=%lld c=%lld o=%lld %lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld "
             "p=%lld,%lld threads=%d %s", (long long)g, (long long)n, (long long)c, (long long)o, (long long)h, (long long)wd,
             (long long)kh, (long long)kw, (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)ph,
             (long long)pw, ember_pool_threads(pool), mode);
    compare_op(EMBER_OP_QCONV2D, in, 4, &y1, &y2, attr, 11, pool, what);
    free(xv);
    free(wv);
    free(bv);
    free(sv);
    free(yr);
    free(yf);
  }
}

/* Every int4 GEMV microkernel against rule 7 computed directly from the packed nibbles (an independent
 * oracle: nibbles decoded by ember_q4_get, weight sums recomputed, halves by ember_f16_to_f32), on
 * random K (ragged 64-byte tails), 1..16 columns, 1..3 rows, extreme values (-128 activations, -8
 * weights, zero points -128 and 127). */
static void test_q4_kernels(void) {
  const ember_q4_config *cfgs[4];
  int nk = ember_q4_available(cfgs, 4);
  for (int c = 0; c < nk; c++) {
    int ok = 1;
    for (int trial = 0; trial < 300 && ok; trial++) {
      int ext = trial % 5 == 0;
      size_t gs = (size_t)32 << irand(0, 3), groups = (size_t)irand(1, 9), k = gs * groups, kb = k / 2;
      size_t kbp = (kb + 63) / 64 * 64, nc = (size_t)irand(1, 16), mr = (size_t)irand(1, 3);
      uint8_t *w = malloc(16 * kb);
      for (size_t i = 0; i < 16 * kb; i++) w[i] = (uint8_t)(ext ? 0x88 : rnd());
      uint16_t *st = calloc(groups * 16, 2);
      int16_t *wt = calloc(groups * 16, 2);
      for (size_t n = 0; n < nc; n++)
        for (size_t g = 0; g < groups; g++) {
          int32_t s = 0;
          for (size_t i = g * gs; i < (g + 1) * gs; i++) s += ember_q4_get(w + n * kb, (int64_t)i);
          wt[g * 16 + n] = (int16_t)s;
          st[g * 16 + n] = (uint16_t)(0x1C00 + rnd() % 0x0C00);
        }
      int8_t *q[3], *ev[3], *od[3];
      int32_t *q8[3];
      ember_q4_rows rows;
      for (size_t r = 0; r < 3; r++) {
        q[r] = malloc(k);
        ev[r] = aligned_alloc(64, kbp);
        od[r] = aligned_alloc(64, kbp);
        q8[r] = malloc(groups * 4);
        for (size_t i = 0; i < k; i++) q[r][i] = ext ? -128 : i8rand();
        memset(ev[r], 0, kbp);
        memset(od[r], 0, kbp);
        ember_q4_split(q[r], k, ev[r], od[r]);
        for (size_t g = 0; g < groups; g++) {
          int32_t s = 0;
          for (size_t i = g * gs; i < (g + 1) * gs; i++) s += q[r][i];
          q8[r][g] = 8 * s;
        }
        rows.ev[r] = ev[r];
        rows.od[r] = od[r];
        rows.q8sum[r] = q8[r];
        rows.zp[r] = ext ? (r % 2 ? 127 : -128) : (int32_t)irand(-128, 127);
      }
      ember_q4_weights wd = {w, st, wt, 16, kb, groups, gs};
      float got[3 * 16];
      cfgs[c]->fn(&wd, 0, nc, &rows, mr, got);
      for (size_t r = 0; r < mr; r++)
        for (size_t n = 0; n < nc; n++) {
          float f = 0.0f;
          for (size_t g = 0; g < groups; g++) {
            int32_t s = 0;
            for (size_t i = g * gs; i < (g + 1) * gs; i++)
              s += (q[r][i] - rows.zp[r]) * ember_q4_get(w + n * kb, (int64_t)i);
            float p = (float)s * ember_f16_to_f32(st[g * 16 + n]);
            f = f + p;
          }
          if (memcmp(&f, &got[r * 16 + n], 4) != 0) ok = 0;
        }
      for (size_t r = 0; r < 3; r++) {
        free(q[r]);
        free(ev[r]);
        free(od[r]);
        free(q8[r]);
      }
      free(w);
      free(st);
      free(wt);
    }
    char what[96];
    snprintf(what, sizeof what, "q4 kernel %s", cfgs[c]->name);
    check(ok, what);
    printf("tested %s\n", cfgs[c]->name);
  }
}

/* The selected rule-5 row quantizer against ember_q_quantize_row, bit for bit: lengths 1..100 (tails),
 * all-zero, all-negative and all-positive rows, -0.0, NaN and infinities. */
static void test_quantize_rows(void) {
  ember_q_quantize_fn fn = ember_q_quantize_select();
  int ok = 1;
  float x[100];
  int8_t q1[100], q2[100];
  for (int trial = 0; trial < 400 && ok; trial++) {
    int64_t k = irand(1, 100);
    for (int64_t i = 0; i < k; i++) {
      float v = frand() * (float)(1 << irand(0, 10));
      x[i] = trial % 4 == 1 ? -v * v : trial % 4 == 2 ? v * v : trial % 8 == 3 ? 0.0f : v;
      if (trial % 8 == 7 && rnd() % 5 == 0) {
        float spec[4] = {-0.0f, NAN, INFINITY, -INFINITY};
        x[i] = spec[rnd() % 4];
      }
    }
    float s1, s2;
    int32_t z1, z2;
    ember_q_quantize_row(x, k, q1, &s1, &z1);
    fn(x, k, q2, &s2, &z2);
    if (memcmp(&s1, &s2, 4) || z1 != z2 || memcmp(q1, q2, (size_t)k)) ok = 0;
  }
  check(ok, "quantize row");
}

static void test_q4linear(ember_pool *pool, const char *mode) {
  for (int trial = 0; trial < 24; trial++) {
    /* decode rows (1..3) first, then prefill-like M; K with ragged 64-byte tails (1376 = 43 * 32, as the
     * Llama FFN); N across several 16-column tiles with a ragged last one */
    int64_t gs = (int64_t)32 << irand(0, 2), m = trial < 6 ? 1 + trial % 3 : irand(1, 70), k = gs * irand(1, 9);
    int64_t n = irand(1, 70);
    if (trial == 6) {
      gs = 32;
      k = 1376;
      n = 37;
    }
    int64_t g = k / gs, xd[2] = {m, k}, wd[2] = {n, k / 2}, sd[2] = {n, g}, vd[1] = {n}, yd[2] = {m, n};
    float *xv = malloc((size_t)(m * k) * 4), *bv = malloc((size_t)n * 4);
    for (int64_t i = 0; i < m * k; i++) xv[i] = frand() * 2.f + (trial % 3 == 1 ? 0.7f : 0.f);
    for (int64_t i = 0; i < n; i++) bv[i] = frand();
    uint8_t *wv = malloc((size_t)(n * k / 2));
    for (int64_t i = 0; i < n * k / 2; i++) wv[i] = (uint8_t)rnd();
    uint16_t *sv = malloc((size_t)(n * g) * 2);
    for (int64_t i = 0; i < n * g; i++) sv[i] = (uint16_t)(0x1C00 + rnd() % 0x0C00); /* ~0.004 .. 0.06 */
    float *yr = calloc((size_t)(m * n), 4), *yf = calloc((size_t)(m * n), 4);
    ember_tensor x = tensor(EMBER_DTYPE_F32, 2, xd, EMBER_STORAGE_ARENA, xv);
    ember_tensor w = tensor(EMBER_DTYPE_U8, 2, wd, EMBER_STORAGE_CONST, wv);
    ember_tensor s = tensor(EMBER_DTYPE_F16, 2, sd, EMBER_STORAGE_CONST, sv);
    ember_tensor b = tensor(EMBER_DTYPE_F32, 1, vd, EMBER_STORAGE_CONST, bv);
    ember_tensor y1 = tensor(EMBER_DTYPE_F32, 2, yd, 0, yr), y2 = tensor(EMBER_DTYPE_F32, 2, yd, 0, yf);
    const ember_tensor *in[4] = {&x, &w, &s, &b};
    double lo = -1.0, hi = 1.0;
    int64_t attr[4] = {gs, trial % 4 == 2 ? EMBER_ACT_CLAMP : EMBER_ACT_NONE, 0, 0};
    memcpy(&attr[2], &lo, 8);
    memcpy(&attr[3], &hi, 8);
    char what[160];
    snprintf(what, sizeof what, "q4linear m=%lld k=%lld n=%lld gs=%lld threads=%d %s", (long long)m, (long long)k,
             (long long)n, (long long)gs, ember_pool_threads(pool), mode);
    compare_op(EMBER_OP_Q4LINEAR, in, trial % 2 ? 3 : 4, &y1, &y2, attr, 4, pool, what);
    free(xv);
    free(bv);
    free(wv);
    free(sv);
    free(yr);
    free(yf);
  }
}

int main(void) {
  test_microkernels();
  test_panel_rq();
  test_q4_kernels();
  test_quantize_rows();
  const char *modes[3][2] = {{"best", NULL}, {"avx2-cap", "EMBER_MAX_ISA"}, {"scalar", "EMBER_FORCE_SCALAR"}};
  for (int md = 0; md < 3; md++) {
    if (modes[md][1]) setenv(modes[md][1], md == 1 ? "avx2" : "1", 1);
    for (int threads = 1; threads <= 3; threads += 2) {
      ember_pool *pool = ember_pool_create(threads);
      test_qlinear(pool, modes[md][0]);
      test_qconv(pool, modes[md][0]);
      test_q4linear(pool, modes[md][0]);
      ember_pool_free(pool);
    }
    if (modes[md][1]) unsetenv(modes[md][1]);
  }
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
