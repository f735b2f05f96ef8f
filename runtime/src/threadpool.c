#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if !defined(_WIN32)
#include <pthread.h>
#include <sched.h>
#define EMBER_HAVE_PTHREADS 1
#endif

/* Spin this many pause-rounds for new work before sleeping on the condition variable: about 0.2 ms here
 * (a pause is ~10 ns on this CPU). Long enough that a worker stays awake from one node to the next, so a
 * model of many small nodes does not pay a futex wake-up (tens of microseconds in a VM) per node; an
 * idle session sleeps after that. Without the pause the same count lasted a few microseconds, and
 * MobileNetV2 at 2 threads ran no faster than at 1 when other runtimes ran in between. */
#define SPIN_ROUNDS 20000

/* A job's tiles are split into one contiguous range per thread; each thread takes tiles from the front
 * of its own range, then steals from the back of the others'. Contiguous ranges keep a thread on the
 * same part of the data from one node to the next (row tiles of a GEMM, then of the depthwise conv that
 * reads its output), so on a CPU whose cores have private L2s most of a node's input is already in the
 * reading core's cache instead of the other core's. Each range is one 64-bit word, updated by CAS:
 * job tag (16 bits) | begin (24) | end (24). The tag makes a claim by a worker still looking at an
 * earlier job fail; if the tag wraps (65536 jobs later) the claim is simply a tile of the current job,
 * whose fields the worker reads only after claiming. */
#define RANGE_BITS 24
#define RANGE_MASK ((UINT64_C(1) << RANGE_BITS) - 1)
#define TAG_SHIFT (2 * RANGE_BITS)
#define MAX_TILES RANGE_MASK /* more tiles than this run on the caller alone */

typedef struct {
  _Atomic uint64_t w;
  char pad[64 - sizeof(uint64_t)]; /* one range per cache line: no false sharing between claims */
} range_slot;

struct ember_pool {
  int threads;
#if defined(EMBER_HAVE_PTHREADS)
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake;
#endif
  range_slot *ranges;     /* one per thread */
  atomic_uint generation; /* bumped for each job; workers sleep until it changes */
  /* the caller waits only for tiles actually taken (`done`), never for a worker that is not running
   * (its core busy with other processes): it steals that worker's whole range instead */
  atomic_size_t done;
  _Atomic(ember_task_fn) fn;
  _Atomic(void *) ctx;
  atomic_int stop;
};

static uint64_t range_word(uint32_t job, size_t begin, size_t end) {
  return ((uint64_t)(job & 0xffffu) << TAG_SHIFT) | ((uint64_t)begin << RANGE_BITS) | (uint64_t)end;
}

/* claim and run tiles of job `job`: the own range from its front, then every other range from its
 * back, until all are empty or the job has changed; returns tiles run */
static size_t work(ember_pool *p, uint32_t job, int thread) {
  size_t ran = 0;
  const uint64_t tag = (uint64_t)(job & 0xffffu) << TAG_SHIFT;
  for (int k = 0; k < p->threads; k++) {
    _Atomic uint64_t *r = &p->ranges[(thread + k) % p->threads].w;
    for (;;) {
      uint64_t cur = atomic_load_explicit(r, memory_order_acquire);
      if ((cur >> TAG_SHIFT) << TAG_SHIFT != tag) return ran; /* the job is over */
      size_t begin = (size_t)((cur >> RANGE_BITS) & RANGE_MASK), end = (size_t)(cur & RANGE_MASK);
      if (begin >= end) break; /* empty: the next range */
      const int own = k == 0;
      uint64_t next = own ? cur + (UINT64_C(1) << RANGE_BITS) : cur - 1;
      if (!atomic_compare_exchange_weak_explicit(r, &cur, next, memory_order_acq_rel, memory_order_acquire)) continue;
      /* the job cannot end (nor its fields change) before this tile is counted done */
      ember_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
      fn(atomic_load_explicit(&p->ctx, memory_order_relaxed), own ? begin : end - 1, thread);
      atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
      ran++;
    }
  }
  return ran;
}

#if defined(EMBER_HAVE_PTHREADS)
typedef struct {
  ember_pool *pool;
  int id;
} worker_arg;

static void *worker_main(void *arg_) {
  worker_arg *arg = arg_;
  ember_pool *p = arg->pool;
  int id = arg->id;
  free(arg);
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !atomic_load(&p->stop)) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if (++spins < SPIN_ROUNDS) continue;
      pthread_mutex_lock(&p->mu);
      while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
      pthread_mutex_unlock(&p->mu);
      spins = 0;
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = g;
    work(p, g, id);
  }
}
#endif

ember_pool *ember_pool_create(int threads) {
  ember_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->threads = threads > 1 ? threads : 1;
  atomic_init(&p->generation, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->fn, NULL);
  atomic_init(&p->ctx, NULL);
  atomic_init(&p->stop, 0);
  if (p->threads > 1) {
    p->ranges = aligned_alloc(64, sizeof(range_slot) * (size_t)p->threads);
    if (!p->ranges) {
      p->threads = 1;
      return p;
    }
    for (int i = 0; i < p->threads; i++) atomic_init(&p->ranges[i].w, range_word(0, 0, 0));
  }
#if defined(EMBER_HAVE_PTHREADS)
  if (p->threads > 1) {
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = calloc((size_t)p->threads - 1, sizeof(pthread_t));
    if (!p->workers) {
      p->threads = 1;
      return p;
    }
    for (int i = 1; i < p->threads; i++) {
      worker_arg *arg = malloc(sizeof *arg);
      if (!arg || (arg->pool = p, arg->id = i, pthread_create(&p->workers[i - 1], NULL, worker_main, arg)) != 0) {
        free(arg);
        p->threads = i; /* run with the threads we got */
        break;
      }
    }
  }
#else
  p->threads = 1;
#endif
  return p;
}

void ember_pool_free(ember_pool *p) {
  if (!p) return;
#if defined(EMBER_HAVE_PTHREADS)
  if (p->workers) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
  }
#endif
  free(p->ranges);
  free(p);
}

int ember_pool_threads(const ember_pool *p) { return p ? p->threads : 1; }

void ember_pool_run(ember_pool *p, size_t n_tiles, ember_task_fn fn, void *ctx) {
  if (!p || p->threads <= 1 || n_tiles <= 1) {
    for (size_t t = 0; t < n_tiles; t++) fn(ctx, t, 0);
    return;
  }
#if defined(EMBER_HAVE_PTHREADS)
  if (n_tiles > MAX_TILES) { /* tile indices live in 24 bits of a range */
    for (size_t t = 0; t < n_tiles; t++) fn(ctx, t, 0);
    return;
  }
  /* The previous job is over (every tile done), so no claim on its ranges can succeed any more (a late
   * worker's CAS fails on the changed word). Fields first, then the ranges (release), then
   * `generation`: a worker reads fn and ctx only after a claim that acquired a range word. */
  uint32_t job = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1u;
  atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
  atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  const size_t T = (size_t)p->threads;
  for (size_t i = 0; i < T; i++)
    atomic_store_explicit(&p->ranges[i].w, range_word(job, n_tiles * i / T, n_tiles * (i + 1) / T),
                          memory_order_release);
  pthread_mutex_lock(&p->mu);
  atomic_store_explicit(&p->generation, job, memory_order_release);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  work(p, job, 0);
  /* all tiles are claimed: wait only for those still running on a worker */
  while (atomic_load_explicit(&p->done, memory_order_acquire) < n_tiles) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
#endif
}
