/* test_topics.c - unit tests of bridge/core/topics.c: every prefix of every topic, every role,
 * against an oracle. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../bridge/core/topics.h"
#include "check.h"

/* A lab: devices with their streams and owners (a lease holder, or a job owner). */
typedef struct fake_dev {
	const char *kind, *id;
	const char *streams[6];
	const char *owner;
} fake_dev;

static fake_dev lab[] = {
    {"sensor", "s1", {"temperature", "ph", NULL}, NULL},
    {"sensor", "s10", {"temperature", NULL}, "unix:alice"},
    {"robot", "r1", {"prox", "acc", "console", "event", NULL}, "unix:alice"},
    {"robot", "r10", {"prox", "ground", NULL}, "unix:bob"},
    {"robot", "r2", {"prox", "state", NULL}, NULL},
    {"printer", "p1", {"status", "hotend", "bed", "console", NULL}, "unix:bob"},
    {"scanner", "sc1", {"progress", "image", NULL}, "unix:alice"},
    {"scanner3d", "c1", {"points", "progress", NULL}, NULL},
    {"camera", "cam1", {"frame", NULL}, NULL},
};
#define NLAB (sizeof lab / sizeof lab[0])

static size_t ndev = NLAB;
static const char *swap_owner; /* when set, every owned device is this user's instead */

static size_t v_count(void *arg)
{
	(void)arg;
	return ndev;
}

static void v_device(void *arg, size_t i, const char **kind, const char **id)
{
	(void)arg;
	*kind = lab[i].kind;
	*id = lab[i].id;
}

static const char *v_stream(void *arg, size_t i, size_t j)
{
	(void)arg;
	return j < 6 ? lab[i].streams[j] : NULL;
}

static bool v_owns(void *arg, size_t i, const char *user)
{
	(void)arg;
	if (!lab[i].owner || !user)
		return false;
	return strcmp(swap_owner ? swap_owner : lab[i].owner, user) == 0;
}

static const lb_topic_view view = {v_count, v_device, v_stream, v_owns, NULL};

/* The topics that exist (every stream of every device, the service topics, the bridge's), and
 * some of devices the view does not know (which a narrowing may miss, but must never leak). */
static char topics[128][96];
static size_t ntopics, nknown;

static void add_topic(const char *t)
{
	snprintf(topics[ntopics++], sizeof topics[0], "%s", t);
}

static void build_topics(void)
{
	char t[96];

	ntopics = 0;
	for (size_t i = 0; i < NLAB; i++)
		for (size_t j = 0; lab[i].streams[j]; j++) {
			snprintf(t, sizeof t, "%s/%s/%s/", lab[i].kind, lab[i].id,
				 lab[i].streams[j]);
			add_topic(t);
		}
	add_topic("robot/r1/state/");
	add_topic("robot/r10/state/");
	add_topic("robot/r1/event/button/");
	add_topic("robot/r2/event/button/");
	add_topic("robot/r2/console/");
	add_topic("scanner/sc1/image/");
	add_topic("bridge/heartbeat/");
	add_topic("bridge/devices/");
	add_topic("bridge/queue/");
	add_topic("bridge/scans/");
	add_topic("bridge/room/");
	nknown = ntopics;
	/* devices the view does not know: only their privacy is checked */
	add_topic("robot/r9/console/");
	add_topic("robot/r9/prox/");
	add_topic("printer/p2/console/");
	add_topic("scanner3d/c2/points/");
	add_topic("sensor/s2/temperature/");
}

/* The oracle: whether (role, user) may receive topic. */
static bool may_see(lb_role role, const char *user, const char *topic)
{
	char kind[32], id[32];

	if (role == LB_ROLE_TEACHER || !lb_topic_restricted(topic, strlen(topic)))
		return true;
	if (role != LB_ROLE_STUDENT || sscanf(topic, "%31[^/]/%31[^/]/", kind, id) != 2)
		return false;
	for (size_t i = 0; i < ndev; i++)
		if (strcmp(lab[i].kind, kind) == 0 && strcmp(lab[i].id, id) == 0)
			return v_owns(NULL, i, user);
	return false;
}

/* The prefixes a narrowing emitted. */
typedef struct emitted {
	char p[64][LB_TOPIC_MAX + 1];
	size_t n;
	bool dup, toolong;
} emitted;

static void collect(void *arg, const char *prefix, size_t len)
{
	emitted *e = arg;

	if (len > LB_TOPIC_MAX || e->n >= 64) {
		e->toolong = true;
		return;
	}
	for (size_t i = 0; i < e->n; i++)
		if (strlen(e->p[i]) == len && memcmp(e->p[i], prefix, len) == 0)
			e->dup = true;
	memcpy(e->p[e->n], prefix, len);
	e->p[e->n++][len] = '\0';
}

static bool starts(const char *s, const char *p, size_t plen)
{
	return strncmp(s, p, plen) == 0;
}

/* Check one subscriber and one prefix against the oracle, on every topic. */
static void check_one(lb_role role, const char *user, const char *prefix, size_t len)
{
	emitted e = {.n = 0};
	bool owned = false, owned2 = false;
	char why[400];
	lb_topic_verdict v =
	    lb_topic_check(role, user, prefix, len, &view, collect, &e, &owned, why, sizeof why);
	char note[300];

	snprintf(note, sizeof note, "%s %s prefix '%.*s' verdict %d", lb_role_name(role),
		 user ? user : "-", (int)len, prefix, (int)v);
	CHECK_MSG(!e.dup && !e.toolong, note);
	if (v != LB_TOPIC_NARROW)
		CHECK_MSG(e.n == 0, note);
	if (v == LB_TOPIC_REFUSE)
		CHECK_MSG(why[0] != '\0', note);
	for (size_t i = 0; i < ntopics; i++) {
		const char *t = topics[i];
		bool wanted = starts(t, prefix, len), gets = false;
		if (v == LB_TOPIC_ALLOW)
			gets = wanted;
		for (size_t k = 0; v == LB_TOPIC_NARROW && k < e.n && !gets; k++)
			gets = starts(t, e.p[k], strlen(e.p[k]));
		char tn[512];
		snprintf(tn, sizeof tn, "%s: topic %s (gets %d)", note, t, gets);
		/* never more than the subscription asked for, never a topic it may not see */
		if (gets)
			CHECK_MSG(wanted && may_see(role, user, t), tn);
		/* everything it asked for and may see, among the devices the bridge knows */
		if (i < nknown && wanted && may_see(role, user, t))
			CHECK_MSG(gets, tn);
	}
	/* an answer that does not say it depends on ownership does not change with it */
	swap_owner = "unix:nobody-else";
	emitted e2 = {.n = 0};
	lb_topic_verdict v2 =
	    lb_topic_check(role, user, prefix, len, &view, collect, &e2, &owned2, NULL, 0);
	swap_owner = NULL;
	if (!owned) {
		CHECK_MSG(v2 == v && e2.n == e.n, note);
		for (size_t k = 0; k < e.n && k < e2.n; k++)
			CHECK_MSG(strcmp(e.p[k], e2.p[k]) == 0, note);
	}
}

/* Every byte prefix of every topic, and a few that match nothing, for each subscriber. */
static void test_every_prefix_every_role(void)
{
	static const struct {
		lb_role role;
		const char *user;
	} who[] = {
	    {LB_ROLE_OBSERVER, "remote:10.0.0.7"}, {LB_ROLE_OBSERVER, "unix:alice"},
	    {LB_ROLE_STUDENT, "unix:alice"},	   {LB_ROLE_STUDENT, "unix:bob"},
	    {LB_ROLE_STUDENT, "unix:carol"},	   {LB_ROLE_STUDENT, NULL},
	    {LB_ROLE_TEACHER, "unix:root"},
	};
	static const char *const extra[] = {
	    "x",	"robot//console/",	"robot/r1/console/x", "robot/r1/co",
	    "robot/r1", "printer/p1/console/M", "scanner3d/",	      "s",
	    "r"};

	build_topics();
	for (size_t w = 0; w < sizeof who / sizeof *who; w++) {
		for (size_t i = 0; i < ntopics; i++)
			for (size_t len = 0; len <= strlen(topics[i]); len++)
				check_one(who[w].role, who[w].user, topics[i], len);
		for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
			check_one(who[w].role, who[w].user, extra[i], strlen(extra[i]));
	}
}

/* The cases the issue names, spelled out. */
static void test_named_cases(void)
{
	emitted e = {.n = 0};
	bool owned;
	char why[400];

	/* a student's forged subscription to another group's robot console: refused, said why */
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_STUDENT, "unix:carol", "robot/r1/console/", 17, &view,
				    collect, &e, &owned, why, sizeof why),
		     LB_TOPIC_REFUSE);
	CHECK(owned);
	CHECK_CONTAINS(why, "robot/r1/console/");
	CHECK_CONTAINS(why, "unix:carol");
	/* its owner receives it; a teacher too; an observer never, whoever it is */
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_STUDENT, "unix:alice", "robot/r1/console/", 17, &view,
				    NULL, NULL, &owned, NULL, 0),
		     LB_TOPIC_ALLOW);
	CHECK(owned);
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_TEACHER, "unix:carol", "robot/r1/console/", 17, &view,
				    NULL, NULL, &owned, NULL, 0),
		     LB_TOPIC_ALLOW);
	CHECK(!owned);
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_OBSERVER, "unix:alice", "robot/r1/console/", 17, &view,
				    NULL, NULL, &owned, NULL, 0),
		     LB_TOPIC_REFUSE);
	CHECK(!owned);
	/* the job's owner sees the printer's console (bob's job on p1) */
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_STUDENT, "unix:bob", "printer/p1/console/", 19, &view,
				    NULL, NULL, NULL, NULL, 0),
		     LB_TOPIC_ALLOW);
	/* public families as they are, whoever asks */
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_OBSERVER, NULL, "sensor/", 7, &view, NULL, NULL, &owned,
				    NULL, 0),
		     LB_TOPIC_ALLOW);
	CHECK(!owned);
	CHECK_EQ_INT(
	    lb_topic_check(LB_ROLE_OBSERVER, NULL, "bridge/", 7, &view, NULL, NULL, NULL, NULL, 0),
	    LB_TOPIC_ALLOW);
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_OBSERVER, NULL, "robot/r1/state/", 15, &view, NULL,
				    NULL, NULL, NULL, 0),
		     LB_TOPIC_ALLOW);
	/* a student's "" is narrowed: the whole of its own robot, the public rest */
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(lb_topic_check(LB_ROLE_STUDENT, "unix:alice", "", 0, &view, collect, &e,
				    &owned, why, sizeof why),
		     LB_TOPIC_NARROW);
	CHECK(owned);
	CHECK_CONTAINS(why, "narrowed");
	bool whole_r1 = false, r10_console = false, cam = false;
	for (size_t k = 0; k < e.n; k++) {
		whole_r1 |= strcmp(e.p[k], "robot/r1/") == 0;
		r10_console |= strncmp(e.p[k], "robot/r10/c", 11) == 0;
		cam |= strcmp(e.p[k], "camera/") == 0;
	}
	CHECK(whole_r1 && !r10_console && cam);
	/* no devices at all: "" is the public kinds */
	ndev = 0;
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(
	    lb_topic_check(LB_ROLE_OBSERVER, NULL, "", 0, &view, collect, &e, NULL, NULL, 0),
	    LB_TOPIC_NARROW);
	CHECK_EQ_UINT(e.n, 2);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(
	    lb_topic_check(LB_ROLE_OBSERVER, NULL, "robot/", 6, NULL, collect, &e, NULL, NULL, 0),
	    LB_TOPIC_NARROW);
	CHECK_EQ_UINT(e.n, 0);
	ndev = NLAB;
}

static void test_restricted(void)
{
	CHECK(lb_topic_restricted("robot/r1/console/", 17));
	CHECK(lb_topic_restricted("robot/r1/event/x/", 17));
	CHECK(lb_topic_restricted("printer/p/console/", 18));
	CHECK(lb_topic_restricted("scanner/s/image/", 16));
	CHECK(lb_topic_restricted("scanner3d/s/points/", 19));
	CHECK(!lb_topic_restricted("scanner/s/points/", 17));
	CHECK(!lb_topic_restricted("sensor/s/console/", 17));
	CHECK(!lb_topic_restricted("robot/r1/console", 16)); /* not a whole segment */
	CHECK(!lb_topic_restricted("robot/r1/consoles/", 18));
	CHECK(!lb_topic_restricted("", 0));
	CHECK(!lb_topic_restricted("bridge/heartbeat/", 17));
}

int main(void)
{
	RUN(test_restricted);
	RUN(test_named_cases);
	RUN(test_every_prefix_every_role);
	return check_summary();
}
