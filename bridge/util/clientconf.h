/* clientconf.h - how a client (labctl) finds a networked bridge: --connect lists, client.ini. */
#ifndef LB_CLIENTCONF_H
#define LB_CLIENTCONF_H

#include <stdbool.h>
#include <stddef.h>

#define LB_CLIENT_STR 512	/* each value, with its terminating NUL */
#define LB_CLIENT_RPC_PORT 5556 /* the ports a bare host name stands for (PROTOCOL.md) */
#define LB_CLIENT_PUB_PORT 5555

/* What a client.ini says; an empty string is a value not given. */
struct lb_clientconf {
	char connect[LB_CLIENT_STR];	/* connect = RPC[,PUB], a host, or auto / auto:NAME */
	char rpc[LB_CLIENT_STR];	/* rpc = EP */
	char pub[LB_CLIENT_STR];	/* pub = EP */
	char key[LB_CLIENT_STR];	/* key = FILE (a zcert secret certificate) */
	char server_key[LB_CLIENT_STR]; /* server_key = Z85 | FILE */
};

/*
 * Split a --connect value into its request and stream endpoints: "tcp://H:P1,tcp://H:P2" (the
 * request endpoint first), "tcp://H:P" (requests only: *pub becomes ""), or a bare host name or
 * address "H" (tcp://H:5556 and tcp://H:5555; an IPv6 address in brackets). Each endpoint must
 * be tcp://HOST:PORT. 0, or LB_EINVAL with why in err (err_cap bytes) when spec is none of
 * these or does not fit.
 */
int lb_connect_split(const char *spec, char *rpc, size_t rpc_cap, char *pub, size_t pub_cap,
		     char *err, size_t err_cap);

/*
 * Whether ep is a tcp:// endpoint beyond this computer (a host other than 127.x.y.z,
 * localhost and [::1]): one a bridge serves with CURVE only. Never fails.
 */
bool lb_endpoint_remote(const char *ep);

/*
 * Read the text of a client.ini (inih syntax; section [bridge], keys connect, rpc, pub, key,
 * server_key; '#' and ';' comments) into *out, zeroed first. 0; LB_EINVAL with "line N: why"
 * in err when a line is not INI, a key or section is unknown, or a value is too long.
 */
int lb_clientconf_parse(const char *text, struct lb_clientconf *out, char *err, size_t err_cap);

#endif
