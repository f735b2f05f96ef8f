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

struct ember_pool {
  int threads;
#if defined(EMBER_HAVE_PTHREADS)
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake;
#endif
  atomic_uint generation; /* bumped for each job; workers sleep until it changes */
  /* the job: a tile is claimed by a CAS on `next` = (job << 32) | tile index, so a worker that wakes up
   * late can never take a tile of a later job, and the caller waits only for tiles actually taken
   * (`done`), never for a worker that is not running (its core busy with other processes) */
  _Atomic uint64_t next;
  atomic_size_t done;
  _Atomic(ember_task_fn) fn;
  _Atomic(void *) ctx;
  atomic_size_t n_tiles;
  atomic_int stop;
};

/* claim and run tiles of job `job` until none is left or the job has changed; returns tiles run */
static size_t work(ember_pool *p, uint32_t job, int thread) {
  size_t ran = 0;
  for (;;) {
    uint64_t cur = atomic_load_explicit(&p->next, memory_order_acquire);
    if ((uint32_t)(cur >> 32) != job) break;
    size_t n = atomic_load_explicit(&p->n_tiles, memory_order_relaxed);
    if ((size_t)(cur & 0xffffffffu) >= n) break;
    if (!atomic_compare_exchange_weak_explicit(&p->next, &cur, cur + 1, memory_order_acq_rel, memory_order_acquire))
      continue;
    /* the job cannot end (nor its fields change) before this tile is counted done */
    ember_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    fn(atomic_load_explicit(&p->ctx, memory_order_relaxed), (size_t)(cur & 0xffffffffu), thread);
    atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    ran++;
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
  atomic_init(&p->next, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->fn, NULL);
  atomic_init(&p->ctx, NULL);
  atomic_init(&p->n_tiles, 0);
  atomic_init(&p->stop, 0);
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
  free(p);
}

int ember_pool_threads(const ember_pool *p) { return p ? p->threads : 1; }

void ember_pool_run(ember_pool *p, size_t n_tiles, ember_task_fn fn, void *ctx) {
  if (!p || p->threads <= 1 || n_tiles <= 1) {
    for (size_t t = 0; t < n_tiles; t++) fn(ctx, t, 0);
    return;
  }
#if defined(EMBER_HAVE_PTHREADS)
  if (n_tiles > 0xffffffffu) { /* tile indices live in 32 bits of `next` */
    for (size_t t = 0; t < n_tiles; t++) fn(ctx, t, 0);
    return;
  }
  /* The previous job is over (every tile done). `next` moves to the new job first, so a worker still
   * looping in the old job fails its claim before it could pair an old index with the new fields;
   * workers join the new job only after seeing `generation`, stored after all the fields. */
  uint32_t job = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1u;
  atomic_store_explicit(&p->next, (uint64_t)job << 32, memory_order_release);
  atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
  atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&p->n_tiles, n_tiles, memory_order_relaxed);
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
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
