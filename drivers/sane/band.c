/* band.c - scan bands shared by reference count, and the pool that reuses them during scans. */
#include "band.h"

#include <pthread.h>
#include <stdlib.h>

/* Bands given back during scans, any thread's (libzmq's I/O thread, the writer, the device). */
static struct {
	pthread_mutex_t lock;
	sn_band *free;
	size_t bytes;
	int users;
} pool = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

sn_band *sn_band_new(size_t cap)
{
	sn_band *b = NULL;

	pthread_mutex_lock(&pool.lock);
	if (pool.free && pool.free->cap == cap) {
		b = pool.free;
		pool.free = b->next;
		pool.bytes -= cap;
	}
	pthread_mutex_unlock(&pool.lock);
	if (!b && (b = malloc(sizeof *b + cap)))
		b->cap = cap;
	if (b)
		atomic_init(&b->refs, 1);
	return b;
}

void sn_band_ref(sn_band *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void sn_band_unref(sn_band *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&pool.lock);
	if (pool.users > 0 && pool.bytes + b->cap <= SN_BAND_POOL_MAX) {
		b->next = pool.free;
		pool.free = b;
		pool.bytes += b->cap;
		b = NULL;
	}
	pthread_mutex_unlock(&pool.lock);
	free(b);
}

void sn_band_free_fn(void *data, void *hint)
{
	(void)data;
	sn_band_unref(hint);
}

void sn_band_pool_use(int delta)
{
	sn_band *list = NULL;

	pthread_mutex_lock(&pool.lock);
	pool.users += delta;
	if (pool.users <= 0) {
		pool.users = 0;
		list = pool.free;
		pool.free = NULL;
		pool.bytes = 0;
	}
	pthread_mutex_unlock(&pool.lock);
	while (list) {
		sn_band *next = list->next;
		free(list);
		list = next;
	}
}
