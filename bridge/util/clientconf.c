/* clientconf.c - how a client (labctl) finds a networked bridge: --connect lists, client.ini. */
#include "clientconf.h"

#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define LINE_MAX_BYTES 198 /* inih's INI_MAX_LINE (200) less the newline and the NUL */

/* Whether ep is tcp://HOST:PORT with a non-empty host and a port 1..65535. */
static int tcp_endpoint_ok(const char *ep, size_t len)
{
	const char *colon, *end = ep + len;
	long port = 0;

	if (len < 9 || strncmp(ep, "tcp://", 6))
		return 0;
	for (colon = end; colon > ep + 6 && colon[-1] != ':'; colon--)
		;
	if (colon <= ep + 7 || colon == end) /* no host, or no port */
		return 0;
	for (const char *p = colon; p < end; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return 0;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* Copy len bytes of s into out[cap] with a NUL; 0, or -1 when it does not fit. */
static int copy_n(char *out, size_t cap, const char *s, size_t len)
{
	if (len + 1 > cap)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int lb_connect_split(const char *spec, char *rpc, size_t rpc_cap, char *pub, size_t pub_cap,
		     char *err, size_t err_cap)
{
	const char *comma = strchr(spec, ',');
	size_t rlen = comma ? (size_t)(comma - spec) : strlen(spec);

	if (!*spec) {
		snprintf(err, err_cap, "an empty endpoint");
		return LB_EINVAL;
	}
	if (!strstr(spec, "://") && !comma) { /* a bare host: the documented ports */
		for (const char *p = spec; *p; p++)
			if (*p == '/' || *p == ' ' || *p == ',' || (*p == ':' && spec[0] != '[')) {
				snprintf(err, err_cap,
					 "'%s' is neither tcp://HOST:PORT nor a host name", spec);
				return LB_EINVAL;
			}
		if (snprintf(rpc, rpc_cap, "tcp://%s:%d", spec, LB_CLIENT_RPC_PORT) >=
			(int)rpc_cap ||
		    snprintf(pub, pub_cap, "tcp://%s:%d", spec, LB_CLIENT_PUB_PORT) >=
			(int)pub_cap) {
			snprintf(err, err_cap, "the host name is too long");
			return LB_EINVAL;
		}
		return 0;
	}
	if (!tcp_endpoint_ok(spec, rlen)) {
		snprintf(err, err_cap, "'%.*s' is not tcp://HOST:PORT", (int)rlen, spec);
		return LB_EINVAL;
	}
	if (comma && (strchr(comma + 1, ',') || !tcp_endpoint_ok(comma + 1, strlen(comma + 1)))) {
		snprintf(err, err_cap,
			 "'%s' is not tcp://HOST:PORT (the second endpoint, for streams)",
			 comma + 1);
		return LB_EINVAL;
	}
	if (copy_n(rpc, rpc_cap, spec, rlen) < 0 ||
	    copy_n(pub, pub_cap, comma ? comma + 1 : "", comma ? strlen(comma + 1) : 0) < 0) {
		snprintf(err, err_cap, "an endpoint is too long");
		return LB_EINVAL;
	}
	return 0;
}

bool lb_endpoint_remote(const char *ep)
{
	const char *host, *colon;
	size_t n;

	if (strncmp(ep, "tcp://", 6) || !(colon = strrchr(host = ep + 6, ':')))
		return false;
	n = (size_t)(colon - host);
	if ((n == 9 && !strncmp(host, "localhost", 9)) || (n == 5 && !strncmp(host, "[::1]", 5)))
		return false;
	if (n >= 4 && !strncmp(host, "127.", 4)) {
		for (size_t i = 4; i < n; i++)
			if ((host[i] < '0' || host[i] > '9') && host[i] != '.')
				return true; /* 127.example.org */
		return false;
	}
	return true;
}

/* What the ini handler needs: the result and why it stopped (inih gives the line). */
struct parse_state {
	struct lb_clientconf *out;
	char why[200];
	int failed;
};

/* inih's handler: one name = value of section. 1 to go on, 0 on an error (noted in st). */
static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
	    {"connect", offsetof(struct lb_clientconf, connect)},
	    {"rpc", offsetof(struct lb_clientconf, rpc)},
	    {"pub", offsetof(struct lb_clientconf, pub)},
	    {"key", offsetof(struct lb_clientconf, key)},
	    {"server_key", offsetof(struct lb_clientconf, server_key)},
	};

	if (st->failed)
		return 0;
	if (strcmp(section, "bridge")) {
		snprintf(st->why, sizeof st->why, "unknown section [%.64s] (only [bridge])",
			 section);
		st->failed = 1;
		return 0;
	}
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
		if (!strcmp(name, keys[k].name)) {
			char *dst = (char *)st->out + keys[k].off;

			if (copy_n(dst, LB_CLIENT_STR, value, strlen(value)) < 0) {
				snprintf(st->why, sizeof st->why, "%s is too long", name);
				st->failed = 1;
				return 0;
			}
			return 1;
		}
	snprintf(st->why, sizeof st->why,
		 "unknown key '%.64s' (connect, rpc, pub, key, server_key)", name);
	st->failed = 1;
	return 0;
}

int lb_clientconf_parse(const char *text, struct lb_clientconf *out, char *err, size_t err_cap)
{
	struct parse_state st = {.out = out};
	int rc = 0;

	memset(out, 0, sizeof *out);
	/* inih would cut a longer line in two, and say the second half is not INI */
	for (const char *line = text; *line; rc++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > LINE_MAX_BYTES) {
			snprintf(err, err_cap, "line %d: longer than %d bytes", rc + 1,
				 LINE_MAX_BYTES);
			return LB_EINVAL;
		}
		line += len + (nl != NULL);
	}
	rc = ini_parse_string(text, on_value, &st);
	if (st.failed) {
		snprintf(err, err_cap, "line %d: %s", rc, st.why);
		return LB_EINVAL;
	}
	if (rc != 0) {
		snprintf(err, err_cap, "line %d: not 'name = value' nor '[section]'", rc);
		return LB_EINVAL;
	}
	return 0;
}
