/* methods_sensing.c - sensor service requests: calibration, synchronised start, recordings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/device.h"
#include "../../core/service.h"
#include "../../util/log.h"
#include "recorder.h"
#include "store.h"

#define FETCH_MAX (1024 * 1024)

/* What the sensing service keeps in the server (lb_service_state). */
typedef struct sensing_state {
	lb_store *store; /* calibrations and recordings: opened on first use */
	int store_failed;
	lb_recorder *recorder; /* the CSV recorder thread, started on first use */
} sensing_state;

static const lb_service sensing_service;

/* The service's state in s (made by sensing_init, so never NULL while the server runs). */
static sensing_state *S(lb_server *s)
{
	return *lb_service_state(s, &sensing_service);
}

/*
 * The store, opened on first use (create: make the database if there is none); NULL when the
 * data directory is unusable (logged once) or, without create, when there is no database yet.
 * A bridge that never calibrates nor records keeps it closed.
 */
static lb_store *sensing_store(lb_server *s, int create)
{
	sensing_state *st = S(s);
	char path[600];
	lb_error err;

	if (st->store || st->store_failed)
		return st->store;
	snprintf(path, sizeof path, "%s/labbridge.db", srv_data_dir(s));
	if (!create && access(path, F_OK) != 0)
		return NULL;
	st->store = lb_store_new(srv_data_dir(s), &err);
	if (!st->store) {
		lb_warn("%s: calibrations and recordings are off", err.message);
		st->store_failed = 1;
	}
	return st->store;
}

/* The store, or NULL with an error saying why persistence is off. */
static lb_store *need_store(lb_server *s, lb_error *err)
{
	if (!sensing_store(s, 1))
		lb_error_set(
		    err, LB_ERR_INTERNAL,
		    "persistence is off: the data directory %s is not usable (see the log)",
		    srv_data_dir(s));
	return S(s)->store;
}

/* The CSV recorder, started on first use (a bridge that never records has no recorder
 * thread); NULL with err set if it cannot start. */
static lb_recorder *need_recorder(lb_server *s, lb_error *err)
{
	sensing_state *st = S(s);

	if (!st->recorder)
		st->recorder = lb_recorder_new(srv_zmq_context(s), srv_streams_endpoint(s),
					       srv_streams_token(s), LB_STREAMS_TOKEN, err);
	return st->recorder;
}

/* The stream of a device named by params.stream (a numeric stream), or -1 with err set. */
static int param_stream(lb_device *d, lb_call *c, lb_error *err)
{
	const char *name = NULL;

	if (lb_param_string(lb_call_params(c), "stream", true, &name, err) < 0)
		return -1;
	for (int k = 0; k < d->nstreams; k++)
		if (strcmp(d->streams[k].name, name) == 0)
			return k;
	lb_error_set(err, LB_ERR_INVALID_PARAMS, "device '%s' has no stream '%s'", d->spec.id,
		     name);
	return -1;
}

/* The device and stream a calib.* request names, checking its parameters and the lease. */
static int calib_target(lb_server *s, lb_call *c, const char *const *allowed, lb_device **d, int *k,
			lb_error *err)
{
	/* the dispatcher checked the device's lease (LB_METHOD_LEASE) */
	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(*d = srv_param_device(s, c, err)) || (*k = param_stream(*d, c, err)) < 0)
		return LB_EFAIL;
	return 0;
}

/* The calibration in effect for a stream, from the device's description. */
static void current_calib(lb_device *d, int k, double *gain, double *offset)
{
	json_t *desc = srv_device_desc(d);
	json_t *st = json_array_get(json_object_get(desc, "streams"), (size_t)k);
	json_t *cal = json_object_get(st, "calib");

	*gain = cal ? json_number_value(json_object_get(cal, "gain")) : 1.0;
	*offset = cal ? json_number_value(json_object_get(cal, "offset")) : 0.0;
	json_decref(desc);
}

/* The range a stream declares, from the device's description (min = max = 0: none). */
static void stream_range(lb_device *d, int k, double *min, double *max)
{
	json_t *desc = srv_device_desc(d);
	json_t *st = json_array_get(json_object_get(desc, "streams"), (size_t)k);

	*min = json_number_value(json_object_get(st, "min"));
	*max = json_number_value(json_object_get(st, "max"));
	json_decref(desc);
}

/* Store a calibration and send it to the device thread (the reply comes from there). */
static int apply_calib(lb_server *s, lb_call *c, lb_device *d, int k, double gain, double offset,
		       lb_error *err)
{
	json_t *p;
	int rc;

	double min, max;

	stream_range(d, k, &min, &max);
	if (lb_calib_check(gain, offset, min, max, err) < 0)
		return LB_EFAIL;
	if (!need_store(s, err) || lb_store_calib_set(S(s)->store, d->spec.id, d->streams[k].name,
						      gain, offset, lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	p = json_pack("{s:s,s:f,s:f}", "stream", d->streams[k].name, "gain", gain, "offset",
		      offset);
	rc = srv_forward(s, c, d, "calib", p, err);
	json_decref(p);
	return rc;
}

/*
 * calib.set {device, stream, gain?, offset?, points?}: points [[shown, true], [shown, true]] is a
 * two-point calibration against the values shown now; gain/offset set the mapping of the raw
 * values directly. Stored by device id (the serial number), applied in the bridge.
 */
static int m_calib_set(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "stream", "gain", "offset", "points", NULL};
	json_t *pts = json_object_get(lb_call_params(c), "points");
	json_t *g = json_object_get(lb_call_params(c), "gain"),
	       *o = json_object_get(lb_call_params(c), "offset");
	double gain, offset;
	lb_device *d;
	int k;

	(void)result;
	if (calib_target(s, c, allowed, &d, &k, err) < 0)
		return LB_EFAIL;
	if (pts) {
		double x1, y1, x2, y2, a, b;
		double g0, o0;
		if (!json_is_array(pts) || json_array_size(pts) != 2 ||
		    json_array_size(json_array_get(pts, 0)) != 2 ||
		    json_array_size(json_array_get(pts, 1)) != 2 ||
		    !json_is_number(json_array_get(json_array_get(pts, 0), 0)) ||
		    !json_is_number(json_array_get(json_array_get(pts, 0), 1)) ||
		    !json_is_number(json_array_get(json_array_get(pts, 1), 0)) ||
		    !json_is_number(json_array_get(json_array_get(pts, 1), 1)))
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "points must be [[shown, true], [shown, true]] (numbers)");
		x1 = json_number_value(json_array_get(json_array_get(pts, 0), 0));
		y1 = json_number_value(json_array_get(json_array_get(pts, 0), 1));
		x2 = json_number_value(json_array_get(json_array_get(pts, 1), 0));
		y2 = json_number_value(json_array_get(json_array_get(pts, 1), 1));
		if (x1 == x2)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "the two points must have different shown values");
		a = (y2 - y1) / (x2 - x1);
		b = y1 - a * x1;
		/* the points are in shown (already calibrated) values: compose */
		current_calib(d, k, &g0, &o0);
		gain = a * g0;
		offset = a * o0 + b;
	} else {
		if ((g && !json_is_number(g)) || (o && !json_is_number(o)) || (!g && !o))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "give points, or gain and/or offset (numbers)");
		current_calib(d, k, &gain, &offset);
		if (g)
			gain = json_number_value(g);
		if (o)
			offset = json_number_value(o);
	}
	return apply_calib(s, c, d, k, gain, offset, err);
}

/* calib.tare {device, stream}: shift the calibration so that the value shown now reads 0. */
static int m_calib_tare(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "stream", NULL};
	double gain, offset;
	lb_device *d;
	int k;

	(void)result;
	if (calib_target(s, c, allowed, &d, &k, err) < 0)
		return LB_EFAIL;
	if (k >= d->ncache || !d->cache[k].seq)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "stream '%s' has sent no value yet: start it before taring",
				    d->streams[k].name);
	current_calib(d, k, &gain, &offset);
	return apply_calib(s, c, d, k, gain, offset - d->cache[k].last, err);
}

/* calib.clear {device, stream}: back to the raw values. */
static int m_calib_clear(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "stream", NULL};
	lb_device *d;
	int k;
	json_t *p;
	int rc;

	(void)result;
	if (calib_target(s, c, allowed, &d, &k, err) < 0 || !need_store(s, err) ||
	    lb_store_calib_clear(S(s)->store, d->spec.id, d->streams[k].name, err) < 0)
		return LB_EFAIL;
	p = json_pack("{s:s,s:f,s:f}", "stream", d->streams[k].name, "gain", 1.0, "offset", 0.0);
	rc = srv_forward(s, c, d, "calib", p, err);
	json_decref(p);
	return rc;
}

/* A file name made of [A-Za-z0-9._-] from any text (recording names), not starting with '.'. */
static void safe_name(char *out, size_t cap, const char *in)
{
	size_t n = 0;

	for (; *in && n + 1 < cap; in++) {
		int ok = (*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
			 (*in >= '0' && *in <= '9') || *in == '-' || *in == '_' ||
			 (*in == '.' && n);
		out[n] = ok ? *in : '_';
		n++;
	}
	out[n] = '\0';
}

/* recording.start {streams: [prefix...], name?, sep?, decimal_comma?} */
static int m_rec_start(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"streams",       "name",	"sep",
					      "decimal_comma", "at_ns", NULL};
	json_t *streams = json_object_get(lb_call_params(c), "streams"), *p, *rec;
	const char *name = "recording", *sep = ",";
	bool dc = false;
	long long at = 0;
	char dir[512], sname[64];
	lb_csv_opts o;
	long long id;
	size_t i;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "name", false, &name, err) < 0 ||
	    lb_param_string(lb_call_params(c), "sep", false, &sep, err) < 0 ||
	    lb_param_bool(lb_call_params(c), "decimal_comma", &dc, err) < 0 ||
	    lb_param_int(lb_call_params(c), "at_ns", false, 0, INT64_MAX, &at, err) < 0 ||
	    !need_store(s, err))
		return LB_EFAIL;
	if (!json_is_array(streams) || json_array_size(streams) == 0 ||
	    json_array_size(streams) > 32)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "streams must be an array of 1 to 32 topic prefixes");
	json_array_foreach(
	    streams, i,
	    p) if (!json_is_string(p) || json_string_length(p) == 0 ||
		   strncmp(json_string_value(p), "bridge/", 7) ==
		       0) return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					      "streams[%zu] must be a topic prefix such as "
					      "\"sensor/sim-temp-1/\"",
					      i);
	if (strcmp(sep, ",") && strcmp(sep, ";") && strcmp(sep, "\t"))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "sep must be \",\", \";\" or a tab");
	if (dc && sep[0] == ',')
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "decimal_comma needs sep \";\" or a tab (French spreadsheets use "
		    "\";\")");
	safe_name(sname, sizeof sname, name);
	rec = json_pack("{s:s,s:s,s:I,s:s,s:O,s:s,s:b}", "name", name, "owner",
			lb_call_client(c)->user, "started", (json_int_t)lb_call_now(c)->real, "dir",
			"", "streams", streams, "sep", sep, "decimal_comma", dc);
	id = lb_store_recording_add(S(s)->store, rec, err);
	json_decref(rec);
	if (id < 0)
		return LB_EFAIL;
	snprintf(dir, sizeof dir, "%s/recordings", srv_data_dir(s));
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/recordings/%lld-%s", srv_data_dir(s), id, sname);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		lb_store_recording_state(S(s)->store, id, "failed", lb_call_now(c)->real, NULL);
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot create %s: %s", dir,
				    strerror(errno));
	}
	o.sep = sep[0];
	o.decimal_comma = dc;
	/* from at_ns (a synchronised start), or from now */
	if (!need_recorder(s, err)) {
		lb_store_recording_state(S(s)->store, id, "failed", lb_call_now(c)->real, NULL);
		return LB_EFAIL;
	}
	if (lb_recorder_start(S(s)->recorder, id, dir, streams, &o,
			      at > lb_call_now(c)->real ? at : lb_call_now(c)->real) < 0) {
		lb_store_recording_state(S(s)->store, id, "failed", lb_call_now(c)->real, NULL);
		return lb_error_set(err, LB_ERR_INTERNAL,
				    "the recorder did not accept recording %lld", id);
	}
	if (lb_store_recording_dir(S(s)->store, id, dir, err) < 0)
		return LB_EFAIL;
	*result = json_pack("{s:I,s:s,s:s,s:O}", "id", (json_int_t)id, "name", name, "dir", dir,
			    "streams", streams);
	return 0;
}

/* The recording named by params.id (a new reference), or NULL with err set. */
static json_t *param_recording(lb_server *s, lb_call *c, lb_error *err)
{
	long long id = 0;
	json_t *r;

	if (lb_param_int(lb_call_params(c), "id", true, 1, 1LL << 53, &id, err) < 0 ||
	    !need_store(s, err))
		return NULL;
	r = lb_store_recordings(S(s)->store, id);
	if (!r)
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "no recording %lld (see recording.list)",
			     id);
	return r;
}

/* The CSV files of a recording, [{name, size}], as a new array. */
static json_t *recording_files(const char *dir)
{
	json_t *a = json_array();
	DIR *dd = opendir(dir);
	struct dirent *e;

	while (dd && (e = readdir(dd)) != NULL) {
		char path[800];
		struct stat st;
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".csv") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0)
			json_array_append_new(a, json_pack("{s:s,s:I}", "name", e->d_name, "size",
							   (json_int_t)st.st_size));
	}
	if (dd)
		closedir(dd);
	return a;
}

/* recording.stop {id}: its owner or a teacher. */
static int m_rec_stop(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", NULL};
	json_t *r;
	long long id;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 || !(r = param_recording(s, c, err)))
		return LB_EFAIL;
	id = json_integer_value(json_object_get(r, "id"));
	if (strcmp(json_string_value(json_object_get(r, "state")), "recording") != 0) {
		json_decref(r);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "recording %lld is not running",
				    id);
	}
	if (lb_call_client(c)->role < LB_ROLE_TEACHER &&
	    strcmp(json_string_value(json_object_get(r, "owner")), lb_call_client(c)->user) != 0) {
		json_decref(r);
		return lb_error_set(
		    err, LB_ERR_FORBIDDEN,
		    "recording %lld belongs to another user: only a teacher may stop it", id);
	}
	json_decref(r);
	if (S(s)->recorder)
		lb_recorder_stop(S(s)->recorder, id);
	if (lb_store_recording_state(S(s)->store, id, "stopped", lb_call_now(c)->real, err) < 0)
		return LB_EFAIL;
	*result = lb_store_recordings(S(s)->store, id);
	json_object_set_new(*result, "files",
			    recording_files(json_string_value(json_object_get(*result, "dir"))));
	return 0;
}

/* recording.list: every recording with its files. */
static int m_rec_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	size_t i;
	json_t *r;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 || !need_store(s, err))
		return LB_EFAIL;
	*result = lb_store_recordings(S(s)->store, 0);
	json_array_foreach(*result, i, r) json_object_set_new(
	    r, "files", recording_files(json_string_value(json_object_get(r, "dir"))));
	return 0;
}

/* recording.fetch {id, file, offset?, max?} (its owner or a teacher): a chunk of a CSV file, in
 * a binary frame; forbidden for anyone else. */
static int m_rec_fetch(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"id", "file", "offset", "max", NULL};
	const char *file = NULL;
	long long offset = 0, max = FETCH_MAX;
	char path[800];
	json_t *r;
	struct stat st;
	ssize_t n;
	void *data;
	int fd;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "file", true, &file, err) < 0 ||
	    lb_param_int(lb_call_params(c), "offset", false, 0, 1LL << 53, &offset, err) < 0 ||
	    lb_param_int(lb_call_params(c), "max", false, 1, FETCH_MAX, &max, err) < 0 ||
	    !(r = param_recording(s, c, err)))
		return LB_EFAIL;
	/* a group's data is its own (topics.h: downloads follow the subscriptions' rules) */
	if (lb_call_client(c)->role < LB_ROLE_TEACHER &&
	    strcmp(json_string_value(json_object_get(r, "owner")), lb_call_client(c)->user) != 0) {
		long long id = json_integer_value(json_object_get(r, "id"));
		json_decref(r);
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "recording %lld belongs to another user: only its owner or a "
				    "teacher may fetch it",
				    id);
	}
	if (strchr(file, '/') || file[0] == '.' || strlen(file) < 5 ||
	    strcmp(file + strlen(file) - 4, ".csv") != 0) {
		json_decref(r);
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "file must be one of the recording's .csv files (recording.list)");
	}
	snprintf(path, sizeof path, "%s/%s", json_string_value(json_object_get(r, "dir")), file);
	json_decref(r);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no file %s in that recording",
				    file);
	}
	data = malloc((size_t)max);
	n = data ? pread(fd, data, (size_t)max, (off_t)offset) : -1;
	close(fd);
	if (n < 0) {
		free(data);
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", file,
				    strerror(errno));
	}
	lb_call_set_output(c, data, (size_t)n);
	*result = json_pack("{s:s,s:I,s:I,s:I,s:b}", "file", file, "offset", (json_int_t)offset,
			    "size", (json_int_t)n, "total", (json_int_t)st.st_size, "eof",
			    offset + n >= st.st_size);
	return 0;
}

/* A device about to start gets its stored calibrations (when a store exists already). */
static void sensing_device_spawn(lb_server *s, lb_device *d)
{
	lb_store *store = sensing_store(s, 0);

	d->calib = store ? lb_store_calib_get(store, d->spec.id) : NULL;
}

/* Make the service's state; 0 or LB_ENOMEM. */
static int sensing_init(lb_server *s)
{
	sensing_state *st = calloc(1, sizeof *st);

	if (!st)
		return LB_ENOMEM;
	*lb_service_state(s, &sensing_service) = st;
	return 0;
}

/* Stop the recorder, close the store, free the state. */
static void sensing_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &sensing_service);
	sensing_state *st = *slot;

	if (!st)
		return;
	lb_recorder_destroy(&st->recorder);
	lb_store_destroy(&st->store);
	free(st);
	*slot = NULL;
}

static const lb_method sensing_methods[] = {
    {"calib.set", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_calib_set},
    {"calib.tare", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_calib_tare},
    {"calib.clear", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_calib_clear},
    {"recording.start", LB_ROLE_STUDENT, 0, m_rec_start},
    {"recording.stop", LB_ROLE_STUDENT, 0, m_rec_stop},
    {"recording.list", LB_ROLE_OBSERVER, 0, m_rec_list},
    {"recording.fetch", LB_ROLE_STUDENT, 0, m_rec_fetch},
    {NULL, 0, 0, NULL},
};

/* Calibrations (stored, applied by the device threads) and CSV recordings of streams. */
static const lb_service sensing_service = {
    .name = "sensing",
    .methods = sensing_methods,
    .init = sensing_init,
    .device_spawn = sensing_device_spawn,
    .destroy = sensing_destroy,
};
LB_REGISTER_SERVICE(sensing_service);
