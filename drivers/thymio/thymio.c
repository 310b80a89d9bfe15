/* thymio.c - Thymio II robots (Aseba) over USB serial or TCP (glue: scan, open, streams, actions).
 *
 * Configuration:
 *   [thymio.NAME]
 *   port = /dev/ttyACM0                 a Thymio on USB (115200 8N1), or
 *   target = tcp:HOST;port=PORT         an Aseba node or switch over TCP (Dashel style; also
 *                                       tcp:host=HOST;port=PORT; the port defaults to 33333)
 *   node = ID                           the node to drive (default: the first that answers)
 *   events = NAME, NAME, ...            user events that get a stream event/NAME of their own
 *   title = ...
 *   [thymio]
 *   events = NAME, ...                  the same for the Thymios found on USB (and simulated)
 * Thymios on USB (0617:000a) are found without configuration; so is the wireless dongle
 * (0617:000c), of which the first robot answering is driven (one device per link).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/sdk/robot.h"
#include "../../bridge/sdk/serial.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/config.h"
#include "../../bridge/util/log.h"
#include "../../protocols/aseba.h"
#include "compile.h"
#include "emulator.h"
#include "node.h"

#define THYMIO_BAUD 115200
#define LIST_NS 3000000000LL	  /* NODE_PRESENT awaited this long (LIST_NODES resent) */
#define LIST_EVERY_NS 500000000LL /* LIST_NODES resent this often */
#define OLD_NS 1000000000LL	  /* then a protocol 4 node's DESCRIPTION, this long */
#define DESC_NS 5000000000LL	  /* the whole description */
#define ANSWER_NS 1000000000LL	  /* GET_VARIABLES answered within this */
#define POLL_EVERY_NS 100000000LL /* sensors read at 10 Hz */
#define SILENCE_NS 5000000000LL	  /* polling and nothing heard this long: gone */
#define WRITE_MS 500		  /* a write waits this long for the line */
#define CONNECT_MS 3000		  /* TCP connect */
#define ACC_PER_G 23.0		  /* the Thymio's accelerometer: 1 g reads 23 */
#define MAX_EVENT_STREAMS 8

/* The sensor variables published, and where they are (offset -1: the node has none). */
enum { V_PROX, V_GROUND, V_ACC, V_BUTTONS, V_NSENSORS };
static const char *const sensor_var[V_NSENSORS] = {"prox.horizontal", "prox.ground.delta", "acc",
						   "button.backward"};
static const int sensor_size[V_NSENSORS] = {7, 2, 3, 5};
static const char *const button_var[5] = {"button.backward", "button.left", "button.center",
					  "button.forward", "button.right"};

typedef struct th_priv {
	lb_serial *serial; /* USB, or */
	int sock;	   /* TCP (-1 if none) */
	int halt_fd;	   /* a dup of the line's fd, for the halt hook */
	char where[160];   /* the port path or tcp target, for messages */
	thymio_framer fr;
	thymio_node node; /* large: the private state is allocated */
	int gone;
	/* the line: 0 free, 1 the device thread writes, 2 the halt hook writes */
	atomic_int line;
	atomic_int halted;
	uint8_t halt_bytes[64];
	size_t nhalt;
	/* variables */
	int motor_left, motor_right; /* offsets, -1 if absent */
	int leds_top;
	int sensor_off[V_NSENSORS];
	int button_off[5];
	uint16_t poll_start, poll_len; /* the range read at each poll (len 0: nothing) */
	int64_t next_poll, poll_sent, last_rx;
	int poll_pending;
	/* streams */
	int s_prox[7], s_ground[2], s_acc[3], s_buttons, s_console, s_event;
	int s_named[MAX_EVENT_STREAMS];
	char named[MAX_EVENT_STREAMS][64];
	int nnamed;
	/* the program */
	size_t program_words;
	char state[16];
	unsigned long dropped_reported;
} th_priv;

/* USB ids: the Thymio II and the wireless dongle. */
static int is_thymio(json_int_t vid, json_int_t pid)
{
	return vid == 0x0617 && (pid == 0x000a || pid == 0x000c);
}

/* scan: configured [thymio.NAME] sections (port or tcp target), and Thymios on USB. */
static int th_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port;
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "thymio", "thymio-", "Thymio II", &d)) {
		const char *target = lb_config_str(ctx->config, d.section, "target", NULL);
		const char *node = lb_config_str(ctx->config, d.section, "node", NULL);
		const char *events = lb_config_str(ctx->config, d.section, "events", NULL);
		json_t *params;
		if (target && strncmp(target, "tcp:", 4) == 0) {
			params = json_pack("{s:s,s:s}", "target", target, "section", d.section);
		} else {
			const char *path =
			    lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "robot");
			if (!path)
				continue;
			params = json_pack("{s:s,s:s}", "path", path, "section", d.section);
		}
		if (params && node)
			json_object_set_new(params, "node", json_string(node));
		if (params && events)
			json_object_set_new(params, "events", json_string(events));
		lb_spec_list_add(out, d.id, d.title, "robot", false, params);
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *serial = json_string_value(json_object_get(port, "serial"));
		const char *path = json_string_value(json_object_get(port, "path"));
		const char *hint = json_string_value(json_object_get(port, "driver"));
		int sim = json_is_true(json_object_get(port, "simulated"));
		char id[64];
		if (!path || (!is_thymio(json_integer_value(json_object_get(port, "vid")),
					 json_integer_value(json_object_get(port, "pid"))) &&
			      !(hint && strcmp(hint, "thymio") == 0)))
			continue;
		const char *events = lb_config_str(ctx->config, "thymio", "events", NULL);
		json_t *params = json_pack("{s:s}", "path", path);
		lb_make_id(id, sizeof id, "thymio-",
			   serial && *serial ? serial : strrchr(path, '/') + 1);
		if (params && events)
			json_object_set_new(params, "events", json_string(events));
		lb_spec_list_add(
		    out, id, sim ? "Simulated Thymio II (Aseba VM emulator)" : "Thymio II (Aseba)",
		    "robot", sim, params);
	}
	return 0;
}

/* The fd the line reads and writes. */
static int th_fd(const th_priv *p)
{
	return p->serial ? lb_serial_fd(p->serial) : p->sock;
}

/* Take the line for the device thread (the halt hook holds it a few microseconds at most). */
static void line_take(th_priv *p)
{
	int free_line = 0;

	while (!atomic_compare_exchange_weak(&p->line, &free_line, 1))
		free_line = 0;
}

/* Give the line back (after line_take). */
static void line_give(th_priv *p)
{
	atomic_store(&p->line, 0);
}

/* Write a whole buffer to a socket, waiting at most WRITE_MS; 0, LB_EGONE or LB_EAGAIN. */
static int sock_write(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			struct pollfd pf = {fd, POLLOUT, 0};
			int rc = poll(&pf, 1, WRITE_MS);
			if (rc == 0)
				return LB_EAGAIN;
			if (rc < 0 && errno != EINTR)
				return LB_EGONE;
			continue;
		}
		return LB_EGONE;
	}
	return 0;
}

/* Send frames to the node; 0, or LB_EGONE (marks the device gone) / LB_EAGAIN. */
static int th_send(th_priv *p, const uint8_t *buf, size_t len)
{
	int rc;

	if (!len)
		return LB_EINVAL; /* an encoder refused its arguments */
	if (p->gone)
		return LB_EGONE;
	line_take(p);
	rc = p->serial ? lb_serial_write(p->serial, buf, len, WRITE_MS)
		       : sock_write(p->sock, buf, len);
	line_give(p);
	if (rc == LB_EGONE)
		p->gone = 1;
	return rc;
}

/* Read what arrived into the framer; LB_EGONE if the line is gone, else how many bytes. */
static ssize_t th_read(th_priv *p)
{
	uint8_t buf[1024];
	size_t room = sizeof p->fr.buf - p->fr.n;
	ssize_t n;

	if (p->gone)
		return LB_EGONE;
	if (room > sizeof buf)
		room = sizeof buf;
	if (p->serial) {
		n = lb_serial_read(p->serial, buf, room);
	} else {
		n = recv(p->sock, buf, room, MSG_DONTWAIT);
		if (n == 0)
			n = LB_EGONE; /* the peer closed */
		else if (n < 0)
			n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0
										      : LB_EGONE;
	}
	if (n == LB_EGONE) {
		p->gone = 1;
		return LB_EGONE;
	}
	if (n > 0)
		thymio_framer_push(&p->fr, buf, (size_t)n);
	return n;
}

/* Tell the robot service the state when it changed. */
static void th_state(lb_device *dev, th_priv *p, const char *state, const char *detail)
{
	if (strcmp(p->state, state) == 0 && !detail)
		return;
	snprintf(p->state, sizeof p->state, "%s", state);
	lb_robot_state(dev, state, detail);
}

/* Publish a console line ({"stream": which, "text": text}). */
static void th_console(lb_device *dev, th_priv *p, int64_t t, const char *which, const char *text)
{
	json_t *j = json_pack("{s:s,s:s}", "stream", which, "text", text);

	if (j && p->s_console >= 0)
		lb_stream_publish_json(dev, p->s_console, t, j);
	json_decref(j);
}

/* Publish the sensors from the mirror (after a poll's answer). */
static void th_publish_sensors(lb_device *dev, th_priv *p, const lb_now *now)
{
	const int16_t *mem = p->node.mem;

	if (!lb_device_running(dev) || atomic_load(&p->halted))
		return;
	for (int i = 0; i < 7 && p->sensor_off[V_PROX] >= 0; i++) {
		int16_t v = mem[p->sensor_off[V_PROX] + i];
		lb_stream_publish(dev, p->s_prox[i], now->mono, now->real, &v, 1);
	}
	for (int i = 0; i < 2 && p->sensor_off[V_GROUND] >= 0; i++) {
		int16_t v = mem[p->sensor_off[V_GROUND] + i];
		lb_stream_publish(dev, p->s_ground[i], now->mono, now->real, &v, 1);
	}
	for (int i = 0; i < 3 && p->sensor_off[V_ACC] >= 0; i++) {
		float v = (float)(mem[p->sensor_off[V_ACC] + i] * 9.81 / ACC_PER_G);
		lb_stream_publish(dev, p->s_acc[i], now->mono, now->real, &v, 1);
	}
	if (p->s_buttons >= 0) {
		uint8_t bits = 0;
		for (int b = 0; b < 5; b++)
			if (p->button_off[b] >= 0 && mem[p->button_off[b]])
				bits |= (uint8_t)(1u << b);
		lb_stream_publish(dev, p->s_buttons, now->mono, now->real, &bits, 1);
	}
}

/* Act on one note from the node (any time: handshake, waits, run). */
static void th_note(lb_device *dev, th_priv *p, const thymio_note *note, const lb_now *now)
{
	switch (note->kind) {
	case THYMIO_NOTE_VARIABLES:
		if (p->poll_pending && thymio_node_covered(&p->node, p->poll_start, p->poll_len)) {
			p->poll_pending = 0;
			th_publish_sensors(dev, p, now);
		}
		break;
	case THYMIO_NOTE_USER_EVENT: {
		json_t *args = json_array(), *j;
		for (size_t i = 0; i < note->nargs; i++)
			json_array_append_new(args, json_integer(note->args[i]));
		j = json_pack("{s:s,s:O}", "name", note->name, "args", args);
		if (j && p->s_event >= 0)
			lb_stream_publish_json(dev, p->s_event, now->real, j);
		json_decref(j);
		for (int k = 0; k < p->nnamed; k++)
			if (strcmp(p->named[k], note->name) == 0) {
				j = json_pack("{s:O}", "args", args);
				if (j)
					lb_stream_publish_json(dev, p->s_named[k], now->real, j);
				json_decref(j);
			}
		json_decref(args);
		break;
	}
	case THYMIO_NOTE_STATE:
		if (!(note->flags & ASEBA_VM_STEP_BY_STEP))
			th_state(dev, p, "running", NULL);
		else if (strcmp(p->state, "running") == 0)
			th_state(dev, p, "idle", "program stopped");
		break;
	case THYMIO_NOTE_VM_ERROR:
		th_state(dev, p, "error", note->text);
		th_console(dev, p, now->real, "stderr", note->text);
		break;
	case THYMIO_NOTE_DISCONNECTED:
		lb_warn("device %s: the node says it disconnects", lb_device_id(dev));
		p->gone = 1;
		break;
	case THYMIO_NOTE_MALFORMED: lb_warn("device %s: %s", lb_device_id(dev), note->text); break;
	default: break;
	}
}

/* Handle every complete frame the framer holds. */
static void th_frames(lb_device *dev, th_priv *p, const lb_now *now)
{
	aseba_frame f;
	static __thread thymio_note note; /* 600 bytes of arguments: off the stack */

	while (thymio_framer_next(&p->fr, p->node.have_id ? p->node.id : -1, &f) == 1) {
		p->last_rx = now->mono;
		thymio_node_take(&p->node, &f, &note);
		th_note(dev, p, &note, now);
	}
	if (p->fr.dropped > p->dropped_reported) {
		lb_warn("device %s: %lu byte(s) of noise on the line dropped", lb_device_id(dev),
			p->fr.dropped - p->dropped_reported);
		p->dropped_reported = p->fr.dropped;
	}
}

/* Read and handle what is there; LB_EGONE when the line is gone. */
static int th_pump(lb_device *dev, th_priv *p, const lb_now *now)
{
	ssize_t n;

	do {
		n = th_read(p);
		th_frames(dev, p, now);
	} while (n > 0 && !p->gone);
	return p->gone ? LB_EGONE : 0;
}

/*
 * Wait until cond(p) holds, at most timeout_ns, pumping input; resend (when every_ns > 0 and
 * query) the query every every_ns. 0, LB_EAGAIN (timeout) or LB_EGONE.
 */
static int th_await(lb_device *dev, th_priv *p, int (*cond)(const th_priv *), const uint8_t *query,
		    size_t qlen, int64_t every_ns, int64_t timeout_ns)
{
	lb_now now = lb_now_read();
	int64_t deadline = now.mono + timeout_ns, next = now.mono;

	while (!cond(p)) {
		struct pollfd pf = {th_fd(p), POLLIN, 0};
		int64_t wait;
		if (now.mono >= deadline)
			return LB_EAGAIN;
		if (query && now.mono >= next) {
			int rc = th_send(p, query, qlen);
			if (rc == LB_EGONE)
				return LB_EGONE;
			next = every_ns > 0 ? now.mono + every_ns : deadline + 1;
		}
		wait = (next < deadline ? next : deadline) - now.mono;
		poll(&pf, 1, (int)(wait / 1000000) + 1);
		now = lb_now_read();
		if (th_pump(dev, p, &now) == LB_EGONE)
			return LB_EGONE;
	}
	return 0;
}

/* th_await conditions: the node answered NODE_PRESENT (or an old DESCRIPTION); its whole
 * description arrived. */
static int have_node(const th_priv *p)
{
	return p->node.have_id && p->node.version;
}

static int have_desc(const th_priv *p)
{
	return p->node.desc.complete;
}

/* Parse "tcp:HOST;port=PORT" or "tcp:host=HOST;port=PORT"; 0 or -1. */
static int parse_target(const char *t, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *s = t + 4, *semi;
	size_t n;

	snprintf(port, pcap, "%d", ASEBA_TCP_PORT);
	if (strncmp(s, "host=", 5) == 0)
		s += 5;
	semi = strchr(s, ';');
	n = semi ? (size_t)(semi - s) : strlen(s);
	if (!n || n >= hcap)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	while (semi) {
		const char *next = strchr(semi + 1, ';');
		size_t len = next ? (size_t)(next - semi - 1) : strlen(semi + 1);
		if (len > 5 && strncmp(semi + 1, "port=", 5) == 0 && len - 5 < pcap) {
			memcpy(port, semi + 6, len - 5);
			port[len - 5] = '\0';
			if (strspn(port, "0123456789") != strlen(port))
				return -1;
		}
		semi = next;
	}
	return 0;
}

/* Connect to a TCP target within CONNECT_MS; the socket, or -1 with err set. */
static int tcp_connect(const char *target, lb_error *err)
{
	char host[128], port[16];
	struct addrinfo hints = {0}, *res = NULL, *ai;
	int fd = -1;

	if (parse_target(target, host, sizeof host, port, sizeof port) < 0) {
		lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "target %s: expected tcp:HOST;port=PORT (e.g. tcp:localhost;port=33333)",
		    target);
		return -1;
	}
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
		lb_error_set(err, LB_ERR_DEVICE, "target %s: cannot resolve %s", target, host);
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		struct pollfd pf;
		int soerr = 0, one = 1;
		socklen_t sl = sizeof soerr;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			close(fd), fd = -1;
			continue;
		}
		pf.fd = fd, pf.events = POLLOUT, pf.revents = 0;
		if (poll(&pf, 1, CONNECT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			close(fd), fd = -1;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	freeaddrinfo(res);
	if (fd < 0)
		lb_error_set(err, LB_ERR_DEVICE, "target %s: cannot connect to %s port %s", target,
			     host, port);
	return fd;
}

/* The offset of a named variable of size want (0: any), or -1. */
static int var_offset(const th_priv *p, const char *name, int want)
{
	uint16_t off, size;

	if (aseba_desc_find_var(&p->node.desc, name, &off, &size) < 0 || (want && size < want))
		return -1;
	return off;
}

/* Precompute what the halt hook writes: STOP, then both motor targets 0. */
static void th_prepare_halt(th_priv *p)
{
	static const int16_t zero[2] = {0, 0};
	size_t n = aseba_enc_cmd(p->halt_bytes, sizeof p->halt_bytes, ASEBA_HOST_ID, ASEBA_MSG_STOP,
				 p->node.id);

	if (p->motor_left >= 0)
		n += aseba_enc_set_variables(p->halt_bytes + n, sizeof p->halt_bytes - n,
					     ASEBA_HOST_ID, p->node.id, (uint16_t)p->motor_left,
					     zero, 1);
	if (p->motor_right >= 0)
		n += aseba_enc_set_variables(p->halt_bytes + n, sizeof p->halt_bytes - n,
					     ASEBA_HOST_ID, p->node.id, (uint16_t)p->motor_right,
					     zero, 1);
	p->nhalt = n;
}

/* Declare the streams: sensors the description has, console, events. */
static void th_streams(lb_device *dev, th_priv *p)
{
	const char *events =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "events"));
	static const char *const axes[3] = {"acc.x", "acc.y", "acc.z"};
	char name[80];

	for (int i = 0; i < 7; i++)
		p->s_prox[i] = -1;
	p->s_ground[0] = p->s_ground[1] = -1;
	p->s_acc[0] = p->s_acc[1] = p->s_acc[2] = -1;
	p->s_buttons = -1;
	for (int i = 0; i < 7 && p->sensor_off[V_PROX] >= 0; i++) {
		snprintf(name, sizeof name, "prox.%d", i);
		p->s_prox[i] = lb_device_add_stream(dev, name, "proximity", "", LB_I16, 10);
		lb_stream_set_range(dev, p->s_prox[i], 0, 4500, 1);
	}
	for (int i = 0; i < 2 && p->sensor_off[V_GROUND] >= 0; i++) {
		snprintf(name, sizeof name, "ground.%d", i);
		p->s_ground[i] =
		    lb_device_add_stream(dev, name, "ground reflection", "", LB_I16, 10);
		lb_stream_set_range(dev, p->s_ground[i], 0, 1023, 1);
	}
	for (int i = 0; i < 3 && p->sensor_off[V_ACC] >= 0; i++) {
		p->s_acc[i] =
		    lb_device_add_stream(dev, axes[i], "acceleration", "m/s^2", LB_F32, 10);
		lb_stream_set_range(dev, p->s_acc[i], -32 * 9.81 / ACC_PER_G, 32 * 9.81 / ACC_PER_G,
				    9.81 / ACC_PER_G);
	}
	if (p->button_off[0] >= 0) {
		/* bit 0 backward, 1 left, 2 center, 3 forward, 4 right */
		p->s_buttons = lb_device_add_stream(dev, "buttons", "buttons", "", LB_U8, 10);
		lb_stream_set_range(dev, p->s_buttons, 0, 31, 1);
	}
	p->s_console = lb_device_add_stream(dev, "console", "console", "", LB_JSON, 0);
	p->s_event = lb_device_add_stream(dev, "event", "user events", "", LB_JSON, 0);
	while (events && *events && p->nnamed < MAX_EVENT_STREAMS) {
		size_t len;
		events += strspn(events, " ,");
		len = strcspn(events, " ,");
		if (len && len < sizeof p->named[0]) {
			char stream[80];
			int s;
			memcpy(p->named[p->nnamed], events, len);
			p->named[p->nnamed][len] = '\0';
			snprintf(stream, sizeof stream, "event/%s", p->named[p->nnamed]);
			s = lb_device_add_stream(dev, stream, "user event", "", LB_JSON, 0);
			if (s >= 0)
				p->s_named[p->nnamed++] = s;
			else
				lb_warn("device %s: no stream for event '%s' (name or count)",
					lb_device_id(dev), p->named[p->nnamed]);
		}
		events += len;
	}
}

/* The range of variables polled for the sensors (one GET_VARIABLES). */
static void th_poll_range(th_priv *p)
{
	int lo = -1, hi = -1;

	for (int v = 0; v < V_NSENSORS; v++) {
		int off = p->sensor_off[v], end = off + sensor_size[v];
		if (off < 0)
			continue;
		if (v == V_BUTTONS)
			for (int b = 0; b < 5; b++)
				if (p->button_off[b] >= 0 && p->button_off[b] + 1 > end)
					end = p->button_off[b] + 1;
		if (lo < 0 || off < lo)
			lo = off;
		if (end > hi)
			hi = end;
	}
	if (lo >= 0 && hi - lo <= ASEBA_MAX_SET_WORDS) {
		p->poll_start = (uint16_t)lo;
		p->poll_len = (uint16_t)(hi - lo);
	}
}

static void th_close(lb_device *dev);
static int th_still(th_priv *p);

/*
 * Open the line (serial or TCP), find the node (LIST_NODES, then GET_DESCRIPTION for an old one),
 * collect its description, declare the streams. Every wait is bounded; 0, or LB_EFAIL with err
 * set (LB_ERR_FIRMWARE for a node too old or silent, with what to do).
 */
static int th_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const json_t *params = lb_device_get_spec(dev)->params;
	const char *path = json_string_value(json_object_get(params, "path"));
	const char *target = json_string_value(json_object_get(params, "target"));
	const char *node = json_string_value(json_object_get(params, "node"));
	th_priv *p = calloc(1, sizeof *p);
	uint8_t q[ASEBA_MAX_FRAME];
	long want = 0;
	int rc;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->sock = -1;
	p->halt_fd = -1;
	p->last_rx = now->mono;
	if (node) {
		char *end;
		want = strtol(node, &end, 10);
		if (*end || want < 1 || want > 65535) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS, "node = %s: a node id 1..65535",
				     node);
			goto fail;
		}
	}
	thymio_node_reset(&p->node, (uint16_t)want);
	if (target) {
		snprintf(p->where, sizeof p->where, "%s", target);
		if ((p->sock = tcp_connect(target, err)) < 0)
			goto fail;
	} else {
		snprintf(p->where, sizeof p->where, "%s", path ? path : "?");
		if (!(p->serial = lb_serial_open(path, THYMIO_BAUD, err)))
			goto fail;
		lb_serial_flush_input(p->serial);
	}
	p->halt_fd = dup(th_fd(p));
	/* protocol 5+: LIST_NODES, NODE_PRESENT, then the node's description */
	rc = th_await(dev, p, have_node, q,
		      aseba_enc_list_nodes(q, sizeof q, ASEBA_HOST_ID, ASEBA_PROTOCOL_VERSION),
		      LIST_EVERY_NS, LIST_NS);
	if (rc == LB_EAGAIN) {
		/* an old node answers GET_DESCRIPTION only */
		rc = th_await(
		    dev, p, have_node, q,
		    aseba_enc_get_description(q, sizeof q, ASEBA_HOST_ID, ASEBA_PROTOCOL_VERSION),
		    0, OLD_NS);
		if (rc == LB_EAGAIN && p->node.have_id && p->node.version < 5) {
			lb_error_set(
			    err, LB_ERR_FIRMWARE,
			    "%s: node %u speaks Aseba protocol %u, older than 5: update the "
			    "Thymio's firmware with Thymio Suite (or Aseba Studio)",
			    p->where, p->node.id, p->node.version);
			goto fail;
		}
		if (rc == LB_EAGAIN) {
			lb_error_set(
			    err, LB_ERR_FIRMWARE,
			    "%s: no Aseba node answered within %lld s: is the Thymio switched "
			    "on? If it is, update its firmware with Thymio Suite",
			    p->where, (LIST_NS + OLD_NS) / 1000000000LL);
			goto fail;
		}
	}
	if (rc == LB_EGONE) {
		lb_error_set(err, LB_ERR_DEVICE, "%s: the line closed during the handshake",
			     p->where);
		goto fail;
	}
	if (p->node.version < 5) {
		lb_error_set(
		    err, LB_ERR_FIRMWARE,
		    "%s: node %u speaks Aseba protocol %u, older than 5: update the Thymio's "
		    "firmware with Thymio Suite",
		    p->where, p->node.id, p->node.version);
		goto fail;
	}
	if (!aseba_features_of(p->node.version).supported) {
		lb_error_set(err, LB_ERR_FIRMWARE,
			     "%s: node %u announces Aseba protocol %u, which this driver does not "
			     "know: is it a Thymio?",
			     p->where, p->node.id, p->node.version);
		goto fail;
	}
	rc = th_await(dev, p, have_desc, q,
		      aseba_enc_get_node_description(q, sizeof q, ASEBA_HOST_ID, p->node.id,
						     ASEBA_PROTOCOL_VERSION),
		      0, DESC_NS);
	if (rc < 0) {
		lb_error_set(err, rc == LB_EGONE ? LB_ERR_DEVICE : LB_ERR_TIMEOUT,
			     "%s: node %u did not send its whole description within %lld s",
			     p->where, p->node.id, DESC_NS / 1000000000LL);
		goto fail;
	}
	p->motor_left = var_offset(p, "motor.left.target", 1);
	p->motor_right = var_offset(p, "motor.right.target", 1);
	p->leds_top = var_offset(p, "leds.top", 3);
	for (int v = 0; v < V_NSENSORS; v++)
		p->sensor_off[v] =
		    var_offset(p, sensor_var[v], v == V_BUTTONS ? 1 : sensor_size[v]);
	for (int b = 0; b < 5; b++)
		p->button_off[b] = var_offset(p, button_var[b], 1);
	if (p->button_off[0] < 0)
		p->sensor_off[V_BUTTONS] = -1;
	th_poll_range(p);
	th_prepare_halt(p);
	th_streams(dev, p);
	/* what runs now (a program from flash runs at power-on) */
	th_send(
	    p, q,
	    aseba_enc_cmd(q, sizeof q, ASEBA_HOST_ID, ASEBA_MSG_GET_EXECUTION_STATE, p->node.id));
	lb_info("device %s: Aseba node %u '%s' (protocol %u) on %s: %u variables, %u local events, "
		"%u natives, %u words of bytecode",
		lb_device_id(dev), p->node.id, aseba_desc_str(&p->node.desc, p->node.desc.name),
		p->node.version, p->where, p->node.desc.nvars, p->node.desc.nevents,
		p->node.desc.nnatives, p->node.desc.bytecode_size);
	th_state(dev, p, "idle", NULL);
	p->next_poll = now->mono;
	lb_device_set_running(dev, true); /* sensors stream from the start */
	return 0;
fail:
	th_close(dev);
	return LB_EFAIL;
}

/* Stop the robot (STOP, motors 0: a bridge that stops leaves no robot driving on, nobody to
 * stop it), close the line and free everything open() took. */
static void th_close(lb_device *dev)
{
	th_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->nhalt && !p->gone && th_still(p) < 0)
		lb_warn("device %s: the robot could not be stopped as the bridge let it go",
			lb_device_id(dev));
	lb_serial_destroy(&p->serial);
	if (p->sock >= 0)
		close(p->sock);
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* Sensors read again (after device.stop or a halt); never fails. */
static int th_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	th_priv *p = lb_device_priv(dev);

	(void)err;
	atomic_store(&p->halted, 0);
	p->next_poll = now->mono;
	p->last_rx = now->mono;
	return 0;
}

/* Sensors no longer read (lb_device_running says so); the program runs on. Never fails. */
static int th_stop(lb_device *dev, lb_error *err)
{
	(void)dev, (void)err;
	return 0; /* polling follows lb_device_running */
}

/* STOP and both motors 0 (the robot is still); 0 or negative. */
static int th_still(th_priv *p)
{
	if (!p->nhalt)
		th_prepare_halt(p);
	return th_send(p, p->halt_bytes, p->nhalt);
}

/*
 * The halt hook (another thread): STOP and motor targets 0, written at once on the dup'd fd
 * unless the device thread is writing (then it is left to halted, which follows at once after
 * that write). Never blocks, allocates or frees.
 */
static int th_halt(lb_device *dev)
{
	th_priv *p = lb_device_priv(dev);
	int free_line = 0;
	int rc = 0;

	atomic_store(&p->halted, 1);
	if (p->halt_fd >= 0 && atomic_compare_exchange_strong(&p->line, &free_line, 2)) {
		ssize_t n = p->serial ? write(p->halt_fd, p->halt_bytes, p->nhalt)
				      : send(p->halt_fd, p->halt_bytes, p->nhalt, MSG_NOSIGNAL);
		if (n != (ssize_t)p->nhalt)
			rc = LB_EAGAIN;
		atomic_store(&p->line, 0);
	}
	return rc;
}

/* After a halt, in the device thread: STOP and motors 0 again (in order with the rest), the
 * state "stopped". */
static void th_halted(lb_device *dev, const lb_now *now)
{
	th_priv *p = lb_device_priv(dev);

	(void)now;
	if (th_still(p) < 0)
		lb_err("device %s: halted, but the robot could not be told", lb_device_id(dev));
	th_state(dev, p, "stopped", "room stop");
	atomic_store(&p->halted, 0); /* the sensors stream on: a halted robot still sees */
}

/* Send SET_VARIABLES for values[0..n) at offset, in frames of at most ASEBA_MAX_SET_WORDS. */
static int th_set_vars(th_priv *p, int offset, const int16_t *values, size_t n)
{
	uint8_t q[ASEBA_MAX_FRAME];

	for (size_t i = 0; i < n; i += ASEBA_MAX_SET_WORDS) {
		size_t k = n - i < ASEBA_MAX_SET_WORDS ? n - i : ASEBA_MAX_SET_WORDS;
		int rc = th_send(p, q,
				 aseba_enc_set_variables(q, sizeof q, ASEBA_HOST_ID, p->node.id,
							 (uint16_t)(offset + i), values + i, k));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* An error for a write that failed. */
static int write_error(th_priv *p, int rc, lb_error *err)
{
	if (rc == LB_EGONE)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the robot is gone", p->where);
	return lb_error_set(err, LB_ERR_TIMEOUT, "%s: the robot does not take what is sent",
			    p->where);
}

/* The waited range of a GET_VARIABLES (for th_await). */
static __thread uint16_t want_start, want_len;
static int have_vars(const th_priv *p)
{
	return thymio_node_covered(&p->node, want_start, want_len);
}

/* Read count words at offset from the node into the mirror (bounded wait); 0 or negative. */
static int th_get_vars(lb_device *dev, th_priv *p, uint16_t offset, uint16_t count, lb_error *err)
{
	uint8_t q[ASEBA_MAX_FRAME];
	int rc;

	thymio_node_want(&p->node, offset, count);
	want_start = offset, want_len = count;
	rc =
	    th_await(dev, p, have_vars, q,
		     aseba_enc_get_variables(q, sizeof q, ASEBA_HOST_ID, p->node.id, offset, count),
		     0, ANSWER_NS);
	if (rc == LB_EAGAIN)
		return lb_error_set(err, LB_ERR_TIMEOUT,
				    "%s: the robot did not answer within %lld ms", p->where,
				    ANSWER_NS / 1000000);
	if (rc < 0)
		return write_error(p, rc, err);
	return 0;
}

/* A variable named in args.name: its offset and size; negative with err set. */
static int arg_var(const th_priv *p, const json_t *args, uint16_t *off, uint16_t *size,
		   lb_error *err)
{
	const char *name;

	if (lb_param_string(args, "name", true, &name, err) < 0)
		return LB_EFAIL;
	if (aseba_desc_find_var(&p->node.desc, name, off, size) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the robot has no variable '%s' (aseba.description lists them)",
				    name);
	return 0;
}

/* An array of int16 values (at most max) from args[key]; count or negative with err set. */
static int arg_words(const json_t *args, const char *key, int16_t *out, size_t max, int wide,
		     lb_error *err)
{
	json_t *a = json_object_get(args, key), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s must be an array of at most %zu integers", key, max);
	json_array_foreach(a, i, v)
	{
		json_int_t x = json_integer_value(v);
		if (!json_is_integer(v) || x < (wide ? 0 : -32768) || x > (wide ? 65535 : 32767))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s[%zu] must be an integer from %d to %d", key, i,
					    wide ? 0 : -32768, wide ? 65535 : 32767);
		out[i] = (int16_t)(uint16_t)x;
	}
	return (int)json_array_size(a);
}

/* Declare the program's events from args.events [{name, size}]; 0 or negative with err set. */
static int th_declare_events(th_priv *p, const json_t *args, lb_error *err)
{
	json_t *list = json_object_get(args, "events"), *e;
	const char *names[THYMIO_MAX_USER_EVENTS];
	int sizes[THYMIO_MAX_USER_EVENTS];
	size_t i;

	if (!list)
		return 0; /* the previous declaration stays */
	if (!json_is_array(list) || json_array_size(list) > THYMIO_MAX_USER_EVENTS)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "events must be an array of at most %d {name, size}",
				    THYMIO_MAX_USER_EVENTS);
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *size = json_object_get(e, "size");
		if (!name || !*name || strlen(name) >= 64 ||
		    strspn(name, LB_NAME_CHARS) != strlen(name) ||
		    (size && (!json_is_integer(size) || json_integer_value(size) < 0 ||
			      json_integer_value(size) > 32)))
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "events[%zu]: {name: letters, digits, '._-', size: 0..32}", i);
		names[i] = name;
		sizes[i] = size ? (int)json_integer_value(size) : 0;
	}
	if (thymio_node_set_events(&p->node, names, sizes, json_array_size(list)) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "events: a name appears twice");
	return 0;
}

/* program.load: compile or take the words, then upload them (STOP, SET_BYTECODE chunks). */
static int th_load_program(lb_device *dev, th_priv *p, const json_t *args, json_t **result,
			   lb_error *err)
{
	const char *language = json_string_value(json_object_get(args, "language"));
	uint16_t *words = NULL;
	size_t nwords = 0;
	uint8_t q[ASEBA_MAX_FRAME];
	lb_now now = lb_now_read();
	int rc;

	if (language && strcmp(language, "aseba") == 0) {
		const char *source;
		thymio_compiled c;
		if (lb_param_string(args, "source", true, &source, err) < 0)
			return LB_EFAIL;
		rc = thymio_compile(&p->node.desc, p->node.events, p->node.nevents, source,
				    p->node.desc.bytecode_size, &c);
		if (rc < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "%s", c.message);
		if (rc == 1) {
			char text[400];
			if (c.line)
				snprintf(text, sizeof text, "line %u, column %u: %s", c.line,
					 c.column, c.message);
			else
				snprintf(text, sizeof text, "%s", c.message);
			th_console(dev, p, now.real, "compile", text);
			return lb_error_set(err, LB_ERR_PROGRAM, "%s", text);
		}
		words = c.words;
		nwords = c.nwords;
	} else if (language && strcmp(language, "aseba-bytecode") == 0) {
		size_t max = p->node.desc.bytecode_size;
		json_t *a = json_object_get(args, "bytecode");
		if (!json_is_array(a) || json_array_size(a) > max)
			return lb_error_set(err, LB_ERR_PROGRAM,
					    "bytecode must be an array of at most %zu words (the "
					    "robot's bytecode size)",
					    max);
		words = malloc((json_array_size(a) + 1) * sizeof *words);
		if (!words)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		rc = arg_words(args, "bytecode", (int16_t *)words, max, 1, err);
		if (rc < 0) {
			free(words);
			return LB_EFAIL;
		}
		nwords = (size_t)rc;
	} else {
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "language must be \"aseba\" or \"aseba-bytecode\"");
	}
	/* the old program stops first: nothing runs half-replaced */
	rc = th_send(p, q, aseba_enc_cmd(q, sizeof q, ASEBA_HOST_ID, ASEBA_MSG_STOP, p->node.id));
	for (size_t i = 0; rc == 0 && i < aseba_bytecode_chunks(nwords); i++)
		rc = th_send(p, q,
			     aseba_enc_bytecode_chunk(q, sizeof q, ASEBA_HOST_ID, p->node.id, words,
						      nwords, i));
	free(words);
	if (rc < 0)
		return write_error(p, rc, err);
	p->program_words = nwords;
	th_state(dev, p, "idle", "program loaded");
	{
		json_t *ev = json_array();
		for (size_t i = 0; i < p->node.nevents; i++)
			json_array_append_new(ev,
					      json_pack("{s:s,s:i}", "name", p->node.events[i].name,
							"size", p->node.events[i].size));
		*result = json_pack("{s:i,s:o}", "words", (int)nwords, "events", ev);
	}
	return 0;
}

/* program.load with its events (args.events) declared for the compile, and kept only when the
 * program was uploaded: a refused program leaves the running one's names. */
static int th_load(lb_device *dev, th_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	thymio_event_decl old[THYMIO_MAX_USER_EVENTS];
	size_t nold = p->node.nevents;
	int rc;

	memcpy(old, p->node.events, sizeof old);
	rc = th_declare_events(p, args, err);
	if (rc == 0)
		rc = th_load_program(dev, p, args, result, err);
	if (rc < 0) {
		memcpy(p->node.events, old, sizeof old);
		p->node.nevents = nold;
	}
	return rc;
}

/* robot.set {"leds": {"top": [r, g, b]}}: through the node's leds.top variable. */
static int th_set(th_priv *p, const json_t *args, lb_error *err)
{
	json_t *leds = json_object_get(args, "leds"), *top = json_object_get(leds, "top"), *k;
	const char *key;
	int16_t rgb[3];
	int rgb_rc;

	json_object_foreach((json_t *)args, key, k) if (
	    strcmp(key, "leds") !=
	    0) return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				   "this robot's outputs: leds {top: [r, g, b]} (0..32), not '%s'",
				   key);
	if (!top || json_object_size(leds) != 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "leds: {top: [r, g, b]} (0..32)");
	if (p->leds_top < 0)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "this node has no leds.top variable: set the LEDs from a "
				    "program (native leds.top)");
	if (!json_is_array(top) || json_array_size(top) != 3)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "leds.top: [r, g, b], 0..32 each");
	for (int i = 0; i < 3; i++) {
		json_t *v = json_array_get(top, (size_t)i);
		double x = json_number_value(v);
		if (!json_is_number(v) || !(x >= 0 && x <= 32))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "leds.top: [r, g, b], each from 0 to 32");
		rgb[i] = (int16_t)lround(x);
	}
	rgb_rc = th_set_vars(p, p->leds_top, rgb, 3);
	return rgb_rc < 0 ? write_error(p, rgb_rc, err) : 0;
}

/* aseba.description: what the node said about itself. */
static json_t *th_description(const th_priv *p)
{
	const aseba_desc *d = &p->node.desc;
	json_t *vars = json_array(), *events = json_array(), *natives = json_array();

	for (unsigned i = 0; i < d->nvars; i++)
		json_array_append_new(vars, json_pack("{s:s,s:i,s:i}", "name",
						      aseba_desc_str(d, d->vars[i].name), "offset",
						      d->vars[i].offset, "size", d->vars[i].size));
	for (unsigned i = 0; i < d->nevents; i++)
		json_array_append_new(events, json_pack("{s:s,s:s}", "name",
							aseba_desc_str(d, d->events[i].name), "doc",
							aseba_desc_str(d, d->events[i].doc)));
	for (unsigned i = 0; i < d->nnatives; i++) {
		json_t *params = json_array();
		for (unsigned k = 0; k < d->natives[i].nparams; k++) {
			const aseba_desc_param *pa = &d->params[d->natives[i].first_param + k];
			json_array_append_new(params, json_pack("{s:s,s:i}", "name",
								aseba_desc_str(d, pa->name), "size",
								pa->size));
		}
		json_array_append_new(
		    natives,
		    json_pack("{s:s,s:s,s:o}", "name", aseba_desc_str(d, d->natives[i].name), "doc",
			      aseba_desc_str(d, d->natives[i].doc), "params", params));
	}
	return json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:o}", "name",
			 aseba_desc_str(d, d->name), "node", p->node.id, "protocol",
			 p->node.version, "bytecode_size", d->bytecode_size, "stack_size",
			 d->stack_size, "variables_size", d->variables_size, "variables", vars,
			 "local_events", events, "natives", natives);
}

/* A user event to the node (aseba.emit, device.emit): {name, args}; 0 or negative. */
static int th_emit(th_priv *p, const json_t *args, lb_error *err)
{
	const char *name;
	int16_t words[ASEBA_MAX_EVENT_ARGS];
	uint8_t q[ASEBA_MAX_FRAME];
	int id, n = 0, rc;

	if (lb_param_string(args, "name", true, &name, err) < 0)
		return LB_EFAIL;
	if ((id = thymio_node_event_id(&p->node, name)) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "no event '%s' declared by the program loaded (program.load "
				    "{events: [{name, size}]})",
				    name);
	if (json_object_get(args, "args") && (n = arg_words(args, "args", words, 32, 0, err)) < 0)
		return LB_EFAIL;
	rc = th_send(
	    p, q, aseba_enc_user_event(q, sizeof q, ASEBA_HOST_ID, (uint16_t)id, words, (size_t)n));
	return rc < 0 ? write_error(p, rc, err) : 0;
}

/* The robot actions (sdk/robot.h, args checked by the robot service) and the aseba.* extras;
 * 0 with *result set, or negative with err set. */
static int th_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	th_priv *p = lb_device_priv(dev);
	uint8_t q[ASEBA_MAX_FRAME];
	int rc;

	if (strcmp(action, LB_ROBOT_MOVE) == 0) {
		int16_t l = thymio_speed_target(json_number_value(json_object_get(args, "left")));
		int16_t r = thymio_speed_target(json_number_value(json_object_get(args, "right")));
		if (p->motor_left < 0 || p->motor_right < 0)
			return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "this node has no motors");
		if ((rc = th_set_vars(p, p->motor_left, &l, 1)) < 0 ||
		    (rc = th_set_vars(p, p->motor_right, &r, 1)) < 0)
			return write_error(p, rc, err);
		*result = json_null();
		return 0;
	}
	if (strcmp(action, LB_ROBOT_STOP) == 0 || strcmp(action, LB_ROBOT_PROG_STOP) == 0) {
		if ((rc = th_still(p)) < 0)
			return write_error(p, rc, err);
		if (action[6] == 's')
			th_state(dev, p, "stopped", NULL);
		else
			th_state(dev, p, "idle", "program stopped");
		*result = json_null();
		return 0;
	}
	if (strcmp(action, LB_ROBOT_LOAD) == 0)
		return th_load(dev, p, args, result, err);
	if (strcmp(action, LB_ROBOT_RUN) == 0) {
		rc = th_send(p, q,
			     aseba_enc_cmd(q, sizeof q, ASEBA_HOST_ID, ASEBA_MSG_RUN, p->node.id));
		if (rc < 0)
			return write_error(p, rc, err);
		atomic_store(&p->halted, 0);
		th_state(dev, p, "running", NULL);
		*result = json_null();
		return 0;
	}
	if (strcmp(action, LB_ROBOT_SET) == 0) {
		if (th_set(p, args, err) < 0)
			return LB_EFAIL;
		*result = json_null();
		return 0;
	}
	if (strcmp(action, "aseba.get") == 0) {
		uint16_t off, size;
		json_t *values;
		if (arg_var(p, args, &off, &size, err) < 0 ||
		    th_get_vars(dev, p, off, size, err) < 0)
			return LB_EFAIL;
		values = json_array();
		for (uint16_t i = 0; i < size && off + i < THYMIO_MAX_VARS; i++)
			json_array_append_new(values, json_integer(p->node.mem[off + i]));
		*result =
		    json_pack("{s:s,s:o}", "name", json_string_value(json_object_get(args, "name")),
			      "values", values);
		return 0;
	}
	if (strcmp(action, "aseba.set") == 0) {
		uint16_t off, size;
		int16_t values[ASEBA_MAX_SET_WORDS];
		int n;
		if (arg_var(p, args, &off, &size, err) < 0)
			return LB_EFAIL;
		if ((n = arg_words(args, "values", values,
				   size < ASEBA_MAX_SET_WORDS ? size : ASEBA_MAX_SET_WORDS, 0,
				   err)) < 0)
			return LB_EFAIL;
		if ((rc = th_set_vars(p, off, values, (size_t)n)) < 0)
			return write_error(p, rc, err);
		*result = json_null();
		return 0;
	}
	if (strcmp(action, "aseba.emit") == 0) {
		if (th_emit(p, args, err) < 0)
			return LB_EFAIL;
		*result = json_null();
		return 0;
	}
	if (strcmp(action, "aseba.reboot") == 0) {
		rc = th_send(
		    p, q, aseba_enc_cmd(q, sizeof q, ASEBA_HOST_ID, ASEBA_MSG_REBOOT, p->node.id));
		if (rc < 0)
			return write_error(p, rc, err);
		th_state(dev, p, "idle", "rebooted");
		*result = json_null();
		return 0;
	}
	if (strcmp(action, "aseba.description") == 0) {
		*result = th_description(p);
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s'", action);
}

/* device.emit aseba.emit {name, args}: a user event to the program, no answer. */
static int th_event(lb_device *dev, const char *name, const json_t *args, lb_error *err)
{
	(void)name;
	return th_emit(lb_device_priv(dev), args, err);
}

/* The "robot" object of the description (sdk/robot.h). */
static json_t *th_describe(lb_device *dev)
{
	th_priv *p = lb_device_priv(dev);
	json_t *outputs = json_array();

	if (p->leds_top >= 0)
		json_array_append_new(outputs, json_string("leds")); /* leds {top: [r, g, b]} */
	return json_pack("{s:[s,s],s:o,s:b,s:f,s:f,s:[s,s,s,s,s],s:i}", "languages", "aseba",
			 "aseba-bytecode", "outputs", outputs, "wheels",
			 p->motor_left >= 0 && p->motor_right >= 0, "max_speed", 0.2, "wheel_base",
			 0.095, "extras", "aseba.get", "aseba.set", "aseba.emit", "aseba.reboot",
			 "aseba.description", "node", p->node.id);
}

/* The line's fd, watched for input. */
static int th_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	th_priv *p = lb_device_priv(dev);

	if (max < 1)
		return 0;
	items[0].socket = NULL;
	items[0].fd = th_fd(p);
	items[0].events = ZMQ_POLLIN;
	return 1;
}

/* Handle what the node sent, read the sensors every POLL_EVERY_NS; LB_EGONE when the line
 * closed or the node stayed silent SILENCE_NS while polled. */
static int th_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	th_priv *p = lb_device_priv(dev);
	uint8_t q[ASEBA_MAX_FRAME];

	(void)items, (void)nitems;
	if (th_pump(dev, p, now) == LB_EGONE)
		return LB_EGONE;
	if (!lb_device_running(dev) || !p->poll_len)
		return 0;
	if (now->mono - p->last_rx > SILENCE_NS) {
		lb_warn("device %s stopped answering (nothing for %lld s)", lb_device_id(dev),
			SILENCE_NS / 1000000000LL);
		return LB_EGONE;
	}
	if (now->mono >= p->next_poll) {
		thymio_node_want(&p->node, p->poll_start, p->poll_len);
		p->poll_pending = 1;
		if (th_send(p, q,
			    aseba_enc_get_variables(q, sizeof q, ASEBA_HOST_ID, p->node.id,
						    p->poll_start, p->poll_len)) == LB_EGONE)
			return LB_EGONE;
		p->next_poll = now->mono + POLL_EVERY_NS;
	}
	*deadline = p->next_poll;
	return 0;
}

/* The simulated lab's robot: an emulated Thymio II (thymio.emulator injects faults). */
static void *th_emu_create(lb_error *err)
{
	return thymio_emu_new(err);
}

/* lb_emulated's accessors, around emulator.h. */
static const char *th_emu_path(const void *emu)
{
	return thymio_emu_path(emu);
}

static void th_emu_fault(void *emu, lb_fault fault)
{
	thymio_emu_set_fault(emu, (thymio_emu_fault)fault); /* ok, silent, garbage */
}

static void th_emu_destroy(void *emu)
{
	thymio_emu *e = emu;
	thymio_emu_destroy(&e);
}

/* What the emulated Thymio shows, as a new object. */
static json_t *th_emu_probe(void *emu)
{
	thymio_emu_probe pr;

	thymio_emu_probe_state(emu, &pr);
	return json_pack("{s:[i,i,i],s:i,s:[i,i],s:b}", "leds_top", pr.leds_top[0], pr.leds_top[1],
			 pr.leds_top[2], "sound_freq", pr.sound_freq, "motor_target",
			 pr.motor_target[0], pr.motor_target[1], "running", pr.running);
}

static lb_emulated th_emulated = {
    .driver = "thymio",
    .description = "Simulated Thymio II (Aseba VM emulator)",
    .serial = "sim-thymio-1",
    .vid = 0x0617,
    .pid = 0x000a,
    .create = th_emu_create,
    .path = th_emu_path,
    .set_fault = th_emu_fault,
    .destroy = th_emu_destroy,
    .probe = th_emu_probe,
};

/*
 * thymio.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated robot;
 * thymio.emulator {probe: true}: what it shows ({leds_top, sound_freq, motor_target, running}).
 */
LB_EMULATED_HOOKS(th, th_emulated)

static const lb_action th_events[] = {
    {"aseba.emit", LB_ROLE_STUDENT,
     LB_ACTION_MOTION | LB_ACTION_HOLDER}, /* a program may move on an event */
    {NULL, 0, 0},
};

static const lb_action th_actions[] = {
    {LB_ROBOT_MOVE, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_LOAD, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_RUN, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_PROG_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_SET, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {"aseba.get", LB_ROLE_STUDENT, 0},
    {"aseba.set", LB_ROLE_STUDENT,
     LB_ACTION_MOTION | LB_ACTION_HOLDER}, /* motor targets are variables */
    {"aseba.emit", LB_ROLE_STUDENT, LB_ACTION_MOTION | LB_ACTION_HOLDER},
    {"aseba.reboot", LB_ROLE_STUDENT,
     LB_ACTION_MOTION | LB_ACTION_HOLDER}, /* its default program runs */
    {"aseba.description", LB_ROLE_STUDENT, 0},
    {NULL, 0, 0},
};

static lb_driver thymio_driver = {
    .name = "thymio",
    .description = "Thymio II robots (Aseba protocol 5+) over USB or TCP",
    .capabilities = LB_CAP_PROGRAM,
    .scan = th_scan,
    .open = th_open,
    .close = th_close,
    .start = th_start,
    .stop = th_stop,
    .describe = th_describe,
    .call = th_call,
    .actions = th_actions,
    .events = th_events,
    .event = th_event,
    .pollitems = th_pollitems,
    .run = th_run,
    .simulate = th_simulate,
    .cleanup = th_cleanup,
    .bridge_call = th_bridge_call,
    .halt = th_halt,
    .halted = th_halted,
};
LB_REGISTER_DRIVER(thymio_driver);
