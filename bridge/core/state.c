/* state.c - the server's state as the request files and the services read it (accessors). */
#include <stdio.h>
#include <string.h>

#include "../util/grow.h"
#include "../util/log.h"
#include "host.h"
#include "state.h"

lb_device *srv_find_device(lb_server *s, const char *id)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (s->dev[i]->opened && !s->dev[i]->removing &&
		    strcmp(s->dev[i]->spec.id, id) == 0)
			return s->dev[i];
	return NULL;
}

const json_t *srv_config(const lb_server *s)
{
	return s->opts.config;
}

const char *srv_data_dir(const lb_server *s)
{
	return s->opts.data_dir;
}

void *srv_zmq_context(lb_server *s)
{
	return s->zctx;
}

const char *srv_streams_endpoint(const lb_server *s)
{
	(void)s;
	return STREAMS_INPROC;
}

const unsigned char *srv_streams_token(const lb_server *s)
{
	return s->streams_token;
}

lb_device *srv_device_at(lb_server *s, size_t i)
{
	return i < s->ndev ? s->dev[i] : NULL;
}

int srv_device_live(const lb_device *d)
{
	return d->opened && !d->removing;
}

void **lb_service_state(lb_server *s, const lb_service *svc)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n && i < LB_MAX_SERVICES; i++)
		if (v[i] == svc)
			return &s->svc_state[i];
	return NULL;
}

int srv_lease_check(lb_server *s, lb_call *c, const char *id, lb_error *err)
{
	return lb_lease_check(&s->leases, id, &c->client, c->now.mono, err);
}

int srv_forward(lb_server *s, lb_call *c, lb_device *d, const char *cmd, json_t *params,
		lb_error *err)
{
	pending *p;
	uint64_t token = ++s->next_token;

	if (srv_permit(s, d, cmd, params, err) < 0)
		return LB_EFAIL;
	if (lb_grow(&s->pend, &s->cappend, s->npend, sizeof *s->pend) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (lb_device_send(d, cmd, token, params) < 0)
		return lb_error_set(err, LB_ERR_TIMEOUT,
				    "device '%s' is not answering (its queue is full)", d->spec.id);
	p = &s->pend[s->npend++];
	p->token = token;
	p->audit_id = 0;
	p->dev = d;
	p->deadline = c->now.mono + (int64_t)s->opts.request_timeout_ms * 1000000;
	p->id = json_copy(c->req.id);
	p->sock = c->sock;
	p->nenv = c->nenv;
	for (int i = 0; i < c->nenv; i++) {
		zmq_msg_init(&p->env[i]);
		zmq_msg_move(&p->env[i], &c->env[i]);
	}
	return LB_EAGAIN;
}

uint64_t srv_send(lb_server *s, lb_device *d, const char *cmd, json_t *params)
{
	uint64_t token = ++s->next_token;

	if (srv_permit(s, d, cmd, params, NULL) < 0)
		return 0;
	return lb_device_send(d, cmd, token, params) < 0 ? 0 : token;
}

const char *srv_epoch(const lb_server *s)
{
	return s->epoch;
}

int64_t srv_start_mono(const lb_server *s)
{
	return s->start_mono;
}

const lb_server_opts *srv_opts(const lb_server *s)
{
	return &s->opts;
}

lb_leases *srv_leases(lb_server *s)
{
	return &s->leases;
}

json_t *srv_ended(lb_server *s)
{
	return s->ended;
}

uint64_t srv_devices_seq(const lb_server *s)
{
	return s->dev_seq;
}

void srv_rescan(lb_server *s)
{
	s->rescan = 1;
}

lb_client *srv_session(lb_server *s, const lb_client *c, int create)
{
	for (size_t i = 0; i < s->nsess; i++)
		if (lb_client_same(&s->sess[i].c, c))
			return &s->sess[i].c;
	if (!create || lb_grow(&s->sess, &s->capsess, s->nsess, sizeof *s->sess) < 0)
		return NULL;
	s->sess[s->nsess].c = *c;
	return &s->sess[s->nsess++].c;
}

const char *lb_server_endpoint(const lb_server *s, const char *which)
{
	if (strcmp(which, "pub") == 0)
		return s->ep_pub;
	if (strcmp(which, "rpc") == 0)
		return s->ep_rpc;
	if (strcmp(which, "net_pub") == 0)
		return s->ep_net_pub;
	if (strcmp(which, "net_rpc") == 0)
		return s->ep_net_rpc;
	if (strcmp(which, "http") == 0)
		return s->ep_http;
	return s->ep_ws;
}

void srv_set_http(lb_server *s, const char *url)
{
	snprintf(s->ep_http, sizeof s->ep_http, "%s", url ? url : "");
}

int lb_server_simulated(const lb_server *s)
{
	return s->simulate > 0;
}

int srv_permit(lb_server *s, lb_device *d, const char *cmd, const json_t *params, lb_error *err)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);
	lb_error scratch;

	for (size_t i = 0; i < n; i++)
		if (v[i]->permit && v[i]->permit(s, d, cmd, params, err ? err : &scratch) < 0)
			return LB_EFAIL;
	return 0;
}

int srv_halt(lb_server *s, lb_device *d, const char *who)
{
	int rc = lb_device_halt(d);

	(void)s;
	if (rc == 0)
		lb_warn("device %s halted by %s", d->spec.id, who);
	else if (rc != LB_EINVAL)
		lb_err("device %s: halt by %s: %s", d->spec.id, who,
		       rc == LB_EGONE ? "it is closing" : "the driver could not reach it at once");
	return rc;
}

void srv_devices_ready(lb_server *s)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t k = 0; k < s->ndev; k++)
		if (srv_device_live(s->dev[k]))
			for (size_t i = 0; i < n; i++)
				if (v[i]->device_ready)
					v[i]->device_ready(s, s->dev[k]);
}

void srv_lease_changed(lb_server *s, const char *id, bool ended)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);
	lb_device *d = srv_find_device(s, id);

	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i]->lease_changed)
			v[i]->lease_changed(s, d, ended);
	srv_publish_device_event(s, "changed", d);
}

const lb_lease *srv_lease_find(lb_server *s, const char *id, int64_t now)
{
	return lb_lease_find(&s->leases, id, now);
}

void srv_lease_drop(lb_server *s, const char *id, int64_t now)
{
	const lb_lease *l = lb_lease_find(&s->leases, id, now);
	lb_error err;

	if (!l)
		return;
	lb_client holder = l->holder;
	holder.role = LB_ROLE_TEACHER; /* as a teacher would: whoever holds it */
	if (lb_lease_release(&s->leases, id, &holder, now, &err) == 0) {
		lb_info("lease on %s ended (%s held it)", id, holder.user);
		srv_lease_changed(s, id, true);
	}
}

void srv_device_changed(lb_server *s, const char *id)
{
	lb_device *d = srv_find_device(s, id);

	if (d)
		srv_publish_device_event(s, "changed", d);
}
