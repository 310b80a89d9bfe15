/* uplink.c - messages from the device threads to the main loop: a queue per thread, one eventfd. */
#include "uplink.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void lb_upq_init(lb_upq *q, int efd)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	q->efd = efd;
}

void lb_upq_push(lb_upq *q, lb_up *m)
{
	int was_empty;
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&q->lock);
	was_empty = q->head == NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	pthread_mutex_unlock(&q->lock);
	/* one wake-up per batch: the main loop takes the whole queue when it wakes */
	if (was_empty && write(q->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		abort(); /* a bad eventfd is a bug: the main loop would never hear of this device */
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
