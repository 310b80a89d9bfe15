/* scan_submit.c - scan.submit: a scan job checked and stored, for the dispatcher to start. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../../util/log.h"
#include "../jobs/jobs_service.h"
#include "scan_submit.h"

#define LABEL_MAX 100
#define REQUEST_ID_MAX 128
#define UNFINISHED_MAX 20 /* scans a student may have waiting or running at once */

bool scan_is_scanner(const lb_device *d)
{
	return strcmp(d->spec.kind, "scanner") == 0 || strcmp(d->spec.kind, "scanner3d") == 0;
}

int scan_check_format(const char *kind, const char *name, const char **out, lb_error *err)
{
	static const char *const doc[] = {"pdf", "png", "jpeg", "tiff", "pnm", NULL};
	static const char *const d3[] = {"ply", NULL};
	const char *const *v = strcmp(kind, "scanner3d") == 0 ? d3 : doc;

	if (!name) {
		*out = v[0];
		return 0;
	}
	for (size_t i = 0; v[i]; i++)
		if (strcmp(v[i], name) == 0) {
			*out = v[i];
			return 0;
		}
	return lb_error_set(err, LB_ERR_INVALID_PARAMS, "a %s writes %s, not '%.64s'", kind,
			    v == d3 ? "ply" : "pdf, png, jpeg, tiff or pnm", name);
}

/* Whether v is a finite JSON number. */
static bool finite_number(const json_t *v)
{
	return json_is_number(v) && isfinite(json_number_value(v));
}

int scan_check_settings(const json_t *settings, lb_error *err)
{
	const char *key;
	json_t *v;

	if (!settings || json_is_null(settings))
		return 0;
	if (!json_is_object(settings))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "settings: an object of the scanner's options");
	if (json_object_size(settings) > SCAN_SETTINGS_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "settings: at most %d keys",
				    SCAN_SETTINGS_MAX);
	json_object_foreach((json_t *)settings, key, v)
	{
		size_t klen = strlen(key);
		bool ok =
		    json_is_boolean(v) || finite_number(v) ||
		    (json_is_string(v) && json_string_length(v) <= SCAN_STRING_MAX &&
		     strlen(json_string_value(v)) == json_string_length(v)) ||
		    (json_is_array(v) && json_array_size(v) == 2 &&
		     finite_number(json_array_get(v, 0)) && finite_number(json_array_get(v, 1)));
		if (klen < 1 || klen > SCAN_STRING_MAX)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "settings: a key of 1 to %d characters",
					    SCAN_STRING_MAX);
		if (!ok)
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "settings.%s: a finite number, a boolean, a string of at most %d "
			    "characters or [width, height]",
			    key, SCAN_STRING_MAX);
	}
	return 0;
}

/* How many unfinished scan jobs user has (waiting or running). */
static size_t unfinished_of(lb_jobs *j, const char *user)
{
	json_t *list = lb_jobs_list(j, "scan", false), *job;
	size_t i, n = 0;

	json_array_foreach(list, i, job)
	{
		const char *owner = json_string_value(json_object_get(job, "owner"));
		n += owner && strcmp(owner, user) == 0;
	}
	json_decref(list);
	return n;
}

/* scan_submit: as scan_submit.h promises. */
int scan_submit(lb_server *s, lb_call *c, json_t **result, long long *id_out, bool *created,
		lb_error *err)
{
	static const char *const allowed[] = {"device", "format",     "settings",
					      "label",	"request_id", NULL};
	json_t *p = lb_call_params(c), *settings = json_object_get(p, "settings"), *params;
	const char *id = NULL, *fmt = NULL, *label = NULL, *rid = NULL, *format;
	lb_job_spec spec = {0};
	bool dup = false;
	lb_device *d;
	lb_jobs *j;
	char *text;
	long long job;

	if (lb_param_only(p, allowed, err) < 0 ||
	    lb_param_string(p, "device", true, &id, err) < 0 ||
	    lb_param_string(p, "format", false, &fmt, err) < 0 ||
	    lb_param_string(p, "label", false, &label, err) < 0 ||
	    lb_param_string(p, "request_id", false, &rid, err) < 0)
		return LB_EFAIL;
	if (label && (strlen(label) > LABEL_MAX || !*label))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "label: 1 to %d characters",
				    LABEL_MAX);
	if (rid && (strlen(rid) > REQUEST_ID_MAX || !*rid))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "request_id: 1 to %d characters",
				    REQUEST_ID_MAX);
	d = srv_find_device(s, id);
	if (!d || !srv_device_live(d))
		return lb_error_set(err, LB_ERR_UNKNOWN_DEVICE, "no scanner '%.64s'", id);
	if (!scan_is_scanner(d))
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "%s is a %s, not a scanner",
				    d->spec.id, d->spec.kind);
	if (scan_check_format(d->spec.kind, fmt, &format, err) < 0 ||
	    scan_check_settings(settings, err) < 0 || !(j = lb_jobs_shared(s, err)))
		return LB_EFAIL;
	/* a pupil cannot fill the queue: a teacher's scans are not counted */
	if (lb_call_client(c)->role < LB_ROLE_TEACHER &&
	    unfinished_of(j, lb_call_client(c)->user) >= UNFINISHED_MAX &&
	    !(rid && lb_jobs_find_request(j, "scan", lb_call_client(c)->user, rid, NULL) > 0))
		return lb_error_set(err, LB_ERR_TOO_LARGE,
				    "you have %d scans waiting or running already: wait for one to "
				    "end, or cancel one (jobs.cancel)",
				    UNFINISHED_MAX);
	params =
	    json_pack("{s:s,s:o}", "format", format, "settings",
		      settings && !json_is_null(settings) ? json_incref(settings) : json_object());
	text = params ? json_dumps(params, JSON_COMPACT) : NULL;
	json_decref(params);
	if (!text)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	spec.kind = "scan";
	spec.owner = lb_call_client(c)->user; /* the kernel-given identity, never a claimed name */
	spec.label = label;
	spec.device = d->spec.id;
	spec.request_id = rid;
	spec.params = text;
	job = lb_jobs_submit(j, &spec, lb_call_now(c)->real, &dup, err);
	free(text);
	if (job <= 0)
		return LB_EFAIL;
	if (!dup)
		lb_info("scan: job %lld on %s submitted by %s", job, d->spec.id, spec.owner);
	*id_out = job;
	*created = !dup;
	*result = lb_jobs_get(j, job);
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "no job %lld", job);
}
