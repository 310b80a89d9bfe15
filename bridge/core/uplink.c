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
	q->held = false;
	q->spare = q->reuse = NULL;
	atomic_init(&q->nspare, 0);
}

/* Append m to q under its lock. */
static void append(lb_upq *q, lb_up *m)
{
	m->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	pthread_mutex_unlock(&q->lock);
}

/* Wake the main loop if it sleeps (after a message was appended): at most one write. */
static void wake(lb_upq *q)
{
	uint64_t one = 1;

	/* the main loop took every queue after it said it would sleep: if it still says so, this
	 * message came later, and the first writer to see it wakes it */
	if (atomic_load_explicit(&q->wake->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&q->wake->sleeping, 0, memory_order_seq_cst) &&
	    write(q->wake->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		/* the main loop still takes the queue at its next timer (heartbeat), only later */
		lb_err("uplink: cannot wake the main loop: %s", strerror(errno));
}

void lb_upq_push(lb_upq *q, lb_up *m)
{
	append(q, m);
	q->held = false; /* this wake-up covers the messages held before it */
	wake(q);
}

void lb_upq_push_held(lb_upq *q, lb_up *m)
{
	append(q, m);
	q->held = true;
}

void lb_upq_flush(lb_upq *q)
{
	if (!q->held)
		return;
	q->held = false;
	wake(q);
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
	return lb_upq_take_tail(q, NULL);
}

lb_up *lb_upq_take_tail(lb_upq *q, lb_up **tail)
{
	lb_up *m;

	pthread_mutex_lock(&q->lock);
	m = q->head;
	if (tail)
		*tail = q->tail;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return m;
}

/* Free a chain of messages. */
static void free_chain(lb_up *m)
{
	for (lb_up *next; m; m = next) {
		next = m->next;
		lb_up_free(m);
	}
}

void lb_upq_fini(lb_upq *q)
{
	free_chain(lb_upq_take(q));
	free_chain(q->spare);
	free_chain(q->reuse);
	q->spare = q->reuse = NULL;
	pthread_mutex_destroy(&q->lock);
}

lb_up *lb_upq_alloc(lb_upq *q, const lb_chan_meta *meta)
{
	lb_up *m;

	if (!q->reuse && atomic_load_explicit(&q->nspare, memory_order_relaxed) > 0) {
		/* what the main loop gave back, all at once */
		pthread_mutex_lock(&q->lock);
		q->reuse = q->spare;
		q->spare = NULL;
		atomic_store_explicit(&q->nspare, 0, memory_order_relaxed);
		pthread_mutex_unlock(&q->lock);
	}
	m = q->reuse;
	if (!m)
		return lb_up_new(meta);
	q->reuse = m->next;
	m->next = NULL;
	m->meta = *meta;
	m->nframes = 0;
	return m;
}

void lb_upq_recycle(lb_upq *q, lb_up *first, lb_up *last, int n)
{
	lb_up *extra = NULL;

	if (!first)
		return;
	for (lb_up *m = first;; m = m->next) {
		for (int i = 0; i < m->nframes; i++)
			zmq_msg_close(&m->frame[i]);
		m->nframes = 0;
		if (m == last)
			break;
	}
	pthread_mutex_lock(&q->lock);
	if (atomic_load_explicit(&q->nspare, memory_order_relaxed) + n <= LB_UPQ_SPARE) {
		last->next = q->spare;
		q->spare = first;
		atomic_fetch_add_explicit(&q->nspare, n, memory_order_relaxed);
	} else {
		last->next = NULL;
		extra = first;
	}
	pthread_mutex_unlock(&q->lock);
	free_chain(extra);
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
