/* models.c - the print service's model jobs: an uploaded STL, 3MF or OBJ is sliced with the
 * teacher's preset for its printer, then waits in the queue like any G-code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../util/config.h"
#include "../../util/fsutil.h"
#include "../../core/device.h"
#include "../../util/log.h"
#include "models.h"

/* The printer profile of a job for printer (NULL: any printer) into *buf (profile.h:
 * lb_profile_config): 0, or LB_EFAIL with err set (a profile the configuration gets wrong). */
static int job_profile(lb_server *s, const char *printer, lb_profile_buf *buf, lb_error *err)
{
	lb_device *d = printer ? srv_find_device(s, printer) : NULL;

	return lb_profile_config(srv_config(s), printer, d && d->spec.simulated, buf, err);
}

int print_models_params(lb_server *s, lb_call *c, const char **preset, double *scale,
			double *rotate, lb_error *err)
{
	json_t *params = lb_call_params(c);
	bool teacher = lb_call_client(c)->role >= LB_ROLE_TEACHER;
	const char *name = NULL;

	*scale = 0;
	*rotate = 0;
	if (lb_param_string(params, "preset", false, &name, err) < 0 ||
	    lb_param_number(params, "scale", false, 1, 10000, scale, err) < 0 ||
	    lb_param_number(params, "rotate", false, -360, 360, rotate, err) < 0)
		return LB_EFAIL;
	if ((*scale > 0 || *rotate != 0) && !teacher)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "only a teacher may scale or rotate a model");
	if (!name)
		name = lb_preset_default(srv_config(s));
	if (lb_preset_allowed(srv_config(s), name, teacher, err) < 0)
		return LB_EFAIL;
	*preset = name;
	return 0;
}

/* The slicers, made on first use from [print] slicer, slicers, slice_time_s, slice_mem_mb; NULL
 * with err set. */
static lb_slicing *need_slicing(lb_server *s, print_state *st, lb_error *err)
{
	const json_t *cf = srv_config(s);
	lb_slicing_opts o = {0};
	double max, time_s, mem_mb;

	if (st->slicing)
		return st->slicing;
	if (lb_config_num(cf, "print", "slicers", 0, 64, 0, &max, err) < 0 ||
	    lb_config_num(cf, "print", "slice_time_s", 1, 86400, 300, &time_s, err) < 0 ||
	    lb_config_num(cf, "print", "slice_mem_mb", 256, 65536, 4096, &mem_mb, err) < 0)
		return NULL;
	o.program = lb_config_str(cf, "print", "slicer", "prusa-slicer");
	o.max = (int)max;
	o.time_s = (int)time_s;
	o.mem_mb = (int)mem_mb;
	st->slicing = lb_slicing_new(&o, err);
	return st->slicing;
}

/* Fail job id (still slicing) with why, and tell the clients. */
static void fail_job(lb_server *s, print_state *st, long long id, const char *why)
{
	lb_error err;

	lb_warn("print queue: job %lld cannot be printed: %s", id, why);
	if (lb_printq_transition(st->printq, id, "failed", NULL, why, lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: %s", id, err.message);
	print_queue_changed(s, st, "failed", id);
}

/* The model's size as its check at upload measured it (meta's "model": {"size": [x, y, z]}, mm)
 * into *mi: 0, or -1 when it is not known. */
static int model_size(const json_t *model, model_info *mi)
{
	const json_t *sz = json_object_get(model, "size");

	memset(mi, 0, sizeof *mi);
	mi->facets = json_is_integer(json_object_get(model, "faces"))
			 ? (long)json_integer_value(json_object_get(model, "faces"))
			 : -1;
	mi->manifold = -1;
	mi->parts = -1;
	mi->volume = -1;
	if (json_array_size(sz) != 3)
		return -1;
	for (int i = 0; i < 3; i++) {
		mi->size[i] = json_number_value(json_array_get(sz, (size_t)i));
		if (!json_is_number(json_array_get(sz, (size_t)i)) || !(mi->size[i] >= 0))
			return -1;
	}
	return 0;
}

/* v, or def when v is NULL. */
static const char *str_or(const char *v, const char *def)
{
	return v ? v : def;
}

/* Keep job id's model among its results as model.<ext> (a hard link to its input), so that its
 * owner and teachers can download it (jobs.fetch); once. Best effort: logged. */
static void keep_model(print_state *st, long long id, const char *format)
{
	lb_jobs *j = lb_printq_store(st->printq);
	char input[1024], folder[900], tmp[1000], name[32];
	lb_error err;
	json_t *results = lb_jobs_results(j, id), *r;
	bool have = false;
	size_t i;

	snprintf(name, sizeof name, "model.%s", strcmp(format, "stl-binary") == 0 ? "stl" : format);
	json_array_foreach(results, i, r)
	{
		const char *n = json_string_value(json_object_get(r, "name"));
		have |= n && strcmp(n, name) == 0;
	}
	json_decref(results);
	if (have || lb_jobs_input_path(j, id, input, sizeof input) < 0 ||
	    lb_jobs_folder(j, id, folder, sizeof folder, NULL) < 0)
		return;
	snprintf(tmp, sizeof tmp, "%s/.model", folder);
	unlink(tmp);
	if (link(input, tmp) < 0)
		lb_warn("print queue: job %lld: its model is not downloadable: %s", id,
			strerror(errno));
	else if (lb_jobs_result_add(j, id, name, tmp, lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: its model is not downloadable: %s", id,
			err.message);
}

void print_models_slice(lb_server *s, print_state *st, long long id)
{
	json_t *sj = lb_jobs_get(lb_printq_store(st->printq), id);
	json_t *params = json_object_get(sj, "params");
	lb_slicing_job job = {0};
	lb_profile_buf pr;
	lb_preset_buf ps;
	model_info mi;
	lb_slicing *sl;
	lb_error err = {0};
	const char *preset = json_string_value(json_object_get(params, "preset"));

	keep_model(st, id, str_or(json_string_value(json_object_get(params, "model")), "stl"));
	job.id = id;
	if (job_profile(s, json_string_value(json_object_get(sj, "device")), &pr, &err) == 0)
		job.printer = &pr.p;
	if (job.printer && lb_preset_config(srv_config(s), preset ? preset : "", &ps, &err) == 0)
		job.preset = &ps.p;
	if (job.preset && lb_print_policy(srv_config(s), &job.policy, &err) < 0)
		job.preset = NULL; /* a bad [print] entry: said, and the job fails with it */
	job.thumb_w = LB_PRINT_THUMB_WIDTH;
	job.thumb_h = LB_PRINT_THUMB_HEIGHT;
	if (model_size(json_object_get(json_object_get(sj, "meta"), "model"), &mi) == 0)
		job.size = &mi;
	job.scale = json_number_value(json_object_get(params, "scale"));
	job.rotate = json_number_value(json_object_get(params, "rotate"));
	if (job.printer && job.preset && (sl = need_slicing(s, st, &err)) != NULL &&
	    lb_slicing_start(sl, st->printq, &job, &err) == 0)
		lb_info("print queue: job %lld: slicing %s for %s (%s)", id,
			json_string_value(json_object_get(sj, "label")), job.printer->name,
			job.preset->name);
	else
		fail_job(s, st, id, err.message);
	json_decref(sj);
}

void print_models_open(lb_server *s, print_state *st)
{
	lb_model_limits lim;
	double faces;
	lb_error err;
	json_t *list, *v;
	size_t i;

	lb_model_limits_default(&lim);
	if (lb_config_num(srv_config(s), "print", "max_faces", 1000, 1e8,
			  (double)LB_MODEL_FACES_MAX, &faces, &err) == 0)
		lim.max_faces = (long long)faces;
	else
		lb_warn("%s", err.message);
	lb_printq_set_limits(st->printq, &lim);
	/* jobs a stop left slicing: nothing physical happened, they are sliced again */
	list = lb_printq_list(st->printq, false);
	json_array_foreach(list, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "state")), "slicing") == 0)
			print_models_slice(s, st, json_integer_value(json_object_get(v, "id")));
	}
	json_decref(list);
}

int print_models_cancel(print_state *st, long long id, int64_t now_mono)
{
	return lb_slicing_cancel(st->slicing, id, now_mono) == 0;
}

int print_models_fd(print_state *st)
{
	return lb_slicing_fd(st->slicing);
}

/*
 * Whether job id of owner, needing time_s of printing and filament_g, passes the weekly quota
 * ([print] quota_hours, quota_filament_g; teachers have none): NULL, or why not (in why[cap]).
 */
const char *print_quota_hold(lb_server *s, print_state *st, long long id, const char *owner,
			     const char *role, double time_s, double filament_g, char *why,
			     size_t cap)
{
	lb_quota q;
	lb_error err;
	json_t *jobs, *old, *v;
	size_t i;
	int over;

	if (role && strcmp(role, "teacher") == 0)
		return NULL;
	if (lb_quota_config(srv_config(s), &q, &err) < 0 ||
	    (q.week_hours <= 0 && q.week_filament_g <= 0))
		return NULL;
	/* the owner's other jobs, waiting, active and finished */
	jobs = lb_printq_list(st->printq, false);
	old = lb_printq_list(st->printq, true);
	json_array_extend(jobs, old);
	json_decref(old);
	json_array_foreach(jobs, i, v)
	{
		if (json_integer_value(json_object_get(v, "id")) == id) {
			json_array_remove(jobs, i);
			break;
		}
	}
	over = lb_quota_check(&q, jobs, owner, time_s, filament_g, lb_now_read().real, why, cap);
	json_decref(jobs);
	return over == 1 ? why : NULL;
}

/* Keep the picture the slicing stage drew of job id (png, "" when none) as its result
 * thumbnail.png, its size in meta's "thumbnail" ({"width", "height"}), and tell the clients
 * (event "thumbnail"); a job gone meanwhile just loses it (logged). */
static void picture(lb_server *s, print_state *st, long long id, const char *png)
{
	lb_error err;
	json_t *size;

	if (!png[0])
		return;
	size =
	    json_pack("{s:i,s:i}", "width", LB_PRINT_THUMB_WIDTH, "height", LB_PRINT_THUMB_HEIGHT);
	if (lb_printq_add_result(st->printq, id, LB_PRINT_THUMB_NAME, png, "thumbnail", size,
				 lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: no thumbnail: %s", id, err.message);
	else
		print_queue_changed(s, st, "thumbnail", id);
	json_decref(size);
}

/* Job id's slicing ended with G-code, checked by the slicing stage (off this loop): the weekly
 * quota looked at, then into the queue (lb_printq_sliced, one commit): 1, or failed: 0. Its
 * picture comes later (picture). */
static int sliced(lb_server *s, print_state *st, lb_slicing_event *ev)
{
	lb_error err = {0};
	json_t *job;
	char why[200];
	const char *hold = NULL;

	job = lb_printq_job(st->printq, ev->id);
	hold = print_quota_hold(s, st, ev->id, json_string_value(json_object_get(job, "owner")),
				json_string_value(json_object_get(job, "role")),
				json_number_value(json_object_get(ev->meta, "time_s")),
				json_number_value(json_object_get(ev->meta, "filament_g")), why,
				sizeof why);
	json_decref(job);
	if (lb_printq_sliced(st->printq, ev->id, ev->gcode, ev->meta, ev->extra, hold,
			     lb_now_read().real, &err) < 0) {
		if (ev->drawing) /* no picture of a failed job: the event that follows is dropped */
			lb_slicing_cancel(st->slicing, ev->id, lb_now_read().mono);
		fail_job(s, st, ev->id, err.message);
		return 0;
	}
	lb_info("print queue: job %lld sliced%s%s", ev->id, hold ? ": " : "", hold ? hold : "");
	print_queue_changed(s, st, "sliced", ev->id);
	return 1;
}

int print_models_wake(lb_server *s, print_state *st)
{
	lb_slicing_event ev;
	int printable = 0;

	while (lb_slicing_next(st->slicing, lb_now_read().mono, &ev) == 1) {
		if (ev.what == LB_SLICING_PROGRESS)
			print_queue_changed(s, st, "slicing", ev.id);
		else if (ev.what == LB_SLICING_DONE)
			printable += sliced(s, st, &ev);
		else if (ev.what == LB_SLICING_PICTURE)
			picture(s, st, ev.id, ev.thumb);
		else
			fail_job(s, st, ev.id, ev.error.message);
		json_decref(ev.extra);
		json_decref(ev.meta);
		if (ev.what != LB_SLICING_PROGRESS && ev.work[0] && lb_rmtree(ev.work) < 0)
			lb_warn("print queue: job %lld: cannot remove %s: %s", ev.id, ev.work,
				strerror(errno));
	}
	return printable;
}

int m_print_presets(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	json_t *a;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(a = lb_presets_offered(srv_config(s), lb_call_client(c)->role >= LB_ROLE_TEACHER,
				     err)))
		return LB_EFAIL;
	*result =
	    json_pack("{s:o,s:s,s:o*}", "presets", a, "default", lb_preset_default(srv_config(s)),
		      "profiles", lb_profile_names(srv_config(s)));
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}
