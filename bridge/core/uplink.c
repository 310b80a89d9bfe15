/* uplink.c - messages from the device threads to the main loop: a queue per thread, one eventfd. */
#include "uplink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/log.h"

void lb_upq_init(lb_upq *q, lb_upwake *wake)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	q->wake = wake;
}

void lb_upq_push(lb_upq *q, lb_up *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	pthread_mutex_unlock(&q->lock);
	/* the main loop took every queue after it said it would sleep: if it still says so, this
	 * message came later, and the first writer to see it wakes it */
	if (atomic_load_explicit(&q->wake->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&q->wake->sleeping, 0, memory_order_seq_cst) &&
	    write(q->wake->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		/* the main loop still takes the queue at its next timer (heartbeat), only later */
		lb_err("uplink: cannot wake the main loop: %s", strerror(errno));
}

void lb_upwake_sleeping(lb_upwake *w)
{
	atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
}

void lb_upwake_awake(lb_upwake *w)
{
	uint64_t n;
	int saved = errno;

	atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
	if (read(w->efd, &n, sizeof n) < 0 && errno != EAGAIN)
		lb_err("uplink: cannot reset the main loop's eventfd: %s", strerror(errno));
	errno = saved; /* the caller may still look at its poll's errno */
}

lb_up *lb_upq_take(lb_upq *q)
{
	lb_up *m;

	pthread_mutex_lock(&q->lock);
	m = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return m;
}

void lb_upq_fini(lb_upq *q)
{
	lb_up *m = lb_upq_take(q), *next;

	for (; m; m = next) {
		next = m->next;
		lb_up_free(m);
	}
	pthread_mutex_destroy(&q->lock);
}

lb_up *lb_up_new(const lb_chan_meta *meta)
{
	lb_up *m = malloc(sizeof *m);

	if (!m)
		return NULL;
	m->next = NULL;
	m->meta = *meta;
	m->nframes = 0;
	return m;
}

void lb_up_free(lb_up *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nframes; i++)
		zmq_msg_close(&m->frame[i]);
	free(m);
}
