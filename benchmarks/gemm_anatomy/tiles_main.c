/* Timing loop of tile_shapes.py: the generated k loops (tiles_kernels.h, written by the script) against a
 * register-only FMA loop, round after round. Prints one JSON object. Usage: tiles ROUNDS */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tiles_kernels.h" /* NSHAPE, NMODE, MODE_K, MODE_NAME, MR, NV, FN */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static float fma_loop(long iters, float seed) {
  __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f), a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(seed + (float)i);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], b, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
  return _mm512_cvtss_f32(s);
}

static int cmpd(const void *x, const void *y) {
  double p = *(const double *)x, q = *(const double *)y;
  return (p > q) - (p < q);
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 15;
  const size_t abytes = (size_t)1 << 20, bbytes = (size_t)4 << 20;
  float *a = aligned_alloc(64, abytes), *b = aligned_alloc(64, bbytes), *c = aligned_alloc(64, 64);
  double *r = malloc(sizeof(double) * NSHAPE * NMODE * (size_t)(rounds > 0 ? rounds : 1));
  double *pk = malloc(sizeof(double) * (size_t)(rounds > 0 ? rounds : 1));
  if (!a || !b || !c || !r || !pk || rounds < 1) return 2;
  for (size_t i = 0; i < abytes / 4; i++) a[i] = 1e-3f * (float)(i % 5);
  for (size_t i = 0; i < bbytes / 4; i++) b[i] = 1e-3f * (float)(i % 7);
  static const size_t ks[NMODE] = MODE_K;
  float sink = 0;
  for (int q = 0; q < rounds; q++) {
    double t0 = now();
    const long it = 4000000;
    sink += fma_loop(it, (float)q);
    const double peak = (double)it * 12 * 32 / (now() - t0) / 1e9;
    pk[q] = peak;
    for (int s = 0; s < NSHAPE; s++)
      for (int m = 0; m < NMODE; m++) {
        /* mode 0: A and B fixed (L1); 1: A advances through 1 MiB, B fixed; 2: A advances through
         * 512 KiB and B through 1 MiB (both in L2); 3: the same with B through 4 MiB (B from L3) */
        const size_t k = ks[m], afl = (size_t)MR[s] * k, bfl = (size_t)NV[s] * 16 * k;
        const size_t na = (m >= 2 ? abytes / 2 : abytes) / 4 / afl;
        const size_t nb = (m == 2 ? bbytes / 4 : bbytes) / 4 / bfl;
        const long reps = (long)(24000000 / ((size_t)MR[s] * (size_t)NV[s] * k));
        t0 = now();
        for (long i = 0; i < reps; i++) {
          const float *ap = m >= 1 ? a + (size_t)i % (na ? na : 1) * afl : a;
          const float *bp = m >= 2 ? b + (size_t)i % (nb ? nb : 1) * bfl : b;
          FN[s](k, ap, bp, c);
        }
        const double gf = 2.0 * MR[s] * NV[s] * 16 * (double)k * (double)reps / (now() - t0) / 1e9;
        r[((size_t)s * NMODE + (size_t)m) * (size_t)rounds + (size_t)q] = gf / peak;
        sink += c[0];
      }
  }
  qsort(pk, (size_t)rounds, sizeof(double), cmpd);
  printf("{\"rounds\": %d, \"peak_median\": %.3f, \"sink\": %g, \"shapes\": [", rounds, pk[rounds / 2], (double)sink);
  for (int s = 0; s < NSHAPE; s++) {
    printf("%s{", s ? ", " : "");
    for (int m = 0; m < NMODE; m++) {
      double *v = r + ((size_t)s * NMODE + (size_t)m) * (size_t)rounds;
      qsort(v, (size_t)rounds, sizeof(double), cmpd);
      printf("%s\"%s\": {\"median\": %.4f, \"best\": %.4f}", m ? ", " : "", MODE_NAME[m], v[rounds / 2],
             v[rounds - 1]);
    }
    printf("}");
  }
  printf("]}\n");
  free(a), free(b), free(c), free(r), free(pk);
  return 0;
}
