/* bench_slicer.c - slicing a 20 mm cube with the "normal" preset: prusa-slicer through the
 * runner (services/print/slicer.c) vs the same command run by hand, alternated (target: the
 * runner adds under 10 %). */
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/services/print/profile.c"
#include "../../bridge/services/print/slicer.c"
#include "../../bridge/util/clock.h"
#include "../../bridge/util/error.c"
#include "../../bridge/util/thread.c"

#define ROUNDS 10

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The same command as the runner's, by hand (posix_spawnp, output to /dev/null): seconds, or -1. */
static double by_hand(const char *ini, const char *model, const char *out)
{
	char *argv[] = {"prusa-slicer",
			"--export-gcode",
			"--load",
			(char *)ini,
			"--output",
			(char *)out,
			model ? (char *)model : NULL,
			NULL};
	posix_spawn_file_actions_t fa;
	double t0 = now_s();
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "prusa-slicer", &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return now_s() - t0;
}

/* The runner, driven as a loop would (poll, step): seconds, or -1. */
static double through_runner(const char *ini, const char *model, const char *dir)
{
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	lb_slice_spec sp = {.program = "prusa-slicer", .model = model, .workdir = dir};
	lb_slice_status st = {0};
	double t0 = now_s();
	long long id;

	if (!p)
		return -1;
	sp.args[0] = "--load";
	sp.args[1] = ini;
	id = lb_slicer_submit(p, &sp, &err);
	for (int guard = 0; guard < 100000; guard++) {
		struct pollfd fds[4];
		int timeout = 1000, n;

		lb_slicer_step(p, NULL, 0, lb_now_read().mono);
		if (lb_slicer_status(p, id, &st) < 0 || st.state >= LB_SLICE_DONE)
			break;
		n = lb_slicer_pollfds(p, fds, 4, &timeout, lb_now_read().mono);
		poll(fds, (nfds_t)n, timeout < 0 || timeout > 1000 ? 1000 : timeout);
	}
	lb_slicer_destroy(&p);
	if (st.state != LB_SLICE_DONE) {
		fprintf(stderr, "bench_slicer: %s\n", st.error.message);
		return -1;
	}
	return now_s() - t0;
}

int main(void)
{
	char tmp[] = "/tmp/bench-slicer-XXXXXX", model[128], ini[128], out[160], dir[160];
	double hand[ROUNDS], runner[ROUNDS], h, r;
	lb_error err = {0};
	FILE *f;

	if (!mkdtemp(tmp))
		return 1;
	snprintf(model, sizeof model, "%s/cube.stl", tmp);
	snprintf(ini, sizeof ini, "%s/normal.ini", tmp);
	f = fopen(model, "w");
	if (!f)
		return 1;
	/* a 20 mm cube, 12 facets */
	{
		static const int fc[12][3] = {{0, 1, 3}, {0, 3, 2}, {4, 6, 7}, {4, 7, 5},
					      {0, 4, 5}, {0, 5, 1}, {2, 3, 7}, {2, 7, 6},
					      {0, 2, 6}, {0, 6, 4}, {1, 5, 7}, {1, 7, 3}};
		fprintf(f, "solid cube\n");
		for (int i = 0; i < 12; i++) {
			fprintf(f, "facet normal 0 0 0\nouter loop\n");
			for (int k = 0; k < 3; k++)
				fprintf(f, "vertex %d %d %d\n", fc[i][k] & 4 ? 20 : 0,
					fc[i][k] & 2 ? 20 : 0, fc[i][k] & 1 ? 20 : 0);
			fprintf(f, "endloop\nendfacet\n");
		}
		fprintf(f, "endsolid cube\n");
	}
	fclose(f);
	if (lb_profile_write_ini(lb_printer_profile_find("generic-220"), lb_preset_find("normal"),
				 ini, &err) < 0) {
		fprintf(stderr, "bench_slicer: %s\n", err.message);
		return 1;
	}
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(out, sizeof out, "%s/hand-%d.gcode", tmp, i);
		snprintf(dir, sizeof dir, "%s/run-%d", tmp, i);
		hand[i] = by_hand(ini, model, out);
		runner[i] = through_runner(ini, model, dir);
		if (hand[i] < 0 || runner[i] < 0) {
			fprintf(stderr, "bench_slicer: prusa-slicer did not run (apt-get install "
					"prusa-slicer)\n");
			return 1;
		}
	}
	qsort(hand, ROUNDS, sizeof hand[0], cmp_double);
	qsort(runner, ROUNDS, sizeof runner[0], cmp_double);
	h = (hand[ROUNDS / 2 - 1] + hand[ROUNDS / 2]) / 2;
	r = (runner[ROUNDS / 2 - 1] + runner[ROUNDS / 2]) / 2;
	printf("slicer: 20 mm cube, preset normal, %d rounds alternated: by hand %.0f ms, through "
	       "the runner %.0f ms (median): x%.2f (target: under x1.10) %s\n",
	       ROUNDS, h * 1000, r * 1000, r / h, r / h < 1.10 ? "met" : "NOT met");
	{
		char cmd[64];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_slicer: cannot remove %s\n", tmp);
	}
	return 0;
}
