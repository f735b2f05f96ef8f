/* The thread pool's contract (src/threadpool.h), checked directly:
 *   - every tile of a job runs exactly once, with a thread id in [0, threads), for tile counts around
 *     the thread count and far above it, and past the 24-bit range limit (run on the caller);
 *   - many jobs in a row (more than the 16-bit job tag wraps) stay correct;
 *   - a tile that blocks its thread does not block the job: the others steal the rest of its range;
 *   - a pool whose workers are asleep still finishes (the caller steals their ranges). */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "threadpool.h"

static int failures;
#define CHECK(cond, ...)                    \
  do {                                      \
    if (!(cond)) {                          \
      failures++;                           \
      fprintf(stderr, "FAIL: " __VA_ARGS__); \
      fprintf(stderr, "\n");                \
    }                                       \
  } while (0)

typedef struct {
  atomic_uint *count; /* runs per tile */
  atomic_int bad_thread;
  int threads;
} count_job;

static void count_tile(void *ctx, size_t tile, int thread) {
  count_job *j = ctx;
  atomic_fetch_add_explicit(&j->count[tile], 1, memory_order_relaxed);
  if (thread < 0 || thread >= j->threads) atomic_store(&j->bad_thread, 1);
}

static void run_counted(ember_pool *pool, int threads, size_t n, const char *what) {
  count_job j = {calloc(n ? n : 1, sizeof(atomic_uint)), 0, threads};
  if (!j.count) {
    CHECK(0, "out of memory for %zu tiles", n);
    return;
  }
  ember_pool_run(pool, n, count_tile, &j);
  size_t wrong = 0;
  for (size_t t = 0; t < n; t++) wrong += atomic_load(&j.count[t]) != 1;
  CHECK(wrong == 0, "%s: %zu of %zu tiles did not run exactly once (threads %d)", what, wrong, n, threads);
  CHECK(!atomic_load(&j.bad_thread), "%s: a thread id outside [0, %d)", what, threads);
  free(j.count);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* tile 0 (the front of the caller's range) blocks until another thread has run a tile of that range */
typedef struct {
  size_t n, range0_end;
  atomic_int stolen;
  atomic_uint *count;
} steal_job;

static void steal_tile(void *ctx, size_t tile, int thread) {
  steal_job *j = ctx;
  atomic_fetch_add(&j->count[tile], 1);
  if (tile > 0 && tile < j->range0_end && thread != 0) atomic_store(&j->stolen, 1);
  if (tile == 0) {
    double end = now_s() + 10.0;
    while (!atomic_load(&j->stolen) && now_s() < end) sleep_ms(1);
  }
}

int main(void) {
  static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 1000, 4097};
  for (int threads = 1; threads <= 5; threads++) {
    ember_pool *pool = ember_pool_create(threads);
    CHECK(pool != NULL, "ember_pool_create(%d)", threads);
    if (!pool) continue;
    CHECK(ember_pool_threads(pool) == threads, "pool reports %d threads, asked %d", ember_pool_threads(pool), threads);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) run_counted(pool, threads, sizes[i], "job");

    /* more jobs than the job tag holds (16 bits), alternating sizes */
    for (int r = 0; r < 70000 && failures == 0; r++) run_counted(pool, threads, (size_t)(r % 5) + 1, "job stream");

    if (threads > 1) {
      /* stealing: the caller's first tile waits for a worker to take a tile of the caller's range */
      steal_job s = {.n = 64};
      s.range0_end = s.n / (size_t)threads;
      s.count = calloc(s.n, sizeof(atomic_uint));
      atomic_init(&s.stolen, 0);
      ember_pool_run(pool, s.n, steal_tile, &s);
      CHECK(atomic_load(&s.stolen), "threads %d: no worker stole from the caller's range in 10 s", threads);
      size_t wrong = 0;
      for (size_t t = 0; t < s.n; t++) wrong += atomic_load(&s.count[t]) != 1;
      CHECK(wrong == 0, "threads %d: %zu tiles of the stealing job did not run exactly once", threads, wrong);
      free(s.count);

      /* workers asleep (well past their spin) when the job arrives */
      sleep_ms(50);
      run_counted(pool, threads, 257, "job after the workers slept");
    }
    ember_pool_free(pool);
  }
  /* past the 24-bit tile limit the caller runs every tile itself */
  ember_pool *pool = ember_pool_create(2);
  if (pool) {
    run_counted(pool, 2, ((size_t)1 << 24) + 3, "job over the range limit");
    ember_pool_free(pool);
  }
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("threadpool: all checks passed\n");
  return 0;
}
