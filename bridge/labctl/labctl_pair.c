/* labctl_pair.c - labctl pair new|list|revoke: pairing codes for the tablets' web page (pair.*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/qrsvg.h"
#include "labctl.h"

/* labctl pair new --name N [--role R] [--uses K] [--ttl S]: make a code; print it, its URL and
 * its QR code (UTF-8 half blocks, for a projector). The exit status. */
static int pair_new(void *ctx, const struct labctl_opts *o)
{
	json_t *params = json_object(), *result = NULL;
	char *qr = NULL, until[32];
	int st = LABCTL_FAIL;

	if (!o->name) {
		labctl_errmsg(
		    "labctl: pair new needs --name NAME (what the tablets' page shows)\n");
		json_decref(params);
		return LABCTL_USAGE;
	}
	if (!params)
		return LABCTL_FAIL;
	json_object_set_new(params, "name", json_string(o->name));
	if (o->role)
		json_object_set_new(params, "role", json_string(o->role));
	if (o->uses)
		json_object_set_new(params, "uses", json_integer(o->uses));
	if (o->ttl)
		json_object_set_new(params, "ttl_s", json_integer(o->ttl));
	if (labctl_rpc_call(ctx, o, "pair.new", params, &result) < 0)
		goto out;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto out;
	}
	{
		json_t *e = json_object_get(result, "expires");
		time_t secs = (time_t)json_integer_value(e);
		struct tm tm;
		localtime_r(&secs, &tm);
		strftime(until, sizeof until, "%H:%M", &tm);
	}
	qr = lb_qrsvg(labctl_jstr(result, "url", ""), 1);
	if (qr)
		fputs(qr, stdout);
	printf("code: %s   (%s \"%s\", %lld tablet%s, until %s; id %s)\n",
	       labctl_jstr(result, "code", "?"), labctl_jstr(result, "role", "?"),
	       labctl_jstr(result, "name", "?"),
	       (long long)json_integer_value(json_object_get(result, "uses")),
	       json_integer_value(json_object_get(result, "uses")) == 1 ? "" : "s", until,
	       labctl_jstr(result, "id", "?"));
	printf("url:  %s\n", labctl_jstr(result, "url", "?"));
	if (json_is_false(json_object_get(result, "served")))
		labctl_errmsg("labctl: the bridge serves no web page now ([bridge] http = none, or "
			      "its address was taken): the code cannot be used yet\n");
	st = LABCTL_OK;
out:
	free(qr);
	json_decref(params);
	json_decref(result);
	return st;
}

/* labctl pair list: the live pairings as a table (or --json). The exit status. */
static int pair_list(void *ctx, const struct labctl_opts *o)
{
	struct labctl_table t = {.ncols = 6};
	static const char *const head[] = {"ID",      "ROLE",	   "NAME",
					   "EXPIRES", "USES LEFT", "SESSIONS"};
	json_t *result = NULL, *g;
	size_t i;
	int st = LABCTL_FAIL;

	if (labctl_rpc_call(ctx, o, "pair.list", NULL, &result) < 0)
		goto out;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto out;
	}
	if (labctl_table_add(&t, head) < 0)
		goto out;
	json_array_foreach(json_object_get(result, "pairings"), i, g)
	{
		char until[32], left[16], sessions[16];
		json_t *ns =
		    json_integer(json_integer_value(json_object_get(g, "expires")) * 1000000000LL);
		labctl_fmt_stamp(until, sizeof until, ns);
		json_decref(ns);
		snprintf(left, sizeof left, "%lld",
			 (long long)json_integer_value(json_object_get(g, "uses_left")));
		snprintf(sessions, sizeof sessions, "%lld",
			 (long long)json_integer_value(json_object_get(g, "sessions")));
		const char *row[6] = {labctl_jstr(g, "id", "?"),
				      labctl_jstr(g, "role", "?"),
				      labctl_jstr(g, "name", "?"),
				      until,
				      left,
				      sessions};
		if (labctl_table_add(&t, row) < 0)
			goto out;
	}
	labctl_table_print(&t);
	st = LABCTL_OK;
out:
	labctl_table_free(&t);
	json_decref(result);
	return st;
}

/* labctl pair revoke ID. The exit status. */
static int pair_revoke(void *ctx, const struct labctl_opts *o)
{
	json_t *params = json_pack("{s:s}", "id", o->arg[1]), *result = NULL;
	int st = LABCTL_FAIL;

	if (params && labctl_rpc_call(ctx, o, "pair.revoke", params, &result) == 0) {
		printf("pairing %s revoked: %lld session%s ended\n", o->arg[1],
		       (long long)json_integer_value(json_object_get(result, "sessions")),
		       json_integer_value(json_object_get(result, "sessions")) == 1 ? "" : "s");
		st = LABCTL_OK;
	}
	json_decref(params);
	json_decref(result);
	return st;
}

int labctl_cmd_pair(void *ctx, const struct labctl_opts *o)
{
	const char *verb = o->arg[0];

	if (!strcmp(verb, "new") && o->narg == 1)
		return pair_new(ctx, o);
	if (!strcmp(verb, "list") && o->narg == 1)
		return pair_list(ctx, o);
	if (!strcmp(verb, "revoke") && o->narg == 2)
		return pair_revoke(ctx, o);
	labctl_errmsg("labctl: pair new --name NAME [--role ROLE] [--uses K] [--ttl SEC] | list | "
		      "revoke ID\n");
	return LABCTL_USAGE;
}
