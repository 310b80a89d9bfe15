/* band.h - a scan band's buffer, shared by reference count between the stream and the writer. */
#ifndef LB_SANE_BAND_H
#define LB_SANE_BAND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * One band as sane_read fills it: data holds the scanband header then the rows, and is sent by
 * ZeroMQ as it is (lb_stream_publish_owned) while the job's writer reads the same rows. Whoever
 * holds a reference drops it with sn_band_unref; the last one frees the band, in whatever thread.
 */
typedef struct sn_band {
	atomic_int refs;
	size_t cap; /* bytes of data */
	uint8_t data[];
} sn_band;

/* A band of cap bytes with one reference, or NULL when out of memory. */
static inline sn_band *sn_band_new(size_t cap)
{
	sn_band *b = malloc(sizeof *b + cap);

	if (b) {
		atomic_init(&b->refs, 1);
		b->cap = cap;
	}
	return b;
}

/* One more reference to b. */
static inline void sn_band_ref(sn_band *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

/* Drop a reference to b (NULL: nothing); the last one frees it. */
static inline void sn_band_unref(sn_band *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

/* The same as an lb_free_fn (data: the band's data, hint: the band). */
static inline void sn_band_free_fn(void *data, void *hint)
{
	(void)data;
	sn_band_unref(hint);
}

#endif
