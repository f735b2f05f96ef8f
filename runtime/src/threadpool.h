/* A persistent thread pool owned by one session: threads are made once at session creation, the
 * calling thread works too. A job's tiles are cut into one contiguous range per thread; each thread
 * works through its own range from the front (so consecutive nodes tiled the same way keep each
 * thread on the same part of the data), then steals tiles from the back of the others' ranges, so a
 * slow core does not hold the rest up. The caller waits only for tiles a worker has taken, never for
 * a worker that has not woken up (its core busy elsewhere): then the caller steals its whole range. */
#ifndef EMBER_THREADPOOL_H
#define EMBER_THREADPOOL_H

#include <stddef.h>

typedef struct ember_pool ember_pool;
/* fn(ctx, tile, thread): thread is in [0, threads); 0 is the caller. */
typedef void (*ember_task_fn)(void *ctx, size_t tile, int thread);

/* threads <= 1 gives a pool that runs everything on the caller (no threads are created). */
ember_pool *ember_pool_create(int threads);
void ember_pool_free(ember_pool *pool);
int ember_pool_threads(const ember_pool *pool);
/* Run fn for tiles [0, n_tiles) across the pool and return when all are done. */
void ember_pool_run(ember_pool *pool, size_t n_tiles, ember_task_fn fn, void *ctx);

#endif
