/* test_slicer.c - the slicer runner with a fake slicer (tests/unit/fake-slicer.sh: progress,
 * refusal, crash, time and memory limits, confinement, the waiting line, cancel) and one run of
 * the real prusa-slicer on a 20 mm cube, its G-code then passing the print check. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bridge/services/print/gcheck.h"
#include "../../bridge/services/print/slicer.h"
#include "../../bridge/util/clock.h"
#include "check.h"
#include "stl_box.h"

#define WAIT_S 30 /* the longest a test waits for runs to end (real time) */

static char root[] = "/tmp/lbtest-slicer-XXXXXX";
static char fake[PATH_MAX], self[PATH_MAX];
static int nfolders;

/* Write text to path; 0 or -1. */
static int put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* The whole (small) file at path into buf[cap], NUL-terminated; its length or -1. */
static long get_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return (long)n;
}

/* A spec for the fake slicer doing mode: a model file saying it, a fresh folder for the run. */
static lb_slice_spec fake_spec(const char *mode, char *model, char *dir, size_t cap)
{
	lb_slice_spec sp = {0};
	char text[64];

	nfolders++;
	snprintf(model, cap, "%s/model-%d.stl", root, nfolders);
	snprintf(dir, cap, "%s/run-%d", root, nfolders);
	snprintf(text, sizeof text, "%s\n", mode);
	put_text(model, text);
	sp.program = fake;
	sp.model = model;
	sp.workdir = dir;
	return sp;
}

/*
 * Drive the pool as a loop would (poll on its fds, then step) until run id has finished, with
 * the monotonic clock shifted by skew ns (the tests move time on without waiting). 1 when it
 * finished within WAIT_S real seconds, else 0.
 */
static int drive(lb_slicer *p, long long id, int64_t skew)
{
	int64_t end = lb_now_read().mono + (int64_t)WAIT_S * 1000000000LL;
	lb_slice_status st;

	for (;;) {
		struct pollfd fds[32];
		int timeout = 200, n;
		int64_t now = lb_now_read().mono;

		lb_slicer_step(p, NULL, 0, now + skew);
		if (lb_slicer_status(p, id, &st) < 0)
			return 0;
		if (st.state >= LB_SLICE_DONE)
			return 1;
		if (now > end)
			return 0;
		n = lb_slicer_pollfds(p, fds, 32, &timeout, now + skew);
		if (timeout < 0 || timeout > 200)
			timeout = 200;
		poll(fds, (nfds_t)n, timeout);
	}
}

/* Run one fake-slicer mode alone to its end: its status. */
static lb_slice_status run_mode(const char *mode, lb_slice_spec *tune)
{
	char model[PATH_MAX], dir[PATH_MAX];
	lb_slice_spec sp = fake_spec(mode, model, dir, sizeof model);
	lb_slice_status st;
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	long long id;

	memset(&st, 0, sizeof st);
	st.state = LB_SLICE_QUEUED;
	if (tune) {
		sp.time_s = tune->time_s;
		sp.cpu_s = tune->cpu_s;
		sp.mem_mb = tune->mem_mb;
		if (tune->program)
			sp.program = tune->program;
	}
	if (!p)
		return st;
	id = lb_slicer_submit(p, &sp, &err);
	CHECK(id > 0);
	CHECK_MSG(drive(p, id, 0), mode);
	lb_slicer_status(p, id, &st);
	lb_slicer_destroy(&p);
	CHECK(p == NULL);
	return st;
}

/* A good run: progress from its lines (never back: 70 then 30 stays 70), the G-code's path. */
static void test_progress_and_result(void)
{
	char model[PATH_MAX], dir[PATH_MAX], want[PATH_MAX + 16], text[256];
	lb_slice_spec sp = fake_spec("ok", model, dir, sizeof model);
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	lb_slice_status st;
	long long id;

	if (!p) {
		CHECK(p != NULL);
		return;
	}
	id = lb_slicer_submit(p, &sp, &err);
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_QUEUED);
	CHECK_EQ_INT(st.position, 1);
	CHECK(drive(p, id, 0));
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_DONE);
	CHECK_EQ_INT(st.percent, 100);
	CHECK_STR(st.stage, "Preparing infill");
	snprintf(want, sizeof want, "%s/out.gcode", dir);
	CHECK_STR(st.gcode, want);
	CHECK(get_text(st.gcode, text, sizeof text) > 0);
	CHECK_STR(text, "G28\nG1 X1 Y1\n");
	CHECK_CONTAINS(lb_slicer_output(p, id), "Slicing result exported to");
	CHECK(st.started > 0 && st.ended >= st.started);
	CHECK_EQ_INT(lb_slicer_forget(p, id), 0);
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), LB_EINVAL);
	CHECK(lb_slicer_output(p, id) == NULL);
	lb_slicer_destroy(&p);
	lb_slicer_destroy(&p); /* NULL: nothing */
}

/* Failures carry the slicer's own words, or the limit that stopped it. */
static void test_failures(void)
{
	lb_slice_status st;
	lb_slice_spec tune = {0};

	st = run_mode("refuse", NULL);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message,
		  "the slicer refused the model (status 1): Objects could not fit on the bed");
	st = run_mode("crash", NULL);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message, "the slicer crashed (SIGSEGV): Error: the mesh is broken");
	st = run_mode("nothing", NULL);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message, "the slicer wrote no G-code");
	CHECK_EQ_INT(st.percent, 50);
	tune.mem_mb = 256;
	st = run_mode("alloc", &tune);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_CONTAINS(st.error.message, "the slicer ran out of memory (limit 256 MiB)");
	tune.mem_mb = 0;
	tune.cpu_s = 1;
	st = run_mode("cpu", &tune);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message, "the slicer used more than 1 s of CPU time");
	tune.cpu_s = 0;
	tune.program = "/nonexistent/prusa-slicer";
	st = run_mode("ok", &tune);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message,
		  "cannot run the slicer /nonexistent/prusa-slicer: No such file or directory");
}

/* The time limit: a slicer that sleeps is killed once the (moved-on) clock passes it; a slicer
 * that leaves a grandchild holding its output still ends, and the grandchild goes with it. */
static void test_time_limit(void)
{
	char model[PATH_MAX], dir[PATH_MAX];
	lb_slice_spec sp = fake_spec("slow", model, dir, sizeof model);
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	lb_slice_status st;
	long long id;
	int64_t t0 = lb_now_read().mono;

	if (!p) {
		CHECK(p != NULL);
		return;
	}
	sp.time_s = 5;
	id = lb_slicer_submit(p, &sp, &err);
	lb_slicer_step(p, NULL, 0, t0);
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	/* the same time limit, seen 6 s later: killed, then reaped */
	CHECK(drive(p, id, 6000000000LL));
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message, "the slicer took longer than 5 s");
	CHECK_EQ_INT(st.error.code, LB_ERR_TIMEOUT);
	lb_slicer_destroy(&p);
	st = run_mode("orphan", NULL);
	CHECK_EQ_INT(st.state, LB_SLICE_DONE);
}

/* The child's confinement: its folder, HOME, stdin, no inherited descriptor, no blocked or
 * ignored signal, its own process group, the limits, and its own network when allowed. */
static void test_confinement(void)
{
	char model[PATH_MAX], dir[PATH_MAX], text[4096], line[PATH_MAX + 32], mine[128] = "";
	lb_slice_spec sp = fake_spec("env", model, dir, sizeof model);
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	lb_slice_status st;
	long long id;
	int leak; /* a descriptor of the bridge's, not close-on-exec */
	long pgid = 0, pid = -1;
	const char *at;
	sigset_t block, old;

	if (!p) {
		CHECK(p != NULL);
		return;
	}
	snprintf(line, sizeof line, "%s/leak-marker", root);
	leak = open(line, O_WRONLY | O_CREAT, 0600);
	CHECK(leak >= 0);
	if (leak >= 0) { /* above the pool's own pipes */
		int high = fcntl(leak, F_DUPFD, 200);
		close(leak);
		leak = high;
	}
	/* the bridge blocks signals for its signalfd: the slicer must not inherit that */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, SIG_IGN);
	sp.mem_mb = 1024;
	sp.cpu_s = 77;
	id = lb_slicer_submit(p, &sp, &err);
	CHECK(drive(p, id, 0));
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	close(leak);
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_DONE);
	CHECK(get_text(st.gcode, text, sizeof text) > 0);
	snprintf(line, sizeof line, "cwd %s\n", dir);
	CHECK_CONTAINS(text, line);
	snprintf(line, sizeof line, "home %s\n", dir);
	CHECK_CONTAINS(text, line);
	CHECK_CONTAINS(text, "stdin /dev/null\n");
	CHECK_CONTAINS(text, "as 1048576 cpu 77\n");
	at = strstr(text, "pgid ");
	CHECK(at && sscanf(at, "pgid %ld pid %ld", &pgid, &pid) == 2 && pgid == pid);
	snprintf(line, sizeof line, "fd /proc/%ld/fd/0 /dev/null\n", pid);
	CHECK_CONTAINS(text, line);
	if (readlink("/proc/self/ns/net", mine, sizeof mine - 1) < 0)
		mine[0] = '\0';
	snprintf(line, sizeof line, "net %s\n", mine);
	if (st.net_isolated)
		CHECK(strstr(text, line) == NULL);
	else {
		CHECK_CONTAINS(text, line);
		fprintf(stderr, "note: no network namespace for the slicer here (not permitted)\n");
	}
	/* what a program sees (the shell resets its mask: look from this test binary itself) */
	snprintf(line, sizeof line, "%s/leak-marker", root);
	leak = fcntl(open(line, O_WRONLY), F_DUPFD, 200);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, SIG_IGN);
	sp = fake_spec("probe", model, dir, sizeof model);
	sp.program = self;
	sp.mem_mb = 1 << 26; /* the sanitizers reserve terabytes of address space */
	id = lb_slicer_submit(p, &sp, &err);
	CHECK(drive(p, id, 0));
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	close(leak);
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
	CHECK(get_text(st.gcode, text, sizeof text) > 0);
	CHECK_CONTAINS(text, "SigBlk:\t0000000000000000\n");
	{
		/* signals 32 and 33 are glibc's own (thread cancel, setxid): sigaction refuses
		 * them, so a bridge started with them ignored passes that on; every other is reset
		 */
		const char *ign = strstr(text, "SigIgn:\t");
		unsigned long long bits = ~0ULL;
		CHECK(ign && sscanf(ign, "SigIgn:\t%llx", &bits) == 1);
		CHECK_EQ_INT(bits & ~0x180000000ULL, 0);
	}
	CHECK(strstr(text, "leak-marker") == NULL);
	CHECK_CONTAINS(text, "fd 0 /dev/null\n");
	lb_slicer_destroy(&p);
}

/*
 * This binary as a probe slicer (argv: --export-gcode --output OUT MODEL): OUT gets its signal
 * mask and ignored signals and its descriptors' targets. 0, or 1 when OUT cannot be written.
 */
static int probe(int argc, char **argv)
{
	FILE *out = argc > 3 ? fopen(argv[3], "w") : NULL;
	FILE *st = fopen("/proc/self/status", "r");
	char line[512];

	if (!out || !st)
		return 1;
	while (fgets(line, sizeof line, st))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			fputs(line, out);
	fclose(st);
	for (int fd = 0; fd < 1024; fd++) {
		char path[64], target[PATH_MAX];
		ssize_t n;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		fprintf(out, "fd %d %s\n", fd, target);
	}
	return fclose(out) == 0 ? 0 : 1;
}

/* At most max at once, the others wait in order; cancel frees a slot, a waiting run leaves the
 * line; the output kept is the last bytes. */
static void test_waiting_line_and_cancel(void)
{
	char model[4][PATH_MAX], dir[4][PATH_MAX];
	lb_slice_spec sp[4];
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(2, &err);
	lb_slice_status st;
	long long id[4];
	int64_t now = lb_now_read().mono;
	const char *out;

	if (!p) {
		CHECK(p != NULL);
		return;
	}
	for (int i = 0; i < 4; i++) {
		sp[i] = fake_spec(i == 2 ? "chatty" : "slow", model[i], dir[i], sizeof model[i]);
		id[i] = lb_slicer_submit(p, &sp[i], &err);
	}
	lb_slicer_step(p, NULL, 0, now);
	CHECK_EQ_INT(lb_slicer_status(p, id[0], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	CHECK_EQ_INT(lb_slicer_status(p, id[1], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	CHECK_EQ_INT(lb_slicer_status(p, id[2], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_QUEUED);
	CHECK_EQ_INT(st.position, 1);
	CHECK_EQ_INT(lb_slicer_status(p, id[3], &st), 0);
	CHECK_EQ_INT(st.position, 2);
	CHECK_EQ_INT(lb_slicer_forget(p, id[0]), LB_EINVAL); /* running */
	/* the last one leaves the line at once */
	CHECK_EQ_INT(lb_slicer_cancel(p, id[3], now), 0);
	CHECK_EQ_INT(lb_slicer_status(p, id[3], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_CANCELLED);
	/* cancelling the first frees its slot for the third (chatty) */
	CHECK_EQ_INT(lb_slicer_cancel(p, id[0], now), 0);
	CHECK(drive(p, id[0], 0));
	CHECK_EQ_INT(lb_slicer_status(p, id[0], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_CANCELLED);
	CHECK_STR(st.error.message, "the slicing was cancelled");
	CHECK(drive(p, id[2], 0));
	CHECK_EQ_INT(lb_slicer_status(p, id[2], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED); /* it writes no G-code */
	CHECK_STR(st.error.message,
		  "the slicer wrote no G-code: line 1999 of a talkative slicer, padded to be long "
		  "enough / the last line");
	out = lb_slicer_output(p, id[2]);
	CHECK(out && strlen(out) == LB_SLICER_TAIL);
	CHECK(out && strcmp(out + strlen(out) - 14, "the last line\n") == 0);
	CHECK_EQ_INT(lb_slicer_status(p, id[1], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	CHECK_EQ_INT(lb_slicer_cancel(p, 999, now), LB_EINVAL);
	lb_slicer_destroy(&p); /* kills the second */
	CHECK(lb_slicer_default_max() >= 1);
	CHECK_EQ_INT(lb_slicer_submit(NULL, &sp[0], &err), LB_EINVAL);
	sp[0].model = "relative.stl";
	p = lb_slicer_new(0, &err);
	CHECK_EQ_INT(lb_slicer_submit(p, &sp[0], &err), LB_EINVAL);
	lb_slicer_destroy(&p);
}

/* The pool on its own thread: runs end without the caller driving anything, the notify
 * descriptor wakes the caller, cancel and destroy end what runs. */
static void test_worker(void)
{
	char model[4][PATH_MAX], dir[4][PATH_MAX];
	static const char *const modes[4] = {"ok", "slow", "ok", "refuse"};
	lb_slice_spec sp[4];
	lb_error err = {0};
	lb_slicer_worker *w = lb_slicer_worker_new(2, &err);
	lb_slice_status st;
	long long id[4];
	int64_t end = lb_now_read().mono + (int64_t)WAIT_S * 1000000000LL;
	int wakes = 0;

	if (!w) {
		CHECK_MSG(w != NULL, err.message);
		return;
	}
	for (int i = 0; i < 4; i++) {
		sp[i] = fake_spec(modes[i], model[i], dir[i], sizeof model[i]);
		id[i] = lb_slicer_worker_submit(w, &sp[i], &err);
		CHECK(id[i] > 0);
	}
	/* wait (on the notify descriptor) for every run but the slow one to end */
	for (;;) {
		struct pollfd pfd = {.fd = lb_slicer_worker_fd(w), .events = POLLIN};
		int ended = 0;
		uint64_t v;

		for (int i = 0; i < 4; i++)
			ended += lb_slicer_worker_status(w, id[i], &st) == 0 &&
				 st.state >= LB_SLICE_DONE;
		if (ended == 3 || lb_now_read().mono > end)
			break;
		if (poll(&pfd, 1, 1000) == 1 && read(pfd.fd, &v, sizeof v) == sizeof v)
			wakes++;
	}
	CHECK(wakes > 0);
	CHECK_EQ_INT(lb_slicer_worker_status(w, id[0], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_DONE);
	CHECK_EQ_INT(lb_slicer_worker_status(w, id[2], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_DONE);
	CHECK_EQ_INT(lb_slicer_worker_status(w, id[3], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_EQ_INT(lb_slicer_worker_status(w, id[1], &st), 0);
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	CHECK_EQ_INT(lb_slicer_worker_forget(w, id[0]), 0);
	CHECK_EQ_INT(lb_slicer_worker_status(w, id[0], &st), LB_EINVAL);
	CHECK_EQ_INT(lb_slicer_worker_cancel(w, id[1], lb_now_read().mono), 0);
	while (lb_slicer_worker_status(w, id[1], &st) == 0 && st.state == LB_SLICE_RUNNING &&
	       lb_now_read().mono < end) {
		struct pollfd pfd = {.fd = lb_slicer_worker_fd(w), .events = POLLIN};
		uint64_t v;
		if (poll(&pfd, 1, 1000) == 1 && read(pfd.fd, &v, sizeof v) < 0)
			break;
	}
	CHECK_EQ_INT(st.state, LB_SLICE_CANCELLED);
	/* destroyed with a slicer running: it is killed, nothing waits for its 60 s */
	sp[1] = fake_spec("slow", model[1], dir[1], sizeof model[1]);
	id[1] = lb_slicer_worker_submit(w, &sp[1], &err);
	while (lb_slicer_worker_status(w, id[1], &st) == 0 && st.state == LB_SLICE_QUEUED &&
	       lb_now_read().mono < end) {
		struct pollfd pfd = {.fd = lb_slicer_worker_fd(w), .events = POLLIN};
		uint64_t v;
		if (poll(&pfd, 1, 1000) == 1 && read(pfd.fd, &v, sizeof v) < 0)
			break;
	}
	CHECK_EQ_INT(st.state, LB_SLICE_RUNNING);
	lb_slicer_worker_destroy(&w);
	CHECK(w == NULL);
	lb_slicer_worker_destroy(&w);
}

/* The real slicer on a 20 mm cube: done, and its G-code passes the print check. */
static void test_real_prusa_slicer(void)
{
	char model[PATH_MAX], dir[PATH_MAX];
	lb_slice_spec sp = {0};
	lb_error err = {0};
	lb_slicer *p;
	lb_slice_status st;
	gcode_policy pol = {.max_hotend = GCODE_POLICY_MAX_HOTEND, .max_bed = GCODE_POLICY_MAX_BED};
	json_t *meta = NULL;
	long long id;

	if (access("/usr/bin/prusa-slicer", X_OK) != 0) {
		CHECK_MSG(0, "prusa-slicer is not installed (Debian: apt-get install prusa-slicer; "
			     "make test-deps)");
		return;
	}
	snprintf(model, sizeof model, "%s/cube20.stl", root);
	snprintf(dir, sizeof dir, "%s/real", root);
	CHECK_EQ_INT(stl_write_box(model, 20, 20, 20), 0);
	sp.program = "prusa-slicer";
	sp.model = model;
	sp.workdir = dir;
	sp.time_s = 120;
	p = lb_slicer_new(0, &err);
	if (!p)
		return;
	id = lb_slicer_submit(p, &sp, &err);
	CHECK(drive(p, id, 0));
	CHECK_EQ_INT(lb_slicer_status(p, id, &st), 0);
	CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
	CHECK_EQ_INT(st.percent, 100);
	if (st.state == LB_SLICE_DONE) {
		CHECK_EQ_INT(lb_gcode_check_file(&pol, st.gcode, &meta, &err), 0);
		CHECK_CONTAINS(json_string_value(json_object_get(meta, "slicer")), "PrusaSlicer");
		CHECK(json_integer_value(json_object_get(meta, "commands")) > 1000);
		json_decref(meta);
	}
	lb_slicer_destroy(&p);
}

int main(int argc, char **argv)
{
	char cmd[128];
	int rc;

	if (argc > 1 && strcmp(argv[1], "--export-gcode") == 0)
		return probe(argc, argv);
	if (!mkdtemp(root) || !realpath("tests/unit/fake-slicer.sh", fake) ||
	    !realpath("/proc/self/exe", self)) {
		fprintf(stderr,
			"cannot make %s or find tests/unit/fake-slicer.sh (run from the "
			"repository's root)\n",
			root);
		return 1;
	}
	RUN(test_progress_and_result);
	RUN(test_failures);
	RUN(test_time_limit);
	RUN(test_confinement);
	RUN(test_waiting_line_and_cancel);
	RUN(test_worker);
	RUN(test_real_prusa_slicer);
	rc = check_summary();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return rc;
}
