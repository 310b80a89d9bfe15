/* server.c - the bridge's main loop: sockets, publishing, device registry, hot-plug, requests. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (not in glibc's) */
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "../util/config.h"
#include "../sdk/driver.h"
#include "../util/grow.h"
#include "host.h"
#include "../util/log.h"
#include "mdns.h"
#include "net.h"
#include "audit.h"
#include "state.h"
#include "subpolicy.h"

#define MONITOR_ENDPOINT "inproc://lb-rpc-monitor"
#define PUB_MONITOR_ENDPOINT "inproc://lb-pub-monitor"
#define RESCAN_NS 2000000000LL
#define RETRY_MAX_NS 30000000000LL
/*
 * Bounded memory (DESIGN.md): libzmq allocates a frame whole as soon as its header announces its
 * size, so the sockets refuse big frames before the bridge sees them (the connection is closed).
 * The request socket's largest legitimate frame is one upload chunk (MAX_BINARY); a client gets
 * RPC_RCVHWM requests queued unread and RPC_SNDHWM replies unsent (a 1 MiB recording.fetch each)
 * before libzmq stops reading from it or drops its replies (the main loop answers up to 64
 * requests at once: fewer dropped the replies of a client with 30 requests in flight, as
 * test_access's dashboard has). The stream socket only receives
 * subscriptions: 1 + LB_SUB_MAX_LEN bytes, with room for ZMTP commands (READY, CURVE's INITIATE).
 */
#define MAX_BINARY (1024 * 1024)
#define RPC_MAXMSGSIZE MAX_BINARY
#define RPC_RCVHWM 16
#define RPC_SNDHWM 64
#define PUB_MAXMSGSIZE 512
#define PUB_RCVHWM 256
/* Connections accepted at once on each socket (~30 KB each in libzmq, and a file descriptor): a
 * connection beyond is closed. */
#define MAX_CONNECTIONS 256
#define CONNS_CHECK_NS 20000000LL /* how often to compare bytes received and delivered */
#define CONNS_QUICK_NS 5000000LL  /* ... while a connection looks suspicious */
#define MAX_CONNECTIONS_TEXT "256"

/* ---------------------------------------------------------------- publishing (main thread) */

/* Send one frame of a stream message on the local XPUB and on the network one (net.c). */
static void srv_pub_send(lb_server *s, const void *buf, size_t len, int flags)
{
	if (s->net_xpub)
		zmq_send(s->net_xpub, buf, len, flags);
	zmq_send(s->xpub, buf, len, flags);
}

/* Send one frame (consumed) on both XPUBs: the network's gets a copy (refcounted, no bytes
 * copied for frames over libzmq's 33-byte inline size). */
static void srv_pub_msg(lb_server *s, zmq_msg_t *m, int flags)
{
	if (s->net_xpub) {
		zmq_msg_t copy;
		zmq_msg_init(&copy);
		if (zmq_msg_copy(&copy, m) == 0)
			zmq_msg_send(&copy, s->net_xpub, flags);
		zmq_msg_close(&copy); /* sent: empty; dropped: freed */
	}
	zmq_msg_send(m, s->xpub, flags);
}

/* Publish a json message on a bridge topic: topic frame, header with data. */
void srv_publish_json(lb_server *s, const char *topic, uint64_t *seq, json_t *data)
{
	lb_now now = lb_now_read();
	json_t *h;
	char *text;

	*seq += 1;
	h = json_pack("{s:i,s:s,s:I,s:I,s:s,s:i,s:o}", "v", LB_PROTOCOL_VERSION, "epoch", s->epoch,
		      "seq", (json_int_t)*seq, "t_host", (json_int_t)now.real, "type", "json",
		      "count", 1, "data", data);
	text = h ? json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;

	if (text) {
		srv_pub_send(s, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
		srv_pub_send(s, text, strlen(text), ZMQ_DONTWAIT);
	}
	free(text);
	json_decref(h);
}

/* Find an opened device by id (not one being removed), or NULL. */
/* The lease as clients see it, or null. */
json_t *srv_lease_json(lb_server *s, const char *device, int64_t now)
{
	const lb_lease *l = lb_lease_find(&s->leases, device, now);

	if (!l)
		return json_null();
	return json_pack("{s:s,s:s,s:s,s:s,s:I}", "device", l->device, "holder", l->holder.user,
			 "name", l->holder.name, "role", lb_role_name(l->holder.role), "expires_ms",
			 (json_int_t)((l->expires - now) / 1000000));
}

json_t *srv_device_desc(const lb_device *d)
{
	json_t *o = d->desc ? json_loads(d->desc, 0, NULL) : NULL;

	return json_is_object(o) ? o : (json_decref(o), json_object());
}

/* A device as clients see it: its thread's description plus its lease. New reference. */
/*
 * The device's state: the core's own view (opening, closing), a service's job on it (busy), or
 * what its thread last described (running or ready).
 */
static lb_device_state device_state(lb_server *s, lb_device *d, const json_t *desc)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);
	char owner[128];

	if (d->removing)
		return LB_STATE_CLOSING;
	if (!d->opened)
		return LB_STATE_OPENING;
	for (size_t i = 0; i < n; i++)
		if (v[i]->job_owner && v[i]->job_owner(s, d, owner, sizeof owner))
			return LB_STATE_BUSY;
	return strcmp(json_string_value(json_object_get(desc, "state"))
			  ? json_string_value(json_object_get(desc, "state"))
			  : "",
		      "running") == 0
		   ? LB_STATE_RUNNING
		   : LB_STATE_READY;
}

/* What the device can do (LB_CAP_*), as a new array of names. */
static json_t *device_caps(lb_server *s, lb_device *d)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);
	unsigned caps = d->driver->capabilities;
	json_t *a = json_array();

	if (d->nstreams > 0)
		caps |= LB_CAP_STREAM;
	if (lb_device_can_halt(d))
		caps |= LB_CAP_HALT;
	for (const lb_action *x = d->driver->actions; x && x->name; x++)
		if (!(x->flags & LB_ACTION_SERVICE))
			caps |= LB_CAP_ACTIONS;
	if (d->driver->events && d->driver->events[0].name && d->driver->event)
		caps |= LB_CAP_EVENTS;
	for (size_t i = 0; i < n; i++)
		if (v[i]->device_caps)
			caps |= v[i]->device_caps(s, d);
	for (unsigned k = 0; k < 32; k++)
		if ((caps & (1u << k)) && lb_cap_name(1u << k))
			json_array_append_new(a, json_string(lb_cap_name(1u << k)));
	return a;
}

/* Let every service add its fields to o, device id's object (service.h device_fields). */
static void services_device_fields(lb_server *s, const char *id, json_t *o)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n && o; i++)
		if (v[i]->device_fields)
			v[i]->device_fields(s, id, o);
}

json_t *srv_device_json(lb_server *s, lb_device *d, int64_t now)
{
	json_t *o = srv_device_desc(d);

	/* the state is the core's: the description's is what the thread reported */
	json_object_set_new(o, "state", json_string(lb_device_state_name(device_state(s, d, o))));
	json_object_set_new(o, "capabilities", device_caps(s, d));
	json_object_set_new(o, "lease", srv_lease_json(s, d->spec.id, now));
	services_device_fields(s, d->spec.id, o);
	return o;
}

/* Publish a lifecycle event on bridge/devices/. */
void srv_publish_device_event(lb_server *s, const char *event, lb_device *d)
{
	json_t *data = json_pack("{s:s,s:o}", "event", event, "device",
				 srv_device_json(s, d, lb_clock_ns(CLOCK_MONOTONIC)));
	srv_publish_json(s, "bridge/devices/", &s->dev_seq, data);
	s->subs_dirty = 1; /* a lease, a job, a device: what subscribers may see (subpolicy.h) */
}

/* Publish the heartbeat: uptime, device count and the last seq of every stream. */
static void publish_heartbeat(lb_server *s, int64_t now)
{
	json_t *streams = json_deep_copy(s->ended); /* ended streams keep their last seq */
	size_t live = 0;

	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		if (!d->opened || d->removing)
			continue;
		live++;
		for (int k = 0; k < d->nstreams && k < d->capcache; k++)
			if (d->cache[k].seq)
				json_object_set_new(streams, d->streams[k].topic,
						    json_integer((json_int_t)d->cache[k].seq));
	}
	json_object_set_new(streams, "bridge/devices/", json_integer((json_int_t)s->dev_seq));
	srv_publish_json(s, "bridge/heartbeat/", &s->hb_seq,
			 json_pack("{s:I,s:I,s:o}", "uptime_ms",
				   (json_int_t)((now - s->start_mono) / 1000000), "devices",
				   (json_int_t)live, "streams", streams));
}

/* ---------------------------------------------------------------- replies */

/* Send a reply text after the envelope through sock, the ROUTER the request came from (local,
 * network, or the vouched one of in-process callers); the envelope messages are consumed. */
void srv_send_reply(lb_server *s, void *sock, zmq_msg_t *env, int nenv, char *text)
{
	static const char oom[] = "{\"id\":null,\"error\":{\"code\":-32603,\"name\":"
				  "\"internal_error\",\"message\":\"out of memory\"}}";

	(void)s;
	for (int i = 0; i < nenv; i++)
		zmq_msg_send(&env[i], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (text)
		zmq_send(sock, text, strlen(text), ZMQ_DONTWAIT);
	else
		zmq_send(sock, oom, sizeof oom - 1, ZMQ_DONTWAIT);
	free(text);
}

/* Send a reply text and one binary frame after the envelope, through sock. */
void srv_send_reply_data(lb_server *s, void *sock, zmq_msg_t *env, int nenv, char *text,
			 const void *data, size_t len)
{
	(void)s;
	for (int i = 0; i < nenv; i++)
		zmq_msg_send(&env[i], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(sock, text ? text : "{}", text ? strlen(text) : 2, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(sock, data, len, ZMQ_DONTWAIT);
	free(text);
}

/* Fail every pending request of a device (it is gone). */
static void fail_pending_of(lb_server *s, lb_device *d)
{
	for (size_t i = 0; i < s->npend;) {
		pending *p = &s->pend[i];
		if (p->dev == d) {
			lb_error err;
			lb_error_set(&err, LB_ERR_UNKNOWN_DEVICE, "device '%s' was unplugged",
				     d->spec.id);
			srv_audit_outcome(s, p->audit_id, lb_error_name(err.code));
			srv_send_reply(s, p->sock, p->env, p->nenv, lb_reply_error(p->id, &err));
			json_decref(p->id);
			s->pend[i] = s->pend[--s->npend];
		} else {
			i++;
		}
	}
}

/* ---------------------------------------------------------------- registry */

/* Every registered service's hook of that member, called with the arguments that follow. */
#define EACH_SERVICE(hook, ...)                                                                    \
	do {                                                                                       \
		size_t n_;                                                                         \
		const lb_service *const *v_ = lb_services(&n_);                                    \
		for (size_t i_ = 0; i_ < n_; i_++)                                                 \
			if (v_[i_]->hook)                                                          \
				v_[i_]->hook(__VA_ARGS__);                                         \
	} while (0)

/* The shared device thread of that name, started on first use; NULL if it cannot start (the
 * device then gets a thread of its own). */
static lb_host *shared_host(lb_server *s, const char *name)
{
	lb_host *h;

	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(lb_host_name(s->hosts[i]), name) == 0)
			return s->hosts[i];
	if (lb_grow(&s->hosts, &s->caphosts, s->nhosts, sizeof *s->hosts) < 0)
		return NULL;
	h = lb_host_new(name, &s->up);
	if (!h) {
		lb_warn("cannot start the shared thread '%s'", name);
		return NULL;
	}
	s->hosts[s->nhosts++] = h;
	return h;
}

/* Create a device from a spec and start it in its thread; the spec's params are taken over. */
static void add_device(lb_server *s, const lb_driver *drv, lb_device_spec *spec)
{
	lb_device *d;

	if (lb_grow(&s->dev, &s->capdev, s->ndev, sizeof *s->dev) < 0)
		return;
	d = calloc(1, sizeof *d);
	if (!d)
		return;
	d->driver = drv;
	d->spec = *spec;
	spec->params = NULL;
	memcpy(d->epoch, s->epoch, sizeof d->epoch);
	d->seq_base = json_incref(json_object_get(s->seq_memory, spec->id));
	d->upwake = &s->up;
	EACH_SERVICE(device_spawn, s, d);
	if (lb_device_spawn(d, d->spec.thread[0] ? shared_host(s, d->spec.thread) : NULL) < 0) {
		lb_err("cannot start device %s: no memory or thread left", spec->id);
		lb_device_unspawn(d);
		lb_device_destroy(&d);
		return;
	}
	s->dev[s->ndev++] = d;
}

/* Whether a device with that id is in the registry (opening, open or closing). */
static int have_device(lb_server *s, const char *id)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (strcmp(s->dev[i]->spec.id, id) == 0)
			return 1;
	return 0;
}

/* Whether the simulated lab includes the emulators of this driver ([bridge] emulate). */
static int emulated(const lb_server *s, const char *driver)
{
	const char *list = lb_config_str(s->opts.config, "bridge", "emulate", "all");
	size_t n = strlen(driver);

	if (strcmp(list, "all") == 0)
		return 1;
	for (const char *p = list; (p = strstr(p, driver)) != NULL; p += n)
		if ((p == list || p[-1] == ',' || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return 1;
	return 0;
}

/* Warn (once, with the file and line) about each configuration section that nothing reads:
 * the known ones are [bridge], [access], each service's section and each registered driver's
 * [NAME] and [NAME.*]. */
static void check_config_sections(lb_server *s)
{
	const char *known[2 + LB_MAX_SERVICES + 2 * 64 + 1];
	char prefixed[64][40];
	size_t ndrv, nsvc, n = 0;
	const lb_driver *const *drv = lb_drivers(&ndrv);
	const lb_service *const *svc = lb_services(&nsvc);

	known[n++] = "bridge";
	known[n++] = "access";
	for (size_t i = 0; i < nsvc && i < LB_MAX_SERVICES; i++)
		if (svc[i]->config_section)
			known[n++] = svc[i]->config_section;
	for (size_t k = 0; k < ndrv && k < 64; k++) {
		snprintf(prefixed[k], sizeof prefixed[k], "%s.*", drv[k]->name);
		known[n++] = drv[k]->name;
		known[n++] = prefixed[k];
	}
	known[n] = NULL;
	lb_config_check_sections(s->opts.config, known);
}

/* Keep the configured devices the drivers did not find, logging each once (and again when its
 * reason changes), and forget the open failures of devices no longer found. */
static void note_absent(lb_server *s, const lb_driver *const *drv, size_t ndrv,
			const lb_spec_list *found)
{
	json_t *absent = json_object();
	const char *id;
	json_t *v, *tmp;

	for (size_t k = 0; k < ndrv; k++)
		for (size_t i = 0; i < found[k].nabsent; i++) {
			const lb_absent_spec *a = &found[k].absent[i];
			json_t *prev = json_object_get(s->absent, a->id);
			const char *before = json_string_value(json_object_get(prev, "reason"));
			size_t file = strcspn(a->where, ":");
			if (!before || strcmp(before, a->reason) != 0) {
				/* a reason from the config parser names its own file:line */
				if (a->where[0] && strncmp(a->reason, a->where, file) != 0)
					lb_warn("%s: device %s is not available: %s", a->where,
						a->id, a->reason);
				else
					lb_warn("device %s is not available: %s", a->id, a->reason);
			}
			json_object_set_new(absent, a->id,
					    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", a->id,
						      "name", a->name, "kind", a->kind, "driver",
						      drv[k]->name, "reason", a->reason, "where",
						      a->where));
		}
	json_decref(s->absent);
	s->absent = absent;
	json_object_foreach_safe(s->failed, tmp, id, v)
	{
		int present = 0;
		for (size_t k = 0; k < ndrv && !present; k++)
			for (size_t i = 0; i < found[k].n && !present; i++)
				present = strcmp(found[k].v[i].id, id) == 0;
		if (!present)
			json_object_del(s->failed, id);
	}
}

json_t *srv_unavailable_json(lb_server *s, int64_t now)
{
	json_t *out = json_array(), *seen = json_object(), *v;
	const char *id;

	/* being opened (perhaps again, after a failure) */
	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		json_t *f = json_object_get(s->failed, d->spec.id);
		const char *before = json_string_value(json_object_get(f, "message"));
		char reason[400];
		if (d->opened || d->removing)
			continue;
		snprintf(reason, sizeof reason, "opening%s%s", before ? " again after: " : "",
			 before ? before : "");
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:b,s:[],s:n}",
						     "id", d->spec.id, "name", d->spec.name, "kind",
						     d->spec.kind, "driver", d->driver->name,
						     "simulated", d->spec.simulated, "state",
						     "opening", "reason", reason, "available", 0,
						     "streams", "lease"));
		json_object_set_new(seen, d->spec.id, json_true());
	}
	/* failed to open, waiting for their retry time */
	json_object_foreach(s->failed, id, v)
	{
		json_int_t left = json_integer_value(json_object_get(v, "retry_at")) - now;
		if (json_object_get(seen, id) || srv_find_device(s, id))
			continue;
		json_array_append_new(
		    out, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:I,s:b,s:[],s:n}", "id", id,
				   "name", json_string_value(json_object_get(v, "name")), "kind",
				   json_string_value(json_object_get(v, "kind")), "driver",
				   json_string_value(json_object_get(v, "driver")), "simulated",
				   json_is_true(json_object_get(v, "simulated")), "state", "failed",
				   "reason", json_string_value(json_object_get(v, "message")),
				   "retry_ms", (json_int_t)(left > 0 ? left / 1000000 : 0),
				   "available", 0, "streams", "lease"));
		json_object_set_new(seen, id, json_true());
	}
	/* configured but not found */
	json_object_foreach(s->absent, id, v)
	{
		json_t *e;
		if (json_object_get(seen, id))
			continue;
		e = json_deep_copy(v);
		json_object_set_new(e, "simulated", json_false());
		json_object_set_new(e, "state", json_string("absent"));
		json_object_set_new(e, "available", json_false());
		json_object_set_new(e, "streams", json_array());
		json_object_set_new(e, "lease", json_null());
		json_array_append_new(out, e);
	}
	json_decref(seen);
	for (size_t i = 0; i < json_array_size(out); i++) {
		json_t *e = json_array_get(out, i);
		services_device_fields(s, json_string_value(json_object_get(e, "id")), e);
	}
	return out;
}

bool srv_device_known(lb_server *s, const char *id)
{
	for (size_t i = 0; i < s->ndev; i++)
		if (strcmp(s->dev[i]->spec.id, id) == 0)
			return true;
	return json_object_get(s->failed, id) || json_object_get(s->absent, id);
}

/* Ask every driver for its devices; open the new ones, stop those no longer listed. */
static void scan(lb_server *s)
{
	size_t ndrv;
	const lb_driver *const *drv = lb_drivers(&ndrv);
	lb_spec_list found[64] = {{0}};
	json_t *ports = json_deep_copy(s->ports);
	size_t real = 0;

	if (ndrv > 64)
		ndrv = 64;
	if (s->simulate < 0) {
		/* auto: the simulated lab only if no real device answers to any driver */
		for (size_t k = 0; k < ndrv; k++) {
			lb_scan_ctx ctx = {s->opts.config, ports, 0, s->opts.data_dir};
			lb_spec_list l = {0};
			if (drv[k]->scan(drv[k], &ctx, &l) == 0)
				real += l.n;
			lb_spec_list_clear(&l);
		}
		s->simulate = real == 0;
		if (s->simulate)
			lb_info("no lab hardware found: serving the SIMULATED lab (devices marked "
				"\"simulated\": true)");
	}
	for (size_t k = 0; k < ndrv && s->simulate > 0; k++) {
		lb_scan_ctx ctx = {s->opts.config, ports, 1, s->opts.data_dir};
		if (drv[k]->simulate && emulated(s, drv[k]->name) &&
		    drv[k]->simulate(drv[k], &ctx, ports) < 0)
			lb_warn("driver %s: its emulator did not start", drv[k]->name);
	}
	for (size_t k = 0; k < ndrv; k++) {
		lb_scan_ctx ctx = {s->opts.config, ports, s->simulate > 0, s->opts.data_dir};
		if (drv[k]->scan(drv[k], &ctx, &found[k]) < 0)
			lb_warn("driver %s: scan failed", drv[k]->name);
	}
	json_decref(ports);
	note_absent(s, drv, ndrv, found);
	/* new devices (those that failed to open wait for their retry time) */
	for (size_t k = 0; k < ndrv; k++)
		for (size_t i = 0; i < found[k].n; i++) {
			json_t *f = json_object_get(s->failed, found[k].v[i].id);
			if (f && json_integer_value(json_object_get(f, "retry_at")) >
				     lb_clock_ns(CLOCK_MONOTONIC))
				continue;
			if (!have_device(s, found[k].v[i].id))
				add_device(s, drv[k], &found[k].v[i]);
		}
	/* devices no longer present */
	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		int present = 0;
		for (size_t k = 0; k < ndrv && !present; k++)
			for (size_t j = 0; j < found[k].n && !present; j++)
				present = strcmp(found[k].v[j].id, d->spec.id) == 0;
		if (!present && !d->removing) {
			lb_info("device %s is no longer present", d->spec.id);
			d->removing = true;
			d->end_reason = "unplugged";
			lb_device_send(d, "term", 0, NULL);
		}
	}
	for (size_t k = 0; k < ndrv; k++)
		lb_spec_list_clear(&found[k]);
}

/* Remember a device's sequence numbers so its topics continue when it comes back. */
static void remember_seqs(lb_server *s, lb_device *d)
{
	json_t *m = json_object();

	for (int k = 0; k < d->nstreams && k < d->ncache; k++) {
		json_object_set_new(m, d->streams[k].name,
				    json_integer((json_int_t)d->cache[k].seq));
		/* the topic stays known (snapshot, heartbeat) until the device comes back */
		json_object_set_new(s->ended, d->streams[k].topic,
				    json_integer((json_int_t)d->cache[k].seq));
	}
	json_object_set_new(s->seq_memory, d->spec.id, m);
}

/* End each stream of a device with an explicit message (continuing its seq). */
static void publish_stream_ends(lb_server *s, lb_device *d)
{
	lb_now now = lb_now_read();

	for (int k = 0; k < d->nstreams && k < d->capcache; k++) {
		json_t *h =
		    json_pack("{s:i,s:s,s:I,s:I,s:s,s:i,s:{s:s,s:s}}", "v", LB_PROTOCOL_VERSION,
			      "epoch", s->epoch, "seq", (json_int_t)(d->cache[k].seq + 1), "t_host",
			      (json_int_t)now.real, "type", "json", "count", 1, "data", "event",
			      "end", "reason", d->end_reason ? d->end_reason : "removed");
		char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
		if (text) {
			srv_pub_send(s, d->streams[k].topic, strlen(d->streams[k].topic),
				     ZMQ_SNDMORE | ZMQ_DONTWAIT);
			srv_pub_send(s, text, strlen(text), ZMQ_DONTWAIT);
			d->cache[k].seq++;
			if (k >= d->ncache)
				d->ncache = k + 1;
		}
		free(text);
		json_decref(h);
	}
}

/* The device's thread has ended: forget it. */
static void remove_device(lb_server *s, size_t i)
{
	lb_device *d = s->dev[i];

	if (d->opened) {
		publish_stream_ends(s, d);
		remember_seqs(s, d);
		d->removing = true;
		fail_pending_of(s, d);
		srv_publish_device_event(s, "removed", d);
		lb_info("device %s removed", d->spec.id);
		EACH_SERVICE(device_gone, s, d);
	}
	s->dev[i] = s->dev[--s->ndev];
	lb_device_unspawn(d);
	lb_device_destroy(&d);
}

/*
 * Report readiness (the sockets are bound, the first scan is done) once every simulated device
 * found at start has opened or failed: the bridge serves those itself, without waiting for any
 * hardware. Hardware (a serial handshake may take seconds, or never answer) does not hold the
 * start: its devices are listed as "opening" by devices.list {all: true} until they open or fail.
 */
static void check_ready(lb_server *s)
{
	size_t opening = 0;

	if (s->ready_reported)
		return;
	for (size_t i = 0; i < s->ndev; i++) {
		if (s->dev[i]->opened)
			continue;
		if (s->dev[i]->spec.simulated)
			return;
		opening += !s->dev[i]->removing;
	}
	s->ready_reported = 1;
	printf(
	    "labbridge ready in %.1f ms: %zu device%s%s%s%s, streams on %s%s%s, requests on %s\n",
	    (double)(lb_clock_ns(CLOCK_MONOTONIC) - s->start_mono) / 1e6, s->ndev,
	    s->ndev == 1 ? "" : "s", s->simulate > 0 ? " (SIMULATED lab)" : "",
	    opening ? " (some still opening: labctl devices shows them)" : "",
	    json_object_size(s->absent) ? " (some configured ones absent: labctl devices)" : "",
	    s->ep_pub, s->ep_ws[0] ? " and " : "", s->ep_ws, s->ep_rpc);
	fflush(stdout);
}

/* ---------------------------------------------------------------- device thread messages */

/* Take the messages waiting in every host's queue, in order, after those not yet handled. */
static void take_uplink(lb_server *s)
{
	/* each host once: the shared ones, then those of a device of their own */
	for (size_t i = 0; i < s->nhosts + s->ndev; i++) {
		lb_host *h = i < s->nhosts ? s->hosts[i] : s->dev[i - s->nhosts]->host;
		lb_up *tail = NULL;
		lb_up *m =
		    h && (i < s->nhosts || !lb_host_shared(h)) ? lb_host_take_up(h, &tail) : NULL;
		if (!m)
			continue;
		if (s->up_tail)
			s->up_tail->next = m;
		else
			s->up_head = m;
		s->up_tail = tail;
	}
}

static void handle_chan(lb_server *s, lb_up *up);
static void count_backlogs(lb_server *s, const void *topic, size_t len, uint64_t wire);

/* Handle up to max device messages taken from the queues (the rest wait in s->up_head). Data
 * messages go back to their queue for reuse, a run of the same queue's at a time. */
static void handle_uplink(lb_server *s, int max)
{
	lb_upq *q = NULL;
	lb_up *first = NULL, *last = NULL;
	int n = 0;

	while (s->up_head && max-- > 0) {
		lb_up *m = s->up_head;
		lb_upq *mq = m->meta.type == LB_CHAN_DATA ? m->meta.dev->upq : NULL;
		s->up_head = m->next;
		if (!s->up_head)
			s->up_tail = NULL;
		if (!mq) {
			/* a control message: after a BYE its device, and the queue of a thread of
			 * its own, may be gone */
			lb_upq_recycle(q, first, last, n);
			q = NULL, first = NULL, n = 0;
			handle_chan(s, m);
			lb_up_free(m);
			continue;
		}
		handle_chan(s, m);
		if (mq != q) {
			lb_upq_recycle(q, first, last, n);
			q = mq, first = NULL, n = 0;
		}
		m->next = first;
		first = m;
		if (!n++)
			last = m;
	}
	lb_upq_recycle(q, first, last, n);
}

/* Handle one message from a device's thread. */
static void handle_chan(lb_server *s, lb_up *up)
{
	lb_chan_meta m = up->meta;
	lb_device *d = m.dev;
	zmq_msg_t part;

	if (m.type == LB_CHAN_DATA) {
		/* topic, header, [samples]: to the XPUB socket without copying; keep the header
		 * for snapshots */
		lb_stream_cache *c = (int)m.stream < d->capcache ? &d->cache[m.stream] : NULL;
		size_t sizes[3];
		uint64_t wire;
		_Static_assert(sizeof up->frame / sizeof up->frame[0] == 3, "3 frames at most");
		atomic_fetch_sub_explicit(&d->queued, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&d->queued_bytes, (size_t)m.bytes, memory_order_relaxed);
		/* a bulk message (a scanner's band) counts in its subscribers' backlogs: before
		 * sending, while the topic frame is ours. m.bytes is its frames' bytes plus the
		 * lb_up (device.c): small messages cost one comparison */
		if (m.bytes + 3 * 9 >= sizeof *up + LB_OUT_BULK && up->nframes > 0) {
			for (int f = 0; f < up->nframes; f++)
				sizes[f] = zmq_msg_size(&up->frame[f]);
			wire = lb_outlimit_wire_size(sizes, up->nframes);
			if (wire >= LB_OUT_BULK)
				count_backlogs(s, zmq_msg_data(&up->frame[0]), sizes[0], wire);
		}
		for (int f = 0; f < up->nframes; f++) {
			if (f == 1 && c) {
				if (c->has_header)
					zmq_msg_close(&c->header);
				zmq_msg_init(&c->header);
				zmq_msg_copy(&c->header, &up->frame[f]);
				c->has_header = true;
			}
			srv_pub_msg(s, &up->frame[f],
				    (f + 1 < up->nframes ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
		}
		if (!c)
			return;
		c->seq = m.seq;
		c->last = m.last;
		if ((int)m.stream >= d->ncache)
			d->ncache = (int)m.stream + 1;
		return;
	}
	/* control messages: an optional text frame */
	zmq_msg_init(&part);
	if (up->nframes > 0)
		zmq_msg_move(&part, &up->frame[0]);
	switch (m.type) {
	case LB_CHAN_OPENED:
	case LB_CHAN_DESC: {
		/* kept as text, parsed when asked (srv_device_desc) */
		char *desc = strndup(zmq_msg_data(&part), zmq_msg_size(&part));
		if (desc) {
			free(d->desc);
			d->desc = desc;
		}
		if (m.type == LB_CHAN_OPENED) {
			/* the streams were declared in open(): one cache entry each (the Clone
			 * pattern's last values) */
			d->cache =
			    calloc(d->nstreams > 0 ? (size_t)d->nstreams : 1, sizeof *d->cache);
			d->capcache = d->cache ? d->nstreams : 0;
			d->opened = true;
			for (int k = 0; k < d->nstreams; k++)
				json_object_del(s->ended, d->streams[k].topic);
			json_object_del(s->failed, d->spec.id);
			lb_info("device %s (%s, driver %s) is ready", d->spec.id, d->spec.name,
				d->driver->name);
			srv_publish_device_event(s, "added", d);
		} else if (!d->removing) {
			srv_publish_device_event(s, "changed", d);
		}
		EACH_SERVICE(device_ready, s, d);
		break;
	}
	case LB_CHAN_FAILED: {
		json_t *f = json_object_get(s->failed, d->spec.id);
		const char *prev = json_string_value(json_object_get(f, "message"));
		json_int_t delay = json_integer_value(json_object_get(f, "delay_ns"));
		char msg[300];
		snprintf(msg, sizeof msg, "%.*s", (int)zmq_msg_size(&part),
			 (const char *)zmq_msg_data(&part));
		/* retry later and later (2 s doubling up to 30 s): a device that keeps failing
		 * does not cost a thread every scan */
		delay = delay ? (delay * 2 > RETRY_MAX_NS ? RETRY_MAX_NS : delay * 2) : RESCAN_NS;
		if (!prev || strcmp(prev, msg) != 0)
			lb_warn(
			    "device %s: cannot open: %s (trying again in %lld s; labctl devices "
			    "lists it)",
			    d->spec.id, msg, (long long)(delay / 1000000000));
		json_object_set_new(s->failed, d->spec.id,
				    json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:b}", "message", msg,
					      "delay_ns", delay, "retry_at",
					      (json_int_t)(lb_clock_ns(CLOCK_MONOTONIC) + delay),
					      "name", d->spec.name, "kind", d->spec.kind, "driver",
					      d->driver->name, "simulated", d->spec.simulated));
		d->removing = true;
		break;
	}
	case LB_CHAN_EVENT: {
		json_t *ev = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, NULL);
		size_t n;
		const lb_service *const *v = lb_services(&n);
		for (size_t i = 0; ev && i < n; i++)
			if (v[i]->event && v[i]->event(s, d, ev))
				break;
		json_decref(ev);
		break;
	}
	case LB_CHAN_REPLY: {
		int matched = 0;
		for (size_t i = 0; i < s->npend; i++) {
			pending *p = &s->pend[i];
			json_t *r;
			char *text;
			if (p->token != m.token)
				continue;
			r = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, NULL);
			if (json_object_get(r, "error")) {
				lb_error err;
				json_t *e = json_object_get(r, "error");
				lb_error_set(
				    &err, (int)json_integer_value(json_object_get(e, "code")), "%s",
				    json_string_value(json_object_get(e, "message")));
				text = lb_reply_error(p->id, &err);
				srv_audit_outcome(s, p->audit_id, lb_error_name(err.code));
			} else {
				text = lb_reply_result(p->id,
						       json_incref(json_object_get(r, "result")));
				srv_audit_outcome(s, p->audit_id, "ok");
			}
			json_decref(r);
			srv_send_reply(s, p->sock, p->env, p->nenv, text);
			json_decref(p->id);
			s->pend[i] = s->pend[--s->npend];
			matched = 1;
			break;
		}
		if (!matched) {
			json_t *r = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, NULL);
			size_t n;
			const lb_service *const *v = lb_services(&n);
			for (size_t i = 0; r && i < n; i++)
				if (v[i]->reply && v[i]->reply(s, m.token, r))
					break;
			json_decref(r);
		}
		break;
	}
	case LB_CHAN_GONE:
		d->removing = true;
		d->end_reason = "device lost (unplugged or stopped answering)";
		break;
	case LB_CHAN_BYE:
		for (size_t i = 0; i < s->ndev; i++)
			if (s->dev[i] == d) {
				remove_device(s, i);
				break;
			}
		break;
	default: lb_err("internal: unknown device message %u", m.type);
	}
	zmq_msg_close(&part);
	check_ready(s);
}

/* The client behind a request: its connection, ZAP identity and session. */
static void identify(lb_server *s, lb_call *c, zmq_msg_t *body)
{
	const char *user = zmq_msg_gets(body, "User-Id");
	const char *role = zmq_msg_gets(body, "X-Role");
	const char *local = zmq_msg_gets(body, "X-Local");
	const char *name = zmq_msg_gets(body, "X-Name");
	lb_role r = LB_ROLE_OBSERVER;

	memset(&c->client, 0, sizeof c->client);
	c->client.net = c->sock == s->net_router;
	if (c->nenv > 0) {
		size_t n = zmq_msg_size(&c->env[0]);
		c->client.rid_len = n < sizeof c->client.rid ? n : sizeof c->client.rid;
		memcpy(c->client.rid, zmq_msg_data(&c->env[0]), c->client.rid_len);
	}
	c->client.fd = zmq_msg_get(body, ZMQ_SRCFD);
	snprintf(c->client.user, sizeof c->client.user, "%s", user ? user : "anonymous");
	if (!role || lb_role_parse(role, &r) < 0)
		r = LB_ROLE_OBSERVER; /* no identity: the least privilege */
	if (local && strcmp(local, "1") == 0 && !c->client.net) /* a program on this computer */
		lb_auth_local(s->auth, c->client.fd, c->client.user, sizeof c->client.user, &r);
	else if (c->client.net && name) { /* a key's registered name (keys.h): its group too */
		snprintf(c->client.name, sizeof c->client.name, "%s", name);
		snprintf(c->client.group, sizeof c->client.group, "%s", name);
	}
	c->client.role = r;
	for (size_t i = 0; i < s->nsess; i++)
		if (lb_client_same(&s->sess[i].c, &c->client)) {
			c->client.role = s->sess[i].c.role;
			memcpy(c->client.name, s->sess[i].c.name, sizeof c->client.name);
		}
}

/*
 * The caller of a request from the vouched socket: frame 1, written by in-process code (the web
 * service) that authenticated it, is {"user", "role", "name", "session", "internal"?}. The lease
 * identity is "\0web:" + session: a routing id starting with a zero byte, which no remote peer
 * can choose, and longer than those libzmq generates. *internal: the request is for an internal
 * method (lb_service.internal), which only that code asks for.
 * 0, or LB_EINVAL when the frame is malformed (the request is refused).
 */
static int identify_vouched(lb_call *c, zmq_msg_t *who, int *internal)
{
	json_t *j = json_loadb(zmq_msg_data(who), zmq_msg_size(who), 0, NULL);
	const char *user = json_string_value(json_object_get(j, "user"));
	const char *role = json_string_value(json_object_get(j, "role"));
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *sess = json_string_value(json_object_get(j, "session"));
	lb_role r;
	int rc = LB_EINVAL;

	memset(&c->client, 0, sizeof c->client);
	c->client.fd = -1;
	*internal = json_is_true(json_object_get(j, "internal"));
	if (!user || !role || !sess || lb_role_parse(role, &r) < 0 ||
	    strlen(sess) + 5 > sizeof c->client.rid)
		goto out;
	c->client.role = r;
	/* "\0web:" + session: longer than the 5 bytes of the ids libzmq generates */
	c->client.rid_len =
	    (size_t)snprintf((char *)c->client.rid + 1, sizeof c->client.rid - 1, "web:%s", sess) +
	    1;
	snprintf(c->client.user, sizeof c->client.user, "%s", user);
	snprintf(c->client.name, sizeof c->client.name, "%s", name ? name : "");
	/* the web session's pairing name is a trusted group (never session.hello's) */
	snprintf(c->client.group, sizeof c->client.group, "%s", name ? name : "");
	rc = 0;
out:
	json_decref(j);
	return rc;
}

/* Read one request (all its frames) from sock (the local or network request ROUTER, or the
 * vouched one of in-process callers) and answer it there, now or later. */
static void handle_request(lb_server *s, void *sock)
{
	zmq_msg_t f[MAX_ENVELOPE + 2];
	int nf = 0, more = 1, nenv, body = -1;
	size_t binary = 0, nbinary = 0;
	uint64_t wire = 0; /* bytes and frames delivered, for conns.h */
	unsigned nwire = 0;
	int srcfd = -1;
	lb_call c;
	lb_error err = {0};
	json_t *result = NULL;
	int64_t audit_id;
	int rc, internal = 0;

	memset(&c, 0, sizeof c);
	/* Keep the envelope and the body; only count the binary frames (v1 methods take none). */
	while (more) {
		zmq_msg_t part;
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, sock, 0) < 0) {
			zmq_msg_close(&part);
			break;
		}
		more = zmq_msg_more(&part);
		wire += zmq_msg_size(&part);
		nwire++;
		if (srcfd < 0) /* the routing id frame is the ROUTER's own: no fd */
			srcfd = zmq_msg_get(&part, ZMQ_SRCFD);
		if (nf < MAX_ENVELOPE + 2) {
			zmq_msg_init(&f[nf]);
			zmq_msg_move(&f[nf++], &part);
		} else {
			binary += zmq_msg_size(&part);
			nbinary++;
		}
		zmq_msg_close(&part);
	}
	/* with a delimiter, frame 1 may be the delimiter itself; the body is after it */
	if (nf >= 3 && zmq_msg_size(&f[1]) == 0)
		body = 2;
	else if (nf >= 2 && zmq_msg_size(&f[1]) != 0)
		body = 1;
	else
		body = -1;
	if (sock == s->vouched) /* [routing id][identity][body]: the identity is the envelope */
		body = nf >= 3 ? 2 : -1;
	/* anything after the body within f is binary too */
	for (int i = body + 1; body >= 0 && i < nf; i++) {
		binary += zmq_msg_size(&f[i]);
		nbinary++;
	}
	lb_conns_delivered(s->conns, 1, srcfd, wire, nwire, lb_clock_ns(CLOCK_MONOTONIC));
	nenv = body >= 0 ? body : (nf > 0 ? (nf > 2 ? 2 : nf) : 0);
	c.sock = sock;
	c.env = f;
	c.nenv = nenv;
	c.now = lb_now_read();
	if (nf == 0)
		return;
	if (body < 0) {
		lb_error_set(&err, LB_ERR_INVALID_REQUEST,
			     "empty request: send one JSON frame {id, method, params}");
		srv_send_reply(s, sock, f, nenv, lb_reply_error(NULL, &err));
		goto out;
	}
	if (sock == s->vouched) {
		if (identify_vouched(&c, &f[1], &internal) < 0) {
			lb_error_set(&err, LB_ERR_INVALID_REQUEST,
				     "internal: malformed vouched identity");
			srv_send_reply(s, sock, f, nenv, lb_reply_error(NULL, &err));
			goto out;
		}
	} else {
		identify(s, &c, &f[body]);
	}
	if (c.client.net && srv_net_check(s, &c.client, c.now, &err) < 0) {
		/* a key revoked since its connection was made */
		rc = LB_EFAIL;
		lb_request_parse(zmq_msg_data(&f[body]), zmq_msg_size(&f[body]), &c.req, NULL);
	} else if (binary > MAX_BINARY) {
		rc = lb_error_set(&err, LB_ERR_TOO_LARGE,
				  "binary frames total %zu bytes, over the %d-byte limit", binary,
				  MAX_BINARY);
		/* still read the id for the reply */
		lb_request_parse(zmq_msg_data(&f[body]), zmq_msg_size(&f[body]), &c.req, NULL);
	} else if ((rc = lb_request_parse(zmq_msg_data(&f[body]), zmq_msg_size(&f[body]), &c.req,
					  &err)) == 0) {
		const lb_method *m = lb_service_method(c.req.method, NULL);
		if (nbinary == 1 && m && (m->flags & LB_METHOD_UPLOAD) && body + 1 < nf) {
			c.in_data = zmq_msg_data(&f[body + 1]);
			c.in_len = zmq_msg_size(&f[body + 1]);
		}
		if (nbinary && !c.in_data)
			rc = lb_error_set(&err, LB_ERR_INVALID_PARAMS,
					  "%s takes no binary frames (got %zu)", c.req.method,
					  nbinary);
		else if (internal) /* in-process code's own request (vouched socket only) */
			rc = srv_dispatch_internal(s, &c, &result, &err);
		else
			rc = srv_dispatch(s, &c, &result, &err);
	}
	/* audit.h: who did what (before result is sent); a forwarded request's row is completed
	 * when its device answers */
	audit_id = srv_audit(s, &c, rc, &err, result);
	if (rc == LB_EAGAIN && s->npend && s->pend[s->npend - 1].token == s->next_token)
		s->pend[s->npend - 1].audit_id = audit_id;
	if (rc != LB_EAGAIN) {
		char *text =
		    rc < 0 ? lb_reply_error(c.req.id, &err) : lb_reply_result(c.req.id, result);
		if (rc < 0) {
			json_decref(result);
			lb_dbg("request %s failed: %s", c.req.method ? c.req.method : "?",
			       err.message);
		}
		if (rc >= 0 && c.data)
			srv_send_reply_data(s, sock, f, nenv, text, c.data, c.datalen);
		else
			srv_send_reply(s, sock, f, nenv, text);
	}
	free(c.data);
	/* on LB_EAGAIN the envelope moved into the pending entry (the moved messages are empty) */
	lb_request_clear(&c.req);
out:
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
}

/* ---------------------------------------------------------------- timers and events */

/* A lease went away: tell subscribers. */
static void on_lease_released(const char *device, void *arg)
{
	lb_server *s = arg;
	lb_device *d = srv_find_device(s, device);

	lb_info("lease on %s released", device);
	if (d)
		srv_lease_changed(s, device, true);
}

static void close_conn(lb_server *s, int fd, const char *sock, const char *why);

/* The bytes the kernel received on TCP connection fd: 0, or -1 when fd is not TCP (ipc://) or
 * the kernel does not count them (before Linux 4.1). */
static int tcp_received(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
		return -1;
	*out = ti.tcpi_bytes_received;
	return 0;
}

/* Count what a new connection of socket sock (0 stream, 1 request) sends against what libzmq
 * delivers of it (conns.h). Not TCP (ipc://: no byte counter) or out of memory: not counted. */
static void track_conn(lb_server *s, int sock, int fd)
{
	uint64_t got;

	if (tcp_received(fd, &got) == 0 &&
	    lb_conns_open(s->conns, sock, fd, got,
			  sock ? LB_CONN_ALLOWANCE : LB_CONN_ALLOWANCE_STREAM,
			  lb_clock_ns(CLOCK_MONOTONIC)) < 0)
		lb_warn("out of memory: connection %d is not watched for endless messages", fd);
}

/* Whether a ZeroMQ socket has a message for the application to read. */
static bool socket_readable(void *sock)
{
	int ev = 0;
	size_t sz = sizeof ev;

	return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

/* Every CONNS_CHECK_NS (CONNS_QUICK_NS while a connection holds over 32 KiB
 * undelivered: on loopback an attacker sends hundreds of MB a second): close the connections
 * holding more bytes than libzmq delivered of them than conns.h allows (a multipart message that
 * never ends). While requests wait for this loop to read them (it is behind, not the peers),
 * request connections get 4 times their allowance. */

static void check_conns(lb_server *s, int64_t now)
{
	int quick = 0;
	bool behind;

	uint64_t held[2 * MAX_CONNECTIONS + 64] = {0};
	size_t n = lb_conns_count(s->conns);
	long worst;

	if (n == 0 || now < s->next_conns)
		return;
	if (n > sizeof held / sizeof *held)
		n = sizeof held / sizeof *held; /* the rest wait for their DISCONNECTED events */
	/* requests libzmq holds for this loop to read: the loop is behind (a slow step), not the
	 * peers; their connections' bytes wait for it, not for a message that never ends */
	behind = socket_readable(s->router) || (s->net_router && socket_readable(s->net_router));
	for (size_t i = 0; i < n; i++) {
		int fd = lb_conns_fd(s->conns, i);
		uint64_t got;
		char why[96];

		if (tcp_received(fd, &got) < 0)
			continue;
		/* behind, a request connection is only closed past 4 times its allowance: a peer
		 * that keeps this loop behind cannot hide an endless message that way */
		if (!lb_conns_check(s->conns, i, got, now, &held[i]) ||
		    (behind && lb_conns_sock(s->conns, i) == 1 &&
		     held[i] <= 4 * (uint64_t)LB_CONN_ALLOWANCE)) {
			quick |= held[i] > LB_CONN_ALLOWANCE_STREAM / 8;
			continue;
		}
		snprintf(why, sizeof why, "sent %.1f MB that never made a whole message",
			 (double)held[i] / (1024 * 1024));
		close_conn(s, fd, lb_conns_sock(s->conns, i) ? "request" : "stream", why);
	}
	/* together, the connections may not hold more than the budget either */
	while ((worst = lb_conns_over_budget(s->conns, held, LB_CONNS_BUDGET)) >= 0) {
		char why[128];
		snprintf(why, sizeof why,
			 "holds %.1f MB of unfinished messages while all connections together are "
			 "over their budget",
			 (double)held[worst] / (1024 * 1024));
		close_conn(s, lb_conns_fd(s->conns, (size_t)worst),
			   lb_conns_sock(s->conns, (size_t)worst) ? "request" : "stream", why);
	}
	s->next_conns = now + (quick ? CONNS_QUICK_NS : CONNS_CHECK_NS);
}

/* A request connection was accepted (over MAX_CONNECTIONS: closed) or closed: drop its session
 * and leases. */
static void handle_monitor(lb_server *s, void *monitor, size_t *nconns)
{
	zmq_msg_t ev, addr;
	uint16_t event;
	int32_t value;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	/* every event waiting: a burst of connections is counted before their requests are read */
	while (zmq_msg_recv(&ev, monitor, ZMQ_DONTWAIT) >= 0) {
		if (zmq_msg_recv(&addr, monitor, 0) < 0 || zmq_msg_size(&ev) < 6)
			continue;
		memcpy(&event, zmq_msg_data(&ev), 2);
		memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
		if (event == ZMQ_EVENT_ACCEPTED && ++*nconns > MAX_CONNECTIONS)
			close_conn(s, value, "request",
				   "over " MAX_CONNECTIONS_TEXT " connections");
		else if (event == ZMQ_EVENT_ACCEPTED)
			track_conn(s, 1, value);
		if (event != ZMQ_EVENT_DISCONNECTED)
			continue;
		lb_conns_close(s->conns, 1, value);
		if (*nconns > 0)
			--*nconns;
		lb_leases_sweep(&s->leases, lb_clock_ns(CLOCK_MONOTONIC), value, on_lease_released,
				s);
		lb_auth_forget(s->auth, value);
		for (size_t i = 0; i < s->nsess;)
			if (s->sess[i].c.fd == value)
				s->sess[i] = s->sess[--s->nsess];
			else
				i++;
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
}

/* Whether stream connection fd came through the ws:// endpoint (its local port is that
 * endpoint's): libzmq gives its subscriptions no fd (ZMQ_SRCFD is -1). */
static int is_ws(const lb_server *s, int fd)
{
	const char *colon = s->ep_ws[0] ? strrchr(s->ep_ws, ':') : NULL;
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	int port;

	if (!colon || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 0;
	port = atoi(colon + 1);
	if (a.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a)->sin_port) == port;
	if (a.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a)->sin6_port) == port;
	return 0;
}

/* Estimate the backlog of stream connection fd (outlimit.h); a ws:// one is blind. Not a socket
 * the kernel counts for, or out of memory: not watched (logged). */
static void watch_backlog(lb_server *s, int fd)
{
	int kind = lb_outlimit_kind_of(fd);

	if (kind >= 0 &&
	    lb_outlimit_open(s->outlimit, fd, (lb_out_kind)kind, lb_clock_ns(CLOCK_MONOTONIC)) < 0)
		lb_warn("out of memory: stream connection %d is not watched for its backlog", fd);
	else if (kind == LB_OUT_TCP && is_ws(s, fd))
		lb_outlimit_set_blind(s->outlimit, fd);
}

/* Who is at the other end of connection fd, for the log: "ADDRESS:PORT", or "a local program". */
static void peer_name(int fd, char *out, size_t size)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	char host[INET6_ADDRSTRLEN] = "?";

	if (getpeername(fd, (struct sockaddr *)&a, &len) < 0)
		snprintf(out, size, "an unknown peer");
	else if (a.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(out, size, "%s:%u", host, ntohs(in->sin_port));
	} else if (a.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)&a;
		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
		snprintf(out, size, "[%s]:%u", host, ntohs(in->sin6_port));
	} else
		snprintf(out, size, "a local program (ipc)");
}

/* A bulk message of `wire` bytes on topic (len bytes) was queued: count it for every connection
 * subscribed to it, closing those whose backlog went over the limit (outlimit.h). */
static void count_backlogs(lb_server *s, const void *topic, size_t len, uint64_t wire)
{
	size_t nconn = lb_subs_connections(s->subs), n;
	int64_t now;

	if (nconn == 0 || lb_outlimit_connections(s->outlimit) == 0)
		return;
	if (nconn > s->out_cap) {
		int *fds = realloc(s->out_fds, nconn * sizeof *fds);
		if (!fds)
			return; /* out of memory: not counted this time */
		s->out_fds = fds;
		s->out_cap = nconn;
	}
	n = lb_subs_match(s->subs, topic, len, s->out_fds, s->out_cap);
	/* ws:// connections (known to subs.c, with no prefix) are offered every bulk message */
	n += lb_outlimit_blind(s->outlimit, s->out_fds + n, s->out_cap - n);
	if (n == 0)
		return;
	now = lb_clock_ns(CLOCK_MONOTONIC);
	for (size_t i = 0; i < n; i++) {
		int fd = s->out_fds[i];
		char peer[80], why[320];
		if (!lb_outlimit_queued(s->outlimit, fd, wire, now))
			continue;
		peer_name(fd, peer, sizeof peer);
		snprintf(why, sizeof why,
			 "%s fell %.1f MB behind in %.1f s (over subscriber_max_mb = %g), last "
			 "on %.*s: a client that does not read its streams",
			 peer, (double)lb_outlimit_held(s->outlimit, fd) / (1024 * 1024),
			 (double)(now - lb_outlimit_since(s->outlimit, fd)) / 1e9,
			 (double)s->opts.subscriber_max / (1024 * 1024), (int)(len < 96 ? len : 96),
			 (const char *)topic);
		close_conn(s, fd, "stream", why);
	}
}

/* Read the stream socket's connection events: a connection's subscriptions are counted from its
 * ACCEPTED event to its DISCONNECTED one. */
static void handle_pub_monitor(lb_server *s, void *monitor)
{
	zmq_msg_t ev, addr;
	uint16_t event;
	int32_t value;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	while (zmq_msg_recv(&ev, monitor, ZMQ_DONTWAIT) >= 0) {
		if (zmq_msg_recv(&addr, monitor, 0) < 0 || zmq_msg_size(&ev) < 6)
			continue;
		memcpy(&event, zmq_msg_data(&ev), 2);
		memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
		if (event == ZMQ_EVENT_ACCEPTED && lb_subs_open(s->subs, value) < 0)
			lb_warn("out of memory: the subscriptions of stream connection %d are not "
				"counted",
				(int)value);
		else if (event == ZMQ_EVENT_ACCEPTED &&
			 lb_subs_connections(s->subs) > MAX_CONNECTIONS)
			close_conn(s, value, "stream", "over " MAX_CONNECTIONS_TEXT " connections");
		else if (event == ZMQ_EVENT_ACCEPTED) {
			track_conn(s, 0, value);
			watch_backlog(s, value);
			lb_subs_set_floor(s->subs, value, s->auth->next_conn);
		}
		if (event == ZMQ_EVENT_DISCONNECTED) {
			lb_subs_close(s->subs, value);
			lb_auth_forget(s->auth, value);
			lb_conns_close(s->conns, 0, value);
			lb_outlimit_close(s->outlimit, value);
		}
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
}

/* Close a connection of a socket ("stream", "request") that went over a limit (libzmq has no call
 * for that: shutting its socket down makes libzmq see the end of the connection and free what it
 * holds for it; the fd stays libzmq's to close). Logged at most every 10 s. */
static void close_conn(lb_server *s, int fd, const char *sock, const char *why)
{
	int64_t now = lb_clock_ns(CLOCK_MONOTONIC);
	lb_conn_log *l = &s->conn_log[strcmp(sock, "stream") != 0];

	shutdown(fd, SHUT_RDWR);
	l->unlogged++;
	if (l->last && now - l->last < 10000000000LL)
		return;
	lb_warn("closed a %s connection: %s (%u closed over the limits since the last such "
		"message)",
		sock, why, l->unlogged);
	l->last = now;
	l->unlogged = 0;
}

/* Read the subscriptions of stream socket sock (the local XPUB or the network one, both
 * ZMQ_XPUB_MANUAL): count them per connection, closing a connection over the limits (subs.h),
 * and apply to each connection only what its role and what it owns allow (subpolicy.h). A
 * bounded batch per call. */
static void handle_subscriptions(lb_server *s, void *sock)
{
	zmq_msg_t m;

	void *mon = sock == s->net_xpub ? s->net_pub_monitor : s->pub_monitor;

	/* connections accepted meanwhile are known first */
	handle_pub_monitor(s, mon);
	zmq_msg_init(&m);
	for (int n = 0; n < 4096 && zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0; n++) {
		/* no fd: the recorder's inproc connection, a plain ZWS2.0 page (no handshake), or
		 * a closed connection's leftovers */
		int fd = zmq_msg_get(&m, ZMQ_SRCFD);
		char why[160];
		int v;
		/* a connection that closed before this message was read is known closed now (its
		 * DISCONNECTED event comes before libzmq drops its pipe): see srv_sub_message */
		handle_pub_monitor(s, mon);
		lb_conns_delivered(s->conns, 0, fd, zmq_msg_size(&m), 1,
				   lb_clock_ns(CLOCK_MONOTONIC));
		if (sock == s->net_xpub)
			srv_net_note_sub(s, &m, fd); /* its key: closed when revoked (net.c) */
		why[0] = '\0';
		v = srv_sub_message(s, sock, &m, fd, why, sizeof why);
		if (v == LB_SUB_OK)
			continue;
		if (v == LB_SUB_TOO_LONG)
			snprintf(why, sizeof why, "a subscription prefix over %d bytes",
				 LB_SUB_MAX_LEN);
		else if (v == LB_SUB_TOO_MANY)
			snprintf(why, sizeof why, "over %d subscriptions", LB_SUB_MAX_PER_CONN);
		else if (v == LB_SUB_FULL && !why[0])
			snprintf(why, sizeof why, "all connections hold %d subscriptions already",
				 LB_SUB_MAX_TOTAL);
		else if (v == LB_SUB_NOT_A_SUB)
			snprintf(why, sizeof why, "a message that is not a subscription");
		close_conn(s, fd, "stream", why);
	}
	zmq_msg_close(&m);
}

/* What subscribers may receive changed (subs_dirty): close the connections whose subscriptions
 * would now be granted otherwise; libzmq cannot take a prefix back from one connection, so they
 * reconnect and subscribe again under the new rules. */
static void recheck_subscriptions(lb_server *s)
{
	int fds[64];
	size_t n, nsvc;
	const lb_service *const *v = lb_services(&nsvc);

	s->subs_dirty = 0;
	do {
		n = srv_sub_changed(s, fds, sizeof fds / sizeof *fds);
		for (size_t i = 0; i < n; i++)
			close_conn(s, fds[i], "stream",
				   "what it may receive changed (a lease, a job or the devices "
				   "present): it subscribes again under the new rules");
	} while (n == sizeof fds / sizeof *fds);
	for (size_t i = 0; i < nsvc; i++) /* in-process streams (the web's SSE) */
		if (v[i]->subs_changed)
			v[i]->subs_changed(s);
}

/* lb_auth's before_answer: every stream connection accepted so far is known (subs.h floor). */
static void before_zap_answer(void *arg)
{
	lb_server *s = arg;

	handle_pub_monitor(s, s->pub_monitor);
	if (s->net_pub_monitor)
		handle_pub_monitor(s, s->net_pub_monitor);
}

/* Answer requests whose device did not reply in time. */
static void expire_pending(lb_server *s, int64_t now)
{
	for (size_t i = 0; i < s->npend;) {
		pending *p = &s->pend[i];
		if (p->deadline <= now) {
			lb_error err;
			lb_error_set(&err, LB_ERR_TIMEOUT,
				     "device '%s' did not answer within %d ms", p->dev->spec.id,
				     s->opts.request_timeout_ms);
			srv_audit_outcome(s, p->audit_id, lb_error_name(err.code));
			srv_send_reply(s, p->sock, p->env, p->nenv, lb_reply_error(p->id, &err));
			json_decref(p->id);
			s->pend[i] = s->pend[--s->npend];
			/* a late answer finds no pending entry and is dropped */
		} else {
			i++;
		}
	}
}

/* ---------------------------------------------------------------- life cycle */

/* Whether something listens on the Unix socket path (libzmq would silently replace it). */
static int ipc_in_use(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof sa.sun_path || path[0] == '@')
		return 0;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	return rc == 0; /* refused or absent: a stale file, binding is fine */
}

/* Bind sock to ep; record the bound endpoint (with the chosen port); 0 or -1 with a message. */
static int bind_endpoint(void *sock, const char *what, const char *ep, char *out, size_t cap)
{
	if (strncmp(ep, "ipc://", 6) == 0 && ipc_in_use(ep + 6)) {
		lb_err("cannot bind the %s endpoint %s: another program is listening there (is "
		       "another "
		       "labbridge running? use --pub/--rpc/--ws)",
		       what, ep);
		return -1;
	}
	if (zmq_bind(sock, ep) < 0) {
		lb_err("cannot bind the %s endpoint %s: %s%s", what, ep, zmq_strerror(zmq_errno()),
		       zmq_errno() == EADDRINUSE
			   ? " (is another labbridge running? use --pub/--rpc/--ws)"
			   : "");
		return -1;
	}
	zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &cap);
	return 0;
}

/* A random 64-bit epoch id, as 16 hex digits. */
static void make_epoch(char out[17])
{
	uint64_t r = 0;
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(&r, sizeof r, 1, f) != 1)
		r = (uint64_t)lb_clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	if (f)
		fclose(f);
	snprintf(out, 17, "%016" PRIx64, r);
}

lb_server *lb_server_new(const lb_server_opts *opts)
{
	lb_server *s = calloc(1, sizeof *s);
	int zero = 0, one = 1, hwm;
	/* a client that vanishes without closing (a tablet out of Wi-Fi) loses its leases within
	 * ~0.5 s by default: its robots stop (the dead-man); PONGs come from the client's libzmq
	 * I/O thread, so a busy client program still answers ([bridge] client_timeout_ms) */
	int hb_ivl = 100, hb_timeout = opts->client_timeout_ms > 0 ? opts->client_timeout_ms : 300;
	int64_t pub_max = PUB_MAXMSGSIZE, rpc_max = RPC_MAXMSGSIZE;
	int pub_rcvhwm = PUB_RCVHWM, rpc_rcvhwm = RPC_RCVHWM, rpc_sndhwm = RPC_SNDHWM;

	if (!s)
		return NULL;
	s->up.efd = -1;
	s->opts = *opts;
	s->start_mono = lb_clock_ns(CLOCK_MONOTONIC);
	s->simulate = opts->simulate;
	s->seq_memory = json_object();
	s->ended = json_object();
	s->failed = json_object();
	s->absent = json_object();
	s->ports = json_array();
	make_epoch(s->epoch);
	s->zctx = zmq_ctx_new();
	if (!s->zctx)
		goto fail;
	/* the network's sockets get an I/O thread of their own (net.c): CURVE's encryption must not
	 * slow the local subscribers down */
	zmq_ctx_set(s->zctx, ZMQ_IO_THREADS,
		    (opts->net_pub && *opts->net_pub) || (opts->net_rpc && *opts->net_rpc) ? 2 : 1);
	/* libzmq allocates (and zeroes) a slot per possible socket when the first one is made: 8192
	 * slots cost 96 KB of an idle bridge. The bridge makes about ten sockets (devices talk to
	 * the main loop through queues, not sockets): 256 leave room for drivers that would need
	 * some. */
	zmq_ctx_set(s->zctx, ZMQ_MAX_SOCKETS, 256);
	s->auth = lb_auth_new(s->zctx, &opts->policy);
	if (!s->auth)
		goto fail;
	s->subs = lb_subs_new();
	s->conns = lb_conns_new();
	if (getrandom(s->streams_token, sizeof s->streams_token, 0) !=
	    (ssize_t)sizeof s->streams_token) {
		lb_err("cannot draw the recorder's key: %s", strerror(errno));
		goto fail;
	}
	s->outlimit = lb_outlimit_new(opts->subscriber_max, lb_outlimit_kernel_probe, NULL);
	s->xpub = zmq_socket(s->zctx, ZMQ_XPUB);
	s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
	s->vouched = zmq_socket(s->zctx, ZMQ_ROUTER);
	s->up.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->subs || !s->conns || !s->outlimit || !s->xpub || !s->router || !s->vouched ||
	    s->up.efd < 0)
		goto fail;
	hwm = opts->pub_hwm;
	zmq_setsockopt(s->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(s->xpub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero);
	/* bounded memory: before binding, so that every connection gets them */
	if (zmq_setsockopt(s->xpub, ZMQ_MAXMSGSIZE, &pub_max, sizeof pub_max) < 0 ||
	    zmq_setsockopt(s->xpub, ZMQ_RCVHWM, &pub_rcvhwm, sizeof pub_rcvhwm) < 0 ||
	    zmq_setsockopt(s->xpub, ZMQ_XPUB_VERBOSER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(s->xpub, ZMQ_XPUB_MANUAL, &one, sizeof one) < 0 ||
	    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &rpc_max, sizeof rpc_max) < 0 ||
	    zmq_setsockopt(s->router, ZMQ_RCVHWM, &rpc_rcvhwm, sizeof rpc_rcvhwm) < 0 ||
	    zmq_setsockopt(s->router, ZMQ_SNDHWM, &rpc_sndhwm, sizeof rpc_sndhwm) < 0)
		goto fail;
	zmq_setsockopt(s->router, ZMQ_ZAP_DOMAIN, LB_AUTH_DOMAIN, strlen(LB_AUTH_DOMAIN));
	/* stream connections too: their subscriptions carry the identity (subpolicy.h) */
	zmq_setsockopt(s->xpub, ZMQ_ZAP_DOMAIN, LB_AUTH_DOMAIN, strlen(LB_AUTH_DOMAIN));
	s->auth->before_answer = before_zap_answer;
	s->auth->before_arg = s;
	zmq_setsockopt(s->router, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
	zmq_setsockopt(s->router, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
	if (bind_endpoint(s->xpub, "streams", opts->pub, s->ep_pub, sizeof s->ep_pub) < 0 ||
	    bind_endpoint(s->router, "requests", opts->rpc, s->ep_rpc, sizeof s->ep_rpc) < 0)
		goto fail;
	if (opts->ws && *opts->ws &&
	    bind_endpoint(s->xpub, "WebSocket streams", opts->ws, s->ep_ws, sizeof s->ep_ws) < 0)
		goto fail;
	if (zmq_bind(s->xpub, STREAMS_INPROC) < 0)
		goto fail;
	zmq_setsockopt(s->vouched, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_bind(s->vouched, SRV_VOUCHED_ENDPOINT) < 0)
		goto fail;
	/* the network's endpoints, CURVE only (net.c) */
	if (srv_net_open(s) < 0)
		goto fail;
	if (zmq_socket_monitor(s->router, MONITOR_ENDPOINT,
			       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0)
		goto fail;
	s->monitor = zmq_socket(s->zctx, ZMQ_PAIR);
	zmq_setsockopt(s->monitor, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s->monitor, MONITOR_ENDPOINT) < 0)
		goto fail;
	if (zmq_socket_monitor(s->xpub, PUB_MONITOR_ENDPOINT,
			       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0)
		goto fail;
	s->pub_monitor = zmq_socket(s->zctx, ZMQ_PAIR);
	zmq_setsockopt(s->pub_monitor, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s->pub_monitor, PUB_MONITOR_ENDPOINT) < 0)
		goto fail;
	s->hotplug = lb_hotplug_new(s->zctx);
	if (!s->hotplug)
		lb_warn("hot-plug watcher unavailable: devices are found at start and every 2 s");
	{
		size_t n;
		int rc;
		const lb_service *const *v = lb_services(&n);
		if (n > LB_MAX_SERVICES) {
			lb_err("internal: %zu services registered, at most %d", n, LB_MAX_SERVICES);
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			if (v[i]->init && (rc = v[i]->init(s)) < 0) {
				lb_err("service %s cannot start%s", v[i]->name,
				       rc == LB_ENOMEM ? " (out of memory)" : "");
				goto fail;
			}
	}
	if (srv_mdns_start(s, &s->mdns) < 0) /* DNS-SD, once every endpoint is bound */
		goto fail;
	check_config_sections(s);
	scan(s);
	s->next_scan = s->start_mono + RESCAN_NS;
	s->next_hb = s->start_mono;
	return s;
fail:
	lb_server_destroy(&s);
	return NULL;
}

int lb_server_run(lb_server *s, volatile sig_atomic_t *stop)
{
	int64_t hb_ns = (int64_t)s->opts.heartbeat_ms * 1000000;

	check_ready(s);
	while (!*stop) {
		lb_now now = lb_now_read();
		int64_t next = s->next_hb < s->next_scan ? s->next_hb : s->next_scan;
		long timeout;
		int rc, perr;
		/* the stop signals' fd (-1: none, never ready) and the hot-plug pipe come last */
		/* then the network's sockets (absent: polled for nothing), the vouched socket of
		 * in-process callers, then the services' own descriptors (wake_fd) */
		zmq_pollitem_t items[13 + LB_MAX_SERVICES] = {
		    {NULL, s->up.efd, ZMQ_POLLIN, 0},
		    {s->router, 0, ZMQ_POLLIN, 0},
		    {s->xpub, 0, ZMQ_POLLIN, 0},
		    {s->monitor, 0, ZMQ_POLLIN, 0},
		    {s->auth->sock, 0, ZMQ_POLLIN, 0},
		    {s->pub_monitor, 0, ZMQ_POLLIN, 0},
		    {NULL, s->opts.stop_fd, s->opts.stop_fd >= 0 ? ZMQ_POLLIN : 0, 0},
		    {s->hotplug ? s->hotplug->pipe : NULL, -1, s->hotplug ? ZMQ_POLLIN : 0, 0},
		    {s->net_router, -1, s->net_router ? ZMQ_POLLIN : 0, 0},
		    {s->net_xpub, -1, s->net_xpub ? ZMQ_POLLIN : 0, 0},
		    {s->net_monitor, -1, s->net_monitor ? ZMQ_POLLIN : 0, 0},
		    {s->net_pub_monitor, -1, s->net_pub_monitor ? ZMQ_POLLIN : 0, 0},
		    {s->vouched, 0, ZMQ_POLLIN, 0},
		};
		const lb_service *woken[LB_MAX_SERVICES];
		int nitems = 13, nwoken = 0;
		size_t nsvc;
		const lb_service *const *svc = lb_services(&nsvc);

		for (size_t i = 0; i < nsvc && i < LB_MAX_SERVICES; i++) {
			int fd = svc[i]->wake_fd ? svc[i]->wake_fd(s) : -1;
			if (fd < 0 || !svc[i]->wake)
				continue;
			items[nitems++] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
			woken[nwoken++] = svc[i];
		}

		if (lb_conns_count(s->conns) && s->next_conns < next)
			next = s->next_conns;
		for (size_t i = 0; i < s->npend; i++)
			if (s->pend[i].deadline < next)
				next = s->pend[i].deadline;
		for (size_t i = 0; i < s->leases.n; i++)
			if (s->leases.v[i].expires < next)
				next = s->leases.v[i].expires;
		/* device messages: those queued before we sleep are taken now, a later one wakes
		 * the poll (uplink.h) */
		lb_upwake_sleeping(&s->up);
		take_uplink(s);
		timeout =
		    next <= now.mono || s->up_head ? 0 : (long)((next - now.mono) / 1000000 + 1);
		rc = zmq_poll(items, nitems, timeout);
		perr = rc < 0 ? zmq_errno() : 0; /* before awake's read() may change errno */
		lb_upwake_awake(&s->up);
		if (rc < 0) {
			if (perr == EINTR)
				continue;
			lb_err("poll failed: %s", zmq_strerror(perr));
			return LB_EFAIL;
		}
		take_uplink(s);
		/* a bounded batch, so that requests are never starved */
		handle_uplink(s, 4096);
		/* new connections counted before their requests */
		if (items[3].revents & ZMQ_POLLIN)
			handle_monitor(s, s->monitor, &s->rpc_conns);
		if (items[10].revents & ZMQ_POLLIN)
			handle_monitor(s, s->net_monitor, &s->net_rpc_conns);
		for (int k = 0; k < 2; k++) {
			void *sock = k == 0 ? s->router : s->net_router;
			if (!(items[k == 0 ? 1 : 8].revents & ZMQ_POLLIN))
				continue;
			for (int n = 0; n < 64; n++) {
				int ev = 0;
				size_t sz = sizeof ev;
				zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz);
				if (!(ev & ZMQ_POLLIN))
					break;
				handle_request(s, sock);
			}
		}
		for (int n = 0; n < 64 && (items[12].revents & ZMQ_POLLIN); n++) {
			int ev = 0;
			size_t sz = sizeof ev;
			zmq_getsockopt(s->vouched, ZMQ_EVENTS, &ev, &sz);
			if (!(ev & ZMQ_POLLIN))
				break;
			handle_request(s, s->vouched);
		}
		if ((items[2].revents | items[5].revents) & ZMQ_POLLIN)
			handle_subscriptions(s, s->xpub);
		if ((items[9].revents | items[11].revents) & ZMQ_POLLIN)
			handle_subscriptions(s, s->net_xpub);
		if (items[4].revents & ZMQ_POLLIN)
			lb_auth_handle(s->auth, now.mono);
		if (items[6].revents & ZMQ_POLLIN) {
			struct signalfd_siginfo si;
			if (read(s->opts.stop_fd, &si, sizeof si) == (ssize_t)sizeof si)
				lb_info("SIG%s received", sigabbrev_np((int)si.ssi_signo));
			*stop = 1;
			break;
		}
		if (s->hotplug && (items[7].revents & ZMQ_POLLIN)) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s->hotplug->pipe, 0) >= 0) {
				json_t *ports =
				    json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
				if (ports) {
					json_decref(s->ports);
					s->ports = ports;
					s->rescan = 1;
				}
			}
			zmq_msg_close(&m);
		}
		for (int i = 0; i < nwoken; i++)
			if (items[13 + i].revents & ZMQ_POLLIN)
				woken[i]->wake(s);
		now = lb_now_read();
		if (now.mono >= s->next_hb) {
			publish_heartbeat(s, now.mono);
			s->next_hb = now.mono + hb_ns;
		}
		lb_leases_sweep(&s->leases, now.mono, -1, on_lease_released, s);
		if (s->subs_dirty)
			recheck_subscriptions(s);
		expire_pending(s, now.mono);
		srv_net_sweep(s, now.mono);
		check_conns(s, now.mono);
		if (s->rescan || now.mono >= s->next_scan) {
			scan(s);
			s->rescan = 0;
			s->next_scan = now.mono + RESCAN_NS;
		}
	}
	return 0;
}

void lb_server_destroy(lb_server **ps)
{
	lb_server *s;
	int stuck = 0;
	int64_t give_up;

	if (!ps || !*ps)
		return;
	s = *ps;
	lb_mdns_destroy(&s->mdns); /* withdraw the announcement first */
	/* stop every device thread and wait for each BYE */
	for (size_t i = 0; i < s->ndev; i++)
		if (s->dev[i]->host) {
			s->dev[i]->end_reason = "bridge stopping";
			lb_device_send(s->dev[i], "term", 0, NULL);
		}
	give_up = lb_clock_ns(CLOCK_MONOTONIC) + 5000000000LL;
	while (s->ndev && s->up.efd >= 0) {
		zmq_pollitem_t it = {NULL, s->up.efd, ZMQ_POLLIN, 0};
		int64_t left = give_up - lb_clock_ns(CLOCK_MONOTONIC);
		lb_upwake_sleeping(&s->up);
		take_uplink(s);
		if (!s->up_head && left > 0)
			zmq_poll(&it, 1, (long)(left / 1000000) + 1); /* EINTR: look again */
		lb_upwake_awake(&s->up);
		take_uplink(s);
		if (!s->up_head && lb_clock_ns(CLOCK_MONOTONIC) >= give_up) {
			/* A driver is stuck in a blocking call: its thread still uses the device,
			 * which cannot be freed. Leave it to the process exit. */
			lb_err("%zu device(s) did not stop within 5 s; exiting without them",
			       s->ndev);
			stuck = 1;
			break;
		}
		handle_uplink(s, INT_MAX);
	}
	if (!stuck)
		for (size_t i = 0; i < s->nhosts; i++)
			lb_host_destroy(&s->hosts[i]);
	free(s->hosts);
	lb_hotplug_destroy(&s->hotplug);
	{
		/* in the reverse order of their init: a service made early (the shared job store)
		 * outlives those that use it */
		size_t n;
		const lb_service *const *v = lb_services(&n);
		for (size_t i = n; i-- > 0;)
			if (v[i]->destroy)
				v[i]->destroy(s);
	}
	if (!stuck) {
		size_t ndrv;
		const lb_driver *const *drv = lb_drivers(&ndrv);
		for (size_t k = 0; k < ndrv; k++)
			if (drv[k]->cleanup)
				drv[k]->cleanup(drv[k]);
	}
	for (size_t i = 0; i < s->npend; i++) {
		for (int k = 0; k < s->pend[i].nenv; k++)
			zmq_msg_close(&s->pend[i].env[k]);
		json_decref(s->pend[i].id);
	}
	free(s->pend);
	srv_net_close(s);
	if (s->router)
		zmq_socket_monitor(s->router, NULL, 0);
	if (s->monitor)
		zmq_close(s->monitor);
	if (s->xpub)
		zmq_socket_monitor(s->xpub, NULL, 0);
	if (s->pub_monitor)
		zmq_close(s->pub_monitor);
	lb_subs_destroy(&s->subs);
	lb_conns_destroy(&s->conns);
	lb_outlimit_destroy(&s->outlimit);
	free(s->out_fds);
	if (s->xpub)
		zmq_close(s->xpub);
	if (s->router)
		zmq_close(s->router);
	if (s->vouched)
		zmq_close(s->vouched);
	lb_auth_destroy(&s->auth);
	if (stuck) {
		*ps = NULL;
		return;
	}
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	while (s->up_head) {
		lb_up *m = s->up_head;
		s->up_head = m->next;
		lb_up_free(m);
	}
	for (size_t i = 0; i < s->ndev; i++) {
		lb_device_unspawn(s->dev[i]);
		lb_device_destroy(&s->dev[i]);
	}
	free(s->dev);
	if (s->up.efd >= 0)
		close(s->up.efd);
	free(s->sess);
	lb_leases_clear(&s->leases);
	json_decref(s->seq_memory);
	json_decref(s->ended);
	json_decref(s->failed);
	json_decref(s->absent);
	json_decref(s->ports);
	free(s);
	*ps = NULL;
}
