/* bench_halt.c - the out-of-band halt: lb_device_halt to the driver's hook, with the device's
 * thread blocked in a driver call, p50/p99/max over many samples (target p99 < 1 ms). */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* the sources measured (the Makefile's bench rule links no bridge objects) */
#include "../../bridge/core/device.c"
#include "../../bridge/core/header.c"
#include "../../bridge/core/host.c"
#include "../../bridge/core/uplink.c"
#include "../../bridge/util/error.c"
#include "../../bridge/util/log.c"
#include "../../bridge/util/thread.c"

#define BLOCK_MS 60000 /* the longest the blocked call waits for the bench to release it */

/* The fake device: "block" waits on a pipe (a slow board's read); the hook notes its time. */
typedef struct bench_dev {
	int pipe[2];
	atomic_int blocked;
	atomic_llong hook_ns;
	atomic_long finished; /* halts the device thread finished (halted) */
} bench_dev;

static int64_t mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int bd_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	bench_dev *b = calloc(1, sizeof *b);

	(void)now;
	if (!b || pipe(b->pipe) < 0) {
		free(b);
		return lb_error_set(err, LB_ERR_INTERNAL, "no pipe");
	}
	dev->priv = b;
	return 0;
}

static void bd_close(lb_device *dev)
{
	bench_dev *b = dev->priv;

	close(b->pipe[0]);
	close(b->pipe[1]);
	free(b);
	dev->priv = NULL;
}

static int bd_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	bench_dev *b = dev->priv;
	struct pollfd p = {b->pipe[0], POLLIN, 0};
	char c;

	(void)action, (void)args, (void)result, (void)err;
	atomic_store(&b->blocked, 1);
	if (poll(&p, 1, BLOCK_MS) == 1 && read(b->pipe[0], &c, 1) < 0)
		perror("read");
	atomic_store(&b->blocked, 0);
	return 0;
}

static int bd_halt(lb_device *dev)
{
	atomic_store(&((bench_dev *)dev->priv)->hook_ns, mono());
	return 0;
}

static void bd_halted(lb_device *dev, const lb_now *now)
{
	(void)now;
	atomic_fetch_add(&((bench_dev *)dev->priv)->finished, 1);
}

static const lb_driver bench_driver = {
    .name = "bench",
    .open = bd_open,
    .close = bd_close,
    .call = bd_call,
    .halt = bd_halt,
    .halted = bd_halted,
};

/* Drop the device's messages to the main loop until one of type (at most 5 s); 0 or -1. */
static int wait_up(lb_host *h, lb_upwake *w, uint32_t type)
{
	int64_t end = mono() + 5000000000LL;
	int found = 0;

	while (!found && mono() < end) {
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
			found |= m->meta.type == type;
			lb_up_free(m);
		}
	}
	return found ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted values. */
static int64_t pct(const int64_t *v, int n, double q)
{
	int k = (int)(q / 100 * n + 0.999999) - 1;
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	lb_device *d = calloc(1, sizeof *d);
	int64_t *hook = calloc((size_t)(n > 0 ? n : 1), sizeof *hook);
	int64_t *ret = calloc((size_t)(n > 0 ? n : 1), sizeof *ret);
	json_t *args = json_pack("{s:s}", "action", "block");
	bench_dev *b;
	int64_t end;

	if (n < 1 || !d || !hook || !ret || w.efd < 0)
		return 1;
	lb_log_set_level(LB_LOG_ERROR);
	d->driver = &bench_driver;
	snprintf(d->spec.id, sizeof d->spec.id, "bench");
	snprintf(d->spec.kind, sizeof d->spec.kind, "robot");
	memcpy(d->epoch, "0123456789abcdef", 17);
	d->upwake = &w;
	if (lb_device_spawn(d, NULL) < 0 || wait_up(d->host, &w, LB_CHAN_OPENED) < 0) {
		fprintf(stderr, "bench_halt: the device did not open\n");
		return 1;
	}
	b = d->priv;
	/* its thread blocks in a driver call for the whole run */
	lb_device_send(d, "call", 1, args);
	end = mono() + 5000000000LL;
	while (!atomic_load(&b->blocked) && mono() < end)
		usleep(100);
	if (!atomic_load(&b->blocked)) {
		fprintf(stderr, "bench_halt: the driver call did not block\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int64_t t0 = mono(), t1;
		if (lb_device_halt(d) != 0) {
			fprintf(stderr, "bench_halt: halt %d failed\n", i);
			return 1;
		}
		t1 = mono();
		hook[i] = atomic_load(&b->hook_ns) - t0;
		ret[i] = t1 - t0;
		usleep(200); /* samples apart, as halts are (the hook's fd/cache state not hot) */
	}
	if (!atomic_load(&b->blocked))
		fprintf(stderr, "bench_halt: warning: the call returned during the run\n");
	/* release the call: the device thread finishes every halt before the next command */
	if (write(b->pipe[1], "x", 1) != 1)
		return 1;
	lb_device_send(d, "term", 0, NULL);
	end = mono() + 5000000000LL;
	while (atomic_load(&b->finished) < n && mono() < end)
		usleep(100);
	printf("halt: %ld of %d halts finished by the device thread after its call returned\n",
	       (long)atomic_load(&b->finished), n);
	wait_up(d->host, &w, LB_CHAN_BYE);
	lb_device_unspawn(d);
	lb_device_destroy(&d);
	qsort(hook, (size_t)n, sizeof *hook, cmp);
	qsort(ret, (size_t)n, sizeof *ret, cmp);
	printf("halt request to the driver's hook, device thread blocked, %d samples: "
	       "p50 %.2f us, p99 %.2f us, max %.2f us (target p99 < 1000 us: %s)\n",
	       n, (double)pct(hook, n, 50) / 1e3, (double)pct(hook, n, 99) / 1e3,
	       (double)hook[n - 1] / 1e3, pct(hook, n, 99) < 1000000 ? "met" : "NOT met");
	printf("lb_device_halt returned (hook + priority mail posted): p50 %.2f us, p99 %.2f us, "
	       "max %.2f us\n",
	       (double)pct(ret, n, 50) / 1e3, (double)pct(ret, n, 99) / 1e3,
	       (double)ret[n - 1] / 1e3);
	json_decref(args);
	free(hook);
	free(ret);
	close(w.efd);
	return 0;
}
