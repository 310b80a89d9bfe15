/* labctl_scan.c - labctl scan: a scan job submitted, followed with a progress bar, fetched. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labctl.h"

#define BAR_WIDTH 30
#define POLL_MS 200	      /* how often the job is looked at while it runs */
#define FETCH_CHUNK (1 << 20) /* jobs.fetch's largest range */
#define RESULTS_MAX 1000      /* result files fetched at most */

/* The first live scanner of kind ("scanner" or "scanner3d") into id[cap]: 0, or -1 after
 * saying why. */
static int first_scanner(void *ctx, const struct labctl_opts *o, const char *kind, char *id,
			 size_t cap)
{
	json_t *list = NULL, *d;
	size_t i;
	int rc = -1;

	if (labctl_rpc_call(ctx, o, "devices.list", NULL, &list) < 0)
		return -1;
	json_array_foreach(list, i, d)
	{
		if (strcmp(labctl_jstr(d, "kind", ""), kind) == 0) {
			snprintf(id, cap, "%s", labctl_jstr(d, "id", ""));
			rc = 0;
			break;
		}
	}
	if (rc < 0)
		labctl_errmsg("labctl: no %s is connected (labctl devices lists them)\n", kind);
	json_decref(list);
	return rc;
}

/* The settings the options ask for, as a new object; NULL after saying what is wrong. */
static json_t *settings_of(const struct labctl_opts *o)
{
	json_t *s = json_object();
	double w, h;
	char rest;

	if (!s)
		return NULL;
	if (o->source) {
		if (strcmp(o->source, "adf") != 0 && strcmp(o->source, "flatbed") != 0) {
			labctl_errmsg("labctl: --source is adf or flatbed, not '%s'\n", o->source);
			goto bad;
		}
		json_object_set_new(s, "source", json_string(o->source));
	}
	if (o->size) {
		if (sscanf(o->size, "%lfx%lf%c", &w, &h, &rest) == 2) {
			if (!(w > 0 && h > 0 && w < 10000 && h < 10000)) {
				labctl_errmsg("labctl: --size WxH in millimetres, not '%s'\n",
					      o->size);
				goto bad;
			}
			json_object_set_new(s, "page", json_pack("[f,f]", w, h));
		} else {
			json_object_set_new(s, "page", json_string(o->size));
		}
	}
	if (o->dpi)
		json_object_set_new(s, "resolution", json_integer(o->dpi));
	if (o->mode)
		json_object_set_new(s, "mode", json_string(o->mode));
	if (o->steps)
		json_object_set_new(s, "steps", json_integer(o->steps));
	return s;
bad:
	json_decref(s);
	return NULL;
}

/* The job's progress on stderr: a bar redrawn in place on a terminal, else a line per 10%. */
static void show_progress(bool tty, const json_t *job, int *step)
{
	const json_t *pr = json_object_get(job, "progress");
	const json_t *page = json_object_get(json_object_get(pr, "detail"), "page");
	double pct = 100 * json_number_value(json_object_get(pr, "fraction"));
	char bar[BAR_WIDTH + 3];
	int fill = (int)(pct / 100 * BAR_WIDTH + 0.5), k;

	bar[0] = '[';
	for (k = 0; k < BAR_WIDTH; k++)
		bar[1 + k] = k < fill ? '#' : '.';
	bar[1 + BAR_WIDTH] = ']';
	bar[2 + BAR_WIDTH] = '\0';
	if (tty) {
		labctl_bar_draw("scan %" JSON_INTEGER_FORMAT
				" %s %s %3.0f%%%s%" JSON_INTEGER_FORMAT,
				json_integer_value(json_object_get(job, "id")),
				labctl_jstr(job, "state", "?"), bar, pct, page ? "  page " : "",
				page ? json_integer_value(page) : (json_int_t)0);
	} else if ((int)(pct / 10) > *step) {
		*step = (int)(pct / 10);
		fprintf(stderr, "scan %" JSON_INTEGER_FORMAT ": %.0f%%\n",
			json_integer_value(json_object_get(job, "id")), pct);
	}
	fflush(stderr);
}

/* Wait up to ms, or less when a signal arrives. */
static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Follow job id until it ends (Ctrl-C cancels it): the job as it ended (a new object), or NULL
 * after saying why. */
static json_t *follow(void *ctx, const struct labctl_opts *o, long long id)
{
	bool tty = isatty(STDERR_FILENO), cancelled = false;
	json_t *job = NULL, *p;
	int step = -1;

	for (;;) {
		const char *st;
		p = json_pack("{s:I}", "id", (json_int_t)id);
		json_decref(job);
		job = NULL;
		if (labctl_rpc_call(ctx, o, "jobs.get", p, &job) < 0) {
			json_decref(p);
			return NULL;
		}
		st = labctl_jstr(job, "state", "?");
		if (!strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "cancelled") ||
		    !strcmp(st, "interrupted")) {
			json_decref(p);
			labctl_bar_break();
			return job;
		}
		show_progress(tty, job, &step);
		if (labctl_stopping() && !cancelled) {
			json_t *r = NULL;
			labctl_bar_break();
			labctl_errmsg("labctl: cancelling scan %lld\n", id);
			if (labctl_rpc_call(ctx, o, "jobs.cancel", p, &r) < 0) {
				json_decref(p);
				json_decref(job);
				return NULL;
			}
			json_decref(r);
			cancelled = true;
		}
		json_decref(p);
		nap(POLL_MS);
	}
}

/* The file a result goes to: FILE for the only one, else FILE's stem + "-N" + FILE's extension
 * (or the result's). A new string, or NULL. */
static char *target_of(const char *out, size_t n, size_t count, const char *result)
{
	const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
	const char *rext = strrchr(result, '.');
	char *path = NULL;

	if (count == 1)
		return strdup(out);
	if (!dot || (slash && dot < slash))
		dot = out + strlen(out);
	if (asprintf(&path, "%.*s-%zu%s", (int)(dot - out), out, n,
		     *dot   ? dot
		     : rext ? rext
			    : "") < 0)
		return NULL;
	return path;
}

/* Fetch result name of job id into path (written as path.part, renamed when whole): 0, or -1
 * after saying why. */
static int fetch_to(void *ctx, const struct labctl_opts *o, long long id, const char *name,
		    const char *path)
{
	char tmp[4200];
	long long offset = 0;
	FILE *f;
	int rc = -1;

	if (snprintf(tmp, sizeof tmp, "%s.part", path) >= (int)sizeof tmp) {
		labctl_errmsg("labctl: %s: name too long\n", path);
		return -1;
	}
	if (!(f = fopen(tmp, "wb"))) {
		labctl_errmsg("labctl: cannot write %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	for (;;) {
		json_t *p = json_pack("{s:I,s:s,s:I,s:i}", "id", (json_int_t)id, "file", name,
				      "offset", (json_int_t)offset, "max", FETCH_CHUNK),
		       *r = NULL;
		void *bin = NULL;
		size_t len = 0;
		int got = labctl_rpc_fetch(ctx, o, "jobs.fetch", p, &r, &bin, &len);
		bool eof = json_is_true(json_object_get(r, "eof"));

		json_decref(p);
		json_decref(r);
		if (got < 0 || (len && fwrite(bin, 1, len, f) != len)) {
			if (got == 0)
				labctl_errmsg("labctl: writing %s: %s\n", tmp, strerror(errno));
			free(bin);
			goto done;
		}
		free(bin);
		offset += (long long)len;
		if (eof)
			break;
		if (!len) {
			labctl_errmsg("labctl: the bridge sent no bytes of %s\n", name);
			goto done;
		}
	}
	if (fclose(f) != 0) {
		f = NULL;
		labctl_errmsg("labctl: writing %s: %s\n", tmp, strerror(errno));
		goto done;
	}
	f = NULL;
	if (rename(tmp, path) < 0) {
		labctl_errmsg("labctl: cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
		goto done;
	}
	printf("%s (%lld bytes)\n", path, offset);
	rc = 0;
done:
	if (f)
		fclose(f);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* labctl scan -o FILE [--device ID] [--format F] [--source adf|flatbed] [--size S] [--dpi N]
 * [--mode M] [--steps N]: submit, follow, fetch. A status. */
int labctl_cmd_scan(void *ctx, const struct labctl_opts *o)
{
	bool d3 = (o->format && !strcmp(o->format, "ply")) || o->steps;
	json_t *settings = NULL, *p = NULL, *job = NULL, *res = NULL, *r;
	const char *label;
	char dev[128];
	long long id;
	size_t i, n;
	int st = LABCTL_FAIL;

	if (!o->output) {
		labctl_errmsg("labctl: scan needs -o FILE (where the result goes)\n");
		return LABCTL_USAGE;
	}
	if (!(settings = settings_of(o)))
		return LABCTL_USAGE;
	if (o->device)
		snprintf(dev, sizeof dev, "%s", o->device);
	else if (first_scanner(ctx, o, d3 ? "scanner3d" : "scanner", dev, sizeof dev) < 0)
		goto cleanup;
	label = strrchr(o->output, '/') ? strrchr(o->output, '/') + 1 : o->output;
	p = json_pack("{s:s,s:O,s:s}", "device", dev, "settings", settings, "label", label);
	if (!p || (o->format && json_object_set_new(p, "format", json_string(o->format)) < 0))
		goto cleanup;
	labctl_catch_stop();
	if (labctl_rpc_call(ctx, o, "scan.submit", p, &job) < 0)
		goto cleanup;
	id = (long long)json_integer_value(json_object_get(job, "id"));
	fprintf(stderr, "scan %lld on %s (%s)\n", id, dev, labctl_jstr(job, "state", "?"));
	json_decref(job);
	if (!(job = follow(ctx, o, id)))
		goto cleanup;
	if (strcmp(labctl_jstr(job, "state", ""), "done") != 0) {
		labctl_errmsg("labctl: scan %lld %s%s%s\n", id, labctl_jstr(job, "state", "?"),
			      json_is_string(json_object_get(job, "error")) ? ": " : "",
			      labctl_jstr(job, "error", ""));
		goto cleanup;
	}
	json_decref(p);
	p = json_pack("{s:I}", "id", (json_int_t)id);
	if (labctl_rpc_call(ctx, o, "jobs.results", p, &res) < 0)
		goto cleanup;
	n = json_array_size(res);
	if (n == 0 || n > RESULTS_MAX) {
		labctl_errmsg("labctl: scan %lld has %zu result files\n", id, n);
		goto cleanup;
	}
	json_array_foreach(res, i, r)
	{
		const char *name = labctl_jstr(r, "name", "");
		char *path = target_of(o->output, i + 1, n, name);
		int rc = path ? fetch_to(ctx, o, id, name, path) : -1;
		free(path);
		if (rc < 0)
			goto cleanup;
	}
	st = LABCTL_OK;
cleanup:
	json_decref(settings);
	json_decref(p);
	json_decref(job);
	json_decref(res);
	return st;
}
