/* labctl_robot.c - labctl robots | robot run | drive | stop: the robot vocabulary (robot.*). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl.h"

#define LEASE_MS 15000		/* the lease labctl takes, renewed every third of it */
#define SOURCE_MAX (256 * 1024) /* the bridge's limit on a program's source */

/* labctl robots: every robot, its state, owner and requests. A status. */
int labctl_cmd_robots(void *ctx, const struct labctl_opts *o)
{
	struct labctl_table t = {.ncols = 5};
	const char *head[] = {"ID", "DRIVER", "STATE", "OWNER", "TAKES"};
	json_t *list = NULL, *r, *q;
	int st = LABCTL_FAIL;
	size_t i, k;

	if (labctl_rpc_call(ctx, o, "robot.list", NULL, &list) < 0)
		return LABCTL_FAIL;
	if (o->json) {
		st = labctl_print_json(list) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto cleanup;
	}
	if (labctl_table_add(&t, head) < 0)
		goto cleanup;
	json_array_foreach(list, i, r)
	{
		char takes[256] = "", owner[200];
		const char *name = labctl_jstr(r, "owner_name", "");
		size_t n = 0;

		json_array_foreach(json_object_get(r, "requests"), k, q)
		{
			const char *m = json_string_value(q);
			if (m && n < sizeof takes)
				n += (size_t)snprintf(takes + n, sizeof takes - n, "%s%s",
						      n ? " " : "",
						      strncmp(m, "robot.", 6) ? m : m + 6);
		}
		snprintf(owner, sizeof owner, "%s%s%s%s", labctl_jstr(r, "owner", "-"),
			 *name ? " (" : "", name, *name ? ")" : "");
		const char *row[] = {labctl_jstr(r, "device", "?"), labctl_jstr(r, "driver", "?"),
				     labctl_jstr(r, "state", "?"), owner, takes};
		if (labctl_table_add(&t, row) < 0)
			goto cleanup;
	}
	if (json_array_size(list) == 0)
		printf("no robot is connected\n");
	else
		labctl_table_print(&t);
	st = LABCTL_OK;
cleanup:
	labctl_table_free(&t);
	json_decref(list);
	return st;
}

/* One request with params (stolen) on the kept connection; 0, or -1 (explained on stderr). */
static int call(void *ctx, const struct labctl_opts *o, const char *method, json_t *params)
{
	json_t *result = NULL;
	int rc = labctl_rpc_call(ctx, o, method, params, &result);

	json_decref(params);
	json_decref(result);
	return rc < 0 ? -1 : 0;
}

/* Take robot id's lease (after naming ourselves with --name). 0 or -1. */
static int take(void *ctx, const struct labctl_opts *o, const char *id)
{
	if (labctl_rpc_keep(ctx, o) < 0)
		return -1;
	if (o->name && call(ctx, o, "session.hello", json_pack("{s:s}", "name", o->name)) < 0)
		return -1;
	return call(ctx, o, "lease.acquire",
		    json_pack("{s:s,s:i}", "device", id, "ttl_ms", LEASE_MS));
}

/* A program's language from its file name: .py MicroPython, .aseba Aseba; NULL if unknown. */
static const char *language_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot && !strcmp(dot, ".py"))
		return "micropython";
	if (dot && !strcmp(dot, ".aseba"))
		return "aseba";
	return NULL;
}

/* The whole file at path as a new JSON string (UTF-8 checked by jansson), or NULL after saying
 * why. */
static json_t *read_source(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	json_t *s = NULL;

	if (!f) {
		labctl_errmsg("labctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(SOURCE_MAX + 1);
	n = buf ? fread(buf, 1, SOURCE_MAX + 1, f) : 0;
	if (!buf || ferror(f))
		labctl_errmsg("labctl: %s: cannot read it\n", path);
	else if (n > SOURCE_MAX)
		labctl_errmsg("labctl: %s: over %d bytes, more than a robot program may be\n", path,
			      SOURCE_MAX);
	else if (!(s = json_stringn(buf, n)))
		labctl_errmsg("labctl: %s: not UTF-8 text\n", path);
	free(buf);
	fclose(f);
	return s;
}

/* Print one stream message of the robot: its console (program output on stdout, errors on
 * stderr). Returns the state a state message carries (a static copy), or NULL. */
static const char *robot_message(const char *id, zmq_msg_t *frames, int n)
{
	static char state[32];
	char console[160], statet[160];
	const char *topic = zmq_msg_data(&frames[0]), *ret = NULL;
	size_t tlen = zmq_msg_size(&frames[0]);
	json_t *h, *data;

	if (n < 2 || !(h = json_loadb(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 0, NULL)))
		return NULL;
	data = json_object_get(h, "data");
	snprintf(console, sizeof console, "robot/%s/console/", id);
	snprintf(statet, sizeof statet, "robot/%s/state/", id);
	if (tlen == strlen(console) && !memcmp(topic, console, tlen)) {
		const char *text = labctl_jstr(data, "text", "");
		FILE *out =
		    strcmp(labctl_jstr(data, "stream", "stdout"), "stdout") ? stderr : stdout;
		fputs(text, out);
		fflush(out);
	} else if (tlen == strlen(statet) && !memcmp(topic, statet, tlen)) {
		snprintf(state, sizeof state, "%s", labctl_jstr(data, "state", ""));
		ret = state;
	}
	json_decref(h);
	return ret;
}

/* Wait until the robot's program ends (its state leaves "running" after it ran), printing its
 * console, renewing the lease; Ctrl-C stops the program. LABCTL_OK when it ended by itself. */
static int follow_program(void *ctx, const struct labctl_opts *o, const char *id, void *sub)
{
	int64_t next_renew = labctl_mono_ms() + LEASE_MS / 3, last_any = labctl_mono_ms();
	bool ran = false, stopping = false;
	const char *state;

	labctl_catch_stop();
	for (;;) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		int64_t now = labctl_mono_ms();

		if (labctl_stopping() && !stopping) {
			stopping = true;
			labctl_errmsg("labctl: stopping the program\n");
			if (call(ctx, o, "robot.program.stop", json_pack("{s:s}", "device", id)) <
			    0)
				return LABCTL_FAIL;
		}
		if (now >= next_renew) {
			if (call(ctx, o, "lease.acquire",
				 json_pack("{s:s,s:i}", "device", id, "ttl_ms", LEASE_MS)) < 0)
				return LABCTL_FAIL;
			next_renew = now + LEASE_MS / 3;
		}
		if (now - last_any > LABCTL_LIVENESS_MS) {
			labctl_net_explain(sub);
			labctl_errmsg("labctl: no heartbeat from the bridge at %s for %d s\n",
				      o->pub, LABCTL_LIVENESS_MS / 1000);
			return LABCTL_FAIL;
		}
		if (zmq_poll(&item, 1, 200) < 0 && errno != EINTR) {
			labctl_errmsg("labctl: waiting for messages: %s\n", zmq_strerror(errno));
			return LABCTL_FAIL;
		}
		for (;;) {
			zmq_msg_t frames[3];
			int n, got = labctl_recv_message(sub, frames, &n);

			if (got < 0)
				return LABCTL_FAIL;
			if (got == 0)
				break;
			last_any = labctl_mono_ms();
			state = robot_message(id, frames, n);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			if (!state)
				continue;
			if (!strcmp(state, "running")) {
				ran = true;
			} else if (ran || stopping || !strcmp(state, "gone")) {
				printf("program %s: %s\n", stopping ? "stopped" : "ended", state);
				return !stopping && !strcmp(state, "idle") ? LABCTL_OK
									   : LABCTL_FAIL;
			}
		}
	}
}

/* labctl robot run ID FILE: take it, load FILE, run it, print its output until it ends. */
static int robot_run(void *ctx, const struct labctl_opts *o, const char *id, const char *path)
{
	const char *lang = language_of(path);
	char prefix[160];
	json_t *src, *params, *result = NULL;
	void *sub = NULL;
	int st = LABCTL_FAIL, rc;

	if (!lang) {
		labctl_errmsg("labctl: %s: name it .py (MicroPython) or .aseba (Aseba)\n", path);
		return LABCTL_USAGE;
	}
	if (!(src = read_source(path)))
		return LABCTL_FAIL;
	snprintf(prefix, sizeof prefix, "robot/%s/", id);
	if (!(sub = labctl_subscribe(ctx, o, prefix)) || take(ctx, o, id) < 0)
		goto cleanup;
	/* the source as the request's binary frame: a JSON request is at most 64 KiB */
	params = json_pack("{s:s,s:s}", "device", id, "language", lang);
	rc = labctl_rpc_request(ctx, o, "robot.program.load", params, json_string_value(src),
				json_string_length(src), o->timeout_ms, &result);
	json_decref(params);
	json_decref(result);
	if (rc == -3)
		labctl_errmsg("labctl: no answer to robot.program.load within %ld ms\n",
			      o->timeout_ms);
	if (rc < 0)
		goto cleanup;
	if (call(ctx, o, "robot.program.run", json_pack("{s:s}", "device", id)) < 0)
		goto cleanup;
	st = follow_program(ctx, o, id, sub);
cleanup:
	json_decref(src);
	if (sub)
		zmq_close(sub);
	labctl_rpc_drop();
	return st;
}

/* labctl robot drive ID LEFT RIGHT [--for SEC]: wheels for a while, then stop. */
static int robot_drive(void *ctx, const struct labctl_opts *o, const char *id, const char *l,
		       const char *r)
{
	char *end1, *end2;
	double left = strtod(l, &end1), right = strtod(r, &end2);
	int64_t until;
	int st = LABCTL_FAIL;

	if (*end1 || *end2 || end1 == l || end2 == r) {
		labctl_errmsg("labctl: LEFT and RIGHT are wheel speeds from -1 to 1\n");
		return LABCTL_USAGE;
	}
	if (take(ctx, o, id) < 0 ||
	    call(ctx, o, "robot.move",
		 json_pack("{s:s,s:f,s:f}", "device", id, "left", left, "right", right)) < 0)
		goto cleanup;
	labctl_catch_stop();
	until = labctl_mono_ms() + (int64_t)(o->for_s * 1000);
	while (!labctl_stopping() && labctl_mono_ms() < until) {
		int64_t left_ms = until - labctl_mono_ms();
		zmq_poll(NULL, 0, (long)(left_ms < 200 ? left_ms : 200)); /* a sleep Ctrl-C ends */
	}
	if (call(ctx, o, "robot.stop", json_pack("{s:s}", "device", id)) == 0) {
		printf("%s: stopped\n", id);
		st = LABCTL_OK;
	}
cleanup:
	labctl_rpc_drop(); /* the lease ends with the connection: the robot is free again */
	return st;
}

/* labctl robot run|drive|stop ...: a status. */
int labctl_cmd_robot(void *ctx, const struct labctl_opts *o)
{
	const char *verb = o->arg[0];

	if (!strcmp(verb, "run") && o->narg == 3)
		return robot_run(ctx, o, o->arg[1], o->arg[2]);
	if (!strcmp(verb, "drive") && o->narg == 4)
		return robot_drive(ctx, o, o->arg[1], o->arg[2], o->arg[3]);
	if (!strcmp(verb, "stop") && o->narg == 2) {
		if (call(ctx, o, "robot.stop", json_pack("{s:s}", "device", o->arg[1])) < 0)
			return LABCTL_FAIL;
		printf("%s: stopped\n", o->arg[1]);
		return LABCTL_OK;
	}
	labctl_errmsg("labctl: usage: labctl robot run ID FILE | drive ID LEFT RIGHT [--for SEC] "
		      "| stop ID\n");
	return LABCTL_USAGE;
}
