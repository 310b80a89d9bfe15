/* test_halt.c - unit tests of the out-of-band halt (host.c, device.c): a device blocked in a driver
 * call is reached by its halt hook at once, then its thread finishes the halt before any command
 * waiting; the hook never runs on a device that is closing or closed. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/core/host.h"
#include "check.h"

#define WAIT_MS 5000 /* the longest any wait of these tests may take */

/* What the fake driver saw. The log is written by the device thread only, read by the test once
 * the replies it waits for have come through the uplink queue (its mutex orders them). */
typedef struct fake {
	int pipe[2];		     /* "block" reads pipe[0]: the test writes pipe[1] to end it */
	atomic_int in_call;	     /* "block" is blocked */
	atomic_int returned;	     /* "block" has returned */
	atomic_int hooks;	     /* halt hook calls */
	atomic_int hook_in_call;     /* the hook ran while "block" was blocked */
	atomic_int closed;	     /* close has begun */
	atomic_int hook_after_close; /* a hook ran after close began: must stay 0 */
	atomic_llong hook_ns;	     /* CLOCK_MONOTONIC of the last hook */
	char log[256];		     /* actions and "halted", in the device thread's order */
} fake;

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void note(fake *f, const char *what)
{
	size_t n = strlen(f->log);

	snprintf(f->log + n, sizeof f->log - n, "%s%s", n ? " " : "", what);
}

static int fk_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	fake *f = calloc(1, sizeof *f);

	(void)now;
	if (!f || pipe(f->pipe) < 0) {
		free(f);
		return lb_error_set(err, LB_ERR_INTERNAL, "no pipe");
	}
	dev->priv = f;
	return 0;
}

static void fk_close(lb_device *dev)
{
	fake *f = dev->priv;

	atomic_store(&f->closed, 1);
	close(f->pipe[0]);
	close(f->pipe[1]);
	/* f stays for the test to read: it frees it */
}

/* "block": wait (at most WAIT_MS) for a byte on the pipe, as a driver in a slow call; any other
 * action is only logged. */
static int fk_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	fake *f = dev->priv;

	(void)args, (void)result, (void)err;
	note(f, action);
	if (strcmp(action, "block") == 0) {
		struct pollfd p = {f->pipe[0], POLLIN, 0};
		char c;
		atomic_store(&f->in_call, 1);
		if (poll(&p, 1, WAIT_MS) == 1 && read(f->pipe[0], &c, 1) < 0)
			note(f, "read-error");
		atomic_store(&f->in_call, 0);
		atomic_store(&f->returned, 1);
	}
	return 0;
}

/* The hook: another thread, at once, no lock, no allocation. */
static int fk_halt(lb_device *dev)
{
	fake *f = dev->priv;

	atomic_store(&f->hook_ns, mono_ns());
	if (atomic_load(&f->closed))
		atomic_fetch_add(&f->hook_after_close, 1);
	if (atomic_load(&f->in_call))
		atomic_fetch_add(&f->hook_in_call, 1);
	atomic_fetch_add(&f->hooks, 1);
	return 0;
}

static void fk_halted(lb_device *dev, const lb_now *now)
{
	(void)now;
	note(dev->priv, "halted");
}

static const lb_driver halt_driver = {
    .name = "fake",
    .open = fk_open,
    .close = fk_close,
    .call = fk_call,
    .halt = fk_halt,
    .halted = fk_halted,
};

/* The same without the hook: a device that cannot be halted. */
static const lb_driver plain_driver = {
    .name = "plain",
    .open = fk_open,
    .close = fk_close,
    .call = fk_call,
};

static lb_device *device(const lb_driver *drv, const char *id, lb_upwake *w)
{
	lb_device *d = calloc(1, sizeof *d);

	d->driver = drv;
	snprintf(d->spec.id, sizeof d->spec.id, "%s", id);
	snprintf(d->spec.kind, sizeof d->spec.kind, "robot");
	memcpy(d->epoch, "0123456789abcdef", 17);
	d->upwake = w;
	return d;
}

/* What the main loop received from the device. */
typedef struct seen {
	int opened, replies, bye;
} seen;

/* Take h's messages (for at most WAIT_MS) until want->opened, ->replies and ->bye reach those
 * of until; 1 if they did. */
static int pump(lb_host *h, lb_upwake *w, seen *got, seen until)
{
	int64_t end = mono_ns() + WAIT_MS * 1000000LL;

	while (mono_ns() < end) {
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
			got->opened += m->meta.type == LB_CHAN_OPENED;
			got->replies += m->meta.type == LB_CHAN_REPLY;
			got->bye += m->meta.type == LB_CHAN_BYE;
			lb_up_free(m);
		}
		if (got->opened >= until.opened && got->replies >= until.replies &&
		    got->bye >= until.bye)
			return 1;
	}
	return 0;
}

/* Wait (at most WAIT_MS) until *flag is set; 1 if it was. */
static int wait_flag(atomic_int *flag)
{
	int64_t end = mono_ns() + WAIT_MS * 1000000LL;
	struct timespec ms = {0, 1000000};

	while (!atomic_load(flag) && mono_ns() < end)
		nanosleep(&ms, NULL);
	return atomic_load(flag) != 0;
}

/* Send device.call {action} with token. */
static int call(lb_device *d, const char *action, uint64_t token)
{
	json_t *p = json_pack("{s:s}", "action", action);
	int rc = lb_device_send(d, "call", token, p);

	json_decref(p);
	return rc;
}

/*
 * A device blocked in a driver call: the halt hook runs at once, in the halting thread, before
 * the call returns (the test ends the call only afterwards); then the device thread finishes
 * the halt before the two commands that were waiting, though they were sent first.
 */
static void blocked_device_is_halted_at_once(int in_shared_host)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_device *d = device(&halt_driver, in_shared_host ? "shared" : "own", &w);
	lb_host *h, *shared = in_shared_host ? lb_host_new("robots", &w) : NULL;
	seen got = {0};
	fake *f;
	int64_t t0, t1;

	CHECK(!in_shared_host || shared);
	CHECK_EQ_INT(lb_device_spawn(d, shared), 0);
	h = shared ? shared : d->host;
	CHECK(pump(h, &w, &got, (seen){1, 0, 0}));
	f = d->priv;
	/* the three commands go together: a shared host may take them in one batch */
	CHECK_EQ_INT(call(d, "block", 1), 0);
	CHECK_EQ_INT(call(d, "first", 2), 0);
	CHECK_EQ_INT(call(d, "second", 3), 0);
	CHECK(wait_flag(&f->in_call));
	t0 = mono_ns();
	CHECK_EQ_INT(lb_device_halt(d), 0);
	t1 = mono_ns();
	CHECK_EQ_INT(atomic_load(&f->hooks), 1);
	CHECK_MSG(atomic_load(&f->hook_in_call) == 1 && !atomic_load(&f->returned),
		  "the hook must reach the driver while its thread is blocked in the call");
	printf("  %s host: lb_device_halt reached the hook in %.1f us (returned after %.1f us)\n",
	       shared ? "shared" : "own", (double)(atomic_load(&f->hook_ns) - t0) / 1e3,
	       (double)(t1 - t0) / 1e3);
	/* the blocked call ends: the halt overtakes the commands waiting */
	CHECK(write(f->pipe[1], "x", 1) == 1);
	CHECK(pump(h, &w, &got, (seen){1, 3, 0}));
	CHECK_STR(f->log, "block halted first second");
	/* a halt for a device that is idle: its thread finishes it at once */
	CHECK_EQ_INT(lb_device_halt(d), 0);
	CHECK_EQ_INT(call(d, "third", 4), 0);
	CHECK(pump(h, &w, &got, (seen){1, 4, 0}));
	CHECK_STR(f->log, "block halted first second halted third");
	CHECK_EQ_INT(lb_device_send(d, "term", 0, NULL), 0);
	CHECK(pump(h, &w, &got, (seen){1, 4, 1}));
	/* closed: the hook no longer runs, nor does any mail reach it */
	CHECK_EQ_INT(lb_device_halt(d), LB_EGONE);
	CHECK_EQ_INT(atomic_load(&f->hooks), 2);
	CHECK_EQ_INT(atomic_load(&f->hook_after_close), 0);
	if (shared) {
		lb_host_destroy(&shared);
		d->host = NULL;
	}
	free(f);
	lb_device_unspawn(d);
	lb_device_destroy(&d);
	close(w.efd);
}

static void test_blocked_device_is_halted_at_once_own_thread(void)
{
	blocked_device_is_halted_at_once(0);
}

static void test_blocked_device_is_halted_at_once_shared_thread(void)
{
	blocked_device_is_halted_at_once(1);
}

static void test_a_device_without_the_hook_cannot_be_halted(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_device *d = device(&plain_driver, "plain", &w);
	seen got = {0};

	CHECK(!lb_device_can_halt(d));
	CHECK_EQ_INT(lb_device_spawn(d, NULL), 0);
	CHECK(pump(d->host, &w, &got, (seen){1, 0, 0}));
	CHECK_EQ_INT(lb_device_halt(d), LB_EINVAL);
	CHECK_EQ_INT(call(d, "after", 1), 0);
	CHECK(pump(d->host, &w, &got, (seen){1, 1, 0}));
	CHECK_STR(((fake *)d->priv)->log, "after"); /* no halt reached its thread */
	CHECK_EQ_INT(lb_device_send(d, "term", 0, NULL), 0);
	CHECK(pump(d->host, &w, &got, (seen){1, 1, 1}));
	free(d->priv);
	lb_device_unspawn(d);
	lb_device_destroy(&d);
	close(w.efd);
}

/* Halting without pause from another thread while the device closes. */
typedef struct spammer {
	lb_device *dev;
	atomic_int stop;
	long halts;
} spammer;

static void *spam(void *arg)
{
	spammer *sp = arg;

	while (!atomic_load(&sp->stop)) {
		lb_device_halt_hook(sp->dev); /* the hook alone: no mail piling up */
		sp->halts++;
	}
	return NULL;
}

/* Close races with halts: close waits for a hook running, and no hook starts after it began. */
static void test_close_never_races_the_hook(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	int after = 0, hooks = 0;
	long halts = 0;

	for (int i = 0; i < 40; i++) {
		lb_device *d = device(&halt_driver, "race", &w);
		seen got = {0};
		spammer sp = {.dev = d};
		pthread_t t;
		fake *f;
		CHECK_EQ_INT(lb_device_spawn(d, NULL), 0);
		CHECK(pthread_create(&t, NULL, spam, &sp) == 0);
		CHECK(pump(d->host, &w, &got, (seen){1, 0, 0}));
		f = d->priv;
		CHECK(wait_flag(&f->hooks));
		CHECK_EQ_INT(lb_device_send(d, "term", 0, NULL), 0);
		CHECK(pump(d->host, &w, &got, (seen){1, 0, 1}));
		atomic_store(&sp.stop, 1);
		pthread_join(t, NULL);
		after += atomic_load(&f->hook_after_close);
		hooks += atomic_load(&f->hooks);
		halts += sp.halts;
		free(f);
		lb_device_unspawn(d);
		lb_device_destroy(&d);
	}
	printf("  %d hooks over %ld halts racing 40 closes\n", hooks, halts);
	CHECK_EQ_INT(after, 0);
	CHECK(hooks > 0);
	close(w.efd);
}

int main(void)
{
	RUN(test_blocked_device_is_halted_at_once_own_thread);
	RUN(test_blocked_device_is_halted_at_once_shared_thread);
	RUN(test_a_device_without_the_hook_cannot_be_halted);
	RUN(test_close_never_races_the_hook);
	return check_summary();
}
