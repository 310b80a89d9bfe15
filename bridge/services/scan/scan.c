/* scan.c - scan jobs: queued per scanner, handed to its driver, followed until they end. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sdk/driver.h"
#include "../../util/log.h"
#include "../jobs/jobs_service.h"
#include "scan_submit.h"

/*
 * Scan jobs (kind "scan", for document scanners and 3D scanners alike) live in the shared job
 * store: scan.submit (scan_submit.c) stores one for a scanner; the dispatcher hands the next one
 * of each free scanner to its driver as the service-only action "scan.start" {job, folder,
 * format, settings, label}; the driver reports on the job with lb_device_event objects carrying
 * "job": progress {fraction, detail}, then its end {state: done, results: [names]} | {state:
 * failed, error} | {state: cancelled}. Its result files are written into the job's folder
 * under their final names (temporary names start with '.'), and recorded here. jobs.cancel
 * reaches a started job through "scan.cancel" {job}. Every change is published on
 * bridge/scans/.
 */

#define PROGRESS_EVERY_NS 250000000LL /* progress stored at most ~4 times a second... */
#define PROGRESS_STEP 0.05	      /* ...and at every whole 5% */

/* What the service keeps in the server (lb_service_state). */
typedef struct scan_state {
	json_t *busy;	/* {scanner id: {job, t (ns of the last progress stored), step}} */
	json_t *tokens; /* {token: job id} of scan.start calls awaiting the scanner's answer */
	uint64_t seq;	/* bridge/scans/ */
} scan_state;

static const lb_service scan_service;

/* The service's state in s (made by scan_init, so never NULL while the server runs). */
static scan_state *S(lb_server *s)
{
	return *lb_service_state(s, &scan_service);
}

/* The job store when one exists (a submission made it), else NULL: the dispatcher makes no
 * database of its own for a lab that never scans. */
static lb_jobs *store_if_any(lb_server *s)
{
	char path[1024];
	lb_error err;
	lb_jobs *j;

	if (!srv_data_dir(s) ||
	    snprintf(path, sizeof path, "%s/jobs.db", srv_data_dir(s)) >= (int)sizeof path ||
	    access(path, F_OK) != 0)
		return NULL;
	j = lb_jobs_shared(s, &err);
	if (!j)
		lb_err("scan: the job store: %s", err.message);
	return j;
}

/* Publish a change of scan job id on bridge/scans/: {event, id, job (as the store has it, or
 * null)}. */
static void scan_publish(lb_server *s, const char *event, long long id)
{
	lb_error err;
	lb_jobs *j = lb_jobs_shared(s, &err);
	json_t *job = j ? lb_jobs_get(j, id) : NULL;

	srv_publish_json(s, "bridge/scans/", &S(s)->seq,
			 json_pack("{s:s,s:I,s:o}", "event", event, "id", (json_int_t)id, "job",
				   job ? job : json_null()));
}

/* The job handed to scanner d (and not ended), or 0. */
static long long busy_job(lb_server *s, const lb_device *d)
{
	return json_integer_value(json_object_get(json_object_get(S(s)->busy, d->spec.id), "job"));
}

/* Move job id to state to (error: a failed job's reason) and publish it; logged on failure. */
static void move(lb_server *s, lb_jobs *j, long long id, lb_job_state to, const char *error)
{
	lb_error err;

	if (lb_jobs_transition(j, id, to, error, lb_now_read().real, &err) < 0) {
		lb_err("scan: job %lld: %s", id, err.message);
		return;
	}
	if (to == LB_JOB_FAILED)
		lb_warn("scan: job %lld failed: %s", id, error);
	scan_publish(s, lb_job_state_name(to), id);
}

/* Hand scanner d its next queued job, if it is free and no service holds it back. */
static void dispatch_one(lb_server *s, lb_jobs *j, lb_device *d)
{
	json_t *call = json_pack("{s:s}", "action", "scan.start"), *job = NULL, *params = NULL;
	const json_t *jp;
	char folder[1024], key[32];
	lb_error err;
	long long id;
	uint64_t token;

	if (!call || busy_job(s, d) || !lb_driver_action(d->driver, "scan.start") ||
	    srv_permit(s, d, "call", call, NULL) < 0 ||
	    (id = lb_jobs_next(j, "scan", d->spec.id)) <= 0)
		goto done;
	job = lb_jobs_get(j, id);
	jp = json_object_get(job, "params");
	if (!job ||
	    lb_jobs_transition_on(j, id, LB_JOB_STARTING, d->spec.id, NULL, lb_now_read().real,
				  &err) < 0 ||
	    lb_jobs_folder(j, id, folder, sizeof folder, &err) < 0) {
		lb_err("scan: job %lld cannot start: %s", id, err.message);
		goto done;
	}
	params = json_pack(
	    "{s:s,s:s,s:{s:I,s:s,s:O,s:O,s:O}}", "device", d->spec.id, "action", "scan.start",
	    "args", "job", (json_int_t)id, "folder", folder, "format",
	    json_object_get(jp, "format"), "settings", json_object_get(jp, "settings"), "label",
	    json_object_get(job, "label") ? json_object_get(job, "label") : json_null());
	token = params ? srv_send(s, d, "call", params) : 0;
	if (!token) {
		/* never reached the scanner: the job waits for it again */
		lb_warn("scan: %s is not taking calls: job %lld waits", d->spec.id, id);
		if (lb_jobs_transition(j, id, LB_JOB_QUEUED, NULL, lb_now_read().real, &err) < 0)
			lb_err("scan: job %lld: %s", id, err.message);
		goto done;
	}
	json_object_set_new(
	    S(s)->busy, d->spec.id,
	    json_pack("{s:I,s:I,s:f}", "job", (json_int_t)id, "t", (json_int_t)0, "step", -1.0));
	snprintf(key, sizeof key, "%llu", (unsigned long long)token);
	json_object_set_new(S(s)->tokens, key, json_integer(id));
	lb_info("scan: job %lld goes to %s", id, d->spec.id);
	scan_publish(s, "starting", id);
done:
	json_decref(call);
	json_decref(job);
	json_decref(params);
}

/* Hand queued jobs to the scanners that are free (main thread, never blocks). */
static void scan_dispatch(lb_server *s)
{
	lb_jobs *j = store_if_any(s);
	lb_device *d;

	for (size_t i = 0; j && (d = srv_device_at(s, i)) != NULL; i++)
		if (srv_device_live(d) && scan_is_scanner(d))
			dispatch_one(s, j, d);
}

/* The scanner's answer to scan.start: an error fails the job with its message; else running. */
static int scan_reply(lb_server *s, uint64_t token, const json_t *reply)
{
	const json_t *e = json_object_get(reply, "error");
	char key[32];
	lb_job_state st;
	lb_jobs *j;
	json_t *v;
	long long id;

	snprintf(key, sizeof key, "%llu", (unsigned long long)token);
	if (!(v = json_object_get(S(s)->tokens, key)))
		return 0;
	id = json_integer_value(v);
	json_object_del(S(s)->tokens, key);
	/* an end reported already (a very short scan, a cancel, the scanner gone) stands */
	if (!(j = store_if_any(s)) || lb_jobs_state(j, id, &st, NULL) < 0 || st != LB_JOB_STARTING)
		return 1;
	if (e) {
		const char *msg = json_string_value(json_object_get(e, "message"));
		json_t *job = lb_jobs_get(j, id);
		const char *dev = json_string_value(json_object_get(job, "assigned"));
		move(s, j, id, LB_JOB_FAILED, msg ? msg : "the scanner refused the scan");
		if (dev && json_integer_value(
			       json_object_get(json_object_get(S(s)->busy, dev), "job")) == id)
			json_object_del(S(s)->busy, dev);
		json_decref(job);
		scan_dispatch(s);
	} else {
		move(s, j, id, LB_JOB_RUNNING, NULL);
	}
	return 1;
}

/* A progress report {job, fraction, detail?}: stored at most ~4/s and at every whole 5%. */
static void progress(lb_server *s, lb_jobs *j, json_t *rec, long long id, const json_t *ev)
{
	double f = json_number_value(json_object_get(ev, "fraction"));
	const json_t *detail = json_object_get(ev, "detail");
	double step = json_real_value(json_object_get(rec, "step"));
	int64_t now = lb_now_read().mono, t = json_integer_value(json_object_get(rec, "t"));
	char *text = NULL;
	lb_error err;

	if (!json_is_number(json_object_get(ev, "fraction")) || !(f >= 0 && f <= 1))
		return;
	if (now - t < PROGRESS_EVERY_NS && (int)(f / PROGRESS_STEP) <= (int)(step / PROGRESS_STEP))
		return;
	if (json_is_object(detail))
		text = json_dumps(detail, JSON_COMPACT);
	if (lb_jobs_progress(j, id, f, text, lb_now_read().real, &err) < 0)
		lb_warn("scan: job %lld: progress not recorded: %s", id, err.message);
	else
		scan_publish(s, "progress", id);
	free(text);
	json_object_set_new(rec, "t", json_integer(now));
	json_object_set_new(rec, "step", json_real(f));
}

/* A scanner's end of job id, done: its result files recorded, then the job done (a result that
 * cannot be kept fails it). */
static void done(lb_server *s, lb_jobs *j, long long id, const json_t *ev)
{
	const json_t *results = json_object_get(ev, "results");
	char folder[1024], path[1200];
	lb_error err;
	size_t i;
	json_t *r;

	if (!json_is_array(results) || json_array_size(results) == 0) {
		move(s, j, id, LB_JOB_FAILED, "the scanner ended the job without a result");
		return;
	}
	if (lb_jobs_folder(j, id, folder, sizeof folder, &err) < 0) {
		move(s, j, id, LB_JOB_FAILED, err.message);
		return;
	}
	json_array_foreach(results, i, r)
	{
		const char *name = json_string_value(r);
		if (!name || strchr(name, '/') ||
		    snprintf(path, sizeof path, "%s/%s", folder, name) >= (int)sizeof path ||
		    lb_jobs_result_add(j, id, name, path, lb_now_read().real, &err) < 0) {
			char msg[400];
			snprintf(msg, sizeof msg, "the result %.64s could not be kept: %s",
				 name ? name : "?", name ? err.message : "not a name");
			move(s, j, id, LB_JOB_FAILED, msg);
			return;
		}
	}
	if (lb_jobs_progress(j, id, 1.0, NULL, lb_now_read().real, &err) < 0)
		lb_warn("scan: job %lld: %s", id, err.message);
	move(s, j, id, LB_JOB_DONE, NULL);
}

/* A scanner's report on its job: progress, or its end. Only the job handed to that scanner. */
static int scan_event(lb_server *s, lb_device *d, const json_t *ev)
{
	const char *state = json_string_value(json_object_get(ev, "state"));
	long long id = json_integer_value(json_object_get(ev, "job"));
	json_t *rec;
	lb_jobs *j;

	if (!json_object_get(ev, "job") || !scan_is_scanner(d))
		return 0;
	rec = json_object_get(S(s)->busy, d->spec.id);
	if (!rec || busy_job(s, d) != id) {
		lb_warn("scan: %s reports on job %lld, which it is not running", d->spec.id, id);
		return 1;
	}
	if (!(j = store_if_any(s)))
		return 1;
	if (!state) {
		progress(s, j, rec, id, ev);
		return 1;
	}
	if (strcmp(state, "done") == 0) {
		done(s, j, id, ev);
	} else if (strcmp(state, "failed") == 0) {
		const char *e = json_string_value(json_object_get(ev, "error"));
		move(s, j, id, LB_JOB_FAILED, e && *e ? e : "the scanner failed");
	} else if (strcmp(state, "cancelled") == 0) {
		move(s, j, id, LB_JOB_CANCELLED, NULL);
	} else {
		lb_warn("scan: %s reports job %lld in state '%.32s'", d->spec.id, id, state);
		return 1;
	}
	json_object_del(S(s)->busy, d->spec.id);
	scan_dispatch(s);
	return 1;
}

/*
 * The scan kind's cancel (jobs.cancel; the caller checked who may): a job not started is
 * cancelled here; a started one is told to its scanner ("scan.cancel"), which ends it
 * cancelled. 0, or LB_EFAIL with err set (a finished job, a scanner not taking calls).
 */
static int scan_cancel_job(lb_server *s, long long id, int64_t now_real, lb_error *err)
{
	lb_jobs *j = lb_jobs_shared(s, err);
	json_t *job, *p;
	const char *dev;
	lb_job_state st;
	lb_device *d;
	uint64_t token;

	if (!j || lb_jobs_state(j, id, &st, err) < 0)
		return LB_EFAIL;
	if (lb_job_state_finished(st))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is %s: nothing to cancel",
				    id, lb_job_state_name(st));
	job = lb_jobs_get(j, id);
	dev = json_string_value(json_object_get(job, "assigned"));
	d = dev ? srv_find_device(s, dev) : NULL;
	json_decref(job);
	if (st != LB_JOB_STARTING && st != LB_JOB_RUNNING && st != LB_JOB_PAUSED) {
		if (lb_jobs_transition(j, id, LB_JOB_CANCELLED, NULL, now_real, err) < 0)
			return LB_EFAIL;
		scan_publish(s, "cancelled", id);
		return 0;
	}
	if (!d || busy_job(s, d) != id) {
		/* its scanner is gone: nothing runs it any more */
		if (lb_jobs_transition(j, id, LB_JOB_CANCELLED, NULL, now_real, err) < 0)
			return LB_EFAIL;
		scan_publish(s, "cancelled", id);
		return 0;
	}
	p = json_pack("{s:s,s:s,s:{s:I}}", "device", d->spec.id, "action", "scan.cancel", "args",
		      "job", (json_int_t)id);
	token = p ? srv_send(s, d, "call", p) : 0;
	json_decref(p);
	if (!token)
		return lb_error_set(err, LB_ERR_DEVICE, "scanner %s is not answering", d->spec.id);
	return 0;
}

/* A scanner that opened, or changed (a room released): it may take its next job. */
static void scan_device_ready(lb_server *s, lb_device *d)
{
	if (scan_is_scanner(d))
		scan_dispatch(s);
}

/*
 * A scanner removed: its job failed ("the scanner went away during the scan"), unless the
 * bridge is stopping (the job comes back interrupted at the next start, its files cleaned).
 */
static void scan_device_gone(lb_server *s, lb_device *d)
{
	long long id = busy_job(s, d);
	lb_job_state st;
	lb_jobs *j;

	if (!id)
		return;
	json_object_del(S(s)->busy, d->spec.id);
	if (d->end_reason && strcmp(d->end_reason, "bridge stopping") == 0)
		return;
	if ((j = store_if_any(s)) && lb_jobs_state(j, id, &st, NULL) == 0 &&
	    (st == LB_JOB_STARTING || st == LB_JOB_RUNNING || st == LB_JOB_PAUSED))
		move(s, j, id, LB_JOB_FAILED, "the scanner went away during the scan");
}

/* The owner of the job scanner d runs (driver actions flagged LB_ACTION_JOB): 1, or 0. */
static int scan_job_owner(lb_server *s, lb_device *d, char *owner, size_t cap)
{
	long long id = busy_job(s, d);
	lb_jobs *j = id ? store_if_any(s) : NULL;
	json_t *job = j ? lb_jobs_get(j, id) : NULL;
	const char *who = json_string_value(json_object_get(job, "owner"));

	if (id)
		snprintf(owner, cap, "%s", who ? who : "(unknown)");
	json_decref(job);
	return id != 0;
}

/* Scanners run jobs. */
static unsigned scan_device_caps(lb_server *s, lb_device *d)
{
	(void)s;
	return scan_is_scanner(d) ? LB_CAP_JOB : 0;
}

/* Make the service's state; 0 or LB_ENOMEM. */
static int scan_init(lb_server *s)
{
	scan_state *st = calloc(1, sizeof *st);

	if (!st || !(st->busy = json_object()) || !(st->tokens = json_object())) {
		if (st)
			json_decref(st->busy);
		free(st);
		return LB_ENOMEM;
	}
	*lb_service_state(s, &scan_service) = st;
	return 0;
}

/* Free the state (the store is the jobs service's). */
static void scan_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &scan_service);
	scan_state *st = *slot;

	if (!st)
		return;
	json_decref(st->busy);
	json_decref(st->tokens);
	free(st);
	*slot = NULL;
}

/* scan.submit (scan_submit.h): a new job is announced on bridge/scans/ and handed to its scanner
 * if it is free. */
static int m_submit(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	long long id = 0;
	bool created = false;

	if (scan_submit(s, c, result, &id, &created, err) < 0)
		return LB_EFAIL;
	if (created) {
		scan_publish(s, "submitted", id);
		scan_dispatch(s);
	}
	return 0;
}

static const lb_method scan_methods[] = {
    /* a pupil scans for themself: the job is theirs (jobs.* with ownership for the rest) */
    {"scan.submit", LB_ROLE_STUDENT, 0, m_submit},
    {NULL, 0, 0, NULL},
};

/* Scan jobs for document and 3D scanners. */
static const lb_service scan_service = {
    .name = "scan",
    .methods = scan_methods,
    .init = scan_init,
    .device_ready = scan_device_ready,
    .device_gone = scan_device_gone,
    .event = scan_event,
    .reply = scan_reply,
    .job_owner = scan_job_owner,
    .device_caps = scan_device_caps,
    .destroy = scan_destroy,
};
LB_REGISTER_SERVICE(scan_service);

/*
 * After a stop, a scan left starting or running comes back interrupted (with the store's
 * words): what its scanner had finished of it (the pages of a PNG job) goes, as a failed scan's
 * would; temporary files are the store's to remove.
 */
static void scan_recover(const json_t *job, const char *folder, double *fraction, json_t **detail,
			 char *error, size_t cap)
{
	DIR *dir = opendir(folder);
	struct dirent *e;
	char path[1200];

	(void)job, (void)fraction, (void)detail;
	while (dir && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "input") == 0 ||
		    snprintf(path, sizeof path, "%s/%s", folder, e->d_name) >= (int)sizeof path)
			continue;
		if (unlink(path) < 0)
			lb_warn("scan: cannot remove %s: %s", path, strerror(errno));
	}
	if (dir)
		closedir(dir);
	(void)error, (void)cap; /* the store's words: "the bridge stopped while the job was ..." */
}

/* Scan jobs in the job store: cancelled through their scanner, cleaned after a stop. */
static const lb_job_kind scan_kind = {
    .kind = "scan",
    .recover = scan_recover,
    .cancel = scan_cancel_job,
};
LB_JOB_KIND(scan_kind);
