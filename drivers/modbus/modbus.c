/* modbus.c - Modbus RTU and TCP sensors through libmodbus (glue: config, scan, polling, faults). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/util/log.h"
#include "../../bridge/sdk/params.h"
#include "../../protocols/modbus_map.h"
#include "emulator.h"

/*
 * A [modbus.NAME] section of the configuration is one Modbus unit (device id "modbus-NAME"):
 *
 *   tcp = 192.168.1.20:502      Modbus TCP (host or [IPv6], port 502 by default), or
 *   port = /dev/ttyUSB0         Modbus RTU on a serial port, with
 *   baud = 19200                  (default 19200), parity = E (N, E or O; default E, the
 *   stop_bits = 1                 standard's), stop_bits = 1 or 2 (default 1); 8 data bits
 *   unit = 1                    the unit (slave) id: 1..247 (TCP: 0..255), default 1
 *   period_ms = 1000            poll period, 10..3600000 (a channel's period= overrides it)
 *   timeout_ms = 500            answer timeout of one request, 10..10000
 *   max_timeouts = 5            this many requests in a row without an answer: the device is gone
 *   title = Weather station     the device's name in device lists
 *   channel.NAME = input 3 float32 scale=0.1 unit=°C    one stream per channel (modbus_map.h)
 *   channel.door = discrete 0 bool                      a discrete input (or a coil): a u8
 *                                                       stream of 0 and 1, quantity "state"
 *
 * Each poll period the device thread reads the due channels, registers (or bits) of one table
 * that touch being read together (modbus_map_plan), and publishes one sample per channel (f32;
 * u8 for a bit) at its scheduled instant (the first one exactly at the start: synchronised
 * acquisition works).
 * Several units on one RS-485 bus share the port: the devices of the same port share one
 * libmodbus context and take turns, one request at a time.
 *
 * Errors are not silent: a Modbus exception skips that channel's sample, with a warning naming
 * the channel and register, an error event on the channel's stream and the error in the
 * stream's description until it reads again (lb_stream_set_error); a group that gets one is
 * split so the other channels keep flowing. A bad answer (CRC error, garbage) is counted and
 * warned about at most every 10 s; max_timeouts requests in a row without an answer, or a broken
 * link, remove the device (LB_EGONE). scan lists configured sections without touching the
 * device; open fails with a clear message until the unit answers again.
 */

#define DEFAULT_BAUD 19200
#define DEFAULT_PERIOD_MS 1000
#define DEFAULT_TIMEOUT_MS 500
#define DEFAULT_MAX_TIMEOUTS 5
#define TIMEOUT_MS_MIN 10
#define TIMEOUT_MS_MAX 10000
#define MAX_TIMEOUTS_MAX 1000
#define LOG_EVERY_NS 10000000000LL /* repeated warnings: at most one per 10 s per kind */
#define ON_TIME_NS 50000000LL	   /* a sample this late is stamped when read, not when due */
#define REJOIN_AFTER 10		   /* good reads before a split channel is grouped again */
#define MAX_BUSES 16
#define SIM_PERIOD_MS "500"
#define SIM_TIMEOUT_MS "300"

/* What a failed request means. */
enum { MB_OK, MB_EXCEPTION, MB_TIMEOUT, MB_BAD, MB_LINK };

/* A rate-limited warning: when it may be said next, and how many were held back meanwhile. */
typedef struct mb_limit {
	int64_t next;
	unsigned long held;
} mb_limit;

/* A link: a serial port (shared by the units of one bus) or a TCP connection. */
typedef struct mb_bus {
	char key[160]; /* the port path, or "" for a TCP connection (never shared) */
	int baud, stop_bits;
	char parity;
	modbus_t *ctx;
	int refs;
	pthread_mutex_t lock; /* held for one request and its answer */
} mb_bus;

typedef struct mb_chan {
	char name[32];
	int stream;
	int period_ms; /* in effect: the channel's period= or the device's period_ms */
	int64_t due;   /* next poll, monotonic ns */
	int solo;      /* read alone since its group got an exception */
	int ok_streak; /* good reads in a row while solo */
	int failing;   /* its last read got an exception */
	int has_last;  /* last: the last value read (shown in the description) */
	double last;
	unsigned long exceptions;
	mb_limit exc_log;
} mb_chan;

typedef struct mb_priv {
	mb_bus *bus;
	int tcp;
	char host[128], service[16], path[128];
	char where[180]; /* "/dev/ttyUSB0 (19200 8E1)" or "127.0.0.1:502" */
	int baud, stop_bits;
	char parity;
	int unit, period_ms, timeout_ms, max_timeouts;
	modbus_map_channel map[LB_MAX_STREAMS];
	mb_chan ch[LB_MAX_STREAMS];
	int nch;
	int timeouts_in_row;
	unsigned long requests, timeouts, exceptions, bad, nonfinite;
	mb_limit bad_log, timeout_log, nan_log;
	lb_now started;	  /* the last start: the first samples are stamped at it */
	int64_t last_run; /* monotonic time of the last run */
	/* Set by the halt hook (main thread): polling stops after the request on the bus, not
	 * after every due one has timed out; cleared by the next start. */
	atomic_int halted;
} mb_priv;

/* ------------------------------------------------------------------ configuration */

/* Replace what is not valid UTF-8 in s by '?' (a message cut by a size limit stays valid JSON). */
static void utf8_fix(char *s)
{
	unsigned char *u = (unsigned char *)s;

	while (*u) {
		int n = *u < 0x80		   ? 1
			: *u >= 0xC2 && *u <= 0xDF ? 2
			: *u >= 0xE0 && *u <= 0xEF ? 3
			: *u >= 0xF0 && *u <= 0xF4 ? 4
						   : 0;
		int ok = n > 0;
		for (int i = 1; ok && i < n; i++)
			ok = (u[i] & 0xC0) == 0x80;
		if (ok && n == 3)
			ok = !(u[0] == 0xE0 && u[1] < 0xA0) && !(u[0] == 0xED && u[1] >= 0xA0);
		if (ok && n == 4)
			ok = !(u[0] == 0xF0 && u[1] < 0x90) && !(u[0] == 0xF4 && u[1] >= 0x90);
		if (!ok) {
			*u++ = '?';
			continue;
		}
		u += n;
	}
}

/* lb_error_set, with the message kept valid UTF-8; returns LB_EFAIL. */
static int mb_err(lb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mb_err(lb_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return LB_EFAIL;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	utf8_fix(err->message);
	return LB_EFAIL;
}

/*
 * Fill err with "FILE:LINE: [modbus.NAME] KEY: message" (or "[modbus.NAME] KEY: ..." for the
 * built-in simulated devices) and return LB_EFAIL.
 */
static int cfg_fail(lb_error *err, const json_t *params, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cfg_fail(lb_error *err, const json_t *params, const char *key, const char *fmt, ...)
{
	const char *file = json_string_value(json_object_get(params, "file"));
	const char *name = json_string_value(json_object_get(params, "name"));
	const json_t *sec = json_object_get(params, "section");
	json_int_t line = 0;
	char msg[200], where[200];
	va_list ap;

	if (key)
		line = json_integer_value(json_object_get(json_object_get(sec, "_lines"), key));
	if (!line)
		line = json_integer_value(json_object_get(sec, "_line"));
	if (file && line)
		snprintf(where, sizeof where, "%s:%lld: [modbus.%s]", file, (long long)line,
			 name ? name : "?");
	else
		snprintf(where, sizeof where, "[modbus.%s]", name ? name : "?");
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return mb_err(err, LB_ERR_INVALID_PARAMS, "%s %s%s%s", where, key ? key : "",
		      key ? ": " : "", msg);
}

/* The integer value of key in [min, max], or def when absent; 0 or LB_EFAIL with err set. */
static int cfg_int(const json_t *params, const char *key, long min, long max, long def, int *out,
		   lb_error *err)
{
	const char *v = json_string_value(json_object_get(json_object_get(params, "section"), key));
	char *end;
	long x;

	if (!v) {
		*out = (int)def;
		return 0;
	}
	errno = 0;
	x = strtol(v, &end, 10);
	if (end == v || *end || errno || x < min || x > max)
		return cfg_fail(err, params, key, "'%.40s' must be an integer from %ld to %ld", v,
				min, max);
	*out = (int)x;
	return 0;
}

/* Split "host:port", "[v6]:port" or "host" (port 502) into p->host and p->service. */
static int parse_tcp(mb_priv *p, const json_t *params, const char *v, lb_error *err)
{
	const char *colon, *h = v;
	size_t hlen;
	char *end;
	long port = 502;

	if (*v == '[') {
		const char *rb = strchr(v, ']');
		if (!rb)
			return cfg_fail(err, params, "tcp", "'%.60s': missing ']'", v);
		h = v + 1;
		hlen = (size_t)(rb - h);
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] && !colon)
			return cfg_fail(err, params, "tcp", "'%.60s': expected [ADDRESS]:PORT", v);
	} else {
		colon = strrchr(v, ':');
		if (colon && strchr(v, ':') != colon)
			return cfg_fail(err, params, "tcp",
					"'%.60s': write an IPv6 address as [ADDRESS]:PORT", v);
		hlen = colon ? (size_t)(colon - v) : strlen(v);
	}
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end || errno || port < 1 || port > 65535)
			return cfg_fail(err, params, "tcp", "'%.60s': the port must be 1 to 65535",
					v);
	}
	if (hlen == 0 || hlen >= sizeof p->host)
		return cfg_fail(err, params, "tcp",
				"'%.60s': expected HOST:PORT (e.g. 192.168.1.20:502)", v);
	memcpy(p->host, h, hlen);
	p->host[hlen] = '\0';
	snprintf(p->service, sizeof p->service, "%ld", port);
	snprintf(p->where, sizeof p->where, "%s%s%s:%ld", *v == '[' ? "[" : "", p->host,
		 *v == '[' ? "]" : "", port);
	return 0;
}

/* Whether s is a valid stream name: 1..31 of [A-Za-z0-9._-]. */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n < 32 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Sort channel keys by their line in the file, then by name. */
static int by_line(const void *a, const void *b)
{
	const json_int_t *x = a, *y = b;
	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/*
 * Read the device's settings and channels from its spec params ({name, section, file?}):
 * every key is checked, every error names the file, line and key. 0 or LB_EFAIL with err set.
 */
static int mb_configure(mb_priv *p, const json_t *params, lb_error *err)
{
	static const char *const keys[] = {"tcp",	   "port",  "baud",	 "parity",
					   "stop_bits",	   "unit",  "period_ms", "timeout_ms",
					   "max_timeouts", "title", NULL};
	const json_t *sec = json_object_get(params, "section");
	const char *tcp = json_string_value(json_object_get(sec, "tcp"));
	const char *port = json_string_value(json_object_get(sec, "port"));
	const char *parity = json_string_value(json_object_get(sec, "parity"));
	json_int_t order[LB_MAX_STREAMS][2]; /* line, index into names */
	const char *names[LB_MAX_STREAMS];
	const char *key;
	json_t *v;
	int n = 0;

	json_object_foreach((json_t *)sec, key, v)
	{
		const char *const *k;
		if (key[0] == '_')
			continue;
		if (strncmp(key, "channel.", 8) == 0) {
			if (!valid_name(key + 8))
				return cfg_fail(
				    err, params, key,
				    "a channel name is 1 to 31 letters, digits, '.', '_' "
				    "or '-'");
			if (n == LB_MAX_STREAMS)
				return cfg_fail(err, params, key, "more than %d channels",
						LB_MAX_STREAMS);
			names[n] = key;
			order[n][0] = json_integer_value(
			    json_object_get(json_object_get(sec, "_lines"), key));
			order[n][1] = n;
			n++;
			continue;
		}
		for (k = keys; *k && strcmp(*k, key) != 0; k++)
			;
		if (!*k)
			return cfg_fail(err, params, key,
					"unknown key (keys: tcp or port, baud, parity, stop_bits, "
					"unit, period_ms, timeout_ms, max_timeouts, title, "
					"channel.NAME)");
	}
	if (!tcp == !port)
		return cfg_fail(err, params, NULL,
				tcp ? "has both tcp and port: a unit is on TCP or on a serial port"
				    : "needs tcp = HOST:PORT (Modbus TCP) or port = /dev/ttyUSB0 "
				      "(Modbus RTU)");
	p->tcp = tcp != NULL;
	if (tcp && parse_tcp(p, params, tcp, err) < 0)
		return LB_EFAIL;
	if (port)
		snprintf(p->path, sizeof p->path, "%s", port);
	if (cfg_int(params, "baud", 50, 4000000, DEFAULT_BAUD, &p->baud, err) < 0 ||
	    cfg_int(params, "stop_bits", 1, 2, 1, &p->stop_bits, err) < 0 ||
	    cfg_int(params, "unit", p->tcp ? 0 : 1, p->tcp ? 255 : 247, 1, &p->unit, err) < 0 ||
	    (p->unit > 247 && p->unit < 255 &&
	     cfg_fail(err, params, "unit", "%d: a unit id is 0 to 247, or 255", p->unit) < 0) ||
	    cfg_int(params, "period_ms", MODBUS_MAP_PERIOD_MIN, MODBUS_MAP_PERIOD_MAX,
		    DEFAULT_PERIOD_MS, &p->period_ms, err) < 0 ||
	    cfg_int(params, "timeout_ms", TIMEOUT_MS_MIN, TIMEOUT_MS_MAX, DEFAULT_TIMEOUT_MS,
		    &p->timeout_ms, err) < 0 ||
	    cfg_int(params, "max_timeouts", 1, MAX_TIMEOUTS_MAX, DEFAULT_MAX_TIMEOUTS,
		    &p->max_timeouts, err) < 0)
		return LB_EFAIL;
	p->parity = 'E';
	if (parity) {
		if (strcasecmp(parity, "N") == 0 || strcasecmp(parity, "none") == 0)
			p->parity = 'N';
		else if (strcasecmp(parity, "O") == 0 || strcasecmp(parity, "odd") == 0)
			p->parity = 'O';
		else if (strcasecmp(parity, "E") != 0 && strcasecmp(parity, "even") != 0)
			return cfg_fail(err, params, "parity", "'%.20s' must be N, E or O", parity);
	}
	if (!p->tcp)
		snprintf(p->where, sizeof p->where, "%s (%d 8%c%d)", p->path, p->baud, p->parity,
			 p->stop_bits);
	if (n == 0)
		return cfg_fail(err, params, NULL,
				"has no channels: add lines like channel.temperature = input 0 "
				"float32 unit=°C");
	qsort(order, (size_t)n, sizeof order[0], by_line);
	for (int i = 0; i < n; i++) {
		const char *ck = names[order[i][1]];
		const char *text = json_string_value(json_object_get(sec, ck));
		char perr[200];
		if (modbus_map_parse(text, &p->map[i], perr, sizeof perr) < 0)
			return cfg_fail(err, params, ck, "%s", perr);
		snprintf(p->ch[i].name, sizeof p->ch[i].name, "%s", ck + 8);
		p->ch[i].period_ms = p->map[i].period_ms ? p->map[i].period_ms : p->period_ms;
		for (int j = 0; j < i; j++)
			if (strcmp(p->ch[j].name, p->ch[i].name) == 0)
				return cfg_fail(err, params, ck, "channel given twice");
	}
	p->nch = n;
	return 0;
}

/* ------------------------------------------------------------------ links */

static pthread_mutex_t mb_buses_lock = PTHREAD_MUTEX_INITIALIZER;
static mb_bus *mb_buses[MAX_BUSES];

/* Set the answer timeouts of the bus's context for this device. */
static void bus_timeouts(mb_bus *b, int timeout_ms)
{
	modbus_set_response_timeout(b->ctx, (uint32_t)(timeout_ms / 1000),
				    (uint32_t)(timeout_ms % 1000) * 1000);
	modbus_set_byte_timeout(b->ctx, (uint32_t)(timeout_ms / 1000),
				(uint32_t)(timeout_ms % 1000) * 1000);
}

/* Close and free a bus nobody uses. */
static void bus_free(mb_bus *b)
{
	if (!b)
		return;
	if (b->ctx) {
		modbus_close(b->ctx);
		modbus_free(b->ctx);
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Release a device's bus (the last user closes it). Accepts NULL; nulls the pointer. */
static void bus_release(mb_bus **pb)
{
	mb_bus *b = *pb;
	int last = 1;

	if (!b)
		return;
	*pb = NULL;
	if (b->key[0]) {
		pthread_mutex_lock(&mb_buses_lock);
		last = --b->refs == 0;
		for (int i = 0; last && i < MAX_BUSES; i++)
			if (mb_buses[i] == b)
				mb_buses[i] = NULL;
		pthread_mutex_unlock(&mb_buses_lock);
	}
	if (last)
		bus_free(b);
}

/* A new link for p, connected; NULL with err set. */
static mb_bus *bus_connect(mb_priv *p, lb_error *err)
{
	struct in_addr a4;
	mb_bus *b = calloc(1, sizeof *b);
	int e;

	if (!b) {
		mb_err(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->refs = 1;
	if (p->tcp)
		b->ctx = inet_pton(AF_INET, p->host, &a4) == 1
			     ? modbus_new_tcp(p->host, atoi(p->service))
			     : modbus_new_tcp_pi(p->host, p->service);
	else
		b->ctx = modbus_new_rtu(p->path, p->baud, p->parity, 8, p->stop_bits);
	if (!b->ctx) {
		mb_err(err, LB_ERR_DEVICE, "libmodbus refuses %s: %s", p->where,
		       modbus_strerror(errno));
		goto fail;
	}
	bus_timeouts(b, p->timeout_ms);
	if (modbus_connect(b->ctx) < 0) {
		e = errno;
		modbus_free(b->ctx);
		b->ctx = NULL;
		if (p->tcp)
			mb_err(err, LB_ERR_DEVICE, "cannot connect to %s: %s", p->where,
			       modbus_strerror(e));
		else
			mb_err(err, LB_ERR_DEVICE, "cannot open %s: %s%s", p->path,
			       modbus_strerror(e),
			       e == EACCES ? " (is the user in the dialout group?)" : "");
		goto fail;
	}
	modbus_flush(b->ctx); /* whatever the line held before */
	if (!p->tcp) {
		snprintf(b->key, sizeof b->key, "%s", p->path);
		b->baud = p->baud, b->parity = p->parity, b->stop_bits = p->stop_bits;
	}
	return b;
fail:
	bus_free(b);
	return NULL;
}

/*
 * Open the device's link: a TCP connection of its own, or the serial port, shared with the
 * other units already open on it (same settings required). 0 or LB_EFAIL with err set.
 */
static int bus_open(mb_priv *p, lb_error *err)
{
	int slot = -1, rc = 0;

	if (p->tcp) {
		p->bus = bus_connect(p, err);
		return p->bus ? 0 : LB_EFAIL;
	}
	/* the registry stays locked while the port opens: two units of a bus cannot race */
	pthread_mutex_lock(&mb_buses_lock);
	for (int i = 0; i < MAX_BUSES && !p->bus; i++) {
		mb_bus *b = mb_buses[i];
		if (!b) {
			if (slot < 0)
				slot = i;
		} else if (strcmp(b->key, p->path) == 0) {
			if (b->baud != p->baud || b->parity != p->parity ||
			    b->stop_bits != p->stop_bits) {
				rc = mb_err(err, LB_ERR_DEVICE,
					    "%s is already open at %d 8%c%d for another unit: "
					    "the units of one bus need the same settings",
					    p->path, b->baud, b->parity, b->stop_bits);
				break;
			}
			b->refs++;
			p->bus = b;
		}
	}
	if (rc == 0 && !p->bus) {
		p->bus = bus_connect(p, err);
		if (!p->bus)
			rc = LB_EFAIL;
		else if (slot >= 0)
			mb_buses[slot] = p->bus;
		else
			p->bus->key[0] = '\0'; /* no room to share it: a private link */
	}
	pthread_mutex_unlock(&mb_buses_lock);
	return rc;
}

/* What errno e after a failed request means. */
static int mb_class(int e)
{
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return MB_EXCEPTION;
	if (e == ETIMEDOUT)
		return MB_TIMEOUT;
	if (e == EMBBADCRC || e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC ||
	    e == EMBMDATA || e == EMBBADSLAVE)
		return MB_BAD;
	return MB_LINK;
}

/*
 * One request on the device's link: read count registers (write: write them) at addr of table;
 * bits (coils, discrete inputs) are one uint16 each, 0 or 1, in regs too. Returns MB_OK, or the
 * class of the failure with its errno in *eno. A TCP connection that broke is reconnected once
 * and the request retried.
 */
static int mb_request(mb_priv *p, int write, modbus_map_table table, int addr, int count,
		      uint16_t *regs, int *eno)
{
	mb_bus *b = p->bus;
	uint8_t bits[MODBUS_MAP_MAX_READ];
	int rc, cls;

	pthread_mutex_lock(&b->lock);
	for (int attempt = 0;; attempt++) {
		modbus_set_slave(b->ctx, p->unit);
		bus_timeouts(b, p->timeout_ms);
		p->requests++;
		errno = 0;
		if (write && table == MODBUS_MAP_COIL)
			rc = modbus_write_bit(b->ctx, addr, regs[0] != 0);
		else if (write)
			rc = count == 1 ? modbus_write_register(b->ctx, addr, regs[0])
					: modbus_write_registers(b->ctx, addr, count, regs);
		else if (table == MODBUS_MAP_INPUT)
			rc = modbus_read_input_registers(b->ctx, addr, count, regs);
		else if (table == MODBUS_MAP_HOLDING)
			rc = modbus_read_registers(b->ctx, addr, count, regs);
		else {
			rc = table == MODBUS_MAP_COIL
				 ? modbus_read_bits(b->ctx, addr, count, bits)
				 : modbus_read_input_bits(b->ctx, addr, count, bits);
			for (int i = 0; i < rc && i < count; i++)
				regs[i] = bits[i] != 0;
		}
		if (rc == count) {
			cls = MB_OK;
			break;
		}
		*eno = rc < 0 ? errno : EMBBADDATA;
		cls = mb_class(*eno);
		if (cls == MB_BAD)
			modbus_flush(b->ctx); /* resynchronise on the next answer */
		if (cls != MB_LINK || !p->tcp || attempt > 0)
			break;
		modbus_close(b->ctx);
		if (modbus_connect(b->ctx) < 0)
			break;
	}
	pthread_mutex_unlock(&b->lock);
	return cls;
}

/* ------------------------------------------------------------------ polling */

/* Whether a warning may be said now (one per LOG_EVERY_NS); *held: how many were held back. */
static int limit_ok(mb_limit *l, int64_t mono, unsigned long *held)
{
	if (l->next && mono < l->next) {
		l->held++;
		return 0;
	}
	*held = l->held;
	l->held = 0;
	l->next = mono + LOG_EVERY_NS;
	return 1;
}

/* " (and N more since)" for a warning that held some back, or "". */
static const char *more(char *buf, size_t cap, unsigned long held)
{
	if (!held)
		return "";
	snprintf(buf, cap, " (and %lu more since the last warning)", held);
	return buf;
}

/* The instant of a sample due at `due`: when it was due if read on time (and the start exactly). */
static void sample_time(const mb_priv *p, const lb_now *now, int64_t due, int64_t *t_host,
			int64_t *t_dev)
{
	int64_t late = now->mono - due;

	if (due == p->started.mono) {
		*t_host = p->started.real, *t_dev = due;
	} else if (late >= 0 && late < ON_TIME_NS) {
		*t_host = now->real - late, *t_dev = due;
	} else {
		*t_host = now->real, *t_dev = now->mono;
	}
}

/* Publish channel c's value from a block read at base; NaN and infinities are warned, skipped. */
static void publish(lb_device *dev, mb_priv *p, int c, const lb_now *now, uint16_t base,
		    const uint16_t *regs, int nregs)
{
	mb_chan *ch = &p->ch[c];
	int64_t t_host, t_dev;
	unsigned long held;
	char buf[64];
	double v;
	float f;
	uint8_t bit;

	if (modbus_map_decode_at(&p->map[c], base, regs, (size_t)nregs, &v) < 0)
		return; /* cannot happen: the plan covers the channel */
	f = (float)v;
	ch->has_last = 1;
	ch->last = v;
	if (!isfinite(f)) {
		p->nonfinite++;
		if (limit_ok(&p->nan_log, now->mono, &held))
			lb_warn("device %s: channel '%s' (%s register %u): the value is %g, not a "
				"number a stream can carry (no reading?): sample skipped%s",
				lb_device_id(dev), ch->name, modbus_map_table_name(p->map[c].table),
				(unsigned)p->map[c].address, v, more(buf, sizeof buf, held));
		return;
	}
	if (ch->failing) {
		ch->failing = 0;
		lb_info("device %s: channel '%s' reads again", lb_device_id(dev), ch->name);
		lb_stream_set_error(dev, ch->stream, now->real, NULL, NULL);
	}
	sample_time(p, now, ch->due, &t_host, &t_dev);
	if (p->map[c].type == MODBUS_MAP_BOOL) {
		bit = v != 0;
		lb_stream_publish(dev, ch->stream, t_dev, t_host, &bit, 1);
	} else {
		lb_stream_publish(dev, ch->stream, t_dev, t_host, &f, 1);
	}
}

/* What a table's address is called in messages: "input register", "coil"... */
static const char *what_at(modbus_map_table table)
{
	switch (table) {
	case MODBUS_MAP_COIL: return "coil";
	case MODBUS_MAP_DISCRETE: return "discrete input";
	case MODBUS_MAP_HOLDING: return "holding register";
	default: return "input register";
	}
}

/* A Modbus exception's name for clients ("illegal_data_address") and for people. */
static void exception_names(int code, const char **name, const char **text)
{
	static const char *const names[][2] = {
	    {"exception", "exception"},
	    {"illegal_function", "illegal function"},
	    {"illegal_data_address", "illegal data address"},
	    {"illegal_data_value", "illegal data value"},
	    {"server_device_failure", "server device failure"},
	    {"acknowledge", "acknowledge"},
	    {"server_device_busy", "server device busy"},
	    {"negative_acknowledge", "negative acknowledge"},
	    {"memory_parity_error", "memory parity error"},
	    {"exception", "exception"},
	    {"gateway_path_unavailable", "gateway path unavailable"},
	    {"gateway_target_failed", "gateway target device failed to respond"},
	};
	int i = code > 0 && code < (int)(sizeof names / sizeof names[0]) ? code : 0;

	*name = names[i][0];
	*text = names[i][1];
}

/*
 * A channel's read got a Modbus exception: warn (rate-limited), skip its sample, and say it on
 * the channel's stream and in its description (once, until it reads again).
 */
static void channel_exception(lb_device *dev, mb_priv *p, int c, int eno, const lb_now *now)
{
	mb_chan *ch = &p->ch[c];
	const modbus_map_channel *m = &p->map[c];
	const char *code, *text;
	unsigned long held;
	char buf[64], msg[200];

	ch->exceptions++;
	ch->failing = 1;
	ch->ok_streak = 0;
	exception_names(eno - MODBUS_ENOBASE, &code, &text);
	snprintf(msg, sizeof msg, "unit %d refused %s %u (exception %d: %s)", p->unit,
		 what_at(m->table), (unsigned)m->address, eno - MODBUS_ENOBASE, text);
	lb_stream_set_error(dev, ch->stream, now->real, code, msg); /* once, until it reads */
	if (limit_ok(&ch->exc_log, now->mono, &held))
		lb_warn("device %s: channel '%s' (%s %u, %s): the device answered exception "
			"%d (%s): sample skipped%s",
			lb_device_id(dev), ch->name, what_at(m->table), (unsigned)m->address,
			modbus_map_type_name(m->type), eno - MODBUS_ENOBASE, modbus_strerror(eno),
			more(buf, sizeof buf, held));
}

/*
 * Do one read of the plan, for the channels idx[0..n), and publish them. A group that gets an
 * exception is split: its channels are read one by one now, and alone from then on.
 * Returns 0, 1 when the device did not answer (the rest of this poll is skipped), or LB_EGONE.
 */
static int do_read(lb_device *dev, mb_priv *p, const modbus_map_read *r, const int *idx, int n,
		   const lb_now *now)
{
	uint16_t regs[MODBUS_MAP_MAX_READ];
	unsigned long held;
	char buf[64];
	int eno = 0;
	int cls = mb_request(p, 0, r->table, r->address, r->count, regs, &eno);

	switch (cls) {
	case MB_OK:
		p->timeouts_in_row = 0;
		for (int i = 0; i < n; i++) {
			mb_chan *ch = &p->ch[idx[i]];
			if (ch->solo && ++ch->ok_streak >= REJOIN_AFTER)
				ch->solo = 0;
			publish(dev, p, idx[i], now, r->address, regs, r->count);
		}
		return 0;
	case MB_EXCEPTION:
		p->timeouts_in_row = 0;
		p->exceptions++;
		if (n == 1) {
			channel_exception(dev, p, idx[0], eno, now);
			return 0;
		}
		for (int i = 0; i < n; i++) {
			const modbus_map_channel *m = &p->map[idx[i]];
			modbus_map_read one = {m->table, m->address,
					       (uint16_t)modbus_map_registers(m->type), 0, 1};
			int rc;
			p->ch[idx[i]].solo = 1;
			p->ch[idx[i]].ok_streak = 0;
			rc = do_read(dev, p, &one, &idx[i], 1, now);
			if (rc != 0)
				return rc;
		}
		return 0;
	case MB_TIMEOUT:
		p->timeouts++;
		if (++p->timeouts_in_row >= p->max_timeouts) {
			lb_warn(
			    "device %s stopped answering: %d requests in a row without an answer "
			    "within %d ms (unit %d on %s)",
			    lb_device_id(dev), p->timeouts_in_row, p->timeout_ms, p->unit,
			    p->where);
			return LB_EGONE;
		}
		if (limit_ok(&p->timeout_log, now->mono, &held))
			lb_warn("device %s: no answer from unit %d within %d ms (%d in a row; %d "
				"make the device gone)%s",
				lb_device_id(dev), p->unit, p->timeout_ms, p->timeouts_in_row,
				p->max_timeouts, more(buf, sizeof buf, held));
		return 1;
	case MB_BAD:
		p->bad++;
		if (limit_ok(&p->bad_log, now->mono, &held))
			lb_warn(
			    "device %s: bad answer from unit %d on %s: %s (noise on the line, or "
			    "a wrong baud rate or parity?); %lu so far%s",
			    lb_device_id(dev), p->unit, p->where, modbus_strerror(eno), p->bad,
			    more(buf, sizeof buf, held));
		return 0;
	default:
		lb_warn("device %s: lost the link to %s (%s)%s", lb_device_id(dev), p->where,
			modbus_strerror(eno), p->tcp ? "" : ": unplugged?");
		return LB_EGONE;
	}
}

/* Read and publish the channels due now; schedule their next polls. 0 or LB_EGONE. */
static int mb_poll(lb_device *dev, mb_priv *p, const lb_now *now)
{
	modbus_map_read reads[LB_MAX_STREAMS];
	int idx[LB_MAX_STREAMS], due[LB_MAX_STREAMS];
	int ndue = 0, ng = 0, k, rc = 0;

	for (int i = 0; i < p->nch; i++)
		if (p->ch[i].due <= now->mono)
			due[ndue++] = i;
	if (!ndue)
		return 0;
	for (int i = 0; i < ndue; i++)
		if (!p->ch[due[i]].solo)
			idx[ng++] = due[i];
	k = modbus_map_plan(p->map, idx, ng, 0, MODBUS_MAP_MAX_READ, reads, LB_MAX_STREAMS);
	for (int r = 0; r < k && rc == 0 && !atomic_load(&p->halted); r++)
		rc = do_read(dev, p, &reads[r], idx + reads[r].first, reads[r].n, now);
	for (int i = 0; i < ndue && rc == 0 && !atomic_load(&p->halted); i++) {
		const modbus_map_channel *m = &p->map[due[i]];
		modbus_map_read one = {m->table, m->address,
				       (uint16_t)modbus_map_registers(m->type), 0, 1};
		if (p->ch[due[i]].solo)
			rc = do_read(dev, p, &one, &due[i], 1, now);
	}
	if (rc == LB_EGONE)
		return LB_EGONE;
	for (int i = 0; i < ndue; i++) {
		mb_chan *ch = &p->ch[due[i]];
		ch->due += (int64_t)ch->period_ms * 1000000;
		if (ch->due <= now->mono) /* fell behind (timeouts): skip, do not burst */
			ch->due = now->mono + (int64_t)ch->period_ms * 1000000;
	}
	return 0;
}

/* ------------------------------------------------------------------ the driver */

/* The simulated lab's two sensors: one per link, unless unplugged with modbus.emulator. */
static modbus_emu *mb_emu[2];
static int mb_emu_unplugged[2];

/* The params of an emulated sensor: a built-in section with the emulator's register map. */
static json_t *sim_params(modbus_emu_link link)
{
	json_t *sec = json_object(), *lines = json_object();
	char tcp[32];

	if (!sec || !lines) {
		json_decref(sec);
		json_decref(lines);
		return NULL;
	}
	if (link == MODBUS_EMU_TCP) {
		snprintf(tcp, sizeof tcp, "127.0.0.1:%d", modbus_emu_port(mb_emu[link]));
		json_object_set_new(sec, "tcp", json_string(tcp));
	} else {
		json_object_set_new(sec, "port", json_string(modbus_emu_path(mb_emu[link])));
		snprintf(tcp, sizeof tcp, "%d", MODBUS_EMU_BAUD);
		json_object_set_new(sec, "baud", json_string(tcp));
		json_object_set_new(sec, "parity", json_string("E"));
	}
	json_object_set_new(sec, "period_ms", json_string(SIM_PERIOD_MS));
	json_object_set_new(sec, "timeout_ms", json_string(SIM_TIMEOUT_MS));
	for (int i = 0; i < modbus_emu_nchannels; i++) {
		char key[64];
		snprintf(key, sizeof key, "channel.%s", modbus_emu_channels[i].name);
		json_object_set_new(sec, key, json_string(modbus_emu_channels[i].desc));
		json_object_set_new(lines, key, json_integer(i + 1));
	}
	json_object_set_new(sec, "_lines", lines);
	return json_pack("{s:s,s:o}", "name", link == MODBUS_EMU_TCP ? "sim-tcp" : "sim-rtu",
			 "section", sec);
}

/*
 * scan: every [modbus.NAME] section (RTU ones only while their port exists), and the simulated
 * lab's sensors while their emulators run. Looks at the config only: never touches a device.
 */
static int mb_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	const char *file = json_string_value(json_object_get(ctx->config, "_path"));
	lb_config_device d = {0};

	(void)drv;
	while (lb_scan_sections(ctx, "modbus", "modbus-", "Modbus sensor", &d)) {
		if (json_object_get(d.options, "port") && !json_object_get(d.options, "tcp") &&
		    !lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "sensor"))
			continue; /* not plugged in: listed as absent, with the reason */
		if (lb_spec_list_add(out, d.id, d.title, "sensor", false,
				     json_pack("{s:s,s:o,s:s?}", "name", d.name, "section",
					       json_deep_copy(d.options), "file", file)) < 0)
			return LB_ENOMEM;
	}
	for (int link = 0; link < 2 && ctx->simulate; link++) {
		if (!mb_emu[link])
			continue;
		if (lb_spec_list_add(
			out, link == MODBUS_EMU_TCP ? "modbus-sim-tcp" : "modbus-sim-rtu",
			link == MODBUS_EMU_TCP ? "Simulated weather station (Modbus TCP emulator)"
					       : "Simulated weather station (Modbus RTU emulator)",
			"sensor", true, sim_params((modbus_emu_link)link)) < 0)
			return LB_ENOMEM;
	}
	return 0;
}

/* close: release the link (the last unit of a bus closes the port) and the state. Idempotent. */
static void mb_close(lb_device *dev);
static int mb_start(lb_device *dev, const lb_now *now, lb_error *err);

/*
 * The first read after opening: the device must answer (values or an exception) within the
 * timeout, twice allowed (a unit may miss the first frame after the port opens), or a few bad
 * answers. 0 or LB_EFAIL with err set.
 */
static int mb_probe(mb_priv *p, lb_error *err)
{
	modbus_map_read r;
	uint16_t regs[MODBUS_MAP_MAX_READ];
	int idx[LB_MAX_STREAMS], eno = 0, cls = MB_TIMEOUT, timeouts = 0;

	for (int i = 0; i < p->nch; i++)
		idx[i] = i;
	if (modbus_map_plan(p->map, idx, p->nch, 0, MODBUS_MAP_MAX_READ, &r, 1) < 0) {
		/* more than one read: probe with the first channel's */
		const modbus_map_channel *m = &p->map[idx[0]];
		r = (modbus_map_read){m->table, m->address, (uint16_t)modbus_map_registers(m->type),
				      0, 1};
	}
	for (int attempt = 0; attempt < 4 && timeouts < 2; attempt++) {
		cls = mb_request(p, 0, r.table, r.address, r.count, regs, &eno);
		if (cls == MB_OK || cls == MB_EXCEPTION)
			return 0;
		if (cls == MB_LINK)
			break;
		timeouts += cls == MB_TIMEOUT;
	}
	if (cls == MB_TIMEOUT)
		return mb_err(err, LB_ERR_DEVICE,
			      "no answer from unit %d on %s within %d ms (is it powered, and "
			      "are the unit id%s right?)",
			      p->unit, p->where, p->timeout_ms,
			      p->tcp ? "" : ", baud rate, parity and wiring");
	if (cls == MB_BAD)
		return mb_err(err, LB_ERR_DEVICE,
			      "only bad answers from unit %d on %s (%s): noise, or a wrong baud "
			      "rate or parity?",
			      p->unit, p->where, modbus_strerror(eno));
	return mb_err(err, LB_ERR_DEVICE, "cannot talk to %s: %s", p->where, modbus_strerror(eno));
}

/* The range a channel's integer type can show after scaling (none for float32). */
static void set_range(lb_device *dev, int s, const modbus_map_channel *m)
{
	static const double lo[] = {-32768.0, 0.0, -2147483648.0, 0.0};
	static const double hi[] = {32767.0, 65535.0, 2147483647.0, 4294967295.0};
	double a, b;

	if (m->type == MODBUS_MAP_FLOAT32)
		return;
	if (m->type == MODBUS_MAP_BOOL) {
		lb_stream_set_range(dev, s, 0, 1, 1);
		return;
	}
	a = lo[m->type] * m->scale + m->offset;
	b = hi[m->type] * m->scale + m->offset;
	lb_stream_set_range(dev, s, a < b ? a : b, a < b ? b : a, fabs(m->scale));
}

/*
 * open: read the settings and the register map (errors name the file and line), open the link,
 * and make a first read that the unit must answer; declares one f32 stream per channel and
 * starts polling. On failure releases everything and returns LB_EFAIL with err set.
 */
static int mb_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	mb_priv *p = calloc(1, sizeof *p);

	if (!p)
		return mb_err(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	if (mb_configure(p, lb_device_get_spec(dev)->params, err) < 0 || bus_open(p, err) < 0 ||
	    mb_probe(p, err) < 0)
		goto fail;
	for (int i = 0; i < p->nch; i++) {
		const modbus_map_channel *m = &p->map[i];
		int bit = m->type == MODBUS_MAP_BOOL;
		int s = lb_device_add_stream(
		    dev, p->ch[i].name, bit && !m->quantity[0] ? "state" : m->quantity, m->unit,
		    bit ? LB_U8 : LB_F32, 1000.0 / p->ch[i].period_ms);
		if (s < 0) {
			mb_err(err, LB_ERR_INTERNAL, "cannot declare stream '%s'", p->ch[i].name);
			goto fail;
		}
		p->ch[i].stream = s;
		set_range(dev, s, m);
	}
	lb_info("device %s: Modbus %s unit %d on %s, %d channel%s, every %d ms", lb_device_id(dev),
		p->tcp ? "TCP" : "RTU", p->unit, p->where, p->nch, p->nch == 1 ? "" : "s",
		p->period_ms);
	mb_start(dev, now, err); /* sensors stream from the start */
	lb_device_set_running(dev, true);
	return 0;
fail:
	mb_close(dev); /* the bridge closes only what opened */
	return LB_EFAIL;
}

static void mb_close(lb_device *dev)
{
	mb_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	bus_release(&p->bus);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* Start: every channel is due at once, its first sample stamped at this instant. */
static int mb_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	mb_priv *p = lb_device_priv(dev);

	(void)err;
	atomic_store(&p->halted, 0); /* started again after a halt */
	p->started = *now;
	p->timeouts_in_row = 0;
	for (int i = 0; i < p->nch; i++)
		p->ch[i].due = now->mono;
	return 0;
}

/*
 * The halt hook (another thread, driver.h): no more requests on the bus once the one under way
 * ends (the bus and its libmodbus context are the device thread's: not touched here). The
 * device thread then stops polling (the core's stop, as device.stop). Never fails.
 */
static int mb_halt(lb_device *dev)
{
	atomic_store(&((mb_priv *)lb_device_priv(dev))->halted, 1);
	return 0;
}

/* stop: polling stops with lb_device_running(dev); nothing to tell the device. Never fails. */
static int mb_stop(lb_device *dev, lb_error *err)
{
	(void)dev, (void)err;
	return 0; /* polling stops with lb_device_running(dev) */
}

/* config_get: the settings, the canonical register map and the error counters; NULL on ENOMEM. */
static json_t *mb_config_get(lb_device *dev)
{
	mb_priv *p = lb_device_priv(dev);
	json_t *ch = json_object(), *values = json_object(), *c;
	char buf[256];

	for (int i = 0; i < p->nch; i++) {
		if (modbus_map_format(&p->map[i], buf, sizeof buf) > 0)
			json_object_set_new(ch, p->ch[i].name, json_string(buf));
		json_object_set_new(values, p->ch[i].name,
				    p->ch[i].has_last && isfinite(p->ch[i].last)
					? json_real(p->ch[i].last)
					: json_null());
	}
	c = json_pack("{s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I}}", "link",
		      p->tcp ? "tcp" : "rtu", "unit", p->unit, "period_ms", p->period_ms,
		      "timeout_ms", p->timeout_ms, "max_timeouts", p->max_timeouts, "channels", ch,
		      "values", values, "stats", "requests", (json_int_t)p->requests, "timeouts",
		      (json_int_t)p->timeouts, "exceptions", (json_int_t)p->exceptions,
		      "bad_answers", (json_int_t)p->bad, "not_a_number", (json_int_t)p->nonfinite);
	if (!c)
		return NULL;
	if (p->tcp) {
		json_object_set_new(c, "tcp", json_string(p->where));
	} else {
		char parity[2] = {p->parity, '\0'};
		json_object_set_new(c, "port", json_string(p->path));
		json_object_set_new(c, "baud", json_integer(p->baud));
		json_object_set_new(c, "parity", json_string(parity));
		json_object_set_new(c, "stop_bits", json_integer(p->stop_bits));
	}
	return c;
}

/* limits_get: the ranges config_set accepts; NULL on ENOMEM. */
static json_t *mb_limits_get(lb_device *dev)
{
	(void)dev;
	return json_pack("{s:{s:i,s:i},s:{s:i,s:i},s:{s:i,s:i}}", "period_ms", "min",
			 MODBUS_MAP_PERIOD_MIN, "max", MODBUS_MAP_PERIOD_MAX, "timeout_ms", "min",
			 TIMEOUT_MS_MIN, "max", TIMEOUT_MS_MAX, "max_timeouts", "min", 1, "max",
			 MAX_TIMEOUTS_MAX);
}

/* An integer setting in [min, max]; 0 or LB_EFAIL with an invalid_params error. */
static int set_int(const char *key, const json_t *value, long min, long max, int *out,
		   lb_error *err)
{
	json_int_t v = json_integer_value(value);

	if (!json_is_integer(value) || v < min || v > max)
		return mb_err(err, LB_ERR_INVALID_PARAMS, "%s must be an integer from %ld to %ld",
			      key, min, max);
	*out = (int)v;
	return 0;
}

/*
 * config_set: period_ms (the channels without their own period= follow; a shorter period takes
 * effect at once), timeout_ms, max_timeouts. invalid_params out of range, not_supported others.
 */
static int mb_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	mb_priv *p = lb_device_priv(dev);

	if (!key)
		key = "";
	if (strcmp(key, "period_ms") == 0) {
		if (set_int(key, value, MODBUS_MAP_PERIOD_MIN, MODBUS_MAP_PERIOD_MAX, &p->period_ms,
			    err) < 0)
			return LB_EFAIL;
		for (int i = 0; i < p->nch; i++) {
			mb_chan *ch = &p->ch[i];
			int64_t next = p->last_run + (int64_t)p->period_ms * 1000000;
			if (p->map[i].period_ms)
				continue; /* its own period= */
			ch->period_ms = p->period_ms;
			if (ch->due > next)
				ch->due = next; /* a shorter period takes effect now */
			lb_stream_set_rate(dev, ch->stream, 1000.0 / ch->period_ms);
		}
		return 0;
	}
	if (strcmp(key, "timeout_ms") == 0)
		return set_int(key, value, TIMEOUT_MS_MIN, TIMEOUT_MS_MAX, &p->timeout_ms, err);
	if (strcmp(key, "max_timeouts") == 0)
		return set_int(key, value, 1, MAX_TIMEOUTS_MAX, &p->max_timeouts, err);
	return mb_err(err, LB_ERR_NOT_SUPPORTED,
		      "no setting '%s' (settings: period_ms, timeout_ms, max_timeouts)", key);
}

/* A failed request as a reply error: timeout, or device_error with libmodbus's reason. */
static int request_error(mb_priv *p, int cls, int eno, const char *what, lb_error *err)
{
	if (cls == MB_TIMEOUT)
		return mb_err(err, LB_ERR_TIMEOUT, "unit %d did not answer %s within %d ms",
			      p->unit, what, p->timeout_ms);
	if (cls == MB_EXCEPTION)
		return mb_err(err, LB_ERR_DEVICE, "unit %d answered %s with exception %d (%s)",
			      p->unit, what, eno - MODBUS_ENOBASE, modbus_strerror(eno));
	return mb_err(err, LB_ERR_DEVICE, "%s failed: %s", what, modbus_strerror(eno));
}

/*
 * Actions: read {table: input|holding|discrete|coil, address, count (1..125)} -> the raw
 * registers (or bits, 0 or 1); write {channel, value} -> the value the holding or coil channel
 * now has (after the type's rounding; a coil takes 0, 1, false or true).
 */
static int mb_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	static const char *const read_args[] = {"table", "address", "count", NULL};
	static const char *const write_args[] = {"channel", "value", NULL};
	mb_priv *p = lb_device_priv(dev);
	uint16_t regs[MODBUS_MAP_MAX_READ];
	char what[96];
	int eno = 0, cls;

	if (strcmp(action, "read") == 0) {
		const char *table = NULL;
		long long addr = 0, count = 1;
		modbus_map_table t;
		json_t *a;
		if (lb_param_only(args, read_args, err) < 0 ||
		    lb_param_string(args, "table", true, &table, err) < 0 ||
		    lb_param_int(args, "address", true, 0, 65535, &addr, err) < 0 ||
		    lb_param_int(args, "count", false, 1, MODBUS_MAP_MAX_READ, &count, err) < 0)
			return LB_EFAIL;
		if (strcmp(table, "input") == 0)
			t = MODBUS_MAP_INPUT;
		else if (strcmp(table, "holding") == 0)
			t = MODBUS_MAP_HOLDING;
		else if (strcmp(table, "discrete") == 0)
			t = MODBUS_MAP_DISCRETE;
		else if (strcmp(table, "coil") == 0)
			t = MODBUS_MAP_COIL;
		else
			return mb_err(err, LB_ERR_INVALID_PARAMS,
				      "table must be input, holding, discrete or coil");
		if (addr + count > 65536)
			return mb_err(err, LB_ERR_INVALID_PARAMS,
				      "address + count goes beyond address 65535");
		snprintf(what, sizeof what, "a read of %s %lld..%lld", table, addr,
			 addr + count - 1);
		cls = mb_request(p, 0, t, (int)addr, (int)count, regs, &eno);
		if (cls != MB_OK)
			return request_error(p, cls, eno, what, err);
		a = json_array();
		for (int i = 0; i < count; i++)
			json_array_append_new(a, json_integer(regs[i]));
		*result = a;
		return 0;
	}
	if (strcmp(action, "write") == 0) {
		const char *name = NULL;
		const json_t *value = json_object_get(args, "value");
		char perr[160];
		int c, n;
		if (lb_param_only(args, write_args, err) < 0 ||
		    lb_param_string(args, "channel", true, &name, err) < 0)
			return LB_EFAIL;
		for (c = 0; c < p->nch && strcmp(p->ch[c].name, name) != 0; c++)
			;
		if (c == p->nch)
			return mb_err(err, LB_ERR_INVALID_PARAMS, "no channel '%s'", name);
		if (p->map[c].table != MODBUS_MAP_HOLDING && p->map[c].table != MODBUS_MAP_COIL)
			return mb_err(err, LB_ERR_INVALID_PARAMS, "channel '%s' is %s: read-only",
				      name,
				      p->map[c].table == MODBUS_MAP_INPUT ? "an input register"
									  : "a discrete input");
		if (p->map[c].table == MODBUS_MAP_COIL && json_is_boolean(value))
			n = modbus_map_encode(&p->map[c], json_is_true(value), regs, perr,
					      sizeof perr);
		else if (!json_is_number(value))
			return mb_err(err, LB_ERR_INVALID_PARAMS,
				      p->map[c].table == MODBUS_MAP_COIL
					  ? "value must be 0, 1, false or true"
					  : "value must be a number");
		else
			n = modbus_map_encode(&p->map[c], json_number_value(value), regs, perr,
					      sizeof perr);
		if (n < 0)
			return mb_err(err, LB_ERR_INVALID_PARAMS, "channel '%s': %s", name, perr);
		snprintf(what, sizeof what, "the write of channel '%s' (%s %u)", name,
			 modbus_map_table_name(p->map[c].table), (unsigned)p->map[c].address);
		cls = mb_request(p, 1, p->map[c].table, p->map[c].address, n, regs, &eno);
		if (cls != MB_OK)
			return request_error(p, cls, eno, what, err);
		*result = lb_json_sample(modbus_map_value(&p->map[c], regs));
		return 0;
	}
	return mb_err(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s' (actions: read, write)",
		      action);
}

/* run: poll the due channels; the deadline is the next due one. 0, or LB_EGONE when gone. */
static int mb_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	mb_priv *p = lb_device_priv(dev);

	(void)items, (void)nitems;
	p->last_run = now->mono;
	if (!lb_device_running(dev) || atomic_load(&p->halted))
		return 0;
	if (mb_poll(dev, p, now) == LB_EGONE)
		return LB_EGONE;
	for (int i = 0; i < p->nch; i++)
		if (*deadline < 0 || p->ch[i].due < *deadline)
			*deadline = p->ch[i].due;
	return 0;
}

/* simulate: start the two emulated sensors (RTU on a pty, TCP on loopback) unless unplugged. */
static int mb_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)
{
	int rc = 0;

	(void)drv, (void)ctx, (void)ports;
	for (int link = 0; link < 2; link++) {
		lb_error err;
		if (mb_emu[link] || mb_emu_unplugged[link])
			continue;
		mb_emu[link] = modbus_emu_new((modbus_emu_link)link, &err);
		if (!mb_emu[link]) {
			lb_err("Modbus %s emulator: %s", link ? "TCP" : "RTU", err.message);
			rc = LB_EFAIL;
		}
	}
	return rc;
}

/* cleanup: stop the emulators simulate started (at shutdown, the devices already closed). */
static void mb_cleanup(const lb_driver *drv)
{
	(void)drv;
	modbus_emu_destroy(&mb_emu[0]);
	modbus_emu_destroy(&mb_emu[1]);
}

/*
 * modbus.emulator {fault: ok|silent|garbage|exception|unplug|plug, link?: rtu|tcp (default
 * both), register?: the exception fault's register (default 2)}: faults of the simulated lab.
 */
static int mb_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			  json_t **result, lb_error *err)
{
	static const char *const faults[] = {"ok",     "silent", "garbage", "exception",
					     "unplug", "plug",	 NULL};
	static const char *const allowed[] = {"fault", "link", "register", NULL};
	const char *fault = NULL, *link = NULL;
	long long reg = MODBUS_EMU_EXCEPTION_REGISTER;
	int f, from = 0, to = 2;

	(void)drv;
	if (strcmp(method, "emulator") != 0)
		return mb_err(err, LB_ERR_METHOD_NOT_FOUND,
			      "unknown method 'modbus.%s' (modbus.emulator)", method);
	if (lb_param_only(params, allowed, err) < 0 ||
	    lb_param_string(params, "fault", true, &fault, err) < 0 ||
	    lb_param_string(params, "link", false, &link, err) < 0 ||
	    lb_param_int(params, "register", false, 0, 65535, &reg, err) < 0)
		return LB_EFAIL;
	for (f = 0; faults[f] && strcmp(faults[f], fault) != 0; f++)
		;
	if (!faults[f])
		return mb_err(err, LB_ERR_INVALID_PARAMS,
			      "fault must be ok, silent, garbage, exception, unplug or plug");
	if (link && strcmp(link, "rtu") == 0)
		to = 1;
	else if (link && strcmp(link, "tcp") == 0)
		from = 1;
	else if (link)
		return mb_err(err, LB_ERR_INVALID_PARAMS, "link must be rtu or tcp");
	for (int l = from; l < to; l++) {
		if (f == 4) {
			modbus_emu_destroy(&mb_emu[l]);
			mb_emu_unplugged[l] = 1;
		} else if (f == 5) {
			mb_emu_unplugged[l] = 0; /* the rescan that follows starts it */
		} else if (!mb_emu[l]) {
			return mb_err(err, LB_ERR_UNKNOWN_DEVICE,
				      "the simulated Modbus %s sensor is not running "
				      "(unplugged, or the simulated lab is off)",
				      l ? "TCP" : "RTU");
		}
	}
	for (int l = from; l < to && f < 4; l++)
		modbus_emu_set_fault(mb_emu[l], (modbus_emu_fault)f, (int)reg);
	*result = json_null();
	return 0;
}

/* What device.call reaches: raw reads and writes of the unit, for students holding it. */
static const lb_action mb_actions[] = {
    {"read", LB_ROLE_STUDENT, 0},
    {"write", LB_ROLE_STUDENT, LB_ACTION_MOTION}, /* a coil may switch a motor or a heater */
    {NULL, 0, 0},
};

static lb_driver modbus_driver = {
    .name = "modbus",
    .description = "Modbus RTU (serial) and TCP sensors described by a register map (libmodbus)",
    .scan = mb_scan,
    .open = mb_open,
    .close = mb_close,
    .start = mb_start,
    .stop = mb_stop,
    .config_get = mb_config_get,
    .limits_get = mb_limits_get,
    .config_set = mb_config_set,
    .call = mb_call,
    .actions = mb_actions,
    .run = mb_run,
    .simulate = mb_simulate,
    .cleanup = mb_cleanup,
    .bridge_call = mb_bridge_call,
    .halt = mb_halt,
};
LB_REGISTER_DRIVER(modbus_driver);
