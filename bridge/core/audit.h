/* audit.h - the audit log of commands: who did what to which device, when (SQLite, batched). */
#ifndef LB_AUDIT_H
#define LB_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/clock.h"
#include "../util/error.h"

/* The most bytes of a params summary, its NUL excluded. */
#define LB_AUDIT_SUMMARY_MAX 200
/* The most entries one lb_audit_list returns. */
#define LB_AUDIT_LIST_MAX 1000
/* Records kept in one open transaction at most, and for how long, before it is committed. */
#define LB_AUDIT_BATCH 100
#define LB_AUDIT_BATCH_NS 1000000000LL
/* How often old entries are removed, and the most rows one pruning removes (a longer one goes
 * on at the next tick: the main loop is never held long). */
#define LB_AUDIT_PRUNE_NS (3600LL * 1000000000LL)
#define LB_AUDIT_PRUNE_CHUNK 5000

typedef struct lb_audit lb_audit;

/* One command: every string may be NULL (stored as ""); each is cut to its column's bound. */
typedef struct lb_audit_entry {
	const char *user; /* the identity the client cannot choose (unix:alice, key:..., web:p3) */
	const char *role; /* observer, student, teacher */
	const char *name; /* its display name */
	const char *method;  /* robot.move */
	const char *device;  /* params.device, job:12, a printer */
	const char *summary; /* lb_audit_summary of the params */
	const char *outcome; /* "ok", "forwarded", or an error name ("forbidden") */
} lb_audit_entry;

/* What lb_audit_list returns: zeros and NULLs are "any"; limit 0 is 100. */
typedef struct lb_audit_query {
	int64_t since, until; /* ns since 1970, inclusive; 0: unbounded */
	const char *user, *device, *method;
	int64_t before_id; /* entries with a smaller id only; 0: from the newest */
	int limit;	   /* 1..LB_AUDIT_LIST_MAX */
} lb_audit_query;

/*
 * Open (creating) the log at path, keeping entries for days days (> 0) and at most max_rows
 * (> 0) of them; the file is made (or made again) mode 0600. The first pruning happens at the
 * first lb_audit_tick. NULL with err set
 * ("cannot open ...") when the database cannot be opened.
 */
lb_audit *lb_audit_new(const char *path, int days, int64_t max_rows, lb_error *err);

/*
 * Add e at now.real (its time); the row joins the open transaction, committed when it holds
 * LB_AUDIT_BATCH rows or is LB_AUDIT_BATCH_NS old (now.mono). Its id (> 0), or LB_EFAIL with err
 * set (the database failed; the entry is lost).
 */
int64_t lb_audit_record(lb_audit *a, const lb_audit_entry *e, lb_now now, lb_error *err);

/* Set row id's outcome (a forwarded request answered), in the open batch. 0, or LB_EFAIL with
 * err set. */
int lb_audit_set_outcome(lb_audit *a, int64_t id, const char *outcome, lb_error *err);

/* Commit the open transaction, if any. 0, or LB_EFAIL with err set (err may be NULL). */
int lb_audit_flush(lb_audit *a, lb_error *err);

/*
 * The periodic work at now: commit a transaction LB_AUDIT_BATCH_NS old, and prune once every
 * LB_AUDIT_PRUNE_NS (every LB_AUDIT_BATCH_NS while a pruning finds a full chunk to remove),
 * and at every tick when there are more than max_rows rows (a flood of requests cannot grow
 * the table beyond max_rows + one second of them). 0, or LB_EFAIL with err set (err may be
 * NULL).
 */
int lb_audit_tick(lb_audit *a, lb_now now, lb_error *err);

/*
 * Remove the entries older than the kept days at now_real (at most LB_AUDIT_PRUNE_CHUNK of
 * them), then the oldest beyond max_rows, committed at once. The number of rows removed, or
 * LB_EFAIL with err set (err may be NULL).
 */
int64_t lb_audit_prune(lb_audit *a, int64_t now_real, lb_error *err);

/*
 * The entries matching q, newest first, as a new array of {id, t, user, role, name, method,
 * device, params, outcome} in *out (uncommitted ones included). 0, or LB_EFAIL with err set
 * (a limit out of range is invalid_params).
 */
int lb_audit_list(lb_audit *a, const lb_audit_query *q, json_t **out, lb_error *err);

/*
 * A short summary of a request's params into out (cap bytes, at most LB_AUDIT_SUMMARY_MAX + 1
 * used): compact JSON, secrets and bulk data ("secret", "password", "token", "data", "program",
 * "source", "content"... keys) replaced by "…", long strings and deep values cut, the whole
 * cut at a UTF-8 boundary with "…". Never fails: out is "" when params is not an object.
 */
void lb_audit_summary(const json_t *params, char *out, size_t cap);

/* Commit what is pending, close the database and free a; accepts NULL and *pa NULL. */
void lb_audit_destroy(lb_audit **pa);

struct lb_server;
struct lb_call;
/*
 * The core's hook where a request is answered (audit_service.c): record c when it acts (its
 * method's least role is student or more; a driver's bridge-level method) or was refused as
 * forbidden, with its outcome: "ok" (rc >= 0), "forwarded" (rc == LB_EAGAIN: a device thread
 * answers), or err's name. result (may be NULL) names the job a print.upload made. The row's
 * id, or 0 when nothing was recorded. Never fails: a database error is logged, the request goes
 * on.
 */
int64_t srv_audit(struct lb_server *s, const struct lb_call *c, int rc, const lb_error *err,
		  const json_t *result);

/* The outcome of a forwarded request, when its device answers: row id's outcome becomes outcome
 * ("ok", an error name). id 0 (not recorded) is ignored. Never fails (an error is logged). */
void srv_audit_outcome(struct lb_server *s, int64_t id, const char *outcome);

#endif
