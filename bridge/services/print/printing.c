/* printing.c - the print queue's requests and its dispatcher: jobs go to idle printers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <unistd.h>

#include "../../util/config.h"
#include "../../util/log.h"
#include "../../util/yesno.h"
#include "models.h"
#include "print_state.h"
#include "../../core/device.h"
#include "../../core/service.h"
#include "../jobs/jobs_service.h"
#include "../jobs/upload.h"

/*
 * [print] options:
 *   approval = yes          students' jobs wait for a teacher's approval (teachers' jobs never)
 *   confirm_bed = yes       after a job the printer waits until a teacher says the bed is clear
 *   max_hotend = 260        °C a file (or a console command) may ask of the hotend
 *   max_bed = 110           °C a file may ask of the bed
 *   forbidden = M500 M502 M997 M303 M928   commands a file may not hold
 *   (the policy: lb_print_policy in printq.c, defaults in protocols/gcode.h)
 *   max_mb = 200            largest G-code file accepted
 * 3D models (STL, 3MF, OBJ) are sliced by the bridge (slicing.c):
 *   profile = generic-220   the printer profile of jobs (profile.h: a built-in or a
 *                           [profile.NAME] section); profile.<printer id> for one printer
 *   presets = brouillon normal fin   the quality presets students may choose
 *   default_preset = normal
 *   slicer = prusa-slicer   the slicer program (PrusaSlicer's command line)
 *   slicers = 0             slicers at once (0: cores - 1)
 *   slice_time_s = 300, slice_mem_mb = 4096   each slicer's limits
 *   max_faces = 2000000     triangles a model may have
 */

static const lb_service print_service;

/* The service's state in s (made by print_init, so never NULL while the server runs). */
static print_state *P(lb_server *s)
{
	return *lb_service_state(s, &print_service);
}

/* print.upload takes one binary frame per chunk; files go to <data dir>/prints; [print] max_mb
 * (at most 4096) lowers the limit for each upload. */
LB_UPLOAD_METHOD(print_upload, "print.upload", 4096LL << 20, "prints");

/* The queue, opened on first use over the server's job store (lb_jobs_shared); NULL with err set
 * when the data directory is unusable. */
static lb_printq *need_printq(lb_server *s, lb_error *err)
{
	if (!P(s)->printq) {
		lb_jobs *j = lb_jobs_shared(s, err);
		if (!j)
			return NULL;
		P(s)->printq = lb_printq_attach(j, srv_data_dir(s), lb_now_read().real, err);
		if (!P(s)->printq)
			return NULL;
		print_models_open(s, P(s));
	}
	return P(s)->printq;
}

/* Whether a yes/no option of [print] is on. */
static int print_flag(lb_server *s, const char *key, int def)
{
	const char *v = lb_config_str(srv_config(s), "print", key, NULL);

	if (!v)
		return def;
	return lb_yesno(v) == 1;
}

/* The safety policy from [print] (lb_print_policy: the one the printers' consoles obey too);
 * 0 or negative with err set (a bad config entry). */
static int print_policy(lb_server *s, gcode_policy *p, lb_error *err)
{
	return lb_print_policy(srv_config(s), p, err);
}

/* A job as clients see it (print_job_view); NULL when there is no such job. */
static json_t *job_view(lb_server *s, long long id)
{
	return print_job_view(P(s), id);
}

/* The queue's jobs (lb_printq_list) as job_view shows them. */
static json_t *list_view(lb_server *s, bool history)
{
	json_t *a = lb_printq_list(P(s)->printq, history), *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		long long id = json_integer_value(json_object_get(v, "id"));
		json_t *sl = lb_slicing_status(P(s)->slicing, id);
		json_object_set_new(v, "slicing", sl ? sl : json_null());
	}
	return a;
}

/* Publish a queue change on bridge/queue/: {event, id, job} (print_queue_changed). */
static void queue_changed(lb_server *s, const char *event, long long id)
{
	print_queue_changed(s, P(s), event, id);
}

/* The printer a job runs on (its "assigned" field), or NULL. */
static lb_device *job_printer(lb_server *s, const json_t *job)
{
	const char *p = json_string_value(json_object_get(job, "assigned"));

	return p ? srv_find_device(s, p) : NULL;
}

/* Whether a printer device is idle, per its last description, and has no job handed to it. */
static int printer_free(lb_server *s, lb_device *d)
{
	json_t *desc = srv_device_desc(d);
	const char *st =
	    json_string_value(json_object_get(json_object_get(desc, "config"), "state"));
	int free_ = st && strcmp(st, "idle") == 0 && !json_object_get(P(s)->busy, d->spec.id);

	json_decref(desc);
	return free_;
}

/* Hand approved jobs to idle printers (with a clear bed, not held back by another service):
 * each one queued, sent, and published; a job that cannot be sent stays approved. */
static void print_dispatch(lb_server *s)
{
	lb_error err;
	json_t *print_call = json_pack("{s:s}", "action", "print");

	if (!P(s)->printq) {
		/* a queue exists from an earlier run (the job store, or a printq.db to import):
		 * open it so its jobs go on */
		char path[600], old[600];
		snprintf(path, sizeof path, "%s/jobs.db", srv_data_dir(s));
		snprintf(old, sizeof old, "%s/printq.db", srv_data_dir(s));
		if ((access(path, F_OK) != 0 && access(old, F_OK) != 0) || !need_printq(s, &err)) {
			json_decref(print_call);
			return;
		}
	}
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		long long id;
		json_t *job, *args;
		char file[600], progress[600];
		if (!srv_device_live(d) || strcmp(d->spec.kind, "printer") != 0 ||
		    !printer_free(s, d))
			continue;
		/* the bed is marked not clear when a job is handed over (persisted with the job's
		 * state), so a restart after any stop still waits for printer.clear */
		if (print_flag(s, "confirm_bed", 1) &&
		    !lb_printq_bed_clear(P(s)->printq, d->spec.id))
			continue;
		/* a service may hold printers back (a stopped room): the job waits */
		if (srv_permit(s, d, "call", print_call, NULL) < 0)
			continue;
		id = lb_printq_next(P(s)->printq, d->spec.id);
		if (id <= 0 || lb_printq_path(P(s)->printq, id, file, sizeof file) < 0 ||
		    lb_printq_progress_path(P(s)->printq, id, progress, sizeof progress) < 0)
			continue;
		job = lb_printq_job(P(s)->printq, id);
		args = json_pack("{s:I,s:s,s:s,s:O,s:O,s:O,s:O}", "job", (json_int_t)id, "path",
				 file, "progress", progress, "name", json_object_get(job, "name"),
				 "size", json_object_get(job, "size"), "lines",
				 json_object_get(json_object_get(job, "meta"), "lines"), "time_s",
				 json_object_get(json_object_get(job, "meta"), "time_s"));
		json_decref(job);
		if (lb_printq_transition(P(s)->printq, id, "queued", d->spec.id, NULL,
					 lb_now_read().real, &err) < 0) {
			lb_err("print queue: %s", err.message);
			json_decref(args);
			continue;
		}
		json_t *params = json_pack("{s:s,s:s,s:o}", "device", d->spec.id, "action", "print",
					   "args", args);
		uint64_t token = srv_send(s, d, "call", params);
		if (!token) {
			/* never reached the printer: nothing was printed, the bed is as clear as
			 * the dispatcher found it */
			lb_printq_transition(P(s)->printq, id, "approved", NULL, NULL,
					     lb_now_read().real, &err);
			if (print_flag(s, "confirm_bed", 1))
				lb_printq_set_bed(P(s)->printq, d->spec.id, true, &err);
			json_decref(params);
			continue;
		}
		json_decref(params);
		json_object_set_new(P(s)->busy, d->spec.id, json_integer(id));
		{
			char key[32];
			snprintf(key, sizeof key, "%llu", (unsigned long long)token);
			json_object_set_new(P(s)->tokens, key, json_integer(id));
		}
		lb_info("print queue: job %lld goes to %s", id, d->spec.id);
		queue_changed(s, "queued", id);
	}
	json_decref(print_call);
}

static int print_reply(lb_server *s, uint64_t token, const json_t *reply)
{
	char key[32];
	json_t *v;
	long long id;
	const json_t *e = json_object_get(reply, "error");
	lb_error err;

	snprintf(key, sizeof key, "%llu", (unsigned long long)token);
	v = json_object_get(P(s)->tokens, key);
	if (!v)
		return 0;
	id = json_integer_value(v);
	json_object_del(P(s)->tokens, key);
	if (e && P(s)->printq) {
		/* the printer refused it: the job waits for the next free printer */
		json_t *job = lb_printq_job(P(s)->printq, id);
		const char *printer = json_string_value(json_object_get(job, "assigned"));
		lb_warn("print queue: printer %s refused job %lld: %s", printer ? printer : "?", id,
			json_string_value(json_object_get(e, "message")));
		lb_printq_transition(P(s)->printq, id, "approved", NULL, NULL, lb_now_read().real,
				     &err);
		if (printer) {
			/* it refused before sending a line: the bed is as clear as the dispatcher
			 * found it (clear, when confirmations are on) */
			json_object_del(P(s)->busy, printer);
			if (print_flag(s, "confirm_bed", 1))
				lb_printq_set_bed(P(s)->printq, printer, true, &err);
		}
		json_decref(job);
		queue_changed(s, "approved", id);
	}
	return 1;
}

static int print_event(lb_server *s, lb_device *d, const json_t *ev)
{
	long long id = json_integer_value(json_object_get(ev, "job"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *error = json_string_value(json_object_get(ev, "error"));
	lb_error err;

	/* a printer's job events: {job, state?, line, offset, error?} */
	if (!json_object_get(ev, "job") || strcmp(d->spec.kind, "printer") != 0)
		return 0;
	if (id <= 0 || !need_printq(s, &err))
		return 1;
	if (lb_printq_progress(
		P(s)->printq, id, (long)json_integer_value(json_object_get(ev, "line")),
		json_integer_value(json_object_get(ev, "offset")), lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: progress not recorded: %s", id, err.message);
	if (!state)
		return 1;
	if (lb_printq_transition(P(s)->printq, id, state, d->spec.id, error, lb_now_read().real,
				 &err) < 0)
		lb_err("print queue: job %lld: %s", id, err.message);
	/* the bed was marked not clear when the job started: it stays so until printer.clear */
	if (strcmp(state, "printing") != 0 && strcmp(state, "paused") != 0)
		json_object_del(P(s)->busy, d->spec.id);
	queue_changed(s, state, id);
	print_dispatch(s);
	return 1;
}

static void print_device_gone(lb_server *s, lb_device *d)
{
	json_t *v = json_object_get(P(s)->busy, d->spec.id), *job;
	long long id = json_integer_value(v);
	const char *state;
	lb_error err;

	if (!v || !P(s)->printq)
		return;
	job = lb_printq_job(P(s)->printq, id);
	state = json_string_value(json_object_get(job, "state"));
	/* its thread ended without a word on the job: handed over but never started, it waits for
	 * a printer again; started, it was interrupted */
	if (state && strcmp(state, "queued") == 0) {
		lb_printq_transition(P(s)->printq, id, "approved", NULL, NULL, lb_now_read().real,
				     &err);
		queue_changed(s, "approved", id);
	} else if (state && (strcmp(state, "printing") == 0 || strcmp(state, "paused") == 0)) {
		lb_printq_transition(P(s)->printq, id, "interrupted", d->spec.id,
				     "the printer went away during the print", lb_now_read().real,
				     &err);
		queue_changed(s, "interrupted", id);
	}
	json_decref(job);
	json_object_del(P(s)->busy, d->spec.id);
}

/* ---------------------------------------------------------------- requests */

/* The job named by params.id, as a new object; NULL with err set. */
static json_t *param_job(lb_server *s, lb_call *c, long long *id, lb_error *err)
{
	json_t *job;

	if (!need_printq(s, err) ||
	    lb_param_int(lb_call_params(c), "id", true, 1, 1LL << 53, id, err) < 0)
		return NULL;
	job = job_view(s, *id);
	if (!job)
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", *id);
	return job;
}

/* A request whose only parameter is a job id (the queue itself says when there is no such job):
 * 0 with *id set, or negative with err set. */
static int param_id_only(lb_server *s, lb_call *c, long long *id, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 || !need_printq(s, err) ||
	    lb_param_int(lb_call_params(c), "id", true, 1, 1LL << 53, id, err) < 0)
		return LB_EFAIL;
	return 0;
}

/*
 * Who the caller is for the queue: the identity the client cannot choose (its Unix user on this
 * computer, "unix:alice"; later its CURVE key), never the display name of session.hello, which
 * anyone may claim. The same person running labctl twice owns the same jobs.
 */
static const char *who(const lb_call *c)
{
	return lb_call_client(c)->user;
}

static int print_job_owner(lb_server *s, lb_device *d, char *owner, size_t cap)
{
	json_t *id = json_object_get(P(s)->busy, d->spec.id);
	json_t *job =
	    id && P(s)->printq ? lb_printq_job(P(s)->printq, json_integer_value(id)) : NULL;
	const char *who_owns = json_string_value(json_object_get(job, "owner"));

	if (id)
		/* a job of nobody known (a database error) is nobody's: teachers only */
		snprintf(owner, cap, "%s", who_owns ? who_owns : "(unknown)");
	json_decref(job);
	return id != NULL;
}

/* Whether the caller owns the job or is a teacher; else err set. */
static int may_touch(lb_call *c, const json_t *job, const char *what, lb_error *err)
{
	const char *owner = json_string_value(json_object_get(job, "owner"));

	if (lb_call_client(c)->role >= LB_ROLE_TEACHER || (owner && strcmp(owner, who(c)) == 0))
		return 0;
	return lb_error_set(err, LB_ERR_FORBIDDEN,
			    "only its owner (%s) or a teacher may %s job %lld", owner ? owner : "?",
			    what, (long long)json_integer_value(json_object_get(job, "id")));
}

/* A G-code job a student just submitted, already approved, over the weekly quota
 * (print_quota_hold): back to waiting for a teacher, with the reason. */
static void gcode_quota(lb_server *s, const json_t *job)
{
	const json_t *meta = json_object_get(job, "meta");
	long long id = json_integer_value(json_object_get(job, "id"));
	char why[200];
	const char *hold;
	lb_error err;

	if (strcmp(json_string_value(json_object_get(job, "state")), "approved") != 0)
		return;
	hold = print_quota_hold(s, P(s), id, json_string_value(json_object_get(job, "owner")),
				json_string_value(json_object_get(job, "role")),
				json_number_value(json_object_get(meta, "time_s")),
				json_number_value(json_object_get(meta, "filament_g")), why,
				sizeof why);
	if (hold && lb_printq_hold(P(s)->printq, id, hold, lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: %s", id, err.message);
	else if (hold)
		lb_info("print queue: job %lld waits for a teacher: %s", id, hold);
}

/* print.upload {request_id, name, offset, final, crc32, chunk_crc32, printer, preset, scale,
 * rotate} + one binary frame. */
static int m_print_upload(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"request_id", "name",	   "offset", "final",
					      "crc32",	    "printer",	   "preset", "scale",
					      "rotate",	    "chunk_crc32", NULL};
	lb_upload u = {0};
	char scoped[sizeof lb_call_client(c)->user + 130];
	gcode_policy policy;
	long long crc = -1, chunk_crc = -1;
	double max_mb;
	bool final = false;
	size_t in_len;
	int rc;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "request_id", true, &u.request_id, err) < 0 ||
	    lb_param_string(lb_call_params(c), "name", true, &u.name, err) < 0 ||
	    lb_param_int(lb_call_params(c), "offset", true, 0, 1LL << 40, &u.offset, err) < 0 ||
	    lb_param_bool(lb_call_params(c), "final", &final, err) < 0 ||
	    lb_param_int(lb_call_params(c), "crc32", false, 0, 0xffffffffLL, &crc, err) < 0 ||
	    lb_param_int(lb_call_params(c), "chunk_crc32", false, 0, 0xffffffffLL, &chunk_crc,
			 err) < 0 ||
	    lb_param_string(lb_call_params(c), "printer", false, &u.printer, err) < 0)
		return LB_EFAIL;
	/* request ids are the submitter's own: another user's same id is another upload (nobody
	 * writes into, or is handed, someone else's) */
	if (lb_upload_key(who(c), u.request_id, scoped, sizeof scoped) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "request_id must be 1 to 128 characters");
	u.request_id = scoped;
	if (!lb_call_input(c, &in_len) && !final)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "print.upload: the chunk's bytes must follow the JSON frame as "
				    "one binary frame (none was sent)");
	if (u.printer && !srv_find_device(s, u.printer) && !json_object_get(P(s)->busy, u.printer))
		lb_info("print queue: job for printer %s, not connected now", u.printer);
	if (print_policy(s, &policy, err) < 0 ||
	    lb_config_num(srv_config(s), "print", "max_mb", 1, 4096, 200, &max_mb, err) < 0 ||
	    !need_printq(s, err))
		return LB_EFAIL;
	/* a model's slicing choices, checked on every chunk so a refusal comes before the bytes */
	if (print_models_params(s, c, &u.preset, &u.scale, &u.rotate, err) < 0)
		return LB_EFAIL;
	u.final = final;
	u.has_crc = crc >= 0;
	u.crc32 = (uint32_t)crc;
	u.has_chunk_crc = chunk_crc >= 0;
	u.chunk_crc32 = (uint32_t)chunk_crc;
	u.owner = who(c);
	u.role = lb_role_name(lb_call_client(c)->role);
	u.approve = lb_call_client(c)->role >= LB_ROLE_TEACHER || !print_flag(s, "approval", 1);
	u.max_bytes = (long long)(max_mb * 1024 * 1024);
	u.now_real = lb_call_now(c)->real;
	rc = lb_printq_upload(P(s)->printq, &u, lb_call_input(c, &in_len), in_len, &policy, result,
			      err);
	if (rc == 0 && final && !json_is_true(json_object_get(*result, "duplicate"))) {
		long long id = json_integer_value(json_object_get(*result, "id"));
		lb_info("print queue: job %lld (%s) submitted by %s", id, u.name, u.owner);
		if (strcmp(json_string_value(json_object_get(*result, "state")), "slicing") == 0)
			print_models_slice(s, P(s), id);
		else
			gcode_quota(s, *result);
		json_decref(*result);
		*result = job_view(s, id);
		queue_changed(s, "submitted", id);
		print_dispatch(s);
	}
	return rc;
}

/* print.queue {history}: the waiting and active jobs, or the finished ones. */
static int m_print_queue(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"history", NULL};
	bool history = false;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_bool(lb_call_params(c), "history", &history, err) < 0 || !need_printq(s, err))
		return LB_EFAIL;
	*result = list_view(s, history);
	return 0;
}

/* print.job {id} */
static int m_print_job(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		return LB_EFAIL;
	*result = param_job(s, c, &id, err);
	return *result ? 0 : LB_EFAIL;
}

/* print.approve {id} (teacher) */
static int m_print_approve(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	long long id;

	if (param_id_only(s, c, &id, err) < 0 ||
	    lb_printq_approve(P(s)->printq, id, who(c), lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	queue_changed(s, "approved", id);
	print_dispatch(s);
	*result = lb_printq_job(P(s)->printq, id);
	return 0;
}

/* Ask a job's printer to do something (pause, resume, cancel); 0 or negative with err set. */
static int tell_printer(lb_server *s, const json_t *job, const char *action, lb_error *err)
{
	lb_device *d = job_printer(s, job);
	json_t *params;
	int rc;

	if (!d)
		return lb_error_set(err, LB_ERR_DEVICE, "the job's printer is not connected");
	params = json_pack("{s:s,s:s}", "device", d->spec.id, "action", action);
	rc = srv_send(s, d, "call", params) ? 0 : -1;
	json_decref(params);
	return rc < 0 ? lb_error_set(err, LB_ERR_DEVICE, "printer %s is not answering", d->spec.id)
		      : 0;
}

/*
 * Cancel print job id (the caller checked who may): one on a printer is ended by the printer
 * (cancel G-code), which reports "cancelled"; one waiting is cancelled at once. The print kind's
 * cancel hook (jobs.cancel) too. 0, or LB_EFAIL with err set.
 */
static int print_cancel_job(lb_server *s, long long id, int64_t now_real, lb_error *err)
{
	json_t *job;
	const char *state, *was;
	int rc = LB_EFAIL;

	if (!need_printq(s, err))
		return LB_EFAIL;
	job = lb_printq_job(P(s)->printq, id);
	if (!job)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	state = json_string_value(json_object_get(job, "state"));
	if (strcmp(state, "printing") == 0 || strcmp(state, "paused") == 0 ||
	    strcmp(state, "queued") == 0) {
		rc = tell_printer(s, job, "cancel", err);
	} else {
		/* a model being sliced: its slicer is killed first */
		if (strcmp(state, "slicing") == 0)
			print_models_cancel(P(s), id, lb_now_read().mono);
		if (lb_printq_cancel(P(s)->printq, id, now_real, &was, err) == 0) {
			queue_changed(s, "cancelled", id);
			rc = 0;
		}
	}
	json_decref(job);
	return rc;
}

/* print.cancel {id}: students their own jobs, teachers any. */
static int m_print_cancel(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;
	json_t *job;
	int rc;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(job = param_job(s, c, &id, err)))
		return LB_EFAIL;
	rc = may_touch(c, job, "cancel", err);
	json_decref(job);
	if (rc < 0 || print_cancel_job(s, id, lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	*result = job_view(s, id);
	return 0;
}

/* print.pause / print.resume {id}: the owner or a teacher. */
static int pause_resume(lb_server *s, lb_call *c, const char *action, json_t **result,
			lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	long long id;
	json_t *job;
	int rc;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(job = param_job(s, c, &id, err)))
		return LB_EFAIL;
	rc = may_touch(c, job, action, err);
	if (rc == 0) {
		const char *state = json_string_value(json_object_get(job, "state"));
		const char *need = strcmp(action, "pause") == 0 ? "printing" : "paused";
		if (strcmp(state, need) != 0)
			rc = lb_error_set(
			    err, LB_ERR_INVALID_PARAMS, "job %lld is %s: only a %s job can be %s",
			    id, state, need, strcmp(action, "pause") == 0 ? "paused" : "resumed");
		else
			rc = tell_printer(s, job, action, err);
	}
	json_decref(job);
	if (rc == 0)
		*result = json_null();
	return rc;
}

static int m_print_pause(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	return pause_resume(s, c, "pause", result, err);
}

static int m_print_resume(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	return pause_resume(s, c, "resume", result, err);
}

/* Record a model job's new scale and rotation in its params (only those the request gives). 0,
 * or LB_EFAIL with err set. */
static int set_transform(lb_server *s, long long id, double scale, double rotate, int64_t now_real,
			 lb_error *err)
{
	lb_jobs *j = lb_printq_store(P(s)->printq);
	json_t *sj = lb_jobs_get(j, id);
	json_t *params = json_copy(json_object_get(sj, "params"));
	char *text;
	int rc;

	json_decref(sj);
	if (!params)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read job %lld", id);
	if (scale > 0)
		json_object_set_new(params, "scale", json_real(scale));
	if (rotate != 0)
		json_object_set_new(params, "rotate", json_real(rotate));
	text = json_dumps(params, JSON_COMPACT);
	json_decref(params);
	rc = text ? lb_jobs_set_params(j, id, text, now_real, err)
		  : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	free(text);
	return rc;
}

/* print.retry {id, scale?, rotate?} (teacher): a model job with a new scale or rotation is
 * sliced again with them. */
static int m_print_retry(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", "scale", "rotate", NULL};
	double scale = 0, rotate = 0;
	bool reslice;
	long long id;
	json_t *job;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_number(lb_call_params(c), "scale", false, 1, 10000, &scale, err) < 0 ||
	    lb_param_number(lb_call_params(c), "rotate", false, -360, 360, &rotate, err) < 0 ||
	    !(job = param_job(s, c, &id, err)))
		return LB_EFAIL;
	reslice = json_object_get(lb_call_params(c), "scale") ||
		  json_object_get(lb_call_params(c), "rotate");
	if (reslice && json_is_null(json_object_get(job, "model"))) {
		json_decref(job);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "job %lld is G-code: only a model can be scaled or rotated",
				    id);
	}
	json_decref(job);
	if (reslice && set_transform(s, id, scale, rotate, lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	if (lb_printq_retry(P(s)->printq, id, reslice, lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	*result = lb_printq_job(P(s)->printq, id);
	if (strcmp(json_string_value(json_object_get(*result, "state")), "slicing") == 0) {
		print_models_slice(s, P(s), id);
		json_decref(*result);
		*result = job_view(s, id);
	}
	queue_changed(s, json_string_value(json_object_get(*result, "state")), id);
	print_dispatch(s);
	return 0;
}

/* print.delete {id} (teacher) */
static int m_print_delete(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	long long id;

	if (param_id_only(s, c, &id, err) < 0 || lb_printq_delete(P(s)->printq, id, err) < 0)
		return LB_EFAIL;
	queue_changed(s, "deleted", id);
	*result = json_null();
	return 0;
}

/* print.move {id, position} (teacher) */
static int m_print_move(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", "position", NULL};
	long long id, pos;
	json_t *job;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_int(lb_call_params(c), "position", true, 1, 1000000, &pos, err) < 0 ||
	    !(job = param_job(s, c, &id, err)))
		return LB_EFAIL;
	json_decref(job);
	if (lb_printq_move(P(s)->printq, id, (int)pos, lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	queue_changed(s, "moved", id);
	*result = lb_printq_list(P(s)->printq, false);
	return 0;
}

/* A model job's thumbnail (the bridge drew it from its G-code: result thumbnail.png) as
 * print.thumbnail answers; takes job. 0, or LB_EFAIL with err set. */
static int model_thumbnail(lb_server *s, long long id, json_t *job, json_t **result, lb_error *err)
{
	const json_t *th = json_object_get(json_object_get(job, "meta"), "thumbnail");
	unsigned char *png = NULL;
	char *b64 = NULL;
	size_t got = 0;
	long long size = 0;
	int rc = LB_EFAIL;

	if (!json_is_object(th)) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld has no thumbnail%s", id,
			     !json_is_null(json_object_get(job, "slicing"))
				 ? " yet: it is being sliced"
			     : lb_slicing_drawing(P(s)->slicing, id) ? " yet: it is being drawn"
								     : "");
		goto done;
	}
	png = malloc(LB_JOBS_FETCH_MAX);
	if (!png || lb_jobs_result_read(lb_printq_store(P(s)->printq), id, LB_PRINT_THUMB_NAME, 0,
					LB_JOBS_FETCH_MAX, png, &got, &size, err) < 0)
		goto done;
	b64 = malloc(sodium_base64_ENCODED_LEN(got, sodium_base64_VARIANT_ORIGINAL));
	if (b64)
		sodium_bin2base64(b64,
				  sodium_base64_ENCODED_LEN(got, sodium_base64_VARIANT_ORIGINAL),
				  png, got, sodium_base64_VARIANT_ORIGINAL);
	else {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto done;
	}
	*result = json_pack("{s:I,s:i,s:O,s:O,s:s}", "id", (json_int_t)id, "index", 0, "width",
			    json_object_get(th, "width"), "height", json_object_get(th, "height"),
			    "base64", b64);
	rc = *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
done:
	free(png);
	free(b64);
	json_decref(job);
	return rc;
}

/* print.thumbnail {id, index?}: a picture the slicer embedded in the file, as base64 PNG (or
 * JPG/QOI, as the slicer wrote it); for a model, the bridge's picture of its toolpaths. */
static int m_print_thumbnail(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", "index", NULL};
	long long id, index = -1;
	json_t *job, *th;
	char path[600], line[1024];
	FILE *f = NULL;
	long long off, end;
	size_t cap, n = 0;
	char *b64 = NULL;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_int(lb_call_params(c), "index", false, 0, GCODE_THUMBS_MAX - 1, &index, err) <
		0 ||
	    !(job = param_job(s, c, &id, err)))
		return LB_EFAIL;
	if (!json_is_null(json_object_get(job, "model")))
		return model_thumbnail(s, id, job, result, err);
	th = json_object_get(json_object_get(job, "meta"), "thumbnails");
	if (index < 0) /* the largest */
		for (size_t i = 0; i < json_array_size(th); i++)
			if (index < 0 ||
			    json_integer_value(json_object_get(json_array_get(th, i), "width")) >
				json_integer_value(
				    json_object_get(json_array_get(th, index), "width")))
				index = (long long)i;
	th = index >= 0 ? json_array_get(th, (size_t)index) : NULL;
	if (!th) {
		json_decref(job);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld has no thumbnail%s", id,
				    index >= 0 ? " of that index" : "");
	}
	off = json_integer_value(json_object_get(th, "offset"));
	end = json_integer_value(json_object_get(th, "end"));
	cap = end > off ? (size_t)(end - off) + 1 : 1;
	if (lb_printq_path(P(s)->printq, id, path, sizeof path) < 0 || !(f = fopen(path, "r")) ||
	    fseeko(f, off, SEEK_SET) < 0 || !(b64 = malloc(cap))) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read the file of job %lld", id);
		goto done;
	}
	/* "; <base64>" lines up to the end marker */
	while (ftello(f) < end && fgets(line, sizeof line, f)) {
		for (char *p = line; *p; p++)
			if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '=')
				if (n + 1 < cap)
					b64[n++] = *p;
	}
	b64[n] = '\0';
	*result = json_pack("{s:I,s:I,s:O,s:O,s:s}", "id", (json_int_t)id, "index",
			    (json_int_t)index, "width", json_object_get(th, "width"), "height",
			    json_object_get(th, "height"), "base64", b64);
done:
	if (f)
		fclose(f);
	free(b64);
	json_decref(job);
	return *result ? 0 : LB_EFAIL;
}

/* printer.clear {printer} (teacher): the bed is clear, the next job may start. */
static int m_printer_clear(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"printer", NULL};
	const char *printer;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "printer", true, &printer, err) < 0 ||
	    !need_printq(s, err))
		return LB_EFAIL;
	if (lb_printq_set_bed(P(s)->printq, printer, true, err) < 0)
		return LB_EFAIL;
	lb_info("print queue: bed of %s confirmed clear by %s", printer, who(c));
	print_dispatch(s);
	*result = json_null();
	return 0;
}

/*
 * Stop one printer in an emergency: the halt path when its driver has one (M112 written at once
 * from this thread), else the estop action through its mailbox. 0, or negative when neither
 * could be started (the device is closing, or its mailbox is full).
 */
static int estop_one(lb_server *s, lb_device *d, const char *by)
{
	json_t *params;
	int rc;

	rc = srv_halt(s, d, by);
	if (rc != LB_EINVAL)
		return rc == LB_EGONE ? rc : 0; /* a failed hook: the thread writes M112 */
	params = json_pack("{s:s,s:s}", "device", d->spec.id, "action", "estop");
	rc = srv_send(s, d, "call", params) ? 0 : LB_EFAIL;
	json_decref(params);
	return rc;
}

/* printer.estop {printer}: anyone but observers may stop a printer at once; without printer,
 * every printer. Through the halt path (srv_halt): answered once the driver's hook has
 * written M112 (or, if it could not, once the printer's thread has been told to). */
static int m_printer_estop(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"printer", NULL};
	const char *printer = NULL;
	json_t *stopped = json_array();

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "printer", false, &printer, err) < 0) {
		json_decref(stopped);
		return LB_EFAIL;
	}
	if (printer) {
		lb_device *d = srv_find_device(s, printer);
		json_decref(stopped);
		if (!d || strcmp(d->spec.kind, "printer") != 0)
			return lb_error_set(err, LB_ERR_UNKNOWN_DEVICE, "no printer '%s'", printer);
		lb_warn("emergency stop of %s by %s", printer, who(c));
		if (estop_one(s, d, who(c)) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "printer '%s' is closing", printer);
		*result = json_null();
		return 0;
	}
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		if (!srv_device_live(d) || strcmp(d->spec.kind, "printer") != 0)
			continue;
		if (estop_one(s, d, who(c)) == 0)
			json_array_append_new(stopped, json_string(d->spec.id));
	}
	lb_warn("emergency stop of every printer by %s", who(c));
	*result = json_pack("{s:o}", "stopped", stopped);
	return 0;
}

/* A printer opened or changed: it may be free for the next job. */
static void print_device_ready(lb_server *s, lb_device *d)
{
	if (strcmp(d->spec.kind, "printer") == 0)
		print_dispatch(s);
}

/* Printers take jobs from the queue, and their files are uploaded first. */
static unsigned print_device_caps(lb_server *s, lb_device *d)
{
	(void)s;
	return strcmp(d->spec.kind, "printer") == 0 ? LB_CAP_JOB | LB_CAP_UPLOAD : 0;
}

/* The service's wake_fd: the slicers' notification (print_models_fd). */
static int print_wake_fd(lb_server *s)
{
	return print_models_fd(P(s));
}

/* The service's wake: the slicers' news (print_models_wake); the jobs that became printable go
 * to idle printers. */
static void print_wake(lb_server *s)
{
	if (print_models_wake(s, P(s)) > 0)
		print_dispatch(s);
}

/* Make the service's state; 0 or LB_ENOMEM. */
static int print_init(lb_server *s)
{
	print_state *st;
	lb_error err;

	/* printer profiles, presets, quotas: a mistake is said now, with its line, and again by
	 * each request it concerns (as a bad safety policy refuses every file); the bridge runs */
	if (lb_print_config_check(srv_config(s), &err) < 0)
		lb_err("print queue: %s", err.message);
	st = calloc(1, sizeof *st);

	if (!st || !(st->busy = json_object()) || !(st->tokens = json_object())) {
		if (st)
			json_decref(st->busy);
		free(st);
		return LB_ENOMEM;
	}
	*lb_service_state(s, &print_service) = st;
	return 0;
}

/* Close the queue and free the state. */
static void print_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &print_service);
	print_state *st = *slot;

	if (!st)
		return;
	lb_slicing_destroy(&st->slicing);
	lb_printq_destroy(&st->printq);
	json_decref(st->busy);
	json_decref(st->tokens);
	free(st);
	*slot = NULL;
}

static const lb_method print_methods[] = {
    {"print.upload", LB_ROLE_STUDENT, LB_METHOD_UPLOAD, m_print_upload},
    {"print.queue", LB_ROLE_OBSERVER, 0, m_print_queue},
    {"print.job", LB_ROLE_OBSERVER, 0, m_print_job},
    {"print.thumbnail", LB_ROLE_OBSERVER, 0, m_print_thumbnail},
    {"print.presets", LB_ROLE_OBSERVER, 0, m_print_presets},
    {"print.approve", LB_ROLE_TEACHER, 0, m_print_approve},
    {"print.cancel", LB_ROLE_STUDENT, 0, m_print_cancel},
    {"print.pause", LB_ROLE_STUDENT, 0, m_print_pause},
    {"print.resume", LB_ROLE_STUDENT, 0, m_print_resume},
    {"print.retry", LB_ROLE_TEACHER, 0, m_print_retry},
    {"print.delete", LB_ROLE_TEACHER, 0, m_print_delete},
    {"print.move", LB_ROLE_TEACHER, 0, m_print_move},
    {"printer.clear", LB_ROLE_TEACHER, 0, m_printer_clear},
    {"printer.estop", LB_ROLE_STUDENT, 0, m_printer_estop},
    {NULL, 0, 0, NULL},
};

/* The print queue: jobs uploaded, approved, handed to idle printers with a clear bed. */
static const lb_service print_service = {
    .name = "print",
    .config_section = "print",
    .methods = print_methods,
    .init = print_init,
    .device_ready = print_device_ready,
    .device_gone = print_device_gone,
    .event = print_event,
    .reply = print_reply,
    .job_owner = print_job_owner,
    .device_caps = print_device_caps,
    .wake_fd = print_wake_fd,
    .wake = print_wake,
    .destroy = print_destroy,
};
LB_REGISTER_SERVICE(print_service);

/* Print jobs in the job store: an earlier printq.db imported, the progress file folded in after
 * a stop, the printers' beds waiting for printer.clear after a job, jobs.cancel as print.cancel. */
static const lb_job_kind print_kind = {
    .kind = "print",
    .confirm_device = true,
    .import = lb_printq_import,
    .recover = lb_printq_recover,
    .cancel = print_cancel_job,
};
LB_JOB_KIND(print_kind);
