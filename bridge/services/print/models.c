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
#include "print_service.h"

/* The printer profile of a job for printer (NULL: any printer): [print] profile.<printer>, else
 * [print] profile, else generic-220. NULL with err set for an unknown name. */
static const lb_printer_profile *job_profile(lb_server *s, const char *printer, lb_error *err)
{
	char key[96];
	const char *name = NULL;
	const lb_printer_profile *pr;

	if (printer && snprintf(key, sizeof key, "profile.%s", printer) < (int)sizeof key)
		name = lb_config_str(srv_config(s), "print", key, NULL);
	if (!name)
		name = lb_config_str(srv_config(s), "print", "profile", "generic-220");
	pr = lb_printer_profile_find(name);
	if (!pr)
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "[print] profile: no printer profile '%s'",
			     name);
	return pr;
}

/* Whether name is among the space-separated words of list. */
static bool in_words(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t w = strcspn(p, " \t,");
		if (w == n && strncmp(p, name, n) == 0)
			return true;
		p += w;
	}
	return false;
}

/* The presets a student may choose ([print] presets, default: every built-in one). */
static const char *offered(lb_server *s)
{
	return lb_config_str(srv_config(s), "print", "presets", "brouillon normal fin");
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
		name = lb_config_str(srv_config(s), "print", "default_preset", "normal");
	if (!lb_preset_find(name) || (!teacher && !in_words(offered(s), name)))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "preset '%s' is not one of those offered: %s", name,
				    teacher ? "brouillon normal fin" : offered(s));
	*preset = name;
	return 0;
}

/* The slicers, made on first use from [print] slicer, slicers, slice_time_s, slice_mem_mb; NULL
 * with err set. */
static lb_slicing *need_slicing(lb_server *s, lb_error *err)
{
	const json_t *cf = srv_config(s);
	lb_slicing_opts o = {0};
	double max, time_s, mem_mb;

	if (P(s)->slicing)
		return P(s)->slicing;
	if (lb_config_num(cf, "print", "slicers", 0, 64, 0, &max, err) < 0 ||
	    lb_config_num(cf, "print", "slice_time_s", 1, 86400, 300, &time_s, err) < 0 ||
	    lb_config_num(cf, "print", "slice_mem_mb", 256, 65536, 4096, &mem_mb, err) < 0)
		return NULL;
	o.program = lb_config_str(cf, "print", "slicer", "prusa-slicer");
	o.max = (int)max;
	o.time_s = (int)time_s;
	o.mem_mb = (int)mem_mb;
	P(s)->slicing = lb_slicing_new(&o, err);
	return P(s)->slicing;
}

/* Fail job id (still slicing) with why, and tell the clients. */
static void fail_job(lb_server *s, long long id, const char *why)
{
	lb_error err;

	lb_warn("print queue: job %lld cannot be printed: %s", id, why);
	if (lb_printq_transition(P(s)->printq, id, "failed", NULL, why, lb_now_read().real,
				 &err) < 0)
		lb_warn("print queue: job %lld: %s", id, err.message);
	queue_changed(s, "failed", id);
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
static void keep_model(lb_server *s, long long id, const char *format)
{
	lb_jobs *j = lb_printq_store(P(s)->printq);
	char input[1024], folder[900], tmp[1000], name[32];
	lb_error err;
	json_t *results = lb_jobs_results(j, id);
	bool have;

	snprintf(name, sizeof name, "model.%s", strcmp(format, "stl-binary") == 0 ? "stl" : format);
	have = false;
	for (size_t i = 0; i < json_array_size(results); i++)
		have |= str_or(json_string_value(json_object_get(json_array_get(results, i), "name")),
			       "")[0] &&
			strcmp(json_string_value(
				   json_object_get(json_array_get(results, i), "name")),
			       name) == 0;
	json_decref(results);
	if (have || lb_jobs_input_path(j, id, input, sizeof input) < 0 ||
	    lb_jobs_folder(j, id, folder, sizeof folder, NULL) < 0)
		return;
	snprintf(tmp, sizeof tmp, "%s/.model", folder);
	unlink(tmp);
	if (link(input, tmp) < 0 ||
	    lb_jobs_result_add(j, id, name, tmp, lb_now_read().real, &err) < 0)
		lb_warn("print queue: job %lld: its model is not downloadable: %s", id,
			strerror(errno));
}

void print_models_slice(lb_server *s, long long id)
{
	json_t *sj = lb_jobs_get(lb_printq_store(P(s)->printq), id);
	json_t *params = json_object_get(sj, "params");
	lb_slicing_job job = {0};
	model_info mi;
	lb_slicing *sl;
	lb_error err = {0};

	keep_model(s, id, str_or(json_string_value(json_object_get(params, "model")), "stl"));
	job.id = id;
	job.printer = job_profile(s, json_string_value(json_object_get(sj, "device")), &err);
	job.preset = lb_preset_find(json_string_value(json_object_get(params, "preset")));
	if (model_size(json_object_get(json_object_get(sj, "meta"), "model"), &mi) == 0)
		job.size = &mi;
	job.scale = json_number_value(json_object_get(params, "scale"));
	job.rotate = json_number_value(json_object_get(params, "rotate"));
	if (!job.preset && job.printer)
		lb_error_set(&err, LB_ERR_INVALID_PARAMS, "its preset '%s' no longer exists",
			     json_string_value(json_object_get(params, "preset")));
	if (job.printer && job.preset && (sl = need_slicing(s, &err)) != NULL &&
	    lb_slicing_start(sl, P(s)->printq, &job, &err) == 0)
		lb_info("print queue: job %lld: slicing %s for %s (%s)", id,
			json_string_value(json_object_get(sj, "label")), job.printer->name,
			job.preset->name);
	else
		fail_job(s, id, err.message);
	json_decref(sj);
}

void print_models_open(lb_server *s)
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
	lb_printq_set_limits(P(s)->printq, &lim);
	/* jobs a stop left slicing: nothing physical happened, they are sliced again */
	list = lb_printq_list(P(s)->printq, false);
	json_array_foreach(list, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "state")), "slicing") == 0)
			print_models_slice(s, json_integer_value(json_object_get(v, "id")));
	}
	json_decref(list);
}

int print_models_cancel(lb_server *s, long long id, int64_t now_mono)
{
	return lb_slicing_cancel(P(s)->slicing, id, now_mono) == 0;
}

int print_models_fd(lb_server *s)
{
	return lb_slicing_fd(P(s)->slicing);
}

/* Job id's slicing ended with G-code: into the queue (lb_printq_sliced) or failed. */
static void sliced(lb_server *s, lb_slicing_event *ev)
{
	gcode_policy policy;
	lb_error err = {0};

	if (print_policy(s, &policy, &err) < 0 ||
	    lb_printq_sliced(P(s)->printq, ev->id, ev->gcode, &policy, ev->extra, NULL,
			     lb_now_read().real, &err) < 0) {
		char why[sizeof err.message + 40];
		snprintf(why, sizeof why, "the sliced G-code was refused: %s", err.message);
		fail_job(s, ev->id, why);
		return;
	}
	lb_info("print queue: job %lld sliced", ev->id);
	queue_changed(s, "sliced", ev->id);
	print_dispatch(s);
}

void print_models_wake(lb_server *s)
{
	lb_slicing_event ev;

	while (lb_slicing_next(P(s)->slicing, lb_now_read().mono, &ev) == 1) {
		if (ev.what == LB_SLICING_PROGRESS)
			queue_changed(s, "slicing", ev.id);
		else if (ev.what == LB_SLICING_DONE)
			sliced(s, &ev);
		else
			fail_job(s, ev.id, ev.error.message);
		json_decref(ev.extra);
		if (ev.what != LB_SLICING_PROGRESS && lb_rmtree(ev.work) < 0)
			lb_warn("print queue: job %lld: cannot remove %s: %s", ev.id, ev.work,
				strerror(errno));
	}
}

/* A preset as print.presets shows it. */
static json_t *preset_json(const lb_preset *p)
{
	static const char *const supports[] = {"none", "auto", "everywhere"};

	return json_pack("{s:s,s:f,s:i,s:i,s:s,s:f}", "name", p->name, "layer_mm", p->layer_mm,
			 "infill", p->infill_pct, "perimeters", p->perimeters, "supports",
			 supports[p->supports], "brim_mm", p->brim_mm);
}

int m_print_presets(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	bool teacher = lb_call_client(c)->role >= LB_ROLE_TEACHER;
	json_t *a, *profiles;
	const lb_preset *p;
	const lb_printer_profile *pr;
	lb_device *d;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		return LB_EFAIL;
	a = json_array();
	for (int i = 0; (p = lb_preset_at(i)) != NULL; i++)
		if (teacher || in_words(offered(s), p->name))
			json_array_append_new(a, preset_json(p));
	profiles = json_object();
	pr = job_profile(s, NULL, err);
	json_object_set_new(profiles, "*", pr ? json_string(pr->name) : json_null());
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++)
		if (strcmp(d->spec.kind, "printer") == 0 && (pr = job_profile(s, d->spec.id, err)))
			json_object_set_new(profiles, d->spec.id, json_string(pr->name));
	*result = json_pack("{s:o,s:s,s:o}", "presets", a, "default",
			    lb_config_str(srv_config(s), "print", "default_preset", "normal"),
			    "profiles", profiles);
	return 0;
}
