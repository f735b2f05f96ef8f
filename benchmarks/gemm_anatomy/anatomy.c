/* Where the time of Ember's fp32 GEMM goes (AVX-512, one thread), measured in alternation in one process.
 *
 *   peak      register-only FMA loop: 12 independent zmm chains (as ember.bench.limits)
 *   l1        the 12x32 packed-A microkernel on one tile, A and B in L1 (k = 128)
 *   l2        the microkernel over one row tile's 11 A micro-panels and one 32-column B slice, k = KC:
 *             operands in L2, C in L1
 *   loop      the driver's loop (row tiles of MC rows, K blocks of KC, 32-column B slices, 12-row
 *             micro-panels) over the whole matrix, packing A per row tile and K block as Ember does;
 *             B slices come from L3, C goes to memory
 *   packonly  the A packing of `loop` alone (its share of `loop`'s time is reported)
 *   ember     the real thing: a one-node linear .ember run through the C API (input bound in place,
 *             output bound to caller memory)
 *
 * The replica loop uses the blocking f32_linear.c chooses for M = N = K = 1024 on one thread (MC and
 * KC below); its only purpose is to split the time, the figure that counts is `ember`.
 * Usage: anatomy MODEL.ember N ROUNDS  -> one JSON object on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember/ember.h"
#include "f32_gemm.h"

#define MC 72    /* rows per tile: 1024 rows in 15 tiles of ~72 (f32_linear.c PA_MC_SPLIT), rounded to 12 */
#define KC 1024  /* K block */
#define NSTAGE 6

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static float fma_loop(long iters, float seed) {
  __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2);
  __m512 a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5);
  __m512 a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8);
  __m512 a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
  for (long i = 0; i < iters; i++) {
    a0 = _mm512_fmadd_ps(a0, b, c), a1 = _mm512_fmadd_ps(a1, b, c), a2 = _mm512_fmadd_ps(a2, b, c);
    a3 = _mm512_fmadd_ps(a3, b, c), a4 = _mm512_fmadd_ps(a4, b, c), a5 = _mm512_fmadd_ps(a5, b, c);
    a6 = _mm512_fmadd_ps(a6, b, c), a7 = _mm512_fmadd_ps(a7, b, c), a8 = _mm512_fmadd_ps(a8, b, c);
    a9 = _mm512_fmadd_ps(a9, b, c), a10 = _mm512_fmadd_ps(a10, b, c), a11 = _mm512_fmadd_ps(a11, b, c);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_cvtss_f32(s);
}

typedef struct {
  size_t n;
  const float *x;  /* A, n x n row-major */
  const float *bp; /* B as 16-column panels of n rows (the linear weight layout) */
  float *ap;       /* packed A: per row tile and K block, micro-panels of 12 x kc */
  float *y;
} gemm;

/* the driver's loop: the A block of each tile and K block is packed, then (unless pack_only) multiplied */
static void replica(const gemm *g, int pack_only) {
  const size_t n = g->n, pstride = n * EMBER_GEMM_NR;
  for (size_t row0 = 0; row0 < n; row0 += MC) {
    size_t rows = n - row0 < MC ? n - row0 : MC;
    for (size_t pc = 0; pc < n; pc += KC) {
      size_t kc = n - pc < KC ? n - pc : KC;
      float *ap = g->ap + pc * rows; /* one block for every tile, as Ember's per-thread scratch */
      for (size_t r = 0; r < rows; r += 12)
        ember_f32_pack_a12_avx512f(rows - r < 12 ? rows - r : 12, kc, g->x + (row0 + r) * n + pc, n, ap + r * kc);
      if (pack_only) continue;
      for (size_t c0 = 0; c0 < n; c0 += 32) {
        size_t nr = n - c0 < 32 ? n - c0 : 32;
        const float *panel = g->bp + (c0 / EMBER_GEMM_NR) * pstride + pc * EMBER_GEMM_NR;
        for (size_t r = 0; r < rows; r += 12) { /* the first micro-panel brings the B slice in: prefetching */
          /* each call prefetches its share of the next slice, as f32_linear.c */
          const float *pf = ember_f32_next_slice_share(g->bp, n, KC, 0, n, c0, pc, kc, r / 12);
          (r == 0 ? ember_f32_gemm_12x32ps_avx512f : ember_f32_gemm_12x32p_avx512f)(
              rows - r < 12 ? rows - r : 12, nr, kc, ap + r * kc, panel, pstride, g->y + (row0 + r) * n + c0, n, pc > 0, pf);
        }
      }
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void *xalloc(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(3);
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: anatomy MODEL.ember N ROUNDS\n");
    return 2;
  }
  const size_t n = (size_t)atol(argv[2]);
  const int rounds = atoi(argv[3]);
  if (n < 32 || n % 32 || rounds < 1) {
    fprintf(stderr, "N must be a multiple of 32, ROUNDS >= 1\n");
    return 2;
  }
  char err[512];
  ember_program *prog;
  if (ember_program_load_file(argv[1], 0, &prog, err, sizeof err) != EMBER_OK) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], err);
    return 1;
  }
  ember_session_options opts;
  memset(&opts, 0, sizeof opts);
  opts.threads = 1;
  ember_session *s;
  if (ember_session_create(prog, &opts, &s, err, sizeof err) != EMBER_OK) {
    fprintf(stderr, "cannot create a session: %s\n", err);
    return 1;
  }
  float *x = xalloc(n * n * 4), *w = xalloc(n * n * 4), *y = xalloc(n * n * 4), *ye = xalloc(n * n * 4);
  float *bp = xalloc(n * n * 4), *ap = xalloc((n + 12) * n * 4);
  for (size_t i = 0; i < n * n; i++) {
    x[i] = (float)((i * 7919u) % 1000u) / 500.f - 1.f;
    w[i] = (float)((i * 104729u) % 1000u) / 500.f - 1.f;
  }
  for (size_t p = 0; p < n / 16; p++) /* W[N, K] -> 16-column panels, as the linear kernel packs it */
    for (size_t k = 0; k < n; k++)
      for (size_t j = 0; j < 16; j++) bp[(p * n + k) * 16 + j] = w[(p * 16 + j) * n + k];
  if (ember_session_bind_input(s, 0, x, n * n * 4) != EMBER_OK || ember_session_bind_output(s, 0, ye, n * n * 4) != EMBER_OK) {
    fprintf(stderr, "cannot bind: %s\n", ember_session_last_error(s));
    return 1;
  }
  gemm g = {n, x, bp, ap, y};
  replica(&g, 0);
  ember_session_run(s);

  /* l1 operands: one tile */
  const size_t kl = 128;
  float *la = xalloc(12 * kl * 4), *lb = xalloc(2 * kl * 16 * 4), *lc = xalloc(12 * 32 * 4);
  float *lc2 = xalloc(MC * 32 * 4);
  for (size_t i = 0; i < 12 * kl; i++) la[i] = 0.001f * (float)(i % 5);
  for (size_t i = 0; i < 2 * kl * 16; i++) lb[i] = 0.001f * (float)(i % 7);

  const char *names[NSTAGE] = {"peak", "l1", "l2", "loop", "packonly", "ember"};
  double *gf[NSTAGE];
  for (int i = 0; i < NSTAGE; i++) gf[i] = xalloc(sizeof(double) * (size_t)rounds);
  const double flops = 2.0 * (double)n * (double)n * (double)n;
  float sink = 0;
  for (int r = 0; r < rounds; r++) {
    double t0 = now();
    const long iters = 10000000;
    sink += fma_loop(iters, (float)r);
    gf[0][r] = (double)iters * 12 * 16 * 2 / (now() - t0) / 1e9;

    const long reps = 2000;
    t0 = now();
    for (long i = 0; i < reps; i++) ember_f32_gemm_12x32p_avx512f(12, 32, kl, la, lb, kl * 16, lc, 32, 0, NULL);
    gf[1][r] = 2.0 * 12 * 32 * (double)kl * (double)reps / (now() - t0) / 1e9;
    sink += lc[0];

    const size_t kk = KC < n ? KC : n, tiles = MC / 12; /* l2: the first row tile, first B slice */
    for (int i = 0; i < 17; i++) { /* the first pass brings the operands into L2, untimed */
      if (i == 1) t0 = now();
      for (size_t p = 0; p < tiles; p++)
        ember_f32_gemm_12x32p_avx512f(12, 32, kk, ap + p * 12 * kk, bp, n * EMBER_GEMM_NR, lc2 + p * 12 * 32, 32, 0, NULL);
    }
    gf[2][r] = 2.0 * 12 * 32 * (double)kk * (double)tiles * 16 / (now() - t0) / 1e9;
    sink += lc2[0];

    t0 = now();
    replica(&g, 0);
    gf[3][r] = flops / (now() - t0) / 1e9;
    t0 = now();
    replica(&g, 1); /* as GFLOP/s of the whole product: its share of `loop` is loop / packonly */
    gf[4][r] = flops / (now() - t0) / 1e9;
    t0 = now();
    if (ember_session_run(s) != EMBER_OK) {
      fprintf(stderr, "run failed: %s\n", ember_session_last_error(s));
      return 1;
    }
    gf[5][r] = flops / (now() - t0) / 1e9;
  }
  double maxdiff = 0; /* the replica computes the same product as Ember (same kernel, same K blocks) */
  for (size_t i = 0; i < n * n; i++) {
    double d = (double)y[i] - (double)ye[i];
    if (d < 0) d = -d;
    if (d > maxdiff) maxdiff = d;
  }
  printf("{\"n\": %zu, \"rounds\": %d, \"mc\": %d, \"kc\": %d, \"replica_vs_ember_max_abs_diff\": %g, \"sink\": %g, \"stages\": {",
         n, rounds, MC, KC, maxdiff, (double)sink);
  for (int i = 0; i < NSTAGE; i++) {
    qsort(gf[i], (size_t)rounds, sizeof(double), cmp_double);
    printf("%s\"%s\": {\"median\": %.3f, \"best\": %.3f}", i ? ", " : "", names[i], gf[i][rounds / 2], gf[i][rounds - 1]);
  }
  printf("}}\n");
  ember_session_free(s);
  ember_program_free(prog);
  return 0;
}
