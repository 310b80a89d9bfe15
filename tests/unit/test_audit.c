/* test_audit.c - the audit log: record, list filters, limits, batching, pruning, summaries. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/core/audit.h"

static char root[] = "/tmp/lbtest-audit-XXXXXX";
static int nfiles;

#define SEC 1000000000LL
#define DAY (86400LL * SEC)
/* 2026-01-01 in ns since 1970: a fixed real clock */
#define T0 (1767225600LL * SEC)

/* A fresh database path under root. */
static void fresh_path(char *path, size_t cap)
{
	snprintf(path, cap, "%s/a%d.db", root, ++nfiles);
}

/* A moment mono ns after the start, real ns since 1970. */
static lb_now at(int64_t mono, int64_t real)
{
	lb_now n = {mono, real};
	return n;
}

/* Record one entry; its id. */
static int64_t add(lb_audit *a, const char *user, const char *method, const char *device,
		   const char *outcome, lb_now now)
{
	lb_audit_entry e = {.user = user,
			    .role = "student",
			    .name = "5B group 3",
			    .method = method,
			    .device = device,
			    .summary = "{}",
			    .outcome = outcome};
	lb_error err = {0};
	int64_t id = lb_audit_record(a, &e, now, &err);
	CHECK(id > 0);
	return id;
}

/* How many entries q returns (-1 on error). */
static int count(lb_audit *a, lb_audit_query q)
{
	json_t *out = NULL;
	lb_error err = {0};
	int n;

	if (lb_audit_list(a, &q, &out, &err) < 0)
		return -1;
	n = (int)json_array_size(out);
	json_decref(out);
	return n;
}

static void test_record_and_list(void)
{
	char path[128];
	lb_audit *a;
	lb_audit_query q = {0};
	json_t *out = NULL, *e;
	lb_error err = {0};

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 1000, &err);
	CHECK(a != NULL);
	{
		struct stat sb;
		CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	}
	add(a, "unix:alice", "robot.move", "mbot-1", "ok", at(1, T0));
	add(a, "key:ab12", "print.approve", "job:3", "forbidden", at(2, T0 + SEC));
	add(a, "unix:alice", "device.set", "sim-volt-1", "leased", at(3, T0 + 2 * SEC));
	CHECK_EQ_INT(lb_audit_list(a, &q, &out, &err), 0);
	CHECK_EQ_INT(json_array_size(out), 3);
	e = json_array_get(out, 0); /* newest first */
	CHECK_STR(json_string_value(json_object_get(e, "method")), "device.set");
	CHECK_STR(json_string_value(json_object_get(e, "outcome")), "leased");
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "t")), T0 + 2 * SEC);
	e = json_array_get(out, 2);
	CHECK_STR(json_string_value(json_object_get(e, "user")), "unix:alice");
	CHECK_STR(json_string_value(json_object_get(e, "role")), "student");
	CHECK_STR(json_string_value(json_object_get(e, "name")), "5B group 3");
	CHECK_STR(json_string_value(json_object_get(e, "device")), "mbot-1");
	json_decref(out);

	/* filters */
	q = (lb_audit_query){.user = "unix:alice"};
	CHECK_EQ_INT(count(a, q), 2);
	q = (lb_audit_query){.device = "job:3"};
	CHECK_EQ_INT(count(a, q), 1);
	q = (lb_audit_query){.method = "robot.move"};
	CHECK_EQ_INT(count(a, q), 1);
	q = (lb_audit_query){.since = T0 + SEC};
	CHECK_EQ_INT(count(a, q), 2);
	q = (lb_audit_query){.until = T0 + SEC};
	CHECK_EQ_INT(count(a, q), 2);
	q = (lb_audit_query){.since = T0 + SEC, .until = T0 + SEC};
	CHECK_EQ_INT(count(a, q), 1);
	q = (lb_audit_query){.user = "unix:alice", .device = "mbot-1"};
	CHECK_EQ_INT(count(a, q), 1);
	q = (lb_audit_query){.user = "unix:bob"};
	CHECK_EQ_INT(count(a, q), 0);
	lb_audit_destroy(&a);
	CHECK(a == NULL);
	lb_audit_destroy(&a); /* NULL accepted */
	lb_audit_destroy(NULL);
}

static void test_outcome_completed(void)
{
	char path[128];
	lb_audit *a;
	lb_error err = {0};
	json_t *out = NULL;
	int64_t id;

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 1000, &err);
	id = add(a, "unix:alice", "robot.move", "mbot-1", "forwarded", at(0, T0));
	add(a, "unix:bob", "robot.move", "mbot-2", "forwarded", at(0, T0));
	CHECK_EQ_INT(lb_audit_flush(a, &err), 0);
	/* outside a batch, and inside one */
	CHECK_EQ_INT(lb_audit_set_outcome(a, id, "timeout", &err), 0);
	CHECK_EQ_INT(lb_audit_set_outcome(a, id + 1, "ok", &err), 0);
	CHECK_EQ_INT(lb_audit_list(a, &(lb_audit_query){0}, &out, &err), 0);
	CHECK_STR(json_string_value(json_object_get(json_array_get(out, 1), "outcome")), "timeout");
	CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "outcome")), "ok");
	json_decref(out);
	lb_audit_destroy(&a);
	a = lb_audit_new(path, 90, 1000, &err);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:alice"}), 1);
	CHECK_EQ_INT(lb_audit_list(a, &(lb_audit_query){.user = "unix:alice"}, &out, &err), 0);
	CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "outcome")), "timeout");
	json_decref(out);
	lb_audit_destroy(&a);
}

static void test_limits_and_paging(void)
{
	char path[128];
	lb_audit *a;
	lb_audit_query q = {0};
	json_t *out = NULL;
	lb_error err = {0};
	int64_t last = 0;

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 100000, &err);
	for (int i = 0; i < 1200; i++)
		last = add(a, "unix:alice", "robot.move", "mbot-1", "ok", at(i, T0 + i));
	CHECK_EQ_INT(count(a, q), 100); /* the default */
	q.limit = 1000;
	CHECK_EQ_INT(count(a, q), 1000);
	q.limit = 1001;
	CHECK_EQ_INT(lb_audit_list(a, &q, &out, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK(out == NULL);
	q.limit = -1;
	CHECK_EQ_INT(count(a, q), -1);
	/* paging: before_id */
	q = (lb_audit_query){.limit = 10, .before_id = last - 4};
	CHECK_EQ_INT(lb_audit_list(a, &q, &out, &err), 0);
	CHECK_EQ_INT(json_array_size(out), 10);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(out, 0), "id")), last - 5);
	json_decref(out);
	lb_audit_destroy(&a);
}

static void test_batching_and_persistence(void)
{
	char path[128];
	lb_audit *a, *b;
	lb_audit_query q = {0};
	lb_error err = {0};

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 1000, &err);
	/* the first tick prunes (committing the batch first); the next pruning is an hour later */
	CHECK_EQ_INT(lb_audit_tick(a, at(0, T0), &err), 0);
	add(a, "unix:alice", "robot.move", "mbot-1", "ok", at(0, T0));
	/* another connection does not see the open batch: nothing committed yet */
	b = lb_audit_new(path, 90, 1000, &err);
	CHECK(b != NULL);
	CHECK_EQ_INT(count(b, q), 0);
	/* the writer sees its own rows */
	CHECK_EQ_INT(count(a, q), 1);
	/* a tick before a second has passed commits nothing */
	CHECK_EQ_INT(lb_audit_tick(a, at(SEC / 2, T0), &err), 0);
	CHECK_EQ_INT(count(b, q), 0);
	/* a tick a second later commits */
	CHECK_EQ_INT(lb_audit_tick(a, at(SEC, T0), &err), 0);
	CHECK_EQ_INT(count(b, q), 1);
	/* 100 records commit by themselves */
	for (int i = 0; i < LB_AUDIT_BATCH; i++)
		add(a, "unix:alice", "robot.move", "mbot-1", "ok", at(2 * SEC, T0));
	CHECK_EQ_INT(count(b, (lb_audit_query){.limit = 1000}), 1 + LB_AUDIT_BATCH);
	/* destroy commits the rest: reopened, the log is all there */
	add(a, "unix:alice", "robot.stop", "mbot-1", "ok", at(2 * SEC, T0));
	lb_audit_destroy(&b);
	lb_audit_destroy(&a);
	a = lb_audit_new(path, 90, 1000, &err);
	CHECK_EQ_INT(count(a, (lb_audit_query){.limit = 1000}), 2 + LB_AUDIT_BATCH);
	CHECK_EQ_INT(count(a, (lb_audit_query){.method = "robot.stop"}), 1);
	lb_audit_destroy(&a);
}

static void test_pruning(void)
{
	char path[128];
	lb_audit *a;
	lb_error err = {0};
	json_t *out = NULL;

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 30, 5, &err);
	add(a, "unix:old", "robot.move", "mbot-1", "ok", at(0, T0));
	add(a, "unix:old", "robot.move", "mbot-1", "ok", at(0, T0 + DAY));
	for (int i = 0; i < 4; i++)
		add(a, "unix:new", "robot.move", "mbot-1", "ok", at(0, T0 + 29 * DAY + i));
	/* at day 30.5 the first (30.5 days old) goes; 5 remain, the bound */
	CHECK_EQ_INT(lb_audit_prune(a, T0 + 30 * DAY + DAY / 2, &err), 1);
	CHECK_EQ_INT(count(a, (lb_audit_query){0}), 5);
	/* one more: the oldest beyond 5 rows goes */
	add(a, "unix:new", "robot.move", "mbot-1", "ok", at(0, T0 + 30 * DAY));
	CHECK_EQ_INT(lb_audit_prune(a, T0 + 30 * DAY + DAY / 2, &err), 1);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:old"}), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:new"}), 5);
	/* tick: prunes at the first call, then only an hour later */
	lb_audit_destroy(&a);
	a = lb_audit_new(path, 1, 1000, &err);
	CHECK_EQ_INT(lb_audit_tick(a, at(0, T0 + 30 * DAY), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){0}), 5); /* all younger than a day */
	CHECK_EQ_INT(lb_audit_tick(a, at(LB_AUDIT_PRUNE_NS - 1, T0 + 40 * DAY), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){0}), 5); /* not yet an hour */
	CHECK_EQ_INT(lb_audit_tick(a, at(LB_AUDIT_PRUNE_NS, T0 + 40 * DAY), &err), 0);
	CHECK_EQ_INT(lb_audit_list(a, &(lb_audit_query){0}, &out, &err), 0);
	CHECK_EQ_INT(json_array_size(out), 0);
	json_decref(out);
	lb_audit_destroy(&a);
}

static void test_pruning_in_chunks(void)
{
	char path[128];
	lb_audit *a;
	lb_error err = {0};
	int n = LB_AUDIT_PRUNE_CHUNK + 10;

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 1, 1000000, &err);
	for (int i = 0; i < n; i++)
		add(a, "unix:old", "robot.move", "mbot-1", "ok", at(0, T0 + i));
	add(a, "unix:new", "robot.move", "mbot-1", "ok", at(0, T0 + 2 * DAY));
	/* the first tick removes one chunk, the next (a second later, not an hour) the rest */
	CHECK_EQ_INT(lb_audit_tick(a, at(0, T0 + 2 * DAY), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:old", .limit = 1000}), 10);
	CHECK_EQ_INT(lb_audit_tick(a, at(LB_AUDIT_BATCH_NS - 1, T0 + 2 * DAY), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:old", .limit = 1000}), 10);
	CHECK_EQ_INT(lb_audit_tick(a, at(LB_AUDIT_BATCH_NS, T0 + 2 * DAY), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:old", .limit = 1000}), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.user = "unix:new"}), 1);
	lb_audit_destroy(&a);
}

static void test_row_bound_at_every_tick(void)
{
	char path[128];
	lb_audit *a;
	lb_error err = {0};

	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 100, &err);
	CHECK_EQ_INT(lb_audit_tick(a, at(0, T0), &err), 0); /* the first pruning */
	for (int i = 0; i < 1000; i++)
		add(a, "unix:flood", "robot.move", "mbot-1", "forbidden", at(SEC / 10, T0));
	/* half a second later, not an hour: the bound holds, the newest kept */
	CHECK_EQ_INT(lb_audit_tick(a, at(SEC / 2, T0), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.limit = 1000}), 100);
	/* reopened: the count of rows is read again */
	lb_audit_destroy(&a);
	a = lb_audit_new(path, 90, 50, &err);
	CHECK_EQ_INT(lb_audit_tick(a, at(0, T0), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.limit = 1000}), 50);
	add(a, "unix:flood", "robot.move", "mbot-1", "forbidden", at(0, T0));
	CHECK_EQ_INT(lb_audit_tick(a, at(1, T0), &err), 0);
	CHECK_EQ_INT(count(a, (lb_audit_query){.limit = 1000}), 50);
	lb_audit_destroy(&a);
}

static void test_summary(void)
{
	char out[LB_AUDIT_SUMMARY_MAX + 1];
	char big[2000];
	json_t *p;

	p = json_pack("{s:s,s:f}", "device", "mbot-1", "left", 0.5);
	lb_audit_summary(p, out, sizeof out);
	CHECK_STR(out, "{\"device\":\"mbot-1\",\"left\":0.5}");
	json_decref(p);
	/* secrets and bulk data never appear */
	p = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", "5B", "secret_key", "SECRETSECRET", "token",
		      "TOKTOK", "program", "print('x')", "pair_code", "123456");
	lb_audit_summary(p, out, sizeof out);
	CHECK(strstr(out, "SECRET") == NULL);
	CHECK(strstr(out, "TOKTOK") == NULL);
	CHECK(strstr(out, "print(") == NULL);
	CHECK(strstr(out, "123456") == NULL);
	CHECK(strstr(out, "\"name\":\"5B\"") != NULL);
	json_decref(p);
	/* bounded: a huge string and many keys stay within 200 bytes, valid UTF-8 */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	p = json_object();
	for (int i = 0; i < 40; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%02d", i);
		json_object_set_new(p, k, json_string(i % 2 ? big : "é€😀é€😀é€😀é€😀"));
	}
	lb_audit_summary(p, out, sizeof out);
	CHECK(strlen(out) <= LB_AUDIT_SUMMARY_MAX);
	CHECK(strlen(out) > 150);
	{
		json_t *valid = json_string(out); /* jansson refuses invalid UTF-8 */
		CHECK(valid != NULL);
		json_decref(valid);
	}
	json_decref(p);
	/* a small buffer is respected too */
	p = json_pack("{s:s}", "device", "a-rather-long-device-name");
	lb_audit_summary(p, out, 12);
	CHECK(strlen(out) <= 11);
	json_decref(p);
	/* not an object: empty */
	lb_audit_summary(NULL, out, sizeof out);
	CHECK_STR(out, "");
	/* nested values are cut */
	p = json_pack("{s:{s:{s:i}}}", "a", "b", "c", 1);
	lb_audit_summary(p, out, sizeof out);
	CHECK_STR(out, "{\"a\":{\"b\":\"…\"}}");
	json_decref(p);
}

static void test_bounded_columns(void)
{
	char path[128], big[1000];
	lb_audit *a;
	lb_error err = {0};
	json_t *out = NULL;
	lb_audit_entry e = {0};

	memset(big, 'u', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	fresh_path(path, sizeof path);
	a = lb_audit_new(path, 90, 1000, &err);
	e.user = e.name = e.method = e.device = e.summary = e.outcome = big;
	CHECK(lb_audit_record(a, &e, at(0, T0), &err) > 0);
	CHECK_EQ_INT(lb_audit_list(a, &(lb_audit_query){0}, &out, &err), 0);
	CHECK(strlen(json_string_value(json_object_get(json_array_get(out, 0), "user"))) <= 128);
	CHECK(strlen(json_string_value(json_object_get(json_array_get(out, 0), "params"))) <=
	      LB_AUDIT_SUMMARY_MAX);
	CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "role")), "");
	json_decref(out);
	lb_audit_destroy(&a);
}

static void test_open_fails(void)
{
	lb_error err = {0};
	CHECK(lb_audit_new("/nonexistent-dir/x/audit.db", 90, 10, &err) == NULL);
	CHECK(strstr(err.message, "cannot open") != NULL);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_record_and_list);
	RUN(test_outcome_completed);
	RUN(test_limits_and_paging);
	RUN(test_batching_and_persistence);
	RUN(test_pruning);
	RUN(test_pruning_in_chunks);
	RUN(test_row_bound_at_every_tick);
	RUN(test_summary);
	RUN(test_bounded_columns);
	RUN(test_open_fails);
	if (check_nfail == 0) {
		char cmd[sizeof root + 16];
		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return check_summary();
}
