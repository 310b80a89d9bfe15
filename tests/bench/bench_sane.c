/* bench_sane.c - SANE discovery time with a given configuration (the bridge's private one). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bridge/util/error.c"
#include "../../drivers/sane/session.c"

/*
 *   bench_sane CONFIG_DIR [RUNS]
 *
 * CONFIG_DIR: a SANE configuration directory (tests/bench/scanners.py passes a copy of the one
 * the bridge writes for the simulated lab: dll.conf with `test` alone, its test.conf). RUNS
 * (default 20) times each of:
 *   - "session": the driver's own discovery, drivers/sane/session.c compiled in: sn_discover
 *     (its worker thread: sane_init, sane_get_devices), sn_discover_wait, sn_devices, then
 *     sn_shutdown (join, sane_exit), so every run initialises SANE again;
 *   - "direct": sane_init + sane_get_devices(local_only = false) on this thread, then sane_exit.
 * Prints the first run (dynamic loading of the backend not yet in the page cache, when it is the
 * machine's first) and p50/max of the others in milliseconds, against the 100 ms target, and a
 * last line BENCH_JSON {...}. Exit status 0 when every run found a device, 1 otherwise.
 */

#define WAIT_MS 5000 /* a discovery that takes longer counts as failed */

/* CLOCK_MONOTONIC in nanoseconds. */
static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* qsort order for doubles. */
static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One discovery through session.c, as the driver's scan does it (sn_discover, sn_discover_wait,
 * sn_devices): ms until the list holds a device, or -1 (none within WAIT_MS). */
static double run_session(const char *dir)
{
	int64_t t0 = now_ns();
	double ms = -1;
	json_t *l;

	if (sn_discover(dir) < 0)
		return -1;
	sn_discover_wait(WAIT_MS);
	l = sn_devices(dir);
	if (json_array_size(l) > 0)
		ms = (double)(now_ns() - t0) / 1e6;
	json_decref(l);
	sn_shutdown();
	return ms;
}

/* One sane_init + sane_get_devices on this thread: ms, or -1 when no device was found. */
static double run_direct(void)
{
	const SANE_Device **devs = NULL;
	SANE_Int version;
	int64_t t0 = now_ns();
	double ms = -1;

	if (sane_init(&version, NULL) != SANE_STATUS_GOOD)
		return -1;
	if (sane_get_devices(&devs, SANE_FALSE) == SANE_STATUS_GOOD && devs && devs[0])
		ms = (double)(now_ns() - t0) / 1e6;
	sane_exit();
	return ms;
}

/* Print one way's figures (first run, then p50/max of the others); 0 or -1 (a run failed). */
static int report(const char *what, double *v, int n, json_t *out)
{
	double rest[1024];
	int m = 0, bad = 0;

	for (int i = 0; i < n; i++)
		bad |= v[i] < 0;
	for (int i = 1; i < n && m < 1024; i++)
		rest[m++] = v[i];
	qsort(rest, (size_t)m, sizeof *rest, cmp_d);
	printf("discovery %-8s first %.2f ms, then p50 %.2f ms, max %.2f ms (%d runs)%s; "
	       "target < 100 ms: %s\n",
	       what, v[0], m ? rest[m / 2] : v[0], m ? rest[m - 1] : v[0], n,
	       bad ? ", SOME FOUND NO DEVICE" : "",
	       !bad && v[0] < 100 && (!m || rest[m - 1] < 100) ? "MET" : "NOT MET");
	json_object_set_new(out, what,
			    json_pack("{s:f,s:f,s:f,s:i,s:b}", "first_ms", v[0], "p50_ms",
				      m ? rest[m / 2] : v[0], "max_ms", m ? rest[m - 1] : v[0],
				      "runs", n, "ok", !bad));
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int runs = argc == 3 ? atoi(argv[2]) : 20, rc = 0;
	double *vs, *vd;
	json_t *out = json_object();
	char *js;

	if (argc < 2 || argc > 3 || runs < 1 || runs > 1024) {
		fprintf(stderr, "usage: bench_sane CONFIG_DIR [RUNS (1-1024, default 20)]\n");
		return 2;
	}
	vs = calloc((size_t)runs, sizeof *vs);
	vd = calloc((size_t)runs, sizeof *vd);
	if (!vs || !vd || !out)
		return 1;
	/* session.c puts its own (empty) private directory before this one, as in the bridge;
	 * the direct runs read the same configuration (SANE keeps the first path list) */
	setenv("SANE_CONFIG_DIR", argv[1], 1);
	for (int i = 0; i < runs; i++)
		vs[i] = run_session(argv[1]);
	for (int i = 0; i < runs; i++)
		vd[i] = run_direct();
	rc |= report("session", vs, runs, out);
	rc |= report("direct", vd, runs, out);
	js = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
	printf("BENCH_JSON %s\n", js ? js : "{}");
	free(js);
	json_decref(out);
	free(vs);
	free(vd);
	return rc ? 1 : 0;
}
