/* session.c - SANE handling for the scanner driver: discovery thread, option table, errors. */
#include "session.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- discovery */

/*
 * One discovery at a time, in a joinable worker thread; the main thread reads its result under
 * the mutex. SANE itself is initialised once by the worker (and again, after sane_exit, when the
 * simulated lab's private configuration replaces the system's while no device is open).
 */
static pthread_mutex_t disc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t disc_cv = PTHREAD_COND_INITIALIZER; /* disc_busy went false */
static pthread_t disc_thread;
static bool disc_started;     /* disc_thread exists (joinable) */
static atomic_bool disc_busy; /* the worker is running */
static bool sane_up;	      /* sane_init done (worker or shutdown only) */
static char disc_cfg[512];    /* the cfgdir of the list below ("" for the system's) */
static char want_cfg[512];    /* the cfgdir the running worker uses */
static json_t *disc_list;     /* guarded by disc_mu */
static atomic_int nopen;
static char priv_dir[256]; /* sn_config_dir's, "" until made */
static bool env_set;	   /* SANE_CONFIG_DIR set for the process (before the first sane_init) */

/* sn_config_dir: as session.h promises. */
const char *sn_config_dir(void)
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if (*priv_dir)
		return priv_dir;
	snprintf(priv_dir, sizeof priv_dir, "%s/labbridge-sane-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(priv_dir)) {
		priv_dir[0] = '\0';
		return NULL;
	}
	return priv_dir;
}

/* Remove the private directory and what the simulated lab wrote in it. */
static void config_dir_remove(void)
{
	static const char *const names[] = {"dll.conf", "test.conf", NULL};
	char path[320];

	if (!*priv_dir)
		return;
	for (size_t i = 0; names[i]; i++) {
		snprintf(path, sizeof path, "%s/%s", priv_dir, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/dll.d", priv_dir);
	rmdir(path);
	rmdir(priv_dir);
	priv_dir[0] = '\0';
}

/* sn_opened: as session.h promises. */
void sn_opened(int delta)
{
	atomic_fetch_add(&nopen, delta);
}

/* The worker: (re)initialise SANE for want_cfg, list the devices, publish the list. */
static void *disc_main(void *arg)
{
	const SANE_Device **devs = NULL;
	json_t *list = json_array();
	SANE_Int version;
	SANE_Status st;

	(void)arg;
	if (sane_up && strcmp(want_cfg, disc_cfg) != 0) {
		sane_exit();
		sane_up = false;
	}
	if (!sane_up) /* dll.conf and dll.d are read again by each sane_init */
		sane_up = sane_init(&version, NULL) == SANE_STATUS_GOOD;
	st = sane_up ? sane_get_devices(&devs, SANE_FALSE) : SANE_STATUS_INVAL;
	for (int i = 0; list && st == SANE_STATUS_GOOD && devs && devs[i]; i++)
		json_array_append_new(list,
				      json_pack("{s:s,s:s,s:s,s:s}", "name", devs[i]->name,
						"vendor", devs[i]->vendor ? devs[i]->vendor : "",
						"model", devs[i]->model ? devs[i]->model : "",
						"type", devs[i]->type ? devs[i]->type : ""));
	pthread_mutex_lock(&disc_mu);
	if (list) {
		json_decref(disc_list);
		disc_list = list;
		snprintf(disc_cfg, sizeof disc_cfg, "%s", want_cfg);
	}
	atomic_store(&disc_busy, false);
	pthread_cond_broadcast(&disc_cv);
	pthread_mutex_unlock(&disc_mu);
	return NULL;
}

/* sn_discover: as session.h promises. */
int sn_discover(const char *cfgdir)
{
	const char *c = cfgdir ? cfgdir : "";
	int same;

	if (atomic_load(&disc_busy))
		return 0;
	pthread_mutex_lock(&disc_mu);
	same = disc_list && strcmp(disc_cfg, c) == 0;
	pthread_mutex_unlock(&disc_mu);
	if (same)
		return 0; /* TODO (next session): rediscover now and then (hot-plugged scanners) */
	if (disc_started) {
		pthread_join(disc_thread, NULL);
		disc_started = false;
	}
	if (sane_up && atomic_load(&nopen) > 0)
		return 0; /* another configuration while devices are open: keep the current one */
	if (!env_set) {
		/* once, before the first sane_init (see sn_config_dir) */
		const char *dir = sn_config_dir(), *was = getenv("SANE_CONFIG_DIR");
		char v[1024];
		/* the bridge's own directory first, then the caller's (if it ends with ':' or is
		 * unset, SANE appends its defaults) */
		if (dir && snprintf(v, sizeof v, "%s:%s", dir, was ? was : "") < (int)sizeof v)
			setenv("SANE_CONFIG_DIR", v, 1);
		env_set = true;
	}
	snprintf(want_cfg, sizeof want_cfg, "%s", c);
	atomic_store(&disc_busy, true);
	if (pthread_create(&disc_thread, NULL, disc_main, NULL) != 0) {
		atomic_store(&disc_busy, false);
		return LB_EFAIL;
	}
	disc_started = true;
	return 1;
}

/* sn_discover_wait: as session.h promises. */
bool sn_discover_wait(int timeout_ms)
{
	struct timespec dl;
	bool idle;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L)
		dl.tv_sec++, dl.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&disc_mu);
	while (atomic_load(&disc_busy))
		if (pthread_cond_clockwait(&disc_cv, &disc_mu, CLOCK_MONOTONIC, &dl) == ETIMEDOUT)
			break;
	idle = !atomic_load(&disc_busy);
	pthread_mutex_unlock(&disc_mu);
	return idle;
}

/* sn_devices: as session.h promises. */
json_t *sn_devices(const char *cfgdir)
{
	json_t *out;

	pthread_mutex_lock(&disc_mu);
	if (disc_list && strcmp(disc_cfg, cfgdir ? cfgdir : "") == 0)
		out = json_deep_copy(disc_list);
	else
		out = json_array();
	pthread_mutex_unlock(&disc_mu);
	return out;
}

/* sn_shutdown: as session.h promises. */
void sn_shutdown(void)
{
	if (disc_started) {
		pthread_join(disc_thread, NULL);
		disc_started = false;
	}
	if (sane_up) {
		sane_exit();
		sane_up = false;
	}
	json_decref(disc_list);
	disc_list = NULL;
	disc_cfg[0] = '\0';
	config_dir_remove();
}

/* ---------------------------------------------------------------- errors */

/* sn_status_error: as session.h promises. */
int sn_status_error(lb_error *err, const char *what, SANE_Status st)
{
	return lb_error_set(err, LB_ERR_DEVICE, "%s: %s", what, sane_strstatus(st));
}

/* ---------------------------------------------------------------- options */

static const struct {
	const char *name;
	double w, h;
} pages[] = {{"A4", 210, 297}, {"A3", 297, 420}, {"Letter", 215.9, 279.4}, {"A5", 148, 210}};

#define PAGE_TOL_MM 0.5 /* a backend's 296.9 mm is A4's 297 */

/* sn_page_size: as session.h promises. */
int sn_page_size(const char *name, double *w, double *h)
{
	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
		if (strcasecmp(name, pages[i].name) == 0) {
			*w = pages[i].w, *h = pages[i].h;
			return 0;
		}
	return -1;
}

/* sn_options_load: as session.h promises. */
int sn_options_load(sn_options *o, SANE_Handle h, lb_error *err)
{
	const SANE_Option_Descriptor *d0 = sane_get_option_descriptor(h, 0);
	SANE_Int n = 0;
	SANE_Status st;

	sn_options_free(o);
	o->h = h;
	if (!d0)
		return lb_error_set(err, LB_ERR_DEVICE, "the scanner describes no options");
	st = sane_control_option(h, 0, SANE_ACTION_GET_VALUE, &n, NULL);
	if (st != SANE_STATUS_GOOD)
		return sn_status_error(err, "option count", st);
	if (n < 1 || n > 4096)
		return lb_error_set(err, LB_ERR_DEVICE, "the scanner reports %d options", (int)n);
	o->d = calloc((size_t)n, sizeof *o->d);
	if (!o->d)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	o->n = n;
	for (int i = 0; i < n; i++)
		o->d[i] = sane_get_option_descriptor(h, i);
	return 0;
}

/* sn_options_free: as session.h promises. */
void sn_options_free(sn_options *o)
{
	free(o->d);
	o->d = NULL;
	o->n = 0;
}

/* Whether option i is one clients see: named, a scalar value, active, settable by software. */
static bool visible(const sn_options *o, int i)
{
	const SANE_Option_Descriptor *d = o->d[i];

	if (!d || !d->name || !*d->name || d->type == SANE_TYPE_BUTTON ||
	    d->type == SANE_TYPE_GROUP || !SANE_OPTION_IS_ACTIVE(d->cap) ||
	    !SANE_OPTION_IS_SETTABLE(d->cap))
		return false;
	return d->type == SANE_TYPE_STRING || d->size == (SANE_Int)sizeof(SANE_Word);
}

/* The index of the option named name, or -1. */
static int find(const sn_options *o, const char *name)
{
	for (int i = 1; i < o->n; i++)
		if (o->d[i] && o->d[i]->name && strcmp(o->d[i]->name, name) == 0)
			return i;
	return -1;
}

/* The value of visible option i as JSON (new), or NULL when it cannot be read. */
static json_t *value_json(const sn_options *o, int i)
{
	const SANE_Option_Descriptor *d = o->d[i];
	char buf[1024];
	void *v = buf;
	json_t *j = NULL;

	if ((size_t)d->size > sizeof buf - 1)
		return NULL;
	memset(buf, 0, sizeof buf);
	if (sane_control_option(o->h, i, SANE_ACTION_GET_VALUE, v, NULL) != SANE_STATUS_GOOD)
		return NULL;
	switch (d->type) {
	case SANE_TYPE_BOOL: j = json_boolean(*(SANE_Word *)v); break;
	case SANE_TYPE_INT: j = json_integer(*(SANE_Word *)v); break;
	case SANE_TYPE_FIXED: j = json_real(SANE_UNFIX(*(SANE_Word *)v)); break;
	case SANE_TYPE_STRING: j = json_string(buf); break;
	default: break;
	}
	return j;
}

/* The name of the page the area (mm) is, or "custom". */
static const char *page_of(const sn_options *o)
{
	int tx = find(o, SANE_NAME_SCAN_TL_X), ty = find(o, SANE_NAME_SCAN_TL_Y),
	    bx = find(o, SANE_NAME_SCAN_BR_X), by = find(o, SANE_NAME_SCAN_BR_Y);
	double v[4];
	int idx[4] = {tx, ty, bx, by};

	for (int k = 0; k < 4; k++) {
		json_t *j;
		if (idx[k] < 0 || !visible(o, idx[k]))
			return "custom";
		j = value_json(o, idx[k]);
		v[k] = json_number_value(j);
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
		if (fabs(v[2] - v[0] - pages[i].w) <= PAGE_TOL_MM &&
		    fabs(v[3] - v[1] - pages[i].h) <= PAGE_TOL_MM)
			return pages[i].name;
	return "custom";
}

/* sn_options_get: as session.h promises. */
json_t *sn_options_get(const sn_options *o)
{
	json_t *out = json_object();

	for (int i = 1; out && i < o->n; i++) {
		json_t *v;
		if (!visible(o, i) || !(v = value_json(o, i)))
			continue;
		json_object_set_new(out, o->d[i]->name, v);
	}
	if (out && find(o, SANE_NAME_SCAN_BR_X) >= 0)
		json_object_set_new(out, "page", json_string(page_of(o)));
	return out;
}

/* The unit of d as a short symbol ("" for none). */
static const char *unit_name(SANE_Unit u)
{
	switch (u) {
	case SANE_UNIT_PIXEL: return "px";
	case SANE_UNIT_BIT: return "bit";
	case SANE_UNIT_MM: return "mm";
	case SANE_UNIT_DPI: return "dpi";
	case SANE_UNIT_PERCENT: return "%";
	case SANE_UNIT_MICROSECOND: return "us";
	default: return "";
	}
}

/* A word of type t as a JSON number. */
static json_t *word_json(SANE_Value_Type t, SANE_Word w)
{
	return t == SANE_TYPE_FIXED ? json_real(SANE_UNFIX(w)) : json_integer(w);
}

/* sn_options_limits: as session.h promises. */
json_t *sn_options_limits(const sn_options *o)
{
	json_t *out = json_object(), *pv;

	for (int i = 1; out && i < o->n; i++) {
		const SANE_Option_Descriptor *d = o->d[i];
		json_t *l, *vals;
		if (!visible(o, i) || !(l = json_object()))
			continue;
		json_object_set_new(l, "unit", json_string(unit_name(d->unit)));
		if (d->title)
			json_object_set_new(l, "title", json_string(d->title));
		switch (d->constraint_type) {
		case SANE_CONSTRAINT_RANGE:
			json_object_set_new(l, "min", word_json(d->type, d->constraint.range->min));
			json_object_set_new(l, "max", word_json(d->type, d->constraint.range->max));
			json_object_set_new(l, "step",
					    word_json(d->type, d->constraint.range->quant));
			break;
		case SANE_CONSTRAINT_WORD_LIST:
			vals = json_array();
			for (int k = 1; vals && k <= d->constraint.word_list[0]; k++)
				json_array_append_new(
				    vals, word_json(d->type, d->constraint.word_list[k]));
			json_object_set_new(l, "values", vals);
			break;
		case SANE_CONSTRAINT_STRING_LIST:
			vals = json_array();
			for (int k = 0; vals && d->constraint.string_list[k]; k++)
				json_array_append_new(vals,
						      json_string(d->constraint.string_list[k]));
			json_object_set_new(l, "values", vals);
			break;
		default:
			if (d->type == SANE_TYPE_BOOL)
				json_object_set_new(l, "values", json_pack("[bb]", 0, 1));
			break;
		}
		json_object_set_new(out, d->name, l);
	}
	if (out && find(o, SANE_NAME_SCAN_BR_X) >= 0 && (pv = json_array())) {
		for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
			json_array_append_new(pv, json_string(pages[i].name));
		json_object_set_new(out, "page", json_pack("{s:o,s:s}", "values", pv, "unit", ""));
	}
	return out;
}

/* Write word w into option i (checked), re-reading the table when SANE asks. */
static int set_word(sn_options *o, int i, SANE_Word w, lb_error *err)
{
	SANE_Int info = 0;
	SANE_Status st = sane_control_option(o->h, i, SANE_ACTION_SET_VALUE, &w, &info);

	if (st != SANE_STATUS_GOOD)
		return lb_error_set(err,
				    st == SANE_STATUS_INVAL ? LB_ERR_INVALID_PARAMS : LB_ERR_DEVICE,
				    "%s: %s", o->d[i]->name, sane_strstatus(st));
	if (info & SANE_INFO_RELOAD_OPTIONS)
		return sn_options_load(o, o->h, err);
	return 0;
}

/* The word for a JSON number v for option d, checked against its constraint. */
static int check_number(const SANE_Option_Descriptor *d, const json_t *v, SANE_Word *w,
			lb_error *err)
{
	double x;

	if (d->type == SANE_TYPE_BOOL) {
		if (!json_is_boolean(v))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes true or false",
					    d->name);
		*w = json_is_true(v);
		return 0;
	}
	if (!json_is_number(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes a number", d->name);
	x = json_number_value(v);
	if (!isfinite(x) || fabs(x) > 32767.0 * (d->type == SANE_TYPE_INT ? 65536.0 : 1.0))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s: %g is out of range", d->name,
				    x);
	if (d->type == SANE_TYPE_INT && x != floor(x))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes a whole number", d->name);
	*w = d->type == SANE_TYPE_FIXED ? SANE_FIX(x) : (SANE_Word)x;
	if (d->constraint_type == SANE_CONSTRAINT_RANGE) {
		const SANE_Range *r = d->constraint.range;
		if (*w < r->min || *w > r->max) {
			double lo = d->type == SANE_TYPE_FIXED ? SANE_UNFIX(r->min) : r->min;
			double hi = d->type == SANE_TYPE_FIXED ? SANE_UNFIX(r->max) : r->max;
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s: %g is out of range %g..%g %s", d->name, x, lo, hi,
					    unit_name(d->unit));
		}
	} else if (d->constraint_type == SANE_CONSTRAINT_WORD_LIST) {
		int ok = 0;
		for (int k = 1; k <= d->constraint.word_list[0]; k++)
			ok |= d->constraint.word_list[k] == *w;
		if (!ok)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s: %g is not one of its values (see its limits)",
					    d->name, x);
	}
	return 0;
}

/* The area: page name or [w, h] mm from the top left corner, clamped to within tolerance. */
static int set_page(sn_options *o, const json_t *value, lb_error *err)
{
	const char *names[4] = {SANE_NAME_SCAN_TL_X, SANE_NAME_SCAN_TL_Y, SANE_NAME_SCAN_BR_X,
				SANE_NAME_SCAN_BR_Y};
	double want[4] = {0, 0, 0, 0};
	int r;

	if (json_is_string(value)) {
		if (sn_page_size(json_string_value(value), &want[2], &want[3]) < 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "page: '%s' is not A4, A3, A5, Letter or [w_mm, h_mm]",
					    json_string_value(value));
	} else if (json_is_array(value) && json_array_size(value) == 2 &&
		   json_is_number(json_array_get(value, 0)) &&
		   json_is_number(json_array_get(value, 1))) {
		want[2] = json_number_value(json_array_get(value, 0));
		want[3] = json_number_value(json_array_get(value, 1));
		if (!(want[2] > 0 && want[3] > 0 && want[2] < 10000 && want[3] < 10000))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "page: width and height are millimetres above 0");
	} else
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "page takes A4, A3, A5, Letter or [w_mm, h_mm]");
	for (int k = 0; k < 4; k++) {
		int i = find(o, names[k]);
		const SANE_Option_Descriptor *d;
		double x = want[k];
		if (i < 0 || !visible(o, i))
			return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "this scanner has no %s",
					    names[k]);
		d = o->d[i];
		if (d->constraint_type == SANE_CONSTRAINT_RANGE && d->type == SANE_TYPE_FIXED) {
			double hi = SANE_UNFIX(d->constraint.range->max);
			if (x > hi && x <= hi + PAGE_TOL_MM)
				x = hi; /* 296.9 mm of glass is an A4 glass */
		}
		json_t *jx = json_real(x);
		SANE_Word w;
		r = jx ? check_number(d, jx, &w, err) : LB_ENOMEM;
		json_decref(jx);
		if (r < 0 || (r = set_word(o, i, w, err)) < 0)
			return r;
	}
	return 0;
}

/* Whether hay holds needle, ignoring case. */
static bool has_word(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

/*
 * The value of a string list that s names: itself, the same ignoring case ("color" for "Color"),
 * or for the source "adf" (a feeder: "Automatic Document Feeder", "ADF Front") and "flatbed".
 * NULL when none.
 */
static const char *list_match(const SANE_String_Const *list, const char *key, const char *s)
{
	for (int k = 0; list[k]; k++)
		if (strcmp(list[k], s) == 0)
			return list[k];
	for (int k = 0; list[k]; k++)
		if (strcasecmp(list[k], s) == 0)
			return list[k];
	if (strcmp(key, SANE_NAME_SCAN_SOURCE) != 0)
		return NULL;
	for (int k = 0; list[k]; k++)
		if ((strcasecmp(s, "adf") == 0 &&
		     (has_word(list[k], "adf") || has_word(list[k], "feeder"))) ||
		    (strcasecmp(s, "flatbed") == 0 && has_word(list[k], "flatbed")))
			return list[k];
	return NULL;
}

/* sn_options_set: as session.h promises. */
int sn_options_set(sn_options *o, const char *key, const json_t *value, lb_error *err)
{
	const SANE_Option_Descriptor *d;
	SANE_Int info = 0;
	SANE_Status st;
	SANE_Word w;
	int i, r;

	if (strcmp(key, "page") == 0)
		return set_page(o, value, err);
	i = find(o, key);
	if (i < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no option '%s' on this scanner",
				    key);
	d = o->d[i];
	if (!visible(o, i))
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "option '%s' cannot be set now",
				    key);
	if (d->type == SANE_TYPE_STRING) {
		const char *s = json_string_value(value);
		char *buf;
		int ok = d->constraint_type != SANE_CONSTRAINT_STRING_LIST;
		if (!s)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes a string", key);
		if (!ok && (s = list_match(d->constraint.string_list, key, s)) != NULL)
			ok = 1;
		else if (!ok)
			s = json_string_value(value);
		if (!ok)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s: '%.64s' is not one of its values (see its limits)",
					    key, s);
		if (strlen(s) >= (size_t)d->size)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s takes a string of at most %d bytes", key,
					    (int)d->size - 1);
		buf = calloc(1, (size_t)d->size);
		if (!buf)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		memcpy(buf, s, strlen(s));
		st = sane_control_option(o->h, i, SANE_ACTION_SET_VALUE, buf, &info);
		free(buf);
		if (st != SANE_STATUS_GOOD)
			return lb_error_set(err, LB_ERR_DEVICE, "%s: %s", key, sane_strstatus(st));
		return (info & SANE_INFO_RELOAD_OPTIONS) ? sn_options_load(o, o->h, err) : 0;
	}
	r = check_number(d, value, &w, err);
	return r < 0 ? r : set_word(o, i, w, err);
}
