/* test_dispatch.c - the service registry, and the role and lease checks made from method tables. */
#include <stdio.h>
#include <string.h>

#include "../../bridge/core/device.h"
#include "../../bridge/core/state.h"
#include "../../bridge/services/jobs/upload.h"
#include "check.h"

/* ---------------------------------------------------------------- a service of the test's own */

static int calls; /* how many times a test method ran */

static int m_count(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	(void)s, (void)c, (void)err;
	calls++;
	*result = json_true();
	return 0;
}

static int events_taken, replies_taken;

static int t_event(lb_server *s, lb_device *d, const json_t *ev)
{
	(void)s, (void)d;
	if (!json_object_get(ev, "test"))
		return 0;
	events_taken++;
	return 1;
}

static int t_reply(lb_server *s, uint64_t token, const json_t *r)
{
	(void)s, (void)r;
	if (token != 4242)
		return 0;
	replies_taken++;
	return 1;
}

static const lb_method test_methods[] = {
    {"test.observe", LB_ROLE_OBSERVER, 0, m_count},
    {"test.student", LB_ROLE_STUDENT, 0, m_count},
    {"test.teacher", LB_ROLE_TEACHER, 0, m_count},
    {"test.leased", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_count},
    {"test.leases", LB_ROLE_STUDENT, LB_METHOD_LEASES, m_count},
    {NULL, 0, 0, NULL},
};

static const lb_service test_service = {
    .name = "test",
    .methods = test_methods,
    .event = t_event,
    .reply = t_reply,
};
LB_REGISTER_SERVICE(test_service);

/* ---------------------------------------------------------------- a server with two devices */

static lb_server srv;
static lb_device dev_a, dev_b;
static lb_device *devs[2] = {&dev_a, &dev_b};

/* Each service's state, as lb_server_new makes it, freed as lb_server_destroy does. */
static void services(int up)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n; i++) {
		if (up && v[i]->init)
			CHECK_EQ_INT(v[i]->init(&srv), 0);
		if (!up && v[i]->destroy)
			v[i]->destroy(&srv);
	}
}

static void setup(void)
{
	services(0);
	memset(&srv, 0, sizeof srv);
	memset(&dev_a, 0, sizeof dev_a);
	memset(&dev_b, 0, sizeof dev_b);
	snprintf(dev_a.spec.id, sizeof dev_a.spec.id, "dev-a");
	snprintf(dev_b.spec.id, sizeof dev_b.spec.id, "dev-b");
	dev_a.opened = dev_b.opened = true;
	srv.dev = devs;
	srv.ndev = 2;
	srv.opts.data_dir = "/nonexistent/labbridge-test";
	calls = 0;
	services(1);
}

static lb_client who(const char *user, lb_role role, unsigned char rid)
{
	lb_client c;

	memset(&c, 0, sizeof c);
	c.rid[0] = rid;
	c.rid_len = 1;
	snprintf(c.user, sizeof c.user, "%s", user);
	c.role = role;
	return c;
}

/* Dispatch method(params) as client at time 1 s: the method's result code; err filled. */
static int call(const lb_client *client, const char *method, const char *params, lb_error *err)
{
	lb_call c;
	json_t *result = NULL;
	char text[512];
	int rc;

	memset(&c, 0, sizeof c);
	memset(err, 0, sizeof *err);
	c.client = *client;
	c.now.mono = 1000000000;
	c.now.real = 1000000000;
	snprintf(text, sizeof text, "{\"id\":1,\"method\":\"%s\",\"params\":%s}", method,
		 params ? params : "{}");
	if (lb_request_parse(text, strlen(text), &c.req, err) < 0)
		return -999;
	rc = srv_dispatch(&srv, &c, &result, err);
	json_decref(result);
	lb_request_clear(&c.req);
	return rc;
}

/* ---------------------------------------------------------------- tests */

/* Every registered service is found, each method once across all services, each declared with
 * a role and a function. */
static void test_registry(void)
{
	size_t n, nmethods = 0;
	const lb_service *const *v = lb_services(&n);
	const char *want[] = {"core", "print", "sensing", "test"};
	const lb_service *svc = NULL;

	for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
		int found = 0;
		for (size_t i = 0; i < n; i++)
			found += strcmp(v[i]->name, want[w]) == 0;
		CHECK_MSG(found == 1, want[w]);
	}
	CHECK(n <= LB_MAX_SERVICES);
	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++) {
			const lb_service *owner = NULL;
			nmethods++;
			CHECK_MSG(m->fn != NULL, m->name);
			CHECK_MSG(m->role >= LB_ROLE_OBSERVER && m->role <= LB_ROLE_TEACHER,
				  m->name);
			/* the first service declaring a name is the one routed to: no duplicates */
			CHECK_MSG(lb_service_method(m->name, &owner) == m && owner == v[i],
				  m->name);
		}
	CHECK(nmethods > 30);
	CHECK(lb_service_method("test.leased", &svc) == &test_methods[3] && svc == &test_service);
	CHECK(lb_service_method("no.such.method", NULL) == NULL);
	/* the core's own methods are routed like any service's */
	CHECK(lb_service_method("devices.list", &svc) && strcmp(svc->name, "core") == 0);
	CHECK(lb_service_method("print.upload", &svc) && strcmp(svc->name, "print") == 0);
	CHECK(lb_service_method("print.upload", NULL)->flags & LB_METHOD_UPLOAD);
	/* only declared methods take binary frames, each with its limit and directory
	 * (LB_UPLOAD_METHOD), and every such declaration is a method that takes them */
	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++)
			CHECK_MSG(!(m->flags & LB_METHOD_UPLOAD) == !lb_upload_find(m->name),
				  m->name);
	CHECK(lb_upload_find("print.upload") && lb_upload_find("print.upload")->max_bytes > 0);
	CHECK(lb_upload_method("print.upload") && !lb_upload_method("devices.list"));
}

/* Every method of every service, called by every role below the one it declares, is refused
 * before it runs (the method table is the only place roles are stated). */
static void test_every_method_every_role(void)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);
	int checked = 0;

	setup();
	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++)
			for (lb_role r = LB_ROLE_OBSERVER; r < m->role; r++) {
				lb_client c = who("unix:pupil", r, 7);
				lb_error err;
				int rc = call(&c, m->name, "{\"device\":\"dev-a\"}", &err);
				CHECK_MSG(rc < 0 && err.code == LB_ERR_FORBIDDEN, m->name);
				CHECK_CONTAINS(err.message, lb_role_name(m->role));
				checked++;
			}
	CHECK(checked > 15);
	CHECK_EQ_INT(calls, 0);
	/* at or above the declared role, the method runs */
	for (lb_role r = LB_ROLE_OBSERVER; r <= LB_ROLE_TEACHER; r++) {
		lb_client c = who("unix:someone", r, 8);
		lb_error err;
		int before = calls;
		CHECK_EQ_INT(call(&c, "test.observe", NULL, &err), 0);
		CHECK_EQ_INT(call(&c, "test.student", NULL, &err),
			     r >= LB_ROLE_STUDENT ? 0 : LB_EFAIL);
		CHECK_EQ_INT(call(&c, "test.teacher", NULL, &err),
			     r >= LB_ROLE_TEACHER ? 0 : LB_EFAIL);
		CHECK_EQ_INT(calls - before, 1 + (r >= LB_ROLE_STUDENT) + (r >= LB_ROLE_TEACHER));
	}
}

/* LB_METHOD_LEASE: the device must exist and its lease allow the caller, checked before the
 * method runs, for every method declaring it. */
static void test_lease_from_the_table(void)
{
	lb_client alice = who("unix:alice", LB_ROLE_STUDENT, 1);
	lb_client bob = who("unix:bob", LB_ROLE_STUDENT, 2);
	lb_client teacher = who("unix:prof", LB_ROLE_TEACHER, 3);
	lb_error err;
	size_t n;
	const lb_service *const *v = lb_services(&n);

	setup();
	CHECK_EQ_INT(call(&bob, "test.leased", "{}", &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "missing parameter 'device'");
	CHECK_EQ_INT(call(&bob, "test.leased", "{\"device\":\"nope\"}", &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_UNKNOWN_DEVICE);
	CHECK_EQ_INT(call(&bob, "test.leased", "{\"device\":\"dev-a\"}", &err), 0);
	CHECK_EQ_INT(calls, 1);
	/* alice leases dev-a: bob is refused on it, not on dev-b; alice and a teacher... */
	CHECK_EQ_INT(lb_lease_acquire(&srv.leases, "dev-a", &alice, 60000000000LL, false,
				      1000000000, NULL, &err),
		     0);
	CHECK_EQ_INT(call(&bob, "test.leased", "{\"device\":\"dev-a\"}", &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK_EQ_INT(call(&bob, "test.leased", "{\"device\":\"dev-b\"}", &err), 0);
	CHECK_EQ_INT(call(&alice, "test.leased", "{\"device\":\"dev-a\"}", &err), 0);
	CHECK_EQ_INT(calls, 3);
	/* every real method declaring the lease refuses bob on dev-a before doing anything */
	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++) {
			if (!(m->flags & LB_METHOD_LEASE) || m->role > LB_ROLE_STUDENT)
				continue;
			CHECK_MSG(call(&bob, m->name, "{\"device\":\"dev-a\"}", &err) == LB_EFAIL &&
				      err.code == LB_ERR_LEASED,
				  m->name);
		}
	/* LB_METHOD_LEASES: each listed device that exists */
	CHECK_EQ_INT(call(&bob, "test.leases", "{\"devices\":[\"dev-b\",\"dev-a\"]}", &err),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK_EQ_INT(call(&bob, "test.leases", "{\"devices\":[\"dev-b\",\"gone\"]}", &err), 0);
	CHECK_EQ_INT(call(&bob, "acquisition.start", "{\"devices\":[\"dev-a\"]}", &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	(void)teacher;
	lb_leases_clear(&srv.leases);
}

/* Unknown methods, and events and replies routed to the service that claims them. */
static void test_routing(void)
{
	lb_client c = who("unix:prof", LB_ROLE_TEACHER, 3);
	lb_error err;
	size_t n;
	const lb_service *const *v = lb_services(&n);
	json_t *mine = json_pack("{s:b}", "test", 1), *other = json_pack("{s:i}", "x", 1);
	int taken = 0;

	setup();
	CHECK_EQ_INT(call(&c, "nothing.here", NULL, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_METHOD_NOT_FOUND);
	/* as server.c offers an event: to each service until one takes it */
	for (size_t i = 0; i < n && !taken; i++)
		taken = v[i]->event && v[i]->event(&srv, &dev_a, mine);
	CHECK(taken);
	CHECK_EQ_INT(events_taken, 1);
	taken = 0;
	for (size_t i = 0; i < n && !taken; i++)
		taken = v[i]->event && v[i]->event(&srv, &dev_a, other);
	CHECK(!taken);
	taken = 0;
	for (size_t i = 0; i < n && !taken; i++)
		taken = v[i]->reply && v[i]->reply(&srv, 4242, other);
	CHECK(taken);
	CHECK_EQ_INT(replies_taken, 1);
	json_decref(mine);
	json_decref(other);
}

int main(void)
{
	RUN(test_registry);
	RUN(test_every_method_every_role);
	RUN(test_lease_from_the_table);
	RUN(test_routing);
	services(0);
	return check_summary();
}
