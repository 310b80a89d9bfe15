/* service.h - what a bridge service (print queue, recordings, calibration...) implements and uses.
 */
#ifndef LB_SERVICE_H
#define LB_SERVICE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/clock.h"
#include "../util/error.h"
#include "access.h"
#include "request.h" /* lb_param_*: reading a method's params */
#include "topics.h"

typedef struct lb_server lb_server;
typedef struct lb_device lb_device;
/* One request being handled: opaque, read through the lb_call_* functions below. */
typedef struct lb_call lb_call;

/*
 * A request method: 0 with *result set (the reply, sent now), LB_EAGAIN (a device thread will
 * answer: srv_forward), or negative with err set (an error reply).
 */
typedef int (*lb_method_fn)(lb_server *s, lb_call *c, json_t **result, lb_error *err);

/* What the core checks before a method runs (lb_method.flags), so that no method checks it by
 * hand. */
enum {
	/*
	 * params.device names a device the method acts on: the core resolves it (unknown device,
	 * missing parameter: an error reply) and refuses the call when someone else holds the
	 * device's lease.
	 */
	LB_METHOD_LEASE = 1u << 0,
	/* params.devices lists devices: the caller must be allowed by each one's lease. */
	LB_METHOD_LEASES = 1u << 1,
	/* The request may carry one binary frame after its JSON (lb_call_input), up to the
	 * request size limit. Any other method's binary frame is refused. */
	LB_METHOD_UPLOAD = 1u << 2,
};

/* A request method as the core routes it: its name, the least role allowed, what to check. */
typedef struct lb_method {
	const char *name;
	lb_role role;
	unsigned flags; /* LB_METHOD_* */
	lb_method_fn fn;
} lb_method;

/*
 * A service, beside the drivers: it serves methods and follows devices. Every hook may be NULL;
 * all run in the main thread and must not block.
 */
typedef struct lb_service {
	const char *name;	    /* "print", "sensing"... */
	const char *config_section; /* the [section] of the configuration it reads, or NULL */
	const lb_method *methods;   /* ended by {NULL}; NULL: none */
	/* At start, before any device or request: make the service's state (lb_service_state).
	 * 0, or negative: the bridge does not start. */
	int (*init)(lb_server *s);
	/* A device is about to start in its thread (d's spec is set): e.g. give it its stored
	 * calibrations. */
	void (*device_spawn)(lb_server *s, lb_device *d);
	/* A device opened, or its description changed (it may be idle now). */
	void (*device_ready)(lb_server *s, lb_device *d);
	/* A device is being removed (unplugged, failed, bridge stopping). */
	void (*device_gone)(lb_server *s, lb_device *d);
	/* A device's event for the services (lb_device_event): 1 if it was this service's. */
	int (*event)(lb_server *s, lb_device *d, const json_t *ev);
	/* A device's answer to a call this service made (srv_send's token): 1 if it was one. */
	int (*reply)(lb_server *s, uint64_t token, const json_t *reply);
	/*
	 * The identity owning the job device d is running, copied into owner (cap bytes): 1, or
	 * 0 when the service has no job on it. Driver actions flagged LB_ACTION_JOB need this
	 * owner or a teacher.
	 */
	int (*job_owner)(lb_server *s, lb_device *d, char *owner, size_t cap);
	/*
	 * May command cmd ("start", "call", "event"...) with params go to device d, from a client
	 * or a service? 0, or LB_EFAIL with err set: the service vetoes it (a stopped room: nothing
	 * set moving). err may be NULL (a service's own call: only the answer matters).
	 */
	int (*permit)(lb_server *s, lb_device *d, const char *cmd, const json_t *params,
		      lb_error *err);
	/*
	 * Device d's lease changed: taken or renewed (ended false: lb_lease_find says by whom), or
	 * ended (released, expired, taken from its holder's dead connection; ended true). A robot
	 * left moving by a group that is gone stops here.
	 */
	void (*lease_changed)(lb_server *s, lb_device *d, bool ended);
	/*
	 * May client c take (or renew) device id's lease? 0, or LB_EFAIL with err set: the service
	 * refuses (a device assigned to another group). lease.acquire asks every service.
	 */
	int (*lease_permit)(lb_server *s, const char *id, const lb_client *c, lb_error *err);
	/* Add this service's fields to o, the object describing device id as clients see it
	 * (devices.list, device.info, bridge/devices/ events), an open device or not. */
	void (*device_fields)(lb_server *s, const char *id, json_t *o);
	/* Add the names of the groups this service knows (a key's name, a pairing's) as keys of
	 * the object names (a set); room.assignments offers them to the teacher. */
	void (*group_names)(lb_server *s, json_t *names, lb_now now);
	/* The LB_CAP_* this service gives device d (the print queue: job and upload for
	 * printers); 0 for none. */
	unsigned (*device_caps)(lb_server *s, lb_device *d);
	/*
	 * A descriptor the main loop should watch for this service (the eventfd of a worker
	 * thread of its own, e.g. the slicers), or -1 for none: asked before each wait, so it may
	 * appear later. When it is readable the loop calls wake (which must clear it).
	 */
	int (*wake_fd)(lb_server *s);
	void (*wake)(lb_server *s);
	/* At shutdown, after every device has stopped: free what the service holds. Services are
	 * destroyed in the reverse order of their init (link order). */
	void (*destroy)(lb_server *s);
	/*
	 * Methods only code in the bridge's process calls (the web server's stream grants): run
	 * when a request on the vouched socket (SRV_VOUCHED_ENDPOINT) has an identity marked
	 * "internal": true, which only that code writes. Never reached from the request sockets
	 * nor /api/call (unknown method there), not listed by bridge.methods. Ended by {NULL}.
	 */
	const lb_method *internal;
	/* What subscribers may receive changed (a lease, a job, the devices present): called in
	 * the main-loop turn that changed it, after the stream sockets' subscriptions are checked
	 * again, so that in-process streams (the web's) can be checked the same way. */
	void (*subs_changed)(lb_server *s);
} lb_service;

/*
 * Register a service: put LB_REGISTER_SERVICE(my_service); after its definition. The core finds
 * every registered service through a linker section, as it finds drivers: adding a service
 * touches no shared list.
 */
#define LB_REGISTER_SERVICE(svc)                                                                   \
	static const lb_service *lb_service_ptr_##svc                                              \
	    __attribute__((section("lb_service_list"), used, aligned(sizeof(void *)))) = &svc

/* The registered services, in link order; *n receives their number. */
const lb_service *const *lb_services(size_t *n);

/* The method of that name among every registered service's (the core's included), or NULL;
 * *svc (if not NULL) receives its service. */
const lb_method *lb_service_method(const char *name, const lb_service **svc);

/* The internal method of that name (lb_service.internal), or NULL. */
const lb_method *lb_service_internal(const char *name);

/* The slot where a service keeps its state in this server (NULL until it sets it). */
void **lb_service_state(lb_server *s, const lb_service *svc);

/* --- the request being handled --- */

/* Who is calling: the kernel-given identity (user "unix:NAME"), role, display name. */
const lb_client *lb_call_client(const lb_call *c);
/* The request's params (an object; {} when it had none). */
json_t *lb_call_params(const lb_call *c);
/* When the request arrived. */
const lb_now *lb_call_now(const lb_call *c);
/* The request's binary frame (LB_METHOD_UPLOAD methods), or NULL; *len receives its size. */
const void *lb_call_input(const lb_call *c, size_t *len);
/* A binary frame to send after the reply: data (malloc'd) is taken over. */
void lb_call_set_output(lb_call *c, void *data, size_t len);

/* --- the server, as services see it --- */

/* The configuration (sections -> objects) and the data directory. */
const json_t *srv_config(const lb_server *s);
const char *srv_data_dir(const lb_server *s);
/* The devices: the i-th (NULL past the end), and the live one of that id (or NULL). */
lb_device *srv_device_at(lb_server *s, size_t i);
lb_device *srv_find_device(lb_server *s, const char *id);
/* Whether a device has opened and is not going away. */
int srv_device_live(const lb_device *d);
/* The device's last description, parsed: a new object ({} if it has none yet). */
json_t *srv_device_desc(const lb_device *d);
/* The device named by params.device: it, or NULL with err set. */
lb_device *srv_param_device(lb_server *s, lb_call *c, lb_error *err);
/* Whether the caller may act on device id under its lease: 0, or LB_EFAIL with err set. */
int srv_lease_check(lb_server *s, lb_call *c, const char *id, lb_error *err);
/* Forward the request to d's thread as cmd with params (borrowed): LB_EAGAIN (the device's
 * answer is the reply), or negative with err set. */
int srv_forward(lb_server *s, lb_call *c, lb_device *d, const char *cmd, json_t *params,
		lb_error *err);
/* A service's own call to d's thread (the answer reaches the service's reply hook with this
 * token): the token (> 0), or 0 when the device's queue is full. params is borrowed. */
uint64_t srv_send(lb_server *s, lb_device *d, const char *cmd, json_t *params);
/*
 * The in-process ROUTER of the main loop for requests whose caller the sender vouches for (the
 * web service's sessions): a DEALER sends [identity JSON {"user","role","name","session"}][request
 * JSON][binary frame?] and receives [identity][reply][binary frame?]. Only code in this process
 * can reach it.
 */
#define SRV_VOUCHED_ENDPOINT "inproc://labbridge-http"
/* The URL of the web page the bridge serves ("http://HOST:PORT/"; NULL: none), set by the
 * service serving it, for those announcing it (lb_server_endpoint "http"). */
void srv_set_http(lb_server *s, const char *url);
/* The ZeroMQ context, and the in-process endpoint where every stream message is published. */
void *srv_zmq_context(lb_server *s);
const char *srv_streams_endpoint(const lb_server *s);
/*
 * The key (LB_STREAMS_TOKEN bytes, random for each run) the in-process recorder puts before each
 * prefix it (un)subscribes to on srv_streams_endpoint, through an XSUB: 0x01 key prefix. Its
 * subscriptions carry no metadata, nor do those of an anonymous WebSocket page (ZWS2.0): the key
 * tells them apart (subpolicy.h).
 */
#define LB_STREAMS_TOKEN 16
const unsigned char *srv_streams_token(const lb_server *s);
/* Offer every live device to the services again (their device_ready), as when it opened: after
 * what held devices back has ended (a room released). */
void srv_devices_ready(lb_server *s);
/* Whether every service permits cmd with params to device d: 0, or LB_EFAIL with err set (err
 * may be NULL). srv_forward and srv_send ask it themselves. */
int srv_permit(lb_server *s, lb_device *d, const char *cmd, const json_t *params, lb_error *err);
/*
 * Halt d out of band (lb_device_halt: the driver's hook now, then a priority mail), logged with
 * who asked. 0 when the hook reached the hardware; LB_EINVAL when the device cannot be halted;
 * LB_EGONE when it is not open; LB_EFAIL when the hook failed (its thread still finishes).
 */
int srv_halt(lb_server *s, lb_device *d, const char *who);

/* Tell every service that device id's lease changed (service.h lease_changed); an unknown id
 * is ignored. Publishes the device's "changed" event too. */
void srv_lease_changed(lb_server *s, const char *id, bool ended);

/*
 * What client who (role, user, and its lease identity: a lease counts only when this connection
 * holds it, as a web session's own) receives of prefix (len bytes), as lb_topic_check decides
 * with the bridge's devices and owners now (topics.h: emit, dependent, why as there). For
 * in-process streams that subscribe with the streams key (the web's SSE). Never fails.
 */
lb_topic_verdict srv_sub_decide(lb_server *s, const lb_client *who, const char *prefix, size_t len,
				lb_topic_emit *emit, void *arg, bool *dependent, char *why,
				size_t cap);

/* The live lease on device id, or NULL. */
const lb_lease *srv_lease_find(lb_server *s, const char *id, int64_t now);

/* End device id's lease, whoever holds it (the device is gone, or assigned to another group);
 * its services are told. */
void srv_lease_drop(lb_server *s, const char *id, int64_t now);
/* Whether the bridge knows a device of that id: open, opening, failed to open, or configured and
 * absent (unplugged). */
bool srv_device_known(lb_server *s, const char *id);
/* Publish device id's "changed" event on bridge/devices/ (a field a service adds to it changed);
 * a device that is not open is ignored. */
void srv_device_changed(lb_server *s, const char *id);
/* Publish data (borrowed) on a bridge topic with its own sequence counter. */
void srv_publish_json(lb_server *s, const char *topic, uint64_t *seq, json_t *data);

#endif
