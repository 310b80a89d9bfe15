/* band.h - a scan band's buffer, shared by reference count between the stream and the writer. */
#ifndef LB_SANE_BAND_H
#define LB_SANE_BAND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One band as sane_read fills it: data holds the scanband header then the rows, and is sent by
 * ZeroMQ as it is (lb_stream_publish_owned) while the job's writer reads the same rows. Whoever
 * holds a reference drops it with sn_band_unref; the last one gives the band back, in whatever
 * thread. While a scan runs (sn_band_pool_use), bands given back are kept for the next ones, up
 * to SN_BAND_POOL_MAX bytes: a band that lives on in the writer's queue or in libzmq's would
 * otherwise go back to the kernel (glibc trims its heap) and cost fresh zeroed pages each time.
 */
typedef struct sn_band {
	atomic_int refs;
	size_t cap;	      /* bytes of data */
	struct sn_band *next; /* in the pool */
	uint8_t data[];
} sn_band;

#define SN_BAND_POOL_MAX (24u << 20)

/* A band of cap bytes with one reference (from the pool when it has one of that size), or NULL
 * when out of memory. */
sn_band *sn_band_new(size_t cap);

/* One more reference to b. */
void sn_band_ref(sn_band *b);

/* Drop a reference to b (NULL: nothing); the last one gives it back. */
void sn_band_unref(sn_band *b);

/* The same as an lb_free_fn (data: the band's data, hint: the band). */
void sn_band_free_fn(void *data, void *hint);

/* A scan starts (+1) or ends (-1): with none running, the pool is emptied and keeps nothing. */
void sn_band_pool_use(int delta);

#endif
