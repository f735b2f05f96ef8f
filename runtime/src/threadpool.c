#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <stdatomic.h>
#include <stdlib.h>

#if !defined(_WIN32)
#include <pthread.h>
#include <sched.h>
#define EMBER_HAVE_PTHREADS 1
#endif

#define SPIN_ROUNDS 20000 /* spin this long for new work before sleeping on the condition variable */

struct ember_pool {
  int threads;
#if defined(EMBER_HAVE_PTHREADS)
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  pthread_cond_t done_cv;
#endif
  atomic_uint generation; /* bumped for each job */
  atomic_size_t next;     /* next tile to hand out */
  atomic_int active;      /* workers still inside the current job */
  atomic_int stop;
  size_t n_tiles;
  ember_task_fn fn;
  void *ctx;
};

static void work(ember_pool *p, int thread) {
  for (;;) {
    size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (t >= p->n_tiles) break;
    p->fn(p->ctx, t, thread);
  }
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
      if (++spins < SPIN_ROUNDS) continue;
      pthread_mutex_lock(&p->mu);
      while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
      pthread_mutex_unlock(&p->mu);
      spins = 0;
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = g;
    work(p, id);
    if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done_cv);
      pthread_mutex_unlock(&p->mu);
    }
  }
}
#endif

ember_pool *ember_pool_create(int threads) {
  ember_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->threads = threads > 1 ? threads : 1;
  atomic_init(&p->generation, 0);
  atomic_init(&p->next, 0);
  atomic_init(&p->active, 0);
  atomic_init(&p->stop, 0);
#if defined(EMBER_HAVE_PTHREADS)
  if (p->threads > 1) {
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
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
    pthread_cond_destroy(&p->done_cv);
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
  p->fn = fn;
  p->ctx = ctx;
  p->n_tiles = n_tiles;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  atomic_store_explicit(&p->active, p->threads - 1, memory_order_relaxed);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  work(p, 0);
  int spins = 0;
  while (atomic_load_explicit(&p->active, memory_order_acquire) > 0) {
    if (++spins < SPIN_ROUNDS) continue;
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
#endif
}
