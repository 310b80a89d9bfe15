/* audit_service.c - the audit service: every acting request recorded (srv_audit), audit.list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../sdk/params.h"
#include "../util/fsutil.h"
#include "../util/log.h"
#include "audit.h"
#include "call.h"
#include "server.h"
#include "service.h"

/* The service's state: the log (NULL without a data directory) and its 1 s timer. */
typedef struct audit_state {
	lb_audit *log;
	int timer;
} audit_state;

static const lb_service audit_service;

/* The state, or NULL before init. */
static audit_state *state(lb_server *s)
{
	return *lb_service_state(s, &audit_service);
}

/* [bridge] audit_days: a whole number of days 1..36500 (default 90). 0, or LB_EFAIL (logged). */
static int audit_days(lb_server *s, int *days)
{
	const char *v = json_string_value(
	    json_object_get(json_object_get(srv_config(s), "bridge"), "audit_days"));
	char *end;
	long n;

	*days = 90;
	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 36500) {
		lb_err("[bridge] audit_days must be a number of days from 1 to 36500, not '%s'", v);
		return LB_EFAIL;
	}
	*days = (int)n;
	return 0;
}

/* Open data_dir/audit.db and arm the timer. 0, or LB_EFAIL (logged): the bridge does not start. */
static int audit_init(lb_server *s)
{
	audit_state *st = calloc(1, sizeof *st);
	struct itimerspec every = {{1, 0}, {1, 0}};
	char path[4096];
	lb_error err = {0};
	int days;

	if (!st)
		return LB_ENOMEM;
	st->timer = -1;
	*lb_service_state(s, &audit_service) = st;
	if (audit_days(s, &days) < 0)
		return LB_EFAIL;
	if (!srv_data_dir(s)) {
		lb_warn("no data directory: the audit log of commands is off");
		return 0;
	}
	if (lb_mkdirs(srv_data_dir(s), 0750) < 0 ||
	    snprintf(path, sizeof path, "%s/audit.db", srv_data_dir(s)) >= (int)sizeof path) {
		lb_err("cannot make the data directory %s: %s", srv_data_dir(s), strerror(errno));
		return LB_EFAIL;
	}
	st->log = lb_audit_new(path, days, 1000000, &err);
	if (!st->log) {
		lb_err("audit log: %s", err.message);
		return LB_EFAIL;
	}
	st->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (st->timer < 0 || timerfd_settime(st->timer, 0, &every, NULL) < 0) {
		lb_err("audit log: no timer: %s", strerror(errno));
		return LB_EFAIL;
	}
	return 0;
}

/* The timer, for the main loop to poll. */
static int audit_wake_fd(lb_server *s)
{
	audit_state *st = state(s);
	return st ? st->timer : -1;
}

/* Once a second: commit the batch, prune hourly. */
static void audit_wake(lb_server *s)
{
	audit_state *st = state(s);
	uint64_t n;
	lb_error err = {0};

	if (read(st->timer, &n, sizeof n) < 0 && errno != EAGAIN)
		lb_warn("audit log: timer: %s", strerror(errno));
	if (st->log && lb_audit_tick(st->log, lb_now_read(), &err) < 0)
		lb_warn("audit log: %s", err.message);
}

static void audit_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &audit_service);
	audit_state *st = *slot;

	if (!st)
		return;
	lb_audit_destroy(&st->log);
	if (st->timer >= 0)
		close(st->timer);
	free(st);
	*slot = NULL;
}

/* The device a request acts on: params.device, else for a job (print.*, jobs.*) "job:ID" from
 * params.id or the result's id, else params.printer; "" when none. Into out[cap]. */
static void target(const lb_call *c, const json_t *result, char *out, size_t cap)
{
	const json_t *p = c->req.params;
	const json_t *dev = json_object_get(p, "device"), *id = json_object_get(p, "id");
	const json_t *printer = json_object_get(p, "printer");
	bool jobs = !strncmp(c->req.method, "print.", 6) || !strncmp(c->req.method, "jobs.", 5) ||
		    !strncmp(c->req.method, "scan.", 5);

	out[0] = '\0';
	if (json_is_string(dev))
		snprintf(out, cap, "%s", json_string_value(dev));
	else if (jobs && json_is_integer(id))
		snprintf(out, cap, "job:%lld", (long long)json_integer_value(id));
	else if (jobs && json_is_object(result) && json_is_integer(json_object_get(result, "id")) &&
		 json_is_string(json_object_get(result, "state")))
		snprintf(out, cap, "job:%lld",
			 (long long)json_integer_value(json_object_get(result, "id")));
	else if (json_is_string(printer))
		snprintf(out, cap, "%s", json_string_value(printer));
}

int64_t srv_audit(lb_server *s, const lb_call *c, int rc, const lb_error *err, const json_t *result)
{
	audit_state *st = state(s);
	const lb_method *m;
	char device[64], summary[LB_AUDIT_SUMMARY_MAX + 1];
	lb_audit_entry e;
	lb_error werr = {0};
	bool forbidden = rc < 0 && rc != LB_EAGAIN && err && err->code == LB_ERR_FORBIDDEN;
	int64_t id;

	if (!st || !st->log || !c->req.method)
		return 0;
	m = lb_service_method(c->req.method, NULL);
	if (!forbidden) {
		if (m && m->role < LB_ROLE_STUDENT)
			return 0; /* read-only */
		if (!m &&
		    (rc >= 0 || rc == LB_EAGAIN || !err || err->code == LB_ERR_METHOD_NOT_FOUND))
			return 0; /* an unknown method: nothing done */
		if (!strcmp(c->req.method, "audit.list"))
			return 0; /* reading the log does not grow it */
	}
	target(c, rc >= 0 ? result : NULL, device, sizeof device);
	lb_audit_summary(c->req.params, summary, sizeof summary);
	e = (lb_audit_entry){
	    .user = c->client.user,
	    .role = lb_role_name(c->client.role),
	    .name = c->client.name,
	    .method = c->req.method,
	    .device = device,
	    .summary = summary,
	    .outcome = rc == LB_EAGAIN ? "forwarded"
		       : rc < 0	       ? lb_error_name(err ? err->code : LB_ERR_INTERNAL)
				       : "ok",
	};
	id = lb_audit_record(st->log, &e, c->now, &werr);
	if (id < 0) {
		lb_warn("%s", werr.message);
		return 0;
	}
	return id;
}

void srv_audit_outcome(lb_server *s, int64_t id, const char *outcome)
{
	audit_state *st = state(s);
	lb_error err = {0};

	if (id <= 0 || !st || !st->log)
		return;
	if (lb_audit_set_outcome(st->log, id, outcome, &err) < 0)
		lb_warn("%s", err.message);
}

/* audit.list {since?, until?, user?, device?, method?, limit?, before_id?}: newest first. */
static int m_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"since",	"until", "user",      "device",
					      "method", "limit", "before_id", NULL};
	audit_state *st = state(s);
	const json_t *p = lb_call_params(c);
	lb_audit_query q = {0};
	long long since = 0, until = 0, limit = 100, before = 0;
	json_t *entries;

	if (lb_param_only(p, allowed, err) < 0 ||
	    lb_param_int(p, "since", false, 0, INT64_MAX, &since, err) < 0 ||
	    lb_param_int(p, "until", false, 0, INT64_MAX, &until, err) < 0 ||
	    lb_param_int(p, "limit", false, 1, LB_AUDIT_LIST_MAX, &limit, err) < 0 ||
	    lb_param_int(p, "before_id", false, 1, INT64_MAX, &before, err) < 0 ||
	    lb_param_string(p, "user", false, &q.user, err) < 0 ||
	    lb_param_string(p, "device", false, &q.device, err) < 0 ||
	    lb_param_string(p, "method", false, &q.method, err) < 0)
		return LB_EFAIL;
	if (!st || !st->log)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "the audit log is off (the bridge has no data directory)");
	q.since = since;
	q.until = until;
	q.limit = (int)limit;
	q.before_id = before;
	if (lb_audit_list(st->log, &q, &entries, err) < 0)
		return LB_EFAIL;
	*result = json_pack("{s:o}", "entries", entries);
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}

static const lb_method audit_methods[] = {
    {"audit.list", LB_ROLE_TEACHER, 0, m_list},
    {NULL, 0, 0, NULL},
};

/* The audit log of commands: kept in the data directory, read by teachers. */
static const lb_service audit_service = {
    .name = "audit",
    .methods = audit_methods,
    .init = audit_init,
    .wake_fd = audit_wake_fd,
    .wake = audit_wake,
    .destroy = audit_destroy,
};
LB_REGISTER_SERVICE(audit_service);
