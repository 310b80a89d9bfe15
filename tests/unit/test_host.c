/* test_host.c - unit tests of bridge/core/host.c: shared and own threads, commands, deadlines, BYE.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/core/host.h"
#include "check.h"

#define PERIOD_NS 5000000LL /* the fake driver runs every 5 ms */

/* What the fake driver saw, per device. */
typedef struct fake {
	atomic_int runs, opens, closes, starts;
	atomic_llong late_ns; /* the latest a run came after its deadline */
	int64_t due;
} fake;

static int fk_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	fake *f = calloc(1, sizeof *f);

	(void)now;
	if (strncmp(dev->spec.id, "bad", 3) == 0) {
		free(f);
		return lb_error_set(err, LB_ERR_DEVICE, "no such board");
	}
	dev->priv = f;
	atomic_fetch_add(&f->opens, 1);
	if (lb_device_add_stream(dev, "x", "voltage", "V", LB_F32, 200) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "stream");
	dev->running = true;
	return 0;
}

static void fk_close(lb_device *dev)
{
	/* the counts stay readable by the test: priv is freed by it */
	atomic_fetch_add(&((fake *)dev->priv)->closes, 1);
}

static int fk_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	(void)now, (void)err;
	atomic_fetch_add(&((fake *)dev->priv)->starts, 1);
	return 0;
}

static int fk_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int n,
		  int64_t *deadline)
{
	fake *f = dev->priv;
	float v = 1.5f;

	(void)items, (void)n;
	if (f->due && now->mono - f->due > atomic_load(&f->late_ns))
		atomic_store(&f->late_ns, now->mono - f->due);
	atomic_fetch_add(&f->runs, 1);
	if (dev->running)
		lb_stream_publish(dev, 0, now->mono, now->real, &v, 1);
	f->due = now->mono + PERIOD_NS;
	*deadline = f->due;
	return 0;
}

static const lb_driver fake_driver = {
    .name = "fake",
    .open = fk_open,
    .close = fk_close,
    .start = fk_start,
    .run = fk_run,
};

static lb_device *device(const char *id, lb_upwake *w)
{
	lb_device *d = calloc(1, sizeof *d);

	d->driver = &fake_driver;
	snprintf(d->spec.id, sizeof d->spec.id, "%s", id);
	snprintf(d->spec.kind, sizeof d->spec.kind, "sensor");
	memcpy(d->epoch, "0123456789abcdef", 17);
	d->upwake = w;
	return d;
}

/* The token of a command sent to a device that has closed; replies to it, from any device. */
#define STALE_TOKEN 8
static int stale_replies;

/* Counts of what the main loop received from one device, per kind. */
typedef struct seen {
	lb_device *dev;
	int opened, failed, data, reply, bye;
	char failed_msg[128];
} seen;

/* The devices whose messages are counted: a pump counts them all, whichever it waits for. */
static seen *tracked[4];
static int ntracked;

static void track(seen *s, lb_device *dev)
{
	memset(s, 0, sizeof *s);
	s->dev = dev;
	tracked[ntracked++] = s;
}

static seen *seen_of(const lb_device *dev)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i]->dev == dev)
			return tracked[i];
	return NULL;
}

/* Take and count the messages of h until cond(s), for at most ms milliseconds. */
static int pump_for(lb_host *h, lb_upwake *w, seen *want, int (*cond)(const seen *), long ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {w->efd, POLLIN, 0};
		lb_up *m, *next;
		lb_upwake_sleeping(w);
		m = lb_host_take_up(h, NULL);
		if (!m)
			poll(&p, 1, 50);
		lb_upwake_awake(w);
		if (!m)
			m = lb_host_take_up(h, NULL);
		for (; m; m = next) {
			next = m->next;
			if (m->meta.type == LB_CHAN_REPLY && m->meta.token == STALE_TOKEN)
				stale_replies++; /* from any device */
			seen *c = seen_of(m->meta.dev);
			if (c) {
				seen *s = c;
				switch (m->meta.type) {
				case LB_CHAN_OPENED: s->opened++; break;
				case LB_CHAN_FAILED:
					s->failed++;
					snprintf(s->failed_msg, sizeof s->failed_msg, "%.*s",
						 (int)zmq_msg_size(&m->frame[0]),
						 (char *)zmq_msg_data(&m->frame[0]));
					break;
				case LB_CHAN_DATA:
					s->data++;
					atomic_fetch_sub(&m->meta.dev->queued, 1);
					break;
				case LB_CHAN_REPLY: s->reply++; break;
				case LB_CHAN_BYE: s->bye++; break;
				default: break;
				}
			} else if (m->meta.type == LB_CHAN_DATA) {
				atomic_fetch_sub(&m->meta.dev->queued, 1);
			}
			lb_up_free(m);
		}
		if (cond(want))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) >
		    ms * 1000000LL)
			return 0;
	}
}

/* The same within 2 s: what must come. */
static int pump(lb_host *h, lb_upwake *w, seen *want, int (*cond)(const seen *))
{
	return pump_for(h, w, want, cond, 2000);
}

static int opened(const seen *s)
{
	return s->opened > 0;
}
static int some_data(const seen *s)
{
	return s->data >= 20;
}
static int replied(const seen *s)
{
	return s->reply > 0;
}
static int said_bye(const seen *s)
{
	return s->bye > 0;
}

/* Free a device after its BYE, and its fake state. */
static void drop(lb_device **d)
{
	free((*d)->priv);
	lb_device_unspawn(*d);
	lb_device_destroy(d);
}

static void test_shared_host_runs_two_devices(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_host *h = lb_host_new("sim", &w);
	lb_device *a = device("a", &w), *b = device("b", &w);
	seen sa, sb;

	ntracked = 0;
	track(&sa, a);
	track(&sb, b);
	CHECK(h != NULL);
	CHECK_STR(lb_host_name(h), "sim");
	CHECK(lb_host_shared(h));
	CHECK_EQ_INT(lb_device_spawn(a, h), 0);
	CHECK_EQ_INT(lb_device_spawn(b, h), 0);
	CHECK(pump(h, &w, &sa, opened));
	CHECK(pump(h, &w, &sb, opened));
	/* both run on their own deadlines, in one thread */
	CHECK(pump(h, &w, &sa, some_data));
	CHECK(pump(h, &w, &sb, some_data));
	CHECK_MSG(atomic_load(&((fake *)a->priv)->late_ns) < 50000000LL,
		  "a run came more than 50 ms after its deadline");
	/* a command: its reply, and the driver runs */
	CHECK_EQ_INT(lb_device_send(a, "start", 7, NULL), 0);
	CHECK(pump(h, &w, &sa, replied));
	CHECK_EQ_INT(atomic_load(&((fake *)a->priv)->starts), 0); /* already running */
	/* term: a closes and says BYE, b goes on */
	CHECK_EQ_INT(lb_device_send(a, "term", 0, NULL), 0);
	CHECK(pump(h, &w, &sa, said_bye));
	CHECK_EQ_INT(atomic_load(&((fake *)a->priv)->closes), 1);
	sb.data = 0;
	CHECK(pump(h, &w, &sb, some_data));
	/* a command for a device that has closed is dropped, not sent to another */
	CHECK_EQ_INT(lb_device_send(a, "get", STALE_TOKEN, NULL), 0);
	CHECK(!pump_for(h, &w, &sb, replied, 300));
	CHECK_EQ_INT(stale_replies, 0);
	drop(&a);
	/* stopping the host closes what it still runs */
	lb_host_destroy(&h);
	CHECK(h == NULL);
	CHECK_EQ_INT(atomic_load(&((fake *)b->priv)->closes), 1);
	lb_host_destroy(&h); /* accepts NULL */
	b->host = NULL;	     /* its host is gone (the bridge frees devices first) */
	drop(&b);
	close(w.efd);
}

static void test_failed_open_says_failed_then_bye(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_host *h = lb_host_new("sim", &w);
	lb_device *d = device("bad-1", &w);
	seen s;

	ntracked = 0;
	track(&s, d);
	CHECK_EQ_INT(lb_device_spawn(d, h), 0);
	CHECK(pump(h, &w, &s, said_bye));
	CHECK_EQ_INT(s.failed, 1);
	CHECK_EQ_INT(s.opened, 0);
	CHECK_STR(s.failed_msg, "no such board");
	lb_device_unspawn(d);
	lb_device_destroy(&d);
	lb_host_destroy(&h);
	close(w.efd);
}

static void test_own_thread_ends_with_its_device(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_device *d = device("solo", &w);
	seen s;

	ntracked = 0;
	track(&s, d);
	CHECK_EQ_INT(lb_device_spawn(d, NULL), 0);
	CHECK(d->host != NULL && !lb_host_shared(d->host));
	CHECK(pump(d->host, &w, &s, opened));
	CHECK(pump(d->host, &w, &s, some_data));
	CHECK_EQ_INT(lb_device_send(d, "term", 0, NULL), 0);
	CHECK(pump(d->host, &w, &s, said_bye));
	drop(&d); /* joins the thread */
	CHECK(d == NULL);
	close(w.efd);
}

int main(void)
{
	RUN(test_shared_host_runs_two_devices);
	RUN(test_failed_open_says_failed_then_bye);
	RUN(test_own_thread_ends_with_its_device);
	return check_summary();
}
