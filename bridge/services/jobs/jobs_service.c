/* jobs_service.c - the jobs service: the shared job store and the generic job requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_service.h"

static const lb_service jobs_service;

lb_jobs *lb_jobs_shared(lb_server *s, lb_error *err)
{
	void **slot = lb_service_state(s, &jobs_service);

	if (!*slot) {
		if (!srv_data_dir(s)) {
			lb_error_set(err, LB_ERR_INTERNAL, "no data directory for jobs");
			return NULL;
		}
		*slot = lb_jobs_new(srv_data_dir(s), lb_now_read().real, err);
	}
	return *slot;
}

/* Whether the caller is a teacher (or more): teachers see and act on every job. */
static bool privileged(const lb_call *c)
{
	return lb_call_client(c)->role >= LB_ROLE_TEACHER;
}

/* The job named by params.id (after checking that only allowed params are given): 0 with *j and
 * *id, or LB_EFAIL with err set. */
static int param_id(lb_server *s, lb_call *c, const char *const *allowed, lb_jobs **j,
		    long long *id, lb_error *err)
{
	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_int(lb_call_params(c), "id", true, 1, 1LL << 53, id, err) < 0 ||
	    !(*j = lb_jobs_shared(s, err)))
		return LB_EFAIL;
	return 0;
}

/* jobs.list {kind?, history?} (observers and up, as print.queue): the unfinished jobs, active
 * first then in queue order, or the finished ones, newest first; of one kind or all. */
static int m_jobs_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"kind", "history", NULL};
	const char *kind = NULL;
	bool history = false;
	lb_jobs *j;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "kind", false, &kind, err) < 0 ||
	    lb_param_bool(lb_call_params(c), "history", &history, err) < 0 ||
	    !(j = lb_jobs_shared(s, err)))
		return LB_EFAIL;
	*result = lb_jobs_list(j, kind, history);
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "cannot list the jobs");
}

/* jobs.get {id} (observers and up): the job as the store keeps it. */
static int m_jobs_get(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;
	lb_jobs *j;

	if (param_id(s, c, allowed, &j, &id, err) < 0)
		return LB_EFAIL;
	*result = lb_jobs_get(j, id);
	return *result ? 0 : lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
}

/*
 * jobs.cancel {id} (students and up; only its owner or a teacher): a job of a kind with a cancel
 * hook is cancelled by its service (a print on a printer ends when the printer stops it); else a
 * job not started is cancelled at once and a started one is refused. The job as it is then.
 */
static int m_jobs_cancel(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	const lb_job_kind *kind;
	lb_job_state st;
	long long id;
	json_t *job;
	lb_jobs *j;
	int rc;

	if (param_id(s, c, allowed, &j, &id, err) < 0 ||
	    lb_jobs_check_owner(j, id, lb_call_client(c)->user, privileged(c), "cancel", err) < 0)
		return LB_EFAIL;
	job = lb_jobs_get(j, id);
	kind = lb_job_kind_find(json_string_value(json_object_get(job, "kind")));
	json_decref(job);
	if (kind && kind->cancel) {
		rc = kind->cancel(s, id, lb_call_now(c)->real, err);
	} else if (lb_jobs_state(j, id, &st, err) < 0) {
		rc = LB_EFAIL;
	} else if (st == LB_JOB_STARTING || st == LB_JOB_RUNNING || st == LB_JOB_PAUSED) {
		rc = lb_error_set(err, LB_ERR_INVALID_PARAMS,
				  "job %lld is %s: its service cannot stop it", id,
				  lb_job_state_name(st));
	} else {
		rc = lb_jobs_transition(j, id, LB_JOB_CANCELLED, NULL, lb_call_now(c)->real, err);
	}
	if (rc < 0)
		return LB_EFAIL;
	*result = lb_jobs_get(j, id);
	return *result ? 0 : lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
}

/*
 * jobs.delete {id} (students and up; only its owner or a teacher): a finished job, or one never
 * started, goes with its files (a started one must be cancelled first). null.
 */
static int m_jobs_delete(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;
	lb_jobs *j;

	if (param_id(s, c, allowed, &j, &id, err) < 0 ||
	    lb_jobs_check_owner(j, id, lb_call_client(c)->user, privileged(c), "delete", err) < 0 ||
	    lb_jobs_delete(j, id, err) < 0)
		return LB_EFAIL;
	*result = json_null();
	return 0;
}

/* jobs.results {id} (students and up; its owner or a teacher): the job's result files
 * [{name, size, created}]. */
static int m_jobs_results(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;
	lb_jobs *j;

	if (param_id(s, c, allowed, &j, &id, err) < 0 ||
	    lb_jobs_check_owner(j, id, lb_call_client(c)->user, privileged(c), "see the results of",
				err) < 0)
		return LB_EFAIL;
	*result = lb_jobs_results(j, id);
	return *result ? 0 : lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
}

/*
 * jobs.fetch {id, file, offset?, max?} (students and up; its owner or a teacher): up to max bytes
 * (1 to LB_JOBS_FETCH_MAX, 1 MiB; default that) of a result file from offset, in one binary frame
 * after the reply {id, file, offset, size (bytes in the frame), total, eof}. The size is bounded
 * before anything is read.
 */
static int m_jobs_fetch(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", "file", "offset", "max", NULL};
	const char *file;
	long long id, offset = 0, max = LB_JOBS_FETCH_MAX, total = 0;
	size_t got = 0;
	void *data;
	lb_jobs *j;

	if (param_id(s, c, allowed, &j, &id, err) < 0 ||
	    lb_param_string(lb_call_params(c), "file", true, &file, err) < 0 ||
	    lb_param_int(lb_call_params(c), "offset", false, 0, 1LL << 53, &offset, err) < 0 ||
	    lb_param_int(lb_call_params(c), "max", false, 1, LB_JOBS_FETCH_MAX, &max, err) < 0 ||
	    lb_jobs_check_owner(j, id, lb_call_client(c)->user, privileged(c), "fetch from", err) <
		0)
		return LB_EFAIL;
	data = malloc((size_t)max);
	if (!data)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (lb_jobs_result_read(j, id, file, offset, (size_t)max, data, &got, &total, err) < 0) {
		free(data);
		return LB_EFAIL;
	}
	*result = json_pack("{s:I,s:s,s:I,s:I,s:I,s:b}", "id", (json_int_t)id, "file", file,
			    "offset", (json_int_t)offset, "size", (json_int_t)got, "total",
			    (json_int_t)total, "eof", offset + (long long)got >= total);
	if (!*result) {
		free(data);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	lb_call_set_output(c, data, got);
	return 0;
}

/* Close the store. */
static void jobs_destroy(lb_server *s)
{
	lb_jobs **slot = (lb_jobs **)lb_service_state(s, &jobs_service);

	lb_jobs_destroy(slot);
}

static const lb_method jobs_methods[] = {
    {"jobs.list", LB_ROLE_OBSERVER, 0, m_jobs_list},
    {"jobs.get", LB_ROLE_OBSERVER, 0, m_jobs_get},
    {"jobs.cancel", LB_ROLE_STUDENT, 0, m_jobs_cancel},
    {"jobs.delete", LB_ROLE_STUDENT, 0, m_jobs_delete},
    {"jobs.results", LB_ROLE_STUDENT, 0, m_jobs_results},
    {"jobs.fetch", LB_ROLE_STUDENT, 0, m_jobs_fetch},
    {NULL, 0, 0, NULL},
};

/* The jobs of every service (prints now): listed, read, cancelled and their results fetched by
 * the same requests, whatever their kind. */
static const lb_service jobs_service = {
    .name = "jobs",
    .methods = jobs_methods,
    .destroy = jobs_destroy,
};
LB_REGISTER_SERVICE(jobs_service);
