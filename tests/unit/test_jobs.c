/* test_jobs.c - the generic job store: states, ownership, results, persistence, kill -9 safety. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/services/jobs/jobs.h"

static char root[] = "/tmp/lbtest-jobs-XXXXXX";
static int ndirs;

/* A fresh directory for one test, under root. */
static void fresh_dir(char *dir, size_t cap)
{
	snprintf(dir, cap, "%s/t%d", root, ++ndirs);
	mkdir(dir, 0700);
}

/* Write a file with text; 0 or -1. */
static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

/* The contents of a small file into buf[cap] (NUL-terminated); its length or -1. */
static long read_file(const char *path, char *buf, size_t cap)
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

/* Whether a path exists. */
static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The string member of an object (NULL when absent or not a string). */
static const char *sget(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The state name of job id ("none" when there is no such job). */
static const char *state_of(lb_jobs *j, long long id)
{
	static char buf[32];
	lb_job_state s;

	if (lb_jobs_state(j, id, &s, NULL) < 0)
		return "none";
	snprintf(buf, sizeof buf, "%s", lb_job_state_name(s));
	return buf;
}

/* A plain spec of a kind and owner, queued at once. */
static lb_job_spec spec_of(const char *kind, const char *owner, const char *label)
{
	lb_job_spec s = {0};

	s.kind = kind;
	s.owner = owner;
	s.label = label;
	return s;
}

static void test_state_names(void)
{
	lb_job_state s;

	for (int i = 0; i < LB_JOB_NSTATES; i++) {
		CHECK_EQ_INT(lb_job_state_parse(lb_job_state_name((lb_job_state)i), &s), 0);
		CHECK_EQ_INT(s, i);
	}
	CHECK_STR(lb_job_state_name(LB_JOB_WAITING_APPROVAL), "waiting_approval");
	CHECK_STR(lb_job_state_name(LB_JOB_NSTATES), "?");
	CHECK_EQ_INT(lb_job_state_parse("printing", &s), LB_EINVAL);
	CHECK_EQ_INT(lb_job_state_parse(NULL, &s), LB_EINVAL);
	CHECK(lb_job_state_finished(LB_JOB_DONE));
	CHECK(lb_job_state_finished(LB_JOB_INTERRUPTED));
	CHECK(!lb_job_state_finished(LB_JOB_PAUSED));
	/* the table, in spots: nothing leaves done; nothing jumps from waiting to running */
	for (int i = 0; i < LB_JOB_NSTATES; i++)
		CHECK(!lb_job_transition_allowed(LB_JOB_DONE, (lb_job_state)i));
	CHECK(!lb_job_transition_allowed(LB_JOB_WAITING_APPROVAL, LB_JOB_RUNNING));
	CHECK(!lb_job_transition_allowed(LB_JOB_QUEUED, LB_JOB_INTERRUPTED));
	CHECK(!lb_job_transition_allowed(LB_JOB_RUNNING, LB_JOB_QUEUED));
	CHECK(lb_job_transition_allowed(LB_JOB_STARTING, LB_JOB_QUEUED));
	CHECK(lb_job_transition_allowed(LB_JOB_INTERRUPTED, LB_JOB_QUEUED));
	CHECK(!lb_job_transition_allowed(LB_JOB_NSTATES, LB_JOB_QUEUED));
}

/* A service's stage before the queue (preparing: a model being sliced): created there, it goes
 * on to approval or the queue, survives a restart as it is (never interrupted), takes new meta
 * and params; a finished job may be retried into it; a queued job may be held for a teacher. */
static void test_preparing(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:alice", "cube.stl");
	long long a, b;
	json_t *o;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	CHECK(j != NULL);
	if (!j)
		return;
	sp.preparing = true;
	sp.needs_approval = true;
	a = lb_jobs_submit(j, &sp, 110, NULL, &err);
	CHECK_STR(state_of(j, a), "preparing");
	sp.needs_approval = false;
	sp.approved_by = "unix:alice";
	b = lb_jobs_submit(j, &sp, 111, NULL, &err);
	CHECK_STR(state_of(j, b), "preparing");
	/* not waiting: no position; the next job of the kind is none */
	o = lb_jobs_get(j, a);
	CHECK(json_is_null(json_object_get(o, "position")));
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 0);
	/* nothing jumps from preparing to running */
	CHECK(!lb_job_transition_allowed(LB_JOB_PREPARING, LB_JOB_RUNNING));
	CHECK(!lb_job_transition_allowed(LB_JOB_PREPARING, LB_JOB_INTERRUPTED));
	CHECK_EQ_INT(lb_jobs_transition(j, a, LB_JOB_RUNNING, NULL, 112, &err), LB_EFAIL);
	/* meta and params replaced, refused when not objects or of no job */
	CHECK_EQ_INT(lb_jobs_set_meta(j, a, "{\"time_s\":60}", 113, &err), 0);
	CHECK_EQ_INT(lb_jobs_set_params(j, a, "{\"scale\":50}", 113, &err), 0);
	CHECK_EQ_INT(lb_jobs_set_meta(j, a, "[1]", 113, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_set_params(j, 99, "{}", 113, &err), LB_EFAIL);
	o = lb_jobs_get(j, a);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "params"), "scale")),
		     50);
	CHECK_EQ_INT(json_number_value(json_object_get(json_object_get(o, "meta"), "time_s")), 60);
	json_decref(o);
	/* a restart leaves them preparing */
	lb_jobs_destroy(&j);
	j = lb_jobs_new(dir, 200, &err);
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_STR(state_of(j, a), "preparing");
	/* prepared: to approval, or to the queue; a queued job held for a teacher; a failed one
	 * prepared again */
	CHECK_EQ_INT(lb_jobs_transition(j, a, LB_JOB_WAITING_APPROVAL, NULL, 210, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, b, LB_JOB_QUEUED, NULL, 211, &err), 0);
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), b);
	CHECK_EQ_INT(lb_jobs_transition(j, b, LB_JOB_WAITING_APPROVAL, NULL, 212, &err), 0);
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, a, LB_JOB_FAILED, "too big", 213, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, a, LB_JOB_PREPARING, NULL, 214, &err), 0);
	o = lb_jobs_get(j, a);
	CHECK(json_is_null(json_object_get(o, "error")));
	CHECK(json_is_null(json_object_get(o, "finished")));
	json_decref(o);
	lb_jobs_destroy(&j);
}

/* lb_jobs_update: files, meta and state in one commit; refused, nothing changes and the files
 * stay where they were. */
static void test_update(void)
{
	char dir[256], folder[600], a[700], b[700];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:alice", "cube.stl");
	lb_job_file files[2];
	long long id;
	json_t *o, *r;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	sp.preparing = true;
	sp.needs_approval = true;
	id = lb_jobs_submit(j, &sp, 110, NULL, &err);
	CHECK_EQ_INT(lb_jobs_folder(j, id, folder, sizeof folder, &err), 0);
	snprintf(a, sizeof a, "%s/.a", folder);
	snprintf(b, sizeof b, "%s/.b", folder);
	CHECK_EQ_INT(write_file(a, "G1 X1\n"), 0);
	CHECK_EQ_INT(write_file(b, "png"), 0);
	files[0] = (lb_job_file){"print.gcode", a};
	files[1] = (lb_job_file){"thumbnail.png", b};
	/* refused (preparing cannot go to running): no row, no meta, the files where they were */
	CHECK_EQ_INT(lb_jobs_update(j, id, files, 2, "{\"time_s\":60}", LB_JOB_RUNNING, 120, &err),
		     LB_EFAIL);
	CHECK_STR(err.message, "job 1 is preparing: cannot go to running");
	CHECK(exists(a) && exists(b));
	r = lb_jobs_results(j, id);
	CHECK_EQ_UINT(json_array_size(r), 0);
	json_decref(r);
	o = lb_jobs_get(j, id);
	CHECK(json_object_get(json_object_get(o, "meta"), "time_s") == NULL);
	json_decref(o);
	/* a bad meta or a bad name: refused the same */
	CHECK_EQ_INT(lb_jobs_update(j, id, files, 2, "[1]", LB_JOB_WAITING_APPROVAL, 120, &err),
		     LB_EFAIL);
	files[1].name = "../x";
	CHECK_EQ_INT(lb_jobs_update(j, id, files, 2, NULL, -1, 120, &err), LB_EFAIL);
	files[1].name = "thumbnail.png";
	CHECK(exists(a) && exists(b));
	CHECK_STR(state_of(j, id), "preparing");
	/* all at once */
	CHECK_EQ_INT(
	    lb_jobs_update(j, id, files, 2, "{\"time_s\":60}", LB_JOB_WAITING_APPROVAL, 121, &err),
	    0);
	CHECK(!exists(a) && !exists(b));
	CHECK_STR(state_of(j, id), "waiting_approval");
	r = lb_jobs_results(j, id);
	CHECK_EQ_UINT(json_array_size(r), 2);
	CHECK_STR(sget(json_array_get(r, 0), "name"), "print.gcode");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(r, 0), "size")), 6);
	CHECK_STR(sget(json_array_get(r, 1), "name"), "thumbnail.png");
	json_decref(r);
	o = lb_jobs_get(j, id);
	CHECK_EQ_INT(json_number_value(json_object_get(json_object_get(o, "meta"), "time_s")), 60);
	json_decref(o);
	/* meta alone, the state kept; no arguments, refused */
	CHECK_EQ_INT(lb_jobs_update(j, id, NULL, 0, "{\"time_s\":61}", -1, 122, &err), 0);
	CHECK_STR(state_of(j, id), "waiting_approval");
	CHECK_EQ_INT(lb_jobs_update(NULL, id, NULL, 0, NULL, -1, 122, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_update(j, id, NULL, 1, NULL, -1, 122, &err), LB_EFAIL);
	/* it lasts */
	lb_jobs_destroy(&j);
	j = lb_jobs_new(dir, 200, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	CHECK_STR(state_of(j, id), "waiting_approval");
	o = lb_jobs_get(j, id);
	CHECK_EQ_INT(json_number_value(json_object_get(json_object_get(o, "meta"), "time_s")), 61);
	json_decref(o);
	lb_jobs_destroy(&j);
}

static void test_transitions(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("scan", "unix:alice", "page 1");
	long long id;
	json_t *o;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	CHECK(j != NULL);
	if (!j)
		return;
	id = lb_jobs_submit(j, &sp, 110, NULL, &err);
	CHECK_EQ_INT(id, 1);
	CHECK_STR(state_of(j, id), "queued");
	/* the legal path of a job, each step stamped */
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_STARTING, NULL, 120, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 130, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_PAUSED, NULL, 140, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 150, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_DONE, NULL, 160, &err), 0);
	o = lb_jobs_get(j, id);
	CHECK_STR(sget(o, "state"), "done");
	CHECK_STR(sget(o, "kind"), "scan");
	CHECK_STR(sget(o, "owner"), "unix:alice");
	CHECK_STR(sget(o, "label"), "page 1");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "created")), 110);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "started")), 130); /* the first run */
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "finished")), 160);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "updated")), 160);
	CHECK(json_is_null(json_object_get(o, "position")));
	json_decref(o);
	/* illegal ones: refused with the states named, nothing changed */
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 170, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "job 1 is done: cannot go to running");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_QUEUED, NULL, 170, &err), LB_EFAIL);
	CHECK_STR(state_of(j, id), "done");
	CHECK_EQ_INT(lb_jobs_transition(j, 99, LB_JOB_RUNNING, NULL, 170, &err), LB_EFAIL);
	CHECK_STR(err.message, "no job 99");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_NSTATES, NULL, 170, &err), LB_EFAIL);
	/* a failed job is retried: progress, error and times reset, at the end of the queue */
	sp.label = "page 2";
	id = lb_jobs_submit(j, &sp, 200, NULL, &err);
	CHECK_EQ_INT(id, 2);
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 201, NULL, &err), 3);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_QUEUED, NULL, 205, &err), LB_EFAIL);
	CHECK_STR(err.message, "job 2 is queued: cannot go to queued");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 210, &err), 0);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 0.25, "{\"page\": 3}", 215, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_FAILED, "paper jam", 220, &err), 0);
	o = lb_jobs_get(j, id);
	CHECK_STR(sget(o, "error"), "paper jam");
	CHECK_NEAR(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")),
		   0.25, 1e-9);
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_next(j, "scan", NULL), 3);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_QUEUED, NULL, 230, &err), 0);
	o = lb_jobs_get(j, id);
	CHECK_STR(sget(o, "state"), "queued");
	CHECK(json_is_null(json_object_get(o, "error")));
	CHECK(json_is_null(json_object_get(o, "finished")));
	CHECK(json_is_null(json_object_get(o, "started")));
	CHECK_NEAR(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")),
		   0.0, 1e-9);
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "position")), 2); /* after job 3 */
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_next(j, "scan", NULL), 3);
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 0);
	lb_jobs_destroy(&j);
	CHECK(j == NULL);
	lb_jobs_destroy(&j); /* NULL is fine */
}

static void test_submit_checks_and_queue(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:alice", "a.gcode");
	bool dup = true;
	json_t *a;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	CHECK(j != NULL);
	if (!j)
		return;
	/* device targets and queue order per kind */
	sp.device = "printer-2";
	sp.request_id = "r1";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 1, &dup, &err), 1);
	CHECK(!dup);
	sp.device = NULL;
	sp.request_id = "r2";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 2, &dup, &err), 2);
	CHECK_EQ_INT(lb_jobs_next(j, "print", "printer-1"), 2);
	CHECK_EQ_INT(lb_jobs_next(j, "print", "printer-2"), 1);
	/* the same request id of the same owner and kind: the same job, never a second */
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 3, &dup, &err), 2);
	CHECK(dup);
	/* another owner's same id is another job */
	sp.owner = "unix:bob";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 4, &dup, &err), 3);
	CHECK(!dup);
	a = lb_jobs_list(j, "print", false);
	CHECK_EQ_INT(json_array_size(a), 3);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 2), "position")), 3);
	json_decref(a);
	a = lb_jobs_list(j, "scan", false);
	CHECK_EQ_INT(json_array_size(a), 0);
	json_decref(a);
	/* bad specs */
	sp.kind = "";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "kind");
	sp.kind = "print";
	sp.owner = NULL;
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "owner");
	sp.owner = "unix:bob";
	sp.params = "[1, 2]";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "params");
	sp.params = "{\"copies\": 2}";
	sp.request_id = "r3";
	sp.input = "/nonexistent/file";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "/nonexistent/file");
	a = lb_jobs_list(j, NULL, false);
	CHECK_EQ_INT(json_array_size(a), 3);
	json_decref(a);
	lb_jobs_destroy(&j);
}

/* The ids of the unfinished jobs of a kind in list order, as "4 2 3". */
static void order_of(lb_jobs *j, const char *kind, char *out, size_t cap)
{
	json_t *a = lb_jobs_list(j, kind, false);
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a) && n < cap; i++)
		n += (size_t)snprintf(
		    out + n, cap - n, "%s%lld", i ? " " : "",
		    (long long)json_integer_value(json_object_get(json_array_get(a, i), "id")));
	json_decref(a);
}

/* The position of job id (0 when null). */
static long long position_of(lb_jobs *j, long long id)
{
	json_t *o = lb_jobs_get(j, id);
	long long p = json_integer_value(json_object_get(o, "position"));

	json_decref(o);
	return p;
}

static void test_queue_move(void)
{
	char dir[256], order[64];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:alice", "p");

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	sp.needs_approval = true;
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 1, NULL, &err), 1);
	sp.needs_approval = false;
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 2, NULL, &err), 2);
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 3, NULL, &err), 3);
	sp.kind = "scan";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 4, NULL, &err), 4);
	sp.kind = "print";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), 5);
	/* a job waiting for approval holds its place in the queue; kinds have their own queues */
	CHECK_EQ_INT(position_of(j, 1), 1);
	CHECK_EQ_INT(position_of(j, 5), 4);
	CHECK_EQ_INT(position_of(j, 4), 1);
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 2);
	CHECK_EQ_INT(lb_jobs_move(j, 5, 1, 6, &err), 0);
	order_of(j, "print", order, sizeof order);
	CHECK_STR(order, "5 1 2 3");
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 5);
	CHECK_EQ_INT(lb_jobs_move(j, 1, 99, 7, &err), 0); /* past the end: last */
	order_of(j, "print", order, sizeof order);
	CHECK_STR(order, "5 2 3 1");
	CHECK_EQ_INT(position_of(j, 1), 4);
	CHECK_EQ_INT(lb_jobs_move(j, 3, 2, 8, &err), 0);
	order_of(j, "print", order, sizeof order);
	CHECK_STR(order, "5 3 2 1");
	CHECK_EQ_INT(position_of(j, 4), 1); /* the scan queue did not move */
	/* active jobs come first and have no position; they cannot be moved */
	CHECK_EQ_INT(lb_jobs_transition(j, 2, LB_JOB_RUNNING, NULL, 9, &err), 0);
	order_of(j, "print", order, sizeof order);
	CHECK_STR(order, "2 5 3 1");
	CHECK_EQ_INT(position_of(j, 2), 0);
	CHECK_EQ_INT(position_of(j, 1), 3);
	CHECK_EQ_INT(lb_jobs_move(j, 2, 1, 10, &err), LB_EFAIL);
	CHECK_STR(err.message,
		  "job 2 is running: only a waiting job (waiting_approval or queued) can be moved");
	CHECK_EQ_INT(lb_jobs_move(j, 5, 0, 10, &err), LB_EFAIL);
	CHECK_STR(err.message, "position 0: positions start at 1 (next)");
	CHECK_EQ_INT(lb_jobs_move(j, 42, 1, 10, &err), LB_EFAIL);
	CHECK_STR(err.message, "no job 42");
	/* the order is kept across a reopen */
	lb_jobs_destroy(&j);
	j = lb_jobs_new(dir, 200, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	order_of(j, "print", order, sizeof order);
	CHECK_STR(order, "5 3 1"); /* 2 was running: interrupted, history now */
	CHECK_STR(state_of(j, 2), "interrupted");
	lb_jobs_destroy(&j);
}

static void test_approval(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:pupil", "p.gcode");
	long long id;
	json_t *o;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	sp.needs_approval = true;
	id = lb_jobs_submit(j, &sp, 1, NULL, &err);
	CHECK_STR(state_of(j, id), "waiting_approval");
	CHECK_EQ_INT(lb_jobs_next(j, "print", NULL), 0); /* not runnable before approval */
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 2, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_approve(j, id, "unix:teacher", 3, &err), 0);
	o = lb_jobs_get(j, id);
	CHECK_STR(sget(o, "state"), "queued");
	CHECK_STR(sget(o, "approved_by"), "unix:teacher");
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_approve(j, id, "unix:teacher", 4, &err), LB_EFAIL);
	CHECK_STR(err.message, "job 1 is queued: only a job waiting for approval can be approved");
	CHECK_EQ_INT(lb_jobs_approve(j, 42, "unix:teacher", 4, &err), LB_EFAIL);
	CHECK_STR(err.message, "no job 42");
	/* an upload that completes goes where the service says */
	sp.needs_approval = false;
	sp.uploading = true;
	id = lb_jobs_submit(j, &sp, 5, NULL, &err);
	CHECK_STR(state_of(j, id), "uploading");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 6, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_WAITING_APPROVAL, NULL, 6, &err), 0);
	/* cancelled, then retried: back to waiting for approval, its approver forgotten */
	CHECK_EQ_INT(lb_jobs_transition(j, 1, LB_JOB_CANCELLED, NULL, 7, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 1, LB_JOB_WAITING_APPROVAL, NULL, 8, &err), 0);
	o = lb_jobs_get(j, 1);
	CHECK(json_is_null(json_object_get(o, "approved_by")));
	json_decref(o);
	lb_jobs_destroy(&j);
}

static void test_owner(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("program", "unix:alice", "blink.hex");
	long long id;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	id = lb_jobs_submit(j, &sp, 1, NULL, &err);
	CHECK_EQ_INT(lb_jobs_check_owner(j, id, "unix:alice", false, "cancel", &err), 0);
	CHECK_EQ_INT(lb_jobs_check_owner(j, id, "unix:bob", false, "cancel", &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	CHECK_STR(err.message, "only its owner (unix:alice) or a teacher may cancel job 1");
	/* a display name that looks like the owner is not the owner */
	CHECK_EQ_INT(lb_jobs_check_owner(j, id, "alice", false, "cancel", &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_check_owner(j, id, NULL, false, "cancel", &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_check_owner(j, id, "unix:bob", true, "cancel", &err), 0);
	CHECK_EQ_INT(lb_jobs_check_owner(j, 7, "unix:alice", true, "cancel", &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "no job 7");
	lb_jobs_destroy(&j);
}

static void test_progress(void)
{
	char dir[256];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("recording", "unix:alice", "rec");
	long long id;
	json_t *o;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	id = lb_jobs_submit(j, &sp, 1, NULL, &err);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 0.1, NULL, 2, &err), LB_EFAIL);
	CHECK_STR(err.message,
		  "job 1 is queued: only a starting, running or paused job has progress");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 3, &err), 0);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 1.5, NULL, 4, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_progress(j, id, -0.1, NULL, 4, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 0.0 / 0.0, NULL, 4, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 0.5, "not json", 4, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_progress(j, id, 0.5, "{\"rows\": 1200}", 5, &err), 0);
	o = lb_jobs_get(j, id);
	CHECK_NEAR(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")),
		   0.5, 1e-9);
	CHECK_EQ_INT(json_integer_value(json_object_get(
			 json_object_get(json_object_get(o, "progress"), "detail"), "rows")),
		     1200);
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_progress(j, 9, 0.5, NULL, 5, &err), LB_EFAIL);
	CHECK_STR(err.message, "no job 9");
	lb_jobs_destroy(&j);
}

/* A validator that refuses files holding "BAD" and reports the size of others. */
static int check_text_file(void *ctx, const char *path, json_t **meta, lb_error *err)
{
	char buf[256];
	long n = read_file(path, buf, sizeof buf);

	(*(int *)ctx)++;
	if (n < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s", path);
	if (strstr(buf, "BAD"))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "line 1: BAD is not allowed");
	*meta = json_pack("{s:i}", "bytes", (int)n);
	return 0;
}

static void test_validator_and_input(void)
{
	char dir[256], src[300], path[600], buf[64];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("print", "unix:alice", "x.gcode");
	int calls = 0;
	long long id;
	json_t *o, *a;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	CHECK_EQ_INT(lb_jobs_set_validator(j, "print", check_text_file, &calls), 0);
	CHECK_EQ_INT(lb_jobs_set_validator(j, "", check_text_file, &calls), LB_EINVAL);
	snprintf(src, sizeof src, "%s/upload.part", dir);
	/* refused: no job, the file stays where it was */
	CHECK_EQ_INT(write_file(src, "G28 BAD\n"), 0);
	sp.input = src;
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 1, NULL, &err), LB_EFAIL);
	CHECK_STR(err.message, "line 1: BAD is not allowed");
	CHECK_EQ_INT(calls, 1);
	CHECK(exists(src));
	a = lb_jobs_list(j, NULL, false);
	CHECK_EQ_INT(json_array_size(a), 0);
	json_decref(a);
	/* accepted: the file moves into the job's folder, the hook's metadata is kept */
	CHECK_EQ_INT(write_file(src, "G28\n"), 0);
	id = lb_jobs_submit(j, &sp, 2, NULL, &err);
	CHECK_EQ_INT(id, 1);
	CHECK_EQ_INT(calls, 2);
	CHECK(!exists(src));
	CHECK_EQ_INT(lb_jobs_input_path(j, id, path, sizeof path), 0);
	CHECK_EQ_INT(read_file(path, buf, sizeof buf), 4);
	CHECK_STR(buf, "G28\n");
	o = lb_jobs_get(j, id);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "meta"), "bytes")), 4);
	json_decref(o);
	/* another kind has no hook: its file is not looked at */
	CHECK_EQ_INT(write_file(src, "BAD but fine for scans"), 0);
	sp.kind = "scan";
	CHECK(lb_jobs_submit(j, &sp, 3, NULL, &err) > 0);
	CHECK_EQ_INT(calls, 2);
	/* the hook removed: print files are no longer checked */
	CHECK_EQ_INT(lb_jobs_set_validator(j, "print", NULL, NULL), 0);
	CHECK_EQ_INT(write_file(src, "BAD"), 0);
	sp.kind = "print";
	CHECK(lb_jobs_submit(j, &sp, 4, NULL, &err) > 0);
	CHECK_EQ_INT(calls, 2);
	CHECK_EQ_INT(lb_jobs_input_path(j, 99, path, sizeof path), LB_EINVAL);
	lb_jobs_destroy(&j);
}

static void test_results(void)
{
	char dir[256], folder[600], tmp[700], *big;
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("scan", "unix:alice", "doc");
	long long id, size;
	size_t got;
	char buf[64];
	json_t *a;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	id = lb_jobs_submit(j, &sp, 1, NULL, &err);
	CHECK_EQ_INT(lb_jobs_folder(j, id, folder, sizeof folder, &err), 0);
	snprintf(tmp, sizeof tmp, "%s/.tmp", folder);
	CHECK_EQ_INT(write_file(tmp, "0123456789abcdef"), 0);
	CHECK_EQ_INT(lb_jobs_result_add(j, id, "page-1.png", tmp, 2, &err), 0);
	CHECK(!exists(tmp));
	CHECK_EQ_INT(write_file(tmp, "xyz"), 0);
	CHECK_EQ_INT(lb_jobs_result_add(j, id, "input", tmp, 2, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_add(j, id, "../escape", tmp, 2, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_add(j, id, ".hidden", tmp, 2, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_add(j, 99, "a.txt", tmp, 2, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_add(j, id, "a.txt", tmp, 3, &err), 0);
	a = lb_jobs_results(j, id);
	CHECK_EQ_INT(json_array_size(a), 2);
	CHECK_STR(sget(json_array_get(a, 0), "name"), "a.txt");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 0), "size")), 3);
	CHECK_STR(sget(json_array_get(a, 1), "name"), "page-1.png");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 1), "size")), 16);
	json_decref(a);
	CHECK(lb_jobs_results(j, 99) == NULL);
	/* ranges */
	memset(buf, 0, sizeof buf);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", 10, 4, buf, &got, &size, &err), 0);
	CHECK_EQ_UINT(got, 4);
	CHECK_EQ_INT(size, 16);
	CHECK_STR(buf, "abcd");
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", 12, 60, buf, &got, &size, &err), 0);
	CHECK_EQ_UINT(got, 4); /* up to the end */
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", 16, 60, buf, &got, &size, &err), 0);
	CHECK_EQ_UINT(got, 0);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", 1000, 4, buf, &got, &size, &err), 0);
	CHECK_EQ_UINT(got, 0);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", -1, 4, buf, &got, &size, &err),
		     LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "nope.png", 0, 4, buf, &got, &size, &err),
		     LB_EFAIL);
	CHECK_STR(err.message, "job 1 has no result nope.png");
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "input", 0, 4, buf, &got, &size, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "../jobs.db", 0, 4, buf, &got, &size, &err),
		     LB_EFAIL);
	big = malloc(LB_JOBS_FETCH_MAX + 1);
	CHECK_EQ_INT(lb_jobs_result_read(j, id, "page-1.png", 0, LB_JOBS_FETCH_MAX + 1, big, &got,
					 &size, &err),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_TOO_LARGE);
	CHECK_EQ_INT(
	    lb_jobs_result_read(j, id, "page-1.png", 0, LB_JOBS_FETCH_MAX, big, &got, &size, &err),
	    0);
	CHECK_EQ_UINT(got, 16);
	free(big);
	/* a running job cannot be deleted; a finished one goes with its files */
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_RUNNING, NULL, 4, &err), 0);
	CHECK_EQ_INT(lb_jobs_delete(j, id, &err), LB_EFAIL);
	CHECK_STR(err.message, "job 1 is running: stop it before deleting it");
	CHECK_EQ_INT(lb_jobs_transition(j, id, LB_JOB_DONE, NULL, 5, &err), 0);
	CHECK_EQ_INT(lb_jobs_delete(j, id, &err), 0);
	CHECK(!exists(folder));
	CHECK_STR(state_of(j, id), "none");
	CHECK_EQ_INT(lb_jobs_delete(j, id, &err), LB_EFAIL);
	CHECK_STR(err.message, "no job 1");
	lb_jobs_destroy(&j);
}

static void test_persistence(void)
{
	char dir[256], src[300], folder[600], path[700];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("scan", "unix:alice", "a");
	json_t *a, *o;
	bool dup;

	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	snprintf(src, sizeof src, "%s/in", dir);
	CHECK_EQ_INT(write_file(src, "input A"), 0);
	sp.input = src;
	sp.request_id = "ra";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 1, NULL, &err), 1); /* stays queued */
	sp.input = NULL;
	sp.request_id = NULL;
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 2, NULL, &err), 2); /* will be running */
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 3, NULL, &err), 3); /* will be paused */
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 4, NULL, &err), 4); /* will be starting */
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 5, NULL, &err), 5); /* will be done */
	CHECK_EQ_INT(lb_jobs_transition(j, 2, LB_JOB_RUNNING, NULL, 6, &err), 0);
	CHECK_EQ_INT(lb_jobs_progress(j, 2, 0.4, "{\"line\": 40}", 7, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 3, LB_JOB_RUNNING, NULL, 8, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 3, LB_JOB_PAUSED, NULL, 9, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 4, LB_JOB_STARTING, NULL, 10, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 5, LB_JOB_RUNNING, NULL, 11, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 5, LB_JOB_DONE, NULL, 12, &err), 0);
	lb_jobs_destroy(&j);
	/* reopened: nothing lost; what was active is interrupted, not running again */
	j = lb_jobs_new(dir, 1000, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	CHECK_STR(state_of(j, 1), "queued");
	CHECK_STR(state_of(j, 2), "interrupted");
	CHECK_STR(state_of(j, 3), "interrupted");
	CHECK_STR(state_of(j, 4), "interrupted");
	CHECK_STR(state_of(j, 5), "done");
	o = lb_jobs_get(j, 2);
	CHECK_STR(sget(o, "error"), "the bridge stopped while the job was running");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "finished")), 1000);
	CHECK_NEAR(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")),
		   0.4, 1e-9);
	json_decref(o);
	o = lb_jobs_get(j, 3);
	CHECK_STR(sget(o, "error"), "the bridge stopped while the job was paused");
	json_decref(o);
	CHECK_EQ_INT(lb_jobs_input_path(j, 1, path, sizeof path), 0);
	CHECK(exists(path));
	sp.request_id = "ra";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 1001, &dup, &err), 1);
	CHECK(dup);
	a = lb_jobs_list(j, NULL, true);
	CHECK_EQ_INT(json_array_size(a), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 0), "id")), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 3), "id")), 5);
	json_decref(a);
	a = lb_jobs_list(j, NULL, false);
	CHECK_EQ_INT(json_array_size(a), 1);
	json_decref(a);
	/* a folder of no job (a delete cut short) goes; a stray file in a job's folder becomes
	 * a result, a temporary one goes */
	snprintf(folder, sizeof folder, "%s/jobs/77", dir);
	mkdir(folder, 0750);
	snprintf(path, sizeof path, "%s/orphan", folder);
	CHECK_EQ_INT(write_file(path, "x"), 0);
	snprintf(path, sizeof path, "%s/jobs/1/late.txt", dir);
	CHECK_EQ_INT(write_file(path, "late"), 0);
	snprintf(path, sizeof path, "%s/jobs/1/.partial", dir);
	CHECK_EQ_INT(write_file(path, "p"), 0);
	lb_jobs_destroy(&j);
	j = lb_jobs_new(dir, 2000, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	CHECK(!exists(folder));
	CHECK(!exists(path));
	a = lb_jobs_results(j, 1);
	CHECK_EQ_INT(json_array_size(a), 1);
	CHECK_STR(sget(json_array_get(a, 0), "name"), "late.txt");
	json_decref(a);
	CHECK_STR(state_of(j, 2), "interrupted"); /* stays so: a second open changes nothing */
	lb_jobs_destroy(&j);
	/* an unusable directory */
	CHECK(lb_jobs_new("/proc/no/such", 1, &err) == NULL);
	CHECK(err.message[0] != '\0');
	CHECK(lb_jobs_new(NULL, 1, &err) == NULL);
}

/* ------------------------------------------------------------------ kill -9 at every step */

#define SCRIPT_OPS 23

/* The scripted life of three jobs; each op is run by script_op. */
typedef struct script {
	const char *dir;
	int op; /* the op being run (1-based) */
} script;

/* Run op n of the script on j: 0, or negative. Times are the op's number. */
static int script_op(lb_jobs *j, const char *dir, int n)
{
	char src[400], folder[600], tmp[700];
	lb_job_spec sp = {0};
	lb_error err = {0};
	bool dup = false;
	long long id;

	switch (n) {
	case 1:	 /* A: a print with an input file */
	case 2:	 /* B: a scan waiting for approval, with an input file */
	case 18: /* B again, the same request id: no new job */
		snprintf(src, sizeof src, "%s/src-%d", dir, n);
		if (write_file(src, n == 1 ? "input of A" : "input of B") < 0)
			return -1;
		sp.kind = n == 1 ? "print" : "scan";
		sp.owner = n == 1 ? "unix:alice" : "unix:bob";
		sp.label = n == 1 ? "A" : "B";
		sp.request_id = n == 1 ? "ra" : "rb";
		sp.input = src;
		sp.needs_approval = n != 1;
		id = lb_jobs_submit(j, &sp, n, &dup, &err);
		if (n == 18 && !dup)
			return -1;
		if (n == 18)
			unlink(src); /* not taken: the caller's to remove */
		return id == (n == 1 ? 1 : 2) ? 0 : -1;
	case 3: return lb_jobs_approve(j, 2, "unix:teacher", n, &err);
	case 4: return lb_jobs_transition(j, 1, LB_JOB_STARTING, NULL, n, &err);
	case 5: return lb_jobs_transition(j, 1, LB_JOB_RUNNING, NULL, n, &err);
	case 6: return lb_jobs_progress(j, 1, 0.5, "{\"line\": 10}", n, &err);
	case 7:
	case 19:
		id = n == 7 ? 1 : 2;
		if (lb_jobs_folder(j, id, folder, sizeof folder, &err) < 0)
			return -1;
		snprintf(tmp, sizeof tmp, "%s/.tmp", folder);
		if (write_file(tmp, n == 7 ? "log of A" : "page of B!") < 0)
			return -1;
		return lb_jobs_result_add(j, id, n == 7 ? "log.txt" : "page.png", tmp, n, &err);
	case 8: return lb_jobs_transition(j, 1, LB_JOB_PAUSED, NULL, n, &err);
	case 9: return lb_jobs_transition(j, 1, LB_JOB_RUNNING, NULL, n, &err);
	case 10: return lb_jobs_transition(j, 1, LB_JOB_DONE, NULL, n, &err);
	case 11: return lb_jobs_transition(j, 2, LB_JOB_RUNNING, NULL, n, &err);
	case 12: return lb_jobs_transition(j, 2, LB_JOB_FAILED, "jam", n, &err);
	case 13: return lb_jobs_transition(j, 2, LB_JOB_QUEUED, NULL, n, &err);
	case 14: /* C: a program whose upload goes on */
		sp.kind = "program";
		sp.owner = "unix:carol";
		sp.label = "C";
		sp.uploading = true;
		return lb_jobs_submit(j, &sp, n, NULL, &err) == 3 ? 0 : -1;
	case 15: return lb_jobs_transition(j, 3, LB_JOB_QUEUED, NULL, n, &err);
	case 16: return lb_jobs_transition(j, 3, LB_JOB_CANCELLED, NULL, n, &err);
	case 17: return lb_jobs_delete(j, 1, &err);
	case 20: /* D: a job of a kind whose devices wait for a confirmation */
		sp.kind = "testkind";
		sp.owner = "unix:dave";
		sp.label = "D";
		return lb_jobs_submit(j, &sp, n, NULL, &err) == 4 ? 0 : -1;
	case 21: return lb_jobs_transition_on(j, 4, LB_JOB_RUNNING, "dev-9", NULL, n, &err);
	case 22: return lb_jobs_device_confirm(j, "dev-9", true, &err);
	case 23: /* E: imported with its id, its input moved by the next open */
	{
		json_t *imp;
		int rc;
		snprintf(src, sizeof src, "%s/src-%d", dir, n);
		if (write_file(src, "input of E") < 0)
			return -1;
		imp = json_pack("[{s:i,s:s,s:s,s:s,s:i,s:s}]", "id", 7, "kind", "scan", "owner",
				"unix:eve", "state", "queued", "position", 9, "input_src", src);
		rc = lb_jobs_import(j, imp, n, &err);
		json_decref(imp);
		return rc == 1 ? 0 : -1;
	}
	}
	return -1;
}

/*
 * The store as a text, as a reopened store must show it: each job's id, kind, owner, state (an
 * active one as interrupted: what recovery makes of it), queue position, progress, approver,
 * input (its contents) and results (name=size), then the job folders on disk.
 */
static void canon(lb_jobs *j, const char *dir, char *out, size_t cap)
{
	size_t n = 0;
	DIR *d;
	struct dirent *e;
	char path[600], content[64];
	int ids[16], nids = 0;

	out[0] = '\0';
	bool dev9 = lb_jobs_device_confirmed(j, "dev-9");

	for (long long id = 1; id <= 8; id++) {
		json_t *o = lb_jobs_get(j, id), *res;
		const char *st;
		double f;
		if (!o)
			continue;
		st = sget(o, "state");
		f = json_real_value(json_object_get(json_object_get(o, "progress"), "fraction"));
		if (strcmp(st, "starting") == 0 || strcmp(st, "running") == 0 ||
		    strcmp(st, "paused") == 0) {
			st = "interrupted";
			/* what testkind's recovery hook makes of it: its device to confirm */
			if (strcmp(sget(o, "kind"), "testkind") == 0) {
				f = 0.25;
				if (sget(o, "assigned") &&
				    strcmp(sget(o, "assigned"), "dev-9") == 0)
					dev9 = false;
			}
		}
		if (lb_jobs_input_path(j, id, path, sizeof path) < 0 ||
		    read_file(path, content, sizeof content) < 0)
			snprintf(content, sizeof content, "-");
		/* E's input, imported, is moved into its folder by the next open: the same */
		if (id == 7 && strcmp(content, "-") == 0) {
			snprintf(path, sizeof path, "%s/src-23", dir);
			if (read_file(path, content, sizeof content) < 0)
				snprintf(content, sizeof content, "-");
		}
		n += (size_t)snprintf(out + n, cap - n,
				      "%lld %s %s %s pos=%lld f=%.2f by=%s as=%s in=%s res=", id,
				      sget(o, "kind"), sget(o, "owner"), st,
				      (long long)json_integer_value(json_object_get(o, "position")),
				      f, sget(o, "approved_by") ? sget(o, "approved_by") : "-",
				      sget(o, "assigned") ? sget(o, "assigned") : "-", content);
		res = lb_jobs_results(j, id);
		for (size_t i = 0; i < json_array_size(res); i++)
			n += (size_t)snprintf(out + n, cap - n, "%s=%lld,",
					      sget(json_array_get(res, i), "name"),
					      (long long)json_integer_value(
						  json_object_get(json_array_get(res, i), "size")));
		n += (size_t)snprintf(out + n, cap - n, "; ");
		json_decref(res);
		json_decref(o);
	}
	n += (size_t)snprintf(out + n, cap - n, "dev-9=%d; ", dev9);
	snprintf(path, sizeof path, "%s/jobs", dir);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && nids < 16 && atoi(e->d_name) != 7)
			ids[nids++] = atoi(e->d_name);
	if (d)
		closedir(d);
	/* E's folder is made when its input moves (at the next open): counted with the job */
	{
		json_t *e7 = lb_jobs_get(j, 7);
		if (e7 && nids < 16)
			ids[nids++] = 7;
		json_decref(e7);
	}
	for (int a = 0; a < nids; a++) /* sorted: readdir's order is the file system's */
		for (int b = a + 1; b < nids; b++)
			if (ids[b] < ids[a]) {
				int t = ids[a];
				ids[a] = ids[b];
				ids[b] = t;
			}
	n += (size_t)snprintf(out + n, cap - n, "folders:");
	for (int a = 0; a < nids; a++)
		n += (size_t)snprintf(out + n, cap - n, " %d", ids[a]);
}

/* The jobs left starting, running or paused (0 after a reopen: nothing runs by itself). */
static int active_jobs(lb_jobs *j)
{
	json_t *a = lb_jobs_list(j, NULL, false);
	int n = 0;

	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *st = sget(json_array_get(a, i), "state");
		n += strcmp(st, "starting") == 0 || strcmp(st, "running") == 0 ||
		     strcmp(st, "paused") == 0;
	}
	json_decref(a);
	return n;
}

static int fault_steps;	  /* the fault hook's calls so far */
static int fault_kill_at; /* the call at which the child kills itself (0: never) */

/* The fault hook: count the durable steps; SIGKILL ourselves at the chosen one. */
static void fault_hook(void *ctx, const char *point)
{
	(void)ctx;
	(void)point;
	if (++fault_steps == fault_kill_at)
		raise(SIGKILL);
}

static void test_kill9_every_step(void)
{
	char ref_dir[256], dir[256];
	static char expected[SCRIPT_OPS + 1][2048], got[2048], again[2048];
	lb_error err = {0};
	lb_jobs *j;
	int total, killed = 0;

	/* the reference run: the expected store after each op, and the number of steps */
	fresh_dir(ref_dir, sizeof ref_dir);
	j = lb_jobs_new(ref_dir, 0, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	fault_steps = 0;
	fault_kill_at = 0;
	lb_jobs_set_fault_hook(j, fault_hook, NULL);
	canon(j, ref_dir, expected[0], sizeof expected[0]);
	for (int op = 1; op <= SCRIPT_OPS; op++) {
		CHECK_EQ_INT(script_op(j, ref_dir, op), 0);
		canon(j, ref_dir, expected[op], sizeof expected[op]);
	}
	lb_jobs_destroy(&j);
	total = fault_steps;
	CHECK(total >= 2 * SCRIPT_OPS - 2); /* every op has steps before and after its commit */
	for (int k = 1; k <= total; k++) {
		int fds[2], status = 0, last = 0;
		unsigned char b;
		pid_t pid;

		fresh_dir(dir, sizeof dir);
		if (pipe(fds) < 0) {
			CHECK(0);
			return;
		}
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			alarm(30); /* a child that hangs dies of SIGALRM: the check below fails */
			close(fds[0]);
			j = lb_jobs_new(dir, 0, &err);
			if (!j)
				_exit(2);
			fault_steps = 0;
			fault_kill_at = k;
			lb_jobs_set_fault_hook(j, fault_hook, NULL);
			for (int op = 1; op <= SCRIPT_OPS; op++) {
				b = (unsigned char)op;
				if (write(fds[1], &b, 1) != 1 || script_op(j, dir, op) < 0)
					_exit(3);
			}
			_exit(0); /* not killed: k is past the last step */
		}
		close(fds[1]);
		while (read(fds[0], &b, 1) == 1)
			last = b;
		close(fds[0]);
		waitpid(pid, &status, 0);
		if (!CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			       "the child was not killed at its step"))
			continue;
		killed++;
		/* reopened: the op in progress happened entirely or not at all */
		j = lb_jobs_new(dir, 5000, &err);
		if (!j) {
			CHECK_MSG(j != NULL, err.message);
			continue;
		}
		canon(j, dir, got, sizeof got);
		CHECK_MSG(active_jobs(j) == 0, "a job came back active after a kill -9");
		lb_jobs_destroy(&j);
		if (!CHECK_MSG(last >= 1 && (strcmp(got, expected[last - 1]) == 0 ||
					     strcmp(got, expected[last]) == 0),
			       "after a kill -9 the store is neither before nor after the op"))
			fprintf(stderr,
				"step %d, op %d:\n got      %s\n before   %s\n after    %s\n", k,
				last, got, expected[last - 1], expected[last]);
		/* and a second open changes nothing (recovery is done once) */
		j = lb_jobs_new(dir, 6000, &err);
		if (j) {
			canon(j, dir, again, sizeof again);
			CHECK_STR(again, got);
			lb_jobs_destroy(&j);
		}
	}
	CHECK_EQ_INT(killed, total);
	printf("     kill -9 at each of %d steps of %d ops: recovered\n", total, SCRIPT_OPS);
}

/* A kind declared by this test, as a service declares its own: its devices wait for a
 * confirmation after a job, its recovery hook writes the detail, fraction and error. */
static void testkind_recover(const json_t *job, const char *folder, double *fraction,
			     json_t **detail, char *error, size_t cap)
{
	char path[700];

	snprintf(path, sizeof path, "%s/.left", folder);
	*fraction = exists(path) ? 0.75 : 0.25;
	*detail = json_pack("{s:b}", "recovered", exists(path));
	snprintf(error, cap, "stopped: %s was running", sget(job, "label"));
}

static const lb_job_kind testkind = {
    .kind = "testkind",
    .confirm_device = true,
    .recover = testkind_recover,
};
LB_JOB_KIND(testkind);

/* A kind's declarations: the assigned device set with a transition, its "confirm" flag marked in
 * that transaction and after a stop, the recovery hook, request lookup, and an import keeping ids
 * (run twice: nothing doubled), its inputs moved by the recovery. */
static void test_kinds_devices_import(void)
{
	char dir[256], path[700], src[300];
	lb_error err = {0};
	lb_jobs *j;
	lb_job_spec sp = spec_of("testkind", "unix:alice", "t1");
	json_t *o, *imp;

	CHECK(lb_job_kind_find("testkind") == &testkind);
	CHECK(lb_job_kind_find("nothing") == NULL);
	fresh_dir(dir, sizeof dir);
	j = lb_jobs_new(dir, 1, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	sp.request_id = "r1";
	sp.approved_by = "unix:teacher";
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 2, NULL, &err), 1);
	CHECK_EQ_INT(lb_jobs_find_request(j, "testkind", "unix:alice", "r1", &err), 1);
	CHECK_EQ_INT(lb_jobs_find_request(j, "testkind", "unix:bob", "r1", &err), 0);
	o = lb_jobs_get(j, 1);
	CHECK_STR(sget(o, "approved_by"), "unix:teacher");
	CHECK(json_is_null(json_object_get(o, "assigned")));
	json_decref(o);
	CHECK(lb_jobs_device_confirmed(j, "dev-1"));
	/* starting on dev-1: assigned and marked in the same change */
	CHECK_EQ_INT(lb_jobs_transition_on(j, 1, LB_JOB_STARTING, "dev-1", NULL, 3, &err), 0);
	CHECK(!lb_jobs_device_confirmed(j, "dev-1"));
	o = lb_jobs_get(j, 1);
	CHECK_STR(sget(o, "assigned"), "dev-1");
	json_decref(o);
	/* a refused start goes back to queued keeping it; the device stays to confirm */
	CHECK_EQ_INT(lb_jobs_transition_on(j, 1, LB_JOB_QUEUED, NULL, NULL, 4, &err), 0);
	CHECK(!lb_jobs_device_confirmed(j, "dev-1"));
	CHECK_EQ_INT(lb_jobs_device_confirm(j, "dev-1", true, &err), 0);
	CHECK(lb_jobs_device_confirmed(j, "dev-1"));
	CHECK_EQ_INT(lb_jobs_transition_on(j, 1, LB_JOB_RUNNING, "dev-1", NULL, 5, &err), 0);
	CHECK(!lb_jobs_device_confirmed(j, "dev-1"));
	CHECK_EQ_INT(lb_jobs_transition_on(j, 1, LB_JOB_DONE, "dev-2", NULL, 6, &err), 0);
	CHECK(lb_jobs_device_confirmed(j, "dev-2")); /* finishing marks nothing */
	/* not allowed: refused, nothing changed */
	CHECK_EQ_INT(lb_jobs_transition_on(j, 1, LB_JOB_RUNNING, "dev-3", NULL, 7, &err), LB_EFAIL);
	CHECK(lb_jobs_device_confirmed(j, "dev-3"));
	/* a kind without confirm_device marks nothing */
	sp = spec_of("scan", "unix:alice", "s");
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 8, NULL, &err), 2);
	CHECK_EQ_INT(lb_jobs_transition_on(j, 2, LB_JOB_RUNNING, "scanner", NULL, 9, &err), 0);
	CHECK(lb_jobs_device_confirmed(j, "scanner"));
	/* a job running on dev-4 when the bridge stops, with what it left in its folder */
	sp = spec_of("testkind", "unix:bob", "t3");
	CHECK_EQ_INT(lb_jobs_submit(j, &sp, 10, NULL, &err), 3);
	CHECK_EQ_INT(lb_jobs_transition_on(j, 3, LB_JOB_RUNNING, "dev-4", NULL, 11, &err), 0);
	CHECK_EQ_INT(lb_jobs_device_confirm(j, "dev-4", true, &err), 0); /* wrongly, say */
	CHECK_EQ_INT(lb_jobs_folder(j, 3, path, sizeof path, &err), 0);
	strncat(path, "/.left", sizeof path - strlen(path) - 1);
	CHECK_EQ_INT(write_file(path, "x"), 0);
	/* a retry clears the assigned device */
	CHECK_EQ_INT(lb_jobs_transition(j, 2, LB_JOB_FAILED, "x", 12, &err), 0);
	CHECK_EQ_INT(lb_jobs_transition(j, 2, LB_JOB_QUEUED, NULL, 13, &err), 0);
	o = lb_jobs_get(j, 2);
	CHECK(json_is_null(json_object_get(o, "assigned")));
	json_decref(o);
	lb_jobs_destroy(&j);

	/* an import made before the open: ids kept, input moved at recovery, active job
	 * recovered through the hook, an id already present left alone */
	snprintf(src, sizeof src, "%s/old-input", dir);
	CHECK_EQ_INT(write_file(src, "old"), 0);
	j = lb_jobs_new(dir, 100, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	o = lb_jobs_get(j, 3);
	CHECK_STR(sget(o, "state"), "interrupted");
	CHECK_STR(sget(o, "error"), "stopped: t3 was running");
	CHECK(json_is_true(json_object_get(
	    json_object_get(json_object_get(o, "progress"), "detail"), "recovered")));
	CHECK_NEAR(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")),
		   0.75, 1e-9);
	json_decref(o);
	CHECK(!lb_jobs_device_confirmed(j, "dev-4")); /* marked again by the recovery */
	imp = json_pack("[{s:i,s:s,s:s,s:s,s:i,s:s,s:s,s:{s:i},s:i},"
			"{s:i,s:s,s:s,s:s,s:i}]",
			"id", 40, "kind", "testkind", "owner", "unix:carol", "state", "queued",
			"position", 1, "label", "old.job", "input_src", src, "params", "size", 3,
			"created", 5, "id", 1, "kind", "testkind", "owner", "unix:mallory", "state",
			"queued", "position", 1);
	CHECK_EQ_INT(lb_jobs_import(j, imp, 101, &err), 1);
	CHECK_EQ_INT(lb_jobs_import(j, imp, 102, &err), 0); /* again: nothing doubled */
	json_decref(imp);
	o = lb_jobs_get(j, 1);
	CHECK_STR(sget(o, "owner"), "unix:alice"); /* not replaced */
	json_decref(o);
	o = lb_jobs_get(j, 40);
	CHECK_STR(sget(o, "owner"), "unix:carol");
	CHECK_STR(sget(o, "label"), "old.job");
	CHECK_EQ_INT(json_integer_value(json_object_get(o, "created")), 5);
	json_decref(o);
	imp = json_pack("[{s:i,s:s}]", "id", 41, "kind", "testkind");
	CHECK_EQ_INT(lb_jobs_import(j, imp, 103, &err), LB_EFAIL);
	json_decref(imp);
	CHECK(lb_jobs_get(j, 41) == NULL);
	lb_jobs_destroy(&j);
	j = lb_jobs_new(dir, 200, &err);
	if (!j) {
		CHECK(j != NULL);
		return;
	}
	CHECK_EQ_INT(lb_jobs_input_path(j, 40, path, sizeof path), 0);
	CHECK(exists(path));
	CHECK(!exists(src));
	o = lb_jobs_get(j, 40);
	CHECK_STR(sget(o, "state"), "queued"); /* an imported waiting job waits on */
	json_decref(o);
	lb_jobs_destroy(&j);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_state_names);
	RUN(test_transitions);
	RUN(test_preparing);
	RUN(test_update);
	RUN(test_submit_checks_and_queue);
	RUN(test_queue_move);
	RUN(test_approval);
	RUN(test_owner);
	RUN(test_progress);
	RUN(test_validator_and_input);
	RUN(test_results);
	RUN(test_persistence);
	RUN(test_kinds_devices_import);
	RUN(test_kill9_every_step);
	if (check_nfail == 0) {
		char cmd[sizeof root + 16];
		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return check_summary();
}
