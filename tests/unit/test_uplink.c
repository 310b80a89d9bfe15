/* test_uplink.c - unit tests of bridge/core/uplink.c: order, wake-ups only while asleep, threads.
 */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../bridge/core/uplink.h"
#include "check.h"

/* Whether the eventfd has been written (and reset it). */
static int woken(int efd)
{
	uint64_t n;

	return read(efd, &n, sizeof n) == (ssize_t)sizeof n;
}

/* A message of that type carrying text in one frame. */
static lb_up *msg(uint32_t type, const char *text)
{
	lb_chan_meta meta = {.type = type, .seq = 7};
	lb_up *m = lb_up_new(&meta);

	if (m && text) {
		zmq_msg_init_size(&m->frame[0], strlen(text));
		memcpy(zmq_msg_data(&m->frame[0]), text, strlen(text));
		m->nframes = 1;
	}
	return m;
}

static void test_fifo_order(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_up *m, *next;
	int n = 0;

	lb_upq_init(&q, &w);
	CHECK(lb_upq_take(&q) == NULL);
	lb_upq_push(&q, msg(LB_CHAN_OPENED, "a"));
	lb_upq_push(&q, msg(LB_CHAN_DATA, "b"));
	lb_upq_push(&q, msg(LB_CHAN_BYE, NULL));
	m = lb_upq_take(&q);
	CHECK(lb_upq_take(&q) == NULL); /* taking empties the queue */
	for (; m; m = next, n++) {
		next = m->next;
		CHECK_EQ_INT(m->meta.type, n == 0   ? LB_CHAN_OPENED
					   : n == 1 ? LB_CHAN_DATA
						    : LB_CHAN_BYE);
		CHECK_EQ_INT(m->meta.seq, 7);
		CHECK_EQ_INT(m->nframes, n < 2 ? 1 : 0);
		if (n == 1)
			CHECK(memcmp(zmq_msg_data(&m->frame[0]), "b", 1) == 0);
		lb_up_free(m);
	}
	CHECK_EQ_INT(n, 3);
	lb_upq_push(&q, msg(LB_CHAN_DESC, "left"));
	lb_upq_fini(&q); /* frees what is left (ASan would see a leak) */
	lb_up_free(NULL);
	close(w.efd);
}

static void test_wakes_only_a_sleeping_main_loop(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_up *m, *next;

	lb_upq_init(&q, &w);
	/* busy main loop: no system call, no wake-up */
	lb_upq_push(&q, msg(LB_CHAN_DATA, "1"));
	CHECK(!woken(w.efd));
	/* asleep: the first push wakes it, once */
	lb_upwake_sleeping(&w);
	lb_upq_push(&q, msg(LB_CHAN_DATA, "2"));
	lb_upq_push(&q, msg(LB_CHAN_DATA, "3"));
	CHECK_EQ_INT(atomic_load(&w.sleeping), 0);
	lb_upwake_awake(&w); /* resets the eventfd */
	CHECK(!woken(w.efd));
	lb_upwake_sleeping(&w);
	lb_upwake_awake(&w); /* nothing came: nothing to read */
	CHECK(!woken(w.efd));
	m = lb_upq_take(&q);
	for (int n = 0; m; m = next, n++) {
		next = m->next;
		CHECK(memcmp(zmq_msg_data(&m->frame[0]),
			     n == 0   ? "1"
			     : n == 1 ? "2"
				      : "3",
			     1) == 0);
		lb_up_free(m);
	}
	lb_upq_fini(&q);
	close(w.efd);
}

/* A burst pushed held wakes a sleeping main loop once, at the flush; a control message wakes it
 * at once, and covers what was held before it. */
static void test_held_burst_wakes_once_at_flush(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_up *m, *next;
	int n = 0;

	lb_upq_init(&q, &w);
	lb_upq_flush(&q); /* nothing held: nothing to do */
	lb_upwake_sleeping(&w);
	lb_upq_flush(&q);
	CHECK(!woken(w.efd));
	for (int i = 0; i < 100; i++)
		lb_upq_push_held(&q, msg(LB_CHAN_DATA, "d"));
	CHECK(!woken(w.efd)); /* the burst is still being produced */
	CHECK_EQ_INT(atomic_load(&w.sleeping), 1);
	lb_upq_flush(&q);
	CHECK(woken(w.efd)); /* once, for the whole burst */
	CHECK_EQ_INT(atomic_load(&w.sleeping), 0);
	lb_upq_flush(&q);
	CHECK(!woken(w.efd));
	/* asleep again: held data, then a reply, wakes it at the reply; the flush has no more */
	lb_upwake_sleeping(&w);
	lb_upq_push_held(&q, msg(LB_CHAN_DATA, "d"));
	CHECK(!woken(w.efd));
	lb_upq_push(&q, msg(LB_CHAN_REPLY, "r"));
	CHECK(woken(w.efd));
	lb_upwake_sleeping(&w);
	lb_upq_flush(&q);
	CHECK(!woken(w.efd));
	lb_upwake_awake(&w);
	m = lb_upq_take(&q);
	for (; m; m = next, n++) {
		next = m->next;
		CHECK_EQ_INT(m->meta.type, n < 101 ? LB_CHAN_DATA : LB_CHAN_REPLY);
		lb_up_free(m);
	}
	CHECK_EQ_INT(n, 102);
	lb_upq_fini(&q);
	close(w.efd);
}

/* take_tail gives the last message taken, without a walk. */
static void test_take_tail(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_up *m, *tail = (lb_up *)&w, *last = NULL;

	lb_upq_init(&q, &w);
	CHECK(lb_upq_take_tail(&q, &tail) == NULL);
	CHECK(tail == NULL);
	for (int i = 0; i < 3; i++)
		lb_upq_push_held(&q, msg(LB_CHAN_DATA, "x"));
	m = lb_upq_take_tail(&q, &tail);
	for (lb_up *x = m; x; x = x->next)
		last = x;
	CHECK(last != NULL && tail == last);
	for (lb_up *next; m; m = next) {
		next = m->next;
		lb_up_free(m);
	}
	lb_upq_fini(&q);
	close(w.efd);
}

#define PRODUCERS 3
#define PER_PRODUCER 20000

typedef struct producer {
	lb_upq q;
	int id;
} producer;

static void *produce(void *arg)
{
	producer *p = arg;

	for (int i = 0; i < PER_PRODUCER; i++) {
		lb_chan_meta meta = {
		    .type = LB_CHAN_DATA, .stream = (uint32_t)p->id, .seq = (uint64_t)i};
		lb_up *m = lb_up_new(&meta);
		if (!m)
			continue;
		/* half of them held, flushed every 7 (as a host thread after a burst) */
		if (p->id % 2) {
			lb_upq_push_held(&p->q, m);
			if (i % 7 == 6 || i == PER_PRODUCER - 1)
				lb_upq_flush(&p->q);
		} else {
			lb_upq_push(&p->q, m);
		}
	}
	return NULL;
}

/* The main loop's protocol (sleeping, take, poll, awake, take) loses no message and never
 * sleeps past one: every producer's messages arrive, in order, with polls bounded at 2 s. */
static void test_threads_lose_nothing(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	producer p[PRODUCERS];
	pthread_t t[PRODUCERS];
	uint64_t next[PRODUCERS] = {0};
	int got = 0, stalls = 0, disorder = 0;

	for (int i = 0; i < PRODUCERS; i++) {
		p[i].id = i;
		lb_upq_init(&p[i].q, &w);
		pthread_create(&t[i], NULL, produce, &p[i]);
	}
	while (got < PRODUCERS * PER_PRODUCER && stalls == 0) {
		lb_up *list = NULL, *m, *nx;
		struct pollfd pfd = {w.efd, POLLIN, 0};
		lb_upwake_sleeping(&w);
		for (int i = 0; i < PRODUCERS && !list; i++)
			list = lb_upq_take(&p[i].q);
		if (!list && poll(&pfd, 1, 2000) == 0)
			stalls++; /* asleep with messages waiting: a lost wake-up */
		lb_upwake_awake(&w);
		for (int i = -1; i < PRODUCERS; i++) {
			/* what was taken before sleeping first, then every queue again */
			for (m = i < 0 ? list : lb_upq_take(&p[i].q); m; m = nx) {
				nx = m->next;
				disorder += m->meta.seq != next[m->meta.stream]++;
				got++;
				lb_up_free(m);
			}
		}
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		lb_upq_fini(&p[i].q);
	}
	CHECK_EQ_INT(stalls, 0);
	CHECK_EQ_INT(disorder, 0);
	CHECK_EQ_INT(got, PRODUCERS * PER_PRODUCER);
	close(w.efd);
}

int main(void)
{
	RUN(test_fifo_order);
	RUN(test_wakes_only_a_sleeping_main_loop);
	RUN(test_held_burst_wakes_once_at_flush);
	RUN(test_take_tail);
	RUN(test_threads_lose_nothing);
	return check_summary();
}
