/* labctl_print.c - labctl's print-queue commands: print (upload, follow), queue, job, printer. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>
#include <zmq.h>

#include "labctl.h"

#define CHUNK_BYTES (256 * 1024) /* print: upload chunk size */
#define UPLOAD_RETRIES 3	 /* print: resend a chunk this many times when unanswered */
#define JOB_POLL_MS 2000	 /* print: ask for the job's state this often while following */
#define BAR_WIDTH 24		 /* progress bars, in characters */

/* ---------------------------------------------------------------- print queue */

/* The job states after which nothing more happens to a job. */
static bool final_state(const char *state)
{
	return state && (!strcmp(state, "done") || !strcmp(state, "failed") ||
			 !strcmp(state, "cancelled") || !strcmp(state, "interrupted"));
}

/* Write a number of bytes readably ("812 B", "12.3 KiB", "2.6 MiB") into buf. */
static void fmt_bytes(char *buf, size_t n, double bytes)
{
	if (bytes < 1024)
		snprintf(buf, n, "%.0f B", bytes);
	else if (bytes < 1024 * 1024)
		snprintf(buf, n, "%.1f KiB", bytes / 1024);
	else
		snprintf(buf, n, "%.1f MiB", bytes / (1024 * 1024));
}

/* Write a duration in seconds readably ("45 s", "12 min 03 s", "2 h 05 min") into buf. */
static void fmt_duration(char *buf, size_t n, double secs)
{
	long s = secs > 0 && secs < 1e9 ? (long)(secs + 0.5) : 0;

	if (s >= 3600)
		snprintf(buf, n, "%ld h %02ld min", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%ld min %02ld s", s / 60, s % 60);
	else
		snprintf(buf, n, "%ld s", s);
}

/* Write a progress bar of pct percent, BAR_WIDTH characters between brackets, into buf. */
static void fmt_bar(char *buf, size_t n, double pct)
{
	char bar[BAR_WIDTH + 1];
	int full = (int)(pct < 0 ? 0 : pct > 100 ? BAR_WIDTH : pct * BAR_WIDTH / 100);

	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < full ? '#' : '-';
	bar[BAR_WIDTH] = '\0';
	snprintf(buf, n, "[%s]", bar);
}

/* Parse a job id (a positive integer) for command cmd; 0, or -1 after saying what is wrong. */
static int parse_job_id(const char *s, const char *cmd, long *id)
{
	if (labctl_parse_long(s, 1, LONG_MAX, id) == 0)
		return 0;
	labctl_errmsg(
	    "labctl: %s wants a job id (a positive integer, see labctl queue), not '%s'\n", cmd, s);
	return -1;
}

/* A new request id for one submission, unique across machines and runs:
 * hostname-pid-time-random. NULL when out of memory. */
static char *new_request_id(void)
{
	char host[64] = "host", *id;
	uint32_t rnd = 0;
	FILE *f = fopen("/dev/urandom", "rb");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!f || fread(&rnd, sizeof rnd, 1, f) != 1)
		rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
	if (f)
		fclose(f);
	if (gethostname(host, sizeof host) < 0 || !*host)
		snprintf(host, sizeof host, "host");
	host[sizeof host - 1] = '\0';
	if (asprintf(&id, "%s-%ld-%lld-%08" PRIx32, host, (long)getpid(), (long long)ts.tv_sec,
		     rnd) < 0)
		return NULL;
	return id;
}

/* The upload's progress on stderr: a bar redrawn in place on a terminal, otherwise a line at
 * every 10 % (*step keeps the last one printed). */
static void upload_progress(bool tty, const char *name, long long sent, long long size, int *step)
{
	double pct = size > 0 ? 100.0 * (double)sent / (double)size : 100;
	char bar[BAR_WIDTH + 3], a[32], b[32];

	if (tty) {
		fmt_bar(bar, sizeof bar, pct);
		fmt_bytes(a, sizeof a, (double)sent);
		fmt_bytes(b, sizeof b, (double)size);
		labctl_bar_draw("uploading %s %s %3.0f%%  %s / %s", name, bar, pct, a, b);
	} else if ((int)(pct / 10) > *step) {
		*step = (int)(pct / 10);
		fprintf(stderr, "uploading %s: %.0f%%\n", name, pct);
	}
	fflush(stderr);
}

/* Send one chunk of an upload, resending the same bytes up to UPLOAD_RETRIES times when the
 * bridge does not answer in time (a chunk it already has is accepted again without effect).
 * 0 with *result set, or -1 after saying why on stderr. */
static int upload_chunk(void *ctx, const struct labctl_opts *o, json_t *params, const void *data,
			size_t len, long timeout_ms, json_t **result)
{
	long long offset = json_integer_value(json_object_get(params, "offset"));
	int rc = -1;

	for (int attempt = 0; attempt <= UPLOAD_RETRIES; attempt++) {
		rc = labctl_rpc_request(ctx, o, "print.upload", params, data, len, timeout_ms,
					result);
		if (rc != -3)
			break;
		if (attempt < UPLOAD_RETRIES)
			labctl_errmsg(
			    "labctl: no answer to the upload at offset %lld within %ld ms, "
			    "sending it again (%d/%d)\n",
			    offset, timeout_ms, attempt + 1, UPLOAD_RETRIES);
	}
	if (rc == -3)
		labctl_errmsg(
		    "labctl: no answer from the bridge at %s to the upload at offset %lld — is "
		    "labbridge running?\n",
		    o->rpc, offset);
	return rc < 0 ? -1 : 0;
}

/* Upload a G-code file in CHUNK_BYTES chunks (the last one with the crc32 of the whole file).
 * 0 with *job set to the new job (a new reference), or -1 after saying why on stderr. */
static int upload_file(void *ctx, const struct labctl_opts *o, const char *path, const char *name,
		       json_t **job)
{
	FILE *f = NULL;
	unsigned char *buf = NULL;
	char *request_id = NULL;
	json_t *params = NULL, *result = NULL;
	struct stat sb;
	long long offset = 0, size;
	uLong crc = crc32(0L, Z_NULL, 0);
	bool tty = isatty(STDERR_FILENO), final = false;
	int step = -1, rc = -1;

	*job = NULL;
	if (!(f = fopen(path, "rb")) || fstat(fileno(f), &sb) < 0) {
		labctl_errmsg("labctl: cannot read '%s': %s\n", path, strerror(errno));
		goto cleanup;
	}
	if (S_ISDIR(sb.st_mode)) {
		labctl_errmsg("labctl: '%s' is a directory, not a G-code file\n", path);
		goto cleanup;
	}
	size = S_ISREG(sb.st_mode) ? (long long)sb.st_size : 0;
	if (!(buf = malloc(CHUNK_BYTES)) || !(request_id = new_request_id())) {
		labctl_errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	while (!final) {
		size_t n = fread(buf, 1, CHUNK_BYTES, f);
		long timeout_ms = o->timeout_ms;
		int c;

		if (ferror(f)) {
			labctl_errmsg("labctl: reading '%s': %s\n", path, strerror(errno));
			goto cleanup;
		}
		/* the last chunk: nothing follows it */
		c = getc(f);
		final = c == EOF;
		if (!final)
			ungetc(c, f);
		crc = crc32(crc, buf, (uInt)n);
		json_decref(params);
		params = json_pack("{s:s,s:s,s:I,s:b}", "request_id", request_id, "name", name,
				   "offset", (json_int_t)offset, "final", final);
		if (params && final)
			json_object_set_new(params, "crc32", json_integer((json_int_t)crc));
		if (params && o->printer)
			json_object_set_new(params, "printer", json_string(o->printer));
		if (params && o->preset)
			json_object_set_new(params, "preset", json_string(o->preset));
		if (params && o->scale)
			json_object_set_new(params, "scale", json_real(atof(o->scale)));
		if (params && o->rotate)
			json_object_set_new(params, "rotate", json_real(atof(o->rotate)));
		if (!params) {
			labctl_errmsg("labctl: out of memory\n");
			goto cleanup;
		}
		/* the bridge reads the whole file on the last chunk: allow ~10 MB/s for that */
		if (final)
			timeout_ms += (long)((offset + (long long)n) / 10000);
		json_decref(result);
		result = NULL;
		if (upload_chunk(ctx, o, params, buf, n, timeout_ms, &result) < 0)
			goto cleanup;
		offset += (long long)n;
		if (size < offset)
			size = offset;
		upload_progress(tty, name, offset, final ? offset : size, &step);
	}
	labctl_bar_break();
	if (!json_is_object(result) || !json_is_integer(json_object_get(result, "id"))) {
		labctl_errmsg("labctl: the bridge's answer to the upload is not a job\n");
		goto cleanup;
	}
	*job = json_incref(result);
	rc = 0;
cleanup:
	json_decref(result);
	json_decref(params);
	free(request_id);
	free(buf);
	if (f)
		fclose(f);
	return rc;
}

/* A job being followed by labctl print. */
struct follow {
	long long id;
	char state[24];	   /* its last known state, "" at first */
	char printer[128]; /* the printer whose status we subscribed to, "" for none */
	bool tty;	   /* stderr is a terminal: the progress bar is redrawn in place */
	int step;	   /* no terminal: the last 10 % step printed */
	json_t *job;	   /* the last job object */
	json_t *status;	   /* the last printer status about this job, or NULL */
	int slice_pct;	   /* a model's last slicing percent shown, -1 at first */
};

/* Show a job's progress on stderr: from the last status message about it (with the job's line,
 * ETA and the temperatures), else from the job object's progress. */
static void follow_progress(struct follow *fw)
{
	const json_t *status = fw->status;
	const json_t *sj = json_object_get(status, "job");
	const json_t *prog = json_object_get(fw->job, "progress");
	const json_t *src = json_is_object(sj) ? sj : prog;
	double pct = json_number_value(json_object_get(src, "percent"));
	json_int_t line = json_integer_value(json_object_get(src, "line"));
	json_int_t lines = json_integer_value(json_object_get(src, "lines"));
	char bar[BAR_WIDTH + 3], text[256], eta[32];
	size_t len;

	fmt_bar(bar, sizeof bar, pct);
	len = (size_t)snprintf(text, sizeof text, "%s %5.1f%%  line %" JSON_INTEGER_FORMAT, bar,
			       pct, line);
	if (lines > 0 && len < sizeof text)
		len += (size_t)snprintf(text + len, sizeof text - len, "/%" JSON_INTEGER_FORMAT,
					lines);
	if (json_is_object(sj) && len < sizeof text) {
		double eta_s = json_number_value(json_object_get(sj, "eta_s"));
		const json_t *h = json_object_get(status, "hotend"),
			     *b = json_object_get(status, "bed");

		if (eta_s >= 0)
			fmt_duration(eta, sizeof eta, eta_s);
		len += (size_t)snprintf(text + len, sizeof text - len,
					"  ETA %s  hotend %.0f/%.0f °C  bed %.0f/%.0f °C",
					eta_s >= 0 ? eta : "?",
					json_number_value(json_object_get(h, "actual")),
					json_number_value(json_object_get(h, "target")),
					json_number_value(json_object_get(b, "actual")),
					json_number_value(json_object_get(b, "target")));
	}
	if (fw->tty) {
		labctl_bar_draw("%s", text);
	} else if ((int)(pct / 10) > fw->step) {
		fw->step = (int)(pct / 10);
		fprintf(stderr, "job %lld: %s\n", fw->id, text);
	}
	fflush(stderr);
}

/* Say what a job is doing now that its state changed (on stderr: it is progress). */
static void follow_announce(struct follow *fw)
{
	const char *state = fw->state, *printer = labctl_jstr(fw->job, "assigned", NULL);
	json_t *pos = json_object_get(fw->job, "position");

	labctl_bar_break();
	if (!strcmp(state, "submitted"))
		fprintf(stderr,
			"job %lld is waiting for a teacher's approval (labctl job approve %lld)\n",
			fw->id, fw->id);
	else if (!strcmp(state, "approved") && json_is_integer(pos))
		fprintf(stderr,
			"job %lld is waiting for a printer (position %" JSON_INTEGER_FORMAT
			" in the queue)\n",
			fw->id, json_integer_value(pos));
	else if (!strcmp(state, "approved"))
		fprintf(stderr, "job %lld is waiting for a printer\n", fw->id);
	else if (!strcmp(state, "queued"))
		fprintf(stderr, "job %lld is starting on %s\n", fw->id,
			printer ? printer : "a printer");
	else if (!strcmp(state, "printing"))
		fprintf(stderr, "job %lld is printing on %s\n", fw->id,
			printer ? printer : "a printer");
	else if (!strcmp(state, "slicing"))
		fprintf(stderr, "job %lld: the bridge is slicing the model (preset %s)\n", fw->id,
			labctl_jstr(fw->job, "preset", "?"));
	else if (!strcmp(state, "paused"))
		fprintf(stderr, "job %lld is paused (labctl job resume %lld)\n", fw->id, fw->id);
	else if (!final_state(state))
		fprintf(stderr, "job %lld: %s\n", fw->id, state);
	fflush(stderr);
}

/* A model job's slicing progress, each time it moves: "job 3: slicing 40% Generating
 * perimeters" on stderr. */
static void slicing_progress(struct follow *fw)
{
	json_t *sl = json_object_get(fw->job, "slicing");
	int pct = (int)json_integer_value(json_object_get(sl, "percent"));
	const char *stage = labctl_jstr(sl, "stage", "");

	if (!json_is_object(sl) || pct == fw->slice_pct)
		return;
	fw->slice_pct = pct;
	labctl_bar_break();
	fprintf(stderr, "job %lld: slicing %d%% %s\n", fw->id, pct, stage);
	fflush(stderr);
}

/* A model job left slicing: its estimates, when it has them ("job 3: sliced: estimated 12 min,
 * 1.23 m of filament (3.7 g)"). */
static void sliced_announce(struct follow *fw)
{
	json_t *meta = json_object_get(fw->job, "meta");
	double t = json_number_value(json_object_get(meta, "time_s"));
	double mm = json_number_value(json_object_get(meta, "filament_mm"));
	double g = json_number_value(json_object_get(meta, "filament_g"));
	char dur[32];

	if (!json_is_number(json_object_get(meta, "time_s")))
		return;
	fmt_duration(dur, sizeof dur, t);
	labctl_bar_break();
	fprintf(stderr, "job %lld: sliced: estimated %s, %.2f m of filament (%.1f g)\n", fw->id,
		dur, mm / 1000.0, g);
	fflush(stderr);
}

/* Take a new job object (from print.job or a bridge/queue/ event): note its state, subscribe to
 * its printer's status once it has one, say what changed. 0, or -1 after an error (printed). */
static int follow_job(struct follow *fw, void *sub, json_t *job)
{
	const char *state = labctl_jstr(job, "state", "?"),
		   *printer = labctl_jstr(job, "assigned", NULL);

	json_decref(fw->job);
	fw->job = json_incref(job);
	if (printer && strcmp(printer, fw->printer)) {
		char topic[160];

		snprintf(topic, sizeof topic, "printer/%s/status/", printer);
		if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) < 0) {
			labctl_errmsg("labctl: cannot subscribe: %s\n", zmq_strerror(errno));
			return -1;
		}
		snprintf(fw->printer, sizeof fw->printer, "%s", printer);
	}
	if (strcmp(state, fw->state)) {
		if (!strcmp(fw->state, "slicing"))
			sliced_announce(fw);
		snprintf(fw->state, sizeof fw->state, "%s", state);
		follow_announce(fw);
	}
	if (!strcmp(state, "slicing"))
		slicing_progress(fw);
	if (final_state(state)) {
		json_decref(fw->status); /* the job's own final progress, not the last status */
		fw->status = NULL;
	}
	if (!strcmp(state, "printing") || !strcmp(state, "paused") ||
	    (final_state(state) && !json_is_null(json_object_get(job, "started"))))
		follow_progress(fw);
	return 0;
}

/* Handle one stream message while following: a queue event about our job, or our printer's
 * status. 0 to go on, 1 when the job was deleted, -1 on an error (printed). */
static int follow_message(struct follow *fw, void *sub, zmq_msg_t *frames, int n)
{
	json_t *h = NULL, *data;
	const char *topic = zmq_msg_data(&frames[0]);
	size_t tlen = zmq_msg_size(&frames[0]);
	int rc = 0;

	if (n < 2 || !(h = json_loadb(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 0, NULL)))
		return 0;
	data = json_object_get(h, "data");
	if (tlen == 13 && !memcmp(topic, "bridge/queue/", 13)) {
		if (json_integer_value(json_object_get(data, "id")) != fw->id)
			goto cleanup;
		if (!strcmp(labctl_jstr(data, "event", ""), "deleted")) {
			rc = 1;
			goto cleanup;
		}
		if (json_is_object(json_object_get(data, "job")))
			rc = follow_job(fw, sub, json_object_get(data, "job"));
	} else if (tlen > 16 && !memcmp(topic, "printer/", 8) &&
		   !memcmp(topic + tlen - 8, "/status/", 8)) {
		const json_t *sj = json_object_get(data, "job");

		if (json_integer_value(json_object_get(sj, "id")) == fw->id &&
		    !final_state(fw->state)) {
			json_decref(fw->status);
			fw->status = json_incref(data);
			follow_progress(fw);
		}
	}
cleanup:
	json_decref(h);
	return rc;
}

/* Follow a job until it ends: its state changes and its progress on stderr, its end on stdout
 * ("job 12: done"). LABCTL_OK when it is done; LABCTL_FAIL when it failed, was cancelled,
 * interrupted or deleted, when the bridge goes away or on Ctrl-C (the job goes on). */
static int follow(void *ctx, const struct labctl_opts *o, json_t *job)
{
	struct follow fw = {.slice_pct = -1,
			    .id = json_integer_value(json_object_get(job, "id")),
			    .tty = isatty(STDERR_FILENO),
			    .step = -1};
	void *sub = NULL;
	int st = LABCTL_FAIL;
	int64_t last_any, next_poll;
	json_t *params = NULL;

	if (!(sub = labctl_subscribe(ctx, o, "bridge/queue/")))
		goto cleanup;
	if (!(params = json_pack("{s:I}", "id", (json_int_t)fw.id))) {
		labctl_errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	labctl_catch_stop();
	if (follow_job(&fw, sub, job) < 0)
		goto cleanup;
	/* events may have gone by before the subscription took: ask at once, then now and then */
	last_any = labctl_mono_ms();
	next_poll = last_any + 200;
	while (!labctl_stopping() && !final_state(fw.state)) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		int64_t now = labctl_mono_ms(), wait = last_any + LABCTL_LIVENESS_MS - now;
		int got = 0, rc = 0;

		if (now >= next_poll) {
			json_t *j = NULL;

			rc = labctl_rpc_call(ctx, o, "print.job", params, &j);
			if (rc == 0)
				rc = follow_job(&fw, sub, j);
			json_decref(j);
			if (rc < 0) {
				if (labctl_stopping())
					break;
				goto cleanup;
			}
			last_any = now = labctl_mono_ms();
			next_poll = now + JOB_POLL_MS;
			continue;
		}
		if (wait <= 0) {
			labctl_net_explain(sub);
			labctl_bar_break();
			labctl_errmsg(
			    "labctl: no heartbeat from the bridge at %s for %d s — is labbridge "
			    "running?\n",
			    o->pub, LABCTL_LIVENESS_MS / 1000);
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)(next_poll - now < wait ? next_poll - now : wait)) <
		    0) {
			if (errno == EINTR)
				continue;
			labctl_errmsg("labctl: waiting for messages: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		while (!labctl_stopping() && rc == 0 && !final_state(fw.state)) {
			zmq_msg_t frames[3];
			int n;

			got = labctl_recv_message(sub, frames, &n);
			if (got <= 0)
				break;
			rc = follow_message(&fw, sub, frames, n);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			last_any = labctl_mono_ms();
		}
		if (got < 0 || rc < 0)
			goto cleanup;
		if (rc == 1) {
			labctl_bar_break();
			labctl_errmsg("labctl: job %lld was deleted\n", fw.id);
			goto cleanup;
		}
	}
	labctl_bar_break();
	if (!final_state(fw.state)) {
		labctl_errmsg(
		    "labctl: stopped following job %lld; it goes on (labctl job show %lld, "
		    "labctl job cancel %lld)\n",
		    fw.id, fw.id, fw.id);
		goto cleanup;
	}
	if (!strcmp(fw.state, "done")) {
		const json_t *t0 = json_object_get(fw.job, "started"),
			     *t1 = json_object_get(fw.job, "finished");
		char took[32];

		if (json_is_integer(t0) && json_is_integer(t1)) {
			fmt_duration(took, sizeof took,
				     (double)(json_integer_value(t1) - json_integer_value(t0)) /
					 1e9);
			printf("job %lld: done in %s\n", fw.id, took);
		} else {
			printf("job %lld: done\n", fw.id);
		}
		st = LABCTL_OK;
	} else {
		const char *error = labctl_jstr(fw.job, "error", NULL);

		printf("job %lld: %s\n", fw.id, fw.state);
		labctl_errmsg("labctl: job %lld %s%s%s\n", fw.id, fw.state, error ? ": " : "",
			      error ? error : "");
	}
cleanup:
	fflush(stdout);
	fflush(stderr);
	json_decref(params);
	json_decref(fw.job);
	json_decref(fw.status);
	if (sub)
		zmq_close(sub);
	return st;
}

/* The last path component of path (for a job's default name). */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* labctl print FILE: upload it as a print job, print the job's id and state, then (unless
 * --no-wait) follow it to its end. A status. */
int labctl_cmd_print(void *ctx, const struct labctl_opts *o)
{
	json_t *job = NULL;
	const char *name = o->name ? o->name : base_name(o->arg[0]);
	int st = LABCTL_FAIL;

	if (!*name) {
		labctl_errmsg("labctl: --name must not be empty\n");
		return LABCTL_USAGE;
	}
	if (upload_file(ctx, o, o->arg[0], name, &job) < 0)
		goto cleanup;
	printf("job %" JSON_INTEGER_FORMAT ": %s%s\n",
	       json_integer_value(json_object_get(job, "id")), labctl_jstr(job, "state", "?"),
	       json_is_true(json_object_get(job, "duplicate")) ? " (already submitted)" : "");
	fflush(stdout);
	if (o->no_wait) {
		if (!strcmp(labctl_jstr(job, "state", ""), "submitted"))
			fprintf(stderr,
				"job %" JSON_INTEGER_FORMAT
				" is waiting for a teacher's approval (labctl job approve "
				"%" JSON_INTEGER_FORMAT ")\n",
				json_integer_value(json_object_get(job, "id")),
				json_integer_value(json_object_get(job, "id")));
		st = LABCTL_OK;
		goto cleanup;
	}
	st = follow(ctx, o, job);
cleanup:
	json_decref(job);
	return st;
}

/* The PROGRESS column of a job: its percentage once it started, "-" before. */
static void fmt_job_progress(char *buf, size_t n, const json_t *job)
{
	const char *state = labctl_jstr(job, "state", "");
	const json_t *pct = json_object_get(json_object_get(job, "progress"), "percent");

	if (json_is_number(pct) &&
	    (!strcmp(state, "printing") || !strcmp(state, "paused") || final_state(state)))
		snprintf(buf, n, "%.0f%%", json_number_value(pct));
	else
		snprintf(buf, n, "-");
}

/* labctl queue [--history]: the jobs as a table, or print.queue's result as JSON. A status. */
int labctl_cmd_queue(void *ctx, const struct labctl_opts *o)
{
	static const char *const heading[] = {"ID",	 "STATE",    "NAME",	 "OWNER",
					      "PRINTER", "PROGRESS", "SUBMITTED"};
	struct labctl_table t = {.ncols = 7};
	json_t *params = NULL, *list = NULL, *job;
	size_t i;
	int st = LABCTL_FAIL;

	if (o->history && !(params = json_pack("{s:b}", "history", 1)))
		goto oom;
	if (labctl_rpc_call(ctx, o, "print.queue", params, &list) < 0)
		goto cleanup;
	if (o->json) {
		st = labctl_print_json(list) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto cleanup;
	}
	if (!json_is_array(list)) {
		labctl_errmsg("labctl: print.queue did not return a list\n");
		goto cleanup;
	}
	if (json_array_size(list) == 0) {
		printf(o->history ? "no finished jobs\n" : "no jobs waiting or printing\n");
		st = LABCTL_OK;
		goto cleanup;
	}
	if (labctl_table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(list, i, job)
	{
		char id[24], printer[160], progress[16], submitted[40];
		const char *row[7] = {id,
				      labctl_jstr(job, "state", "?"),
				      labctl_jstr(job, "name", "?"),
				      labctl_jstr(job, "owner", "?"),
				      printer,
				      progress,
				      submitted};
		const char *assigned = labctl_jstr(job, "assigned", NULL),
			   *target = labctl_jstr(job, "printer", NULL);

		snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(job, "id")));
		if (assigned)
			snprintf(printer, sizeof printer, "%s", assigned);
		else if (target)
			snprintf(printer, sizeof printer, "(%s)", target);
		else
			snprintf(printer, sizeof printer, "-");
		fmt_job_progress(progress, sizeof progress, job);
		labctl_fmt_stamp(submitted, sizeof submitted, json_object_get(job, "submitted"));
		if (labctl_table_add(&t, row) < 0)
			goto oom;
	}
	labctl_table_print(&t);
	st = LABCTL_OK;
	goto cleanup;
oom:
	labctl_errmsg("labctl: out of memory\n");
cleanup:
	labctl_table_free(&t);
	json_decref(list);
	json_decref(params);
	return st;
}

/* Print a job object as "key  value" lines (the fields that are set), readably. */
static void print_job(const json_t *job)
{
	const json_t *prog = json_object_get(job, "progress"), *meta = json_object_get(job, "meta");
	const char *assigned = labctl_jstr(job, "assigned", NULL),
		   *target = labctl_jstr(job, "printer", NULL);
	const char *error = labctl_jstr(job, "error", NULL),
		   *by = labctl_jstr(job, "approved_by", NULL);
	const char *slicer = labctl_jstr(meta, "slicer", NULL);
	json_t *pos = json_object_get(job, "position");
	char a[96], b[48];

	printf("%-12s %" JSON_INTEGER_FORMAT "\n", "job",
	       json_integer_value(json_object_get(job, "id")));
	printf("%-12s %s\n", "name", labctl_jstr(job, "name", "?"));
	printf("%-12s %s\n", "state", labctl_jstr(job, "state", "?"));
	if (json_is_integer(pos))
		printf("%-12s %" JSON_INTEGER_FORMAT "\n", "position", json_integer_value(pos));
	printf("%-12s %s (%s)\n", "owner", labctl_jstr(job, "owner", "?"),
	       labctl_jstr(job, "role", "?"));
	printf("%-12s %s%s%s%s\n", "printer",
	       assigned ? assigned
	       : target ? target
			: "any",
	       assigned && target && strcmp(assigned, target) ? " (asked for " : "",
	       assigned && target && strcmp(assigned, target) ? target : "",
	       assigned && target && strcmp(assigned, target) ? ")" : "");
	fmt_bytes(a, sizeof a, json_number_value(json_object_get(job, "size")));
	printf("%-12s %s, crc32 %08llx\n", "size", a,
	       (unsigned long long)json_integer_value(json_object_get(job, "crc32")));
	labctl_fmt_stamp(a, sizeof a, json_object_get(job, "submitted"));
	printf("%-12s %s\n", "submitted", a);
	if (by)
		printf("%-12s %s\n", "approved by", by);
	if (json_is_integer(json_object_get(job, "started"))) {
		labctl_fmt_stamp(a, sizeof a, json_object_get(job, "started"));
		printf("%-12s %s\n", "started", a);
	}
	if (json_is_integer(json_object_get(job, "finished"))) {
		labctl_fmt_stamp(a, sizeof a, json_object_get(job, "finished"));
		printf("%-12s %s\n", "finished", a);
	}
	printf("%-12s %.1f%% (line %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT ")\n",
	       "progress", json_number_value(json_object_get(prog, "percent")),
	       json_integer_value(json_object_get(prog, "line")),
	       json_integer_value(json_object_get(prog, "lines")));
	if (error)
		printf("%-12s %s\n", "error", error);
	if (slicer)
		printf("%-12s %s\n", "slicer", slicer);
	if (json_number_value(json_object_get(meta, "time_s")) > 0) {
		fmt_duration(a, sizeof a, json_number_value(json_object_get(meta, "time_s")));
		printf("%-12s %s\n", "estimate", a);
	}
	if (json_number_value(json_object_get(meta, "filament_mm")) > 0) {
		snprintf(b, sizeof b, "%.2f m",
			 json_number_value(json_object_get(meta, "filament_mm")) / 1000);
		if (json_number_value(json_object_get(meta, "filament_g")) > 0)
			snprintf(a, sizeof a, "%s (%.1f g)", b,
				 json_number_value(json_object_get(meta, "filament_g")));
		else
			snprintf(a, sizeof a, "%s", b);
		printf("%-12s %s\n", "filament", a);
	}
	if (json_integer_value(json_object_get(meta, "layer_count")) > 0)
		printf("%-12s %" JSON_INTEGER_FORMAT "\n", "layers",
		       json_integer_value(json_object_get(meta, "layer_count")));
}

/* The actions of labctl job: the word, its method, whether it takes a position. */
static const struct job_action {
	const char *name, *method;
	bool position;
} job_actions[] = {
    {"show", "print.job", false},      {"approve", "print.approve", false},
    {"cancel", "print.cancel", false}, {"retry", "print.retry", false},
    {"delete", "print.delete", false}, {"pause", "print.pause", false},
    {"resume", "print.resume", false}, {"move", "print.move", true},
};

/* labctl job ACTION ID [POSITION]: one request about a job; what it did on stdout (the job for
 * show), or the result as JSON. A status. */
int labctl_cmd_job(void *ctx, const struct labctl_opts *o)
{
	const struct job_action *a = NULL;
	json_t *params = NULL, *result = NULL;
	long id, pos = 0;
	int st = LABCTL_USAGE;

	for (size_t k = 0; k < sizeof job_actions / sizeof *job_actions; k++)
		if (!strcmp(o->arg[0], job_actions[k].name))
			a = &job_actions[k];
	if (!a) {
		labctl_errmsg(
		    "labctl: job wants show, approve, cancel, retry, delete, pause, resume or "
		    "move, not '%s'\n",
		    o->arg[0]);
		return LABCTL_USAGE;
	}
	if (o->narg != (a->position ? 3 : 2)) {
		labctl_errmsg("labctl: usage: labctl job %s ID%s\n", a->name,
			      a->position ? " POSITION" : "");
		return LABCTL_USAGE;
	}
	if (parse_job_id(o->arg[1], "job", &id) < 0)
		return LABCTL_USAGE;
	if (a->position && labctl_parse_long(o->arg[2], 1, 1000000, &pos) < 0) {
		labctl_errmsg("labctl: job move wants a position (1 = next), not '%s'\n",
			      o->arg[2]);
		return LABCTL_USAGE;
	}
	st = LABCTL_FAIL;
	params = a->position
		     ? json_pack("{s:I,s:I}", "id", (json_int_t)id, "position", (json_int_t)pos)
		     : json_pack("{s:I}", "id", (json_int_t)id);
	if (!params) {
		labctl_errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	if (labctl_rpc_call(ctx, o, a->method, params, &result) < 0)
		goto cleanup;
	st = LABCTL_OK;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	} else if (!strcmp(a->name, "show")) {
		print_job(result);
	} else if (!strcmp(a->name, "delete")) {
		printf("job %ld deleted\n", id);
	} else if (!strcmp(a->name, "pause") || !strcmp(a->name, "resume")) {
		printf("job %ld: %s asked of its printer\n", id, a->name);
	} else if (!strcmp(a->name, "move")) {
		printf("job %ld moved to position %ld\n", id, pos);
	} else {
		const char *state = labctl_jstr(result, "state", "?");

		if (!strcmp(a->name, "cancel") && !final_state(state))
			printf("job %ld: cancel asked of its printer (now %s)\n", id, state);
		else
			printf("job %ld: %s\n", id, state);
	}
cleanup:
	json_decref(result);
	json_decref(params);
	return st;
}

/* labctl printer clear ID | estop [ID]: say a printer's bed is clear, or stop one printer or
 * all at once. A status. */
int labctl_cmd_printer(void *ctx, const struct labctl_opts *o)
{
	bool clear = !strcmp(o->arg[0], "clear"), estop = !strcmp(o->arg[0], "estop");
	json_t *params = NULL, *result = NULL;
	int st = LABCTL_FAIL;

	if ((!clear && !estop) || (clear && o->narg != 2)) {
		labctl_errmsg(
		    "labctl: usage: labctl printer clear ID | labctl printer estop [ID]\n");
		return LABCTL_USAGE;
	}
	if (o->narg == 2 && !(params = json_pack("{s:s}", "printer", o->arg[1]))) {
		labctl_errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	if (labctl_rpc_call(ctx, o, clear ? "printer.clear" : "printer.estop", params, &result) < 0)
		goto cleanup;
	st = LABCTL_OK;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	} else if (clear) {
		printf("%s: bed marked clear, the next job may start\n", o->arg[1]);
	} else if (o->narg == 2) {
		printf("%s: emergency stop sent\n", o->arg[1]);
	} else {
		json_t *stopped = json_object_get(result, "stopped"), *p;
		size_t i;

		if (json_array_size(stopped) == 0) {
			printf("no printer connected: nothing to stop\n");
		} else {
			printf("emergency stop sent to:");
			json_array_foreach(stopped, i, p) printf(" %s", json_string_value(p));
			putchar('\n');
		}
	}
cleanup:
	json_decref(result);
	json_decref(params);
	return st;
}
