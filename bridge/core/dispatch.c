/* dispatch.c - a request's route to its method, after the checks the method's declaration asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/driver.h"
#include "call.h"
#include "device.h"
#include "server.h"
#include "service.h"

const lb_client *lb_call_client(const lb_call *c)
{
	return &c->client;
}

json_t *lb_call_params(const lb_call *c)
{
	return c->req.params;
}

const lb_now *lb_call_now(const lb_call *c)
{
	return &c->now;
}

const void *lb_call_input(const lb_call *c, size_t *len)
{
	*len = c->in_data ? c->in_len : 0;
	return c->in_data;
}

void lb_call_set_output(lb_call *c, void *data, size_t len)
{
	free(c->data);
	c->data = data;
	c->datalen = len;
}

lb_device *srv_param_device(lb_server *s, lb_call *c, lb_error *err)
{
	const char *id = NULL;
	lb_device *d;

	if (lb_param_string(c->req.params, "device", true, &id, err) < 0)
		return NULL;
	d = srv_find_device(s, id);
	if (!d)
		lb_error_set(err, LB_ERR_UNKNOWN_DEVICE,
			     "no device '%s' (see devices.list; it may be unplugged)", id);
	return d;
}

/*
 * The checks a method's flags ask for, before it runs: the device of params.device (it must
 * exist, and its lease allow the caller), or each of params.devices that exists (an unknown one
 * is the method's own error to report). 0, or LB_EFAIL with err set.
 */
static int check_leases(lb_server *s, lb_call *c, const lb_method *m, lb_error *err)
{
	if (m->flags & LB_METHOD_LEASE) {
		lb_device *d = srv_param_device(s, c, err);
		if (!d || srv_lease_check(s, c, d->spec.id, err) < 0)
			return LB_EFAIL;
	}
	if (m->flags & LB_METHOD_LEASES) {
		json_t *ids = json_object_get(c->req.params, "devices"), *id;
		size_t i;
		json_array_foreach(ids, i, id)
		{
			lb_device *d =
			    json_is_string(id) ? srv_find_device(s, json_string_value(id)) : NULL;
			if (d && srv_lease_check(s, c, d->spec.id, err) < 0)
				return LB_EFAIL;
		}
	}
	return 0;
}

/* A driver's bridge-level method "<driver>.<method>" (teachers only): 1 with *rc set if the
 * name is one, else 0. */
static int driver_method(lb_server *s, lb_call *c, json_t **result, lb_error *err, int *rc)
{
	const char *dot = strchr(c->req.method, '.');
	char name[32];
	const lb_driver *drv;

	if (!dot || dot - c->req.method >= 32)
		return 0;
	snprintf(name, sizeof name, "%.*s", (int)(dot - c->req.method), c->req.method);
	drv = lb_driver_find(name);
	if (!drv || !drv->bridge_call)
		return 0;
	if (c->client.role < LB_ROLE_TEACHER) {
		*rc =
		    lb_error_set(err, LB_ERR_FORBIDDEN, "%s requires the teacher role; you are %s",
				 c->req.method, lb_role_name(c->client.role));
		return 1;
	}
	*rc = drv->bridge_call(drv, dot + 1, c->req.params, result, err);
	srv_rescan(s); /* it may have changed which devices are present */
	return 1;
}

int srv_dispatch_internal(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	const lb_method *m = lb_service_internal(c->req.method);

	if (!m)
		return lb_error_set(err, LB_ERR_METHOD_NOT_FOUND, "unknown internal method '%s'",
				    c->req.method);
	if (c->client.role < m->role)
		return lb_error_set(err, LB_ERR_FORBIDDEN, "%s requires the %s role; you are %s",
				    c->req.method, lb_role_name(m->role),
				    lb_role_name(c->client.role));
	return m->fn(s, c, result, err);
}

int srv_dispatch(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	const lb_method *m = lb_service_method(c->req.method, NULL);
	int rc;

	if (!m) {
		if (driver_method(s, c, result, err, &rc))
			return rc;
		return lb_error_set(err, LB_ERR_METHOD_NOT_FOUND, "unknown method '%s'",
				    c->req.method);
	}
	if (c->client.role < m->role)
		return lb_error_set(err, LB_ERR_FORBIDDEN, "%s requires the %s role; you are %s",
				    c->req.method, lb_role_name(m->role),
				    lb_role_name(c->client.role));
	if (check_leases(s, c, m, err) < 0)
		return LB_EFAIL;
	return m->fn(s, c, result, err);
}
