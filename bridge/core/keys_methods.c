/* keys_methods.c - the keys.* requests: register, list, revoke and export clients' CURVE keys. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "../sdk/params.h"
#include "../util/log.h"
#include "call.h"
#include "keys.h"
#include "net.h"
#include "server.h"
#include "service.h"

/*
 * The endpoint a client should use for bound endpoint ep: a wildcard address (0.0.0.0, *, [::])
 * becomes this computer's first non-loopback IPv4 address; "" when ep is "". Into out[cap].
 */
static void advertised(const char *ep, char *out, size_t cap)
{
	const char *host = strstr(ep, "://"), *colon = strrchr(ep, ':');
	struct ifaddrs *ifs = NULL;
	char addr[INET_ADDRSTRLEN] = "";

	snprintf(out, cap, "%s", ep);
	if (!host || !colon || colon < host + 3)
		return;
	host += 3;
	if (strncmp(host, "0.0.0.0:", 8) != 0 && strncmp(host, "*:", 2) != 0 &&
	    strncmp(host, "[::]:", 5) != 0)
		return;
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i && !addr[0]; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    !(i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP))
				inet_ntop(AF_INET,
					  &((const struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  addr, sizeof addr);
		freeifaddrs(ifs);
	}
	if (addr[0])
		snprintf(out, cap, "%.*s%s%s", (int)(host - ep), ep, addr, colon);
}

/* What a client needs besides its own key: the bridge's public key and the network endpoints
 * ({server_key, net_rpc, net_pub}, the endpoints null when not served). NULL with err. */
static json_t *connection_info(lb_server *s, lb_error *err)
{
	const char *sk = srv_server_key(s, err);
	char rpc[300], pub[300];

	if (!sk)
		return NULL;
	advertised(lb_server_endpoint(s, "net_rpc"), rpc, sizeof rpc);
	advertised(lb_server_endpoint(s, "net_pub"), pub, sizeof pub);
	return json_pack("{s:s,s:s?,s:s?}", "server_key", sk, "net_rpc", rpc[0] ? rpc : NULL,
			 "net_pub", pub[0] ? pub : NULL);
}

/* The store, looked at again now (a file added or removed by hand counts at once for what a
 * teacher does and sees); NULL with err when there is none. */
static lb_keys *store(lb_server *s, lb_call *c, lb_error *err)
{
	lb_keys *k = srv_keys(s);

	if (!k) {
		lb_error_set(err, LB_ERR_NOT_SUPPORTED, "this bridge has no key store");
		return NULL;
	}
	lb_keys_refresh(k, c->now.mono, true);
	return k;
}

/* One key as clients see it (keys.list's items). */
static json_t *key_json(const lb_key *key)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "name", key->name, "role",
			 lb_role_name(key->role), "fingerprint", key->fp, "public_key", key->pub,
			 "created", key->created, "last_seen",
			 key->last_seen ? json_integer(key->last_seen) : json_null());
}

/*
 * keys.new {role, name, public_key?}: register a key. Without public_key the bridge makes the
 * pair and returns the secret key once (it keeps only the public certificate); with one, the
 * client kept its secret. The result: the key, and what a client needs to connect.
 */
static int m_new(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"role", "name", "public_key", NULL};
	const char *role = NULL, *name = NULL, *given = NULL;
	char pub[41], sec[41] = "";
	lb_role r;
	lb_keys *k;
	json_t *info;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "role", true, &role, err) < 0 ||
	    lb_param_string(c->req.params, "name", true, &name, err) < 0 ||
	    lb_param_string(c->req.params, "public_key", false, &given, err) < 0)
		return LB_EFAIL;
	if (lb_role_parse(role, &r) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "role must be teacher, student or observer");
	if (!(k = store(s, c, err)))
		return LB_EFAIL;
	if (given) {
		snprintf(pub, sizeof pub, "%s", given);
		if (strlen(given) != 40)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "public_key is 40 characters of Z85");
	} else if (zmq_curve_keypair(pub, sec) < 0) {
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot make a key pair");
	}
	info = connection_info(s, err);
	if (!info)
		return LB_EFAIL;
	if (lb_keys_add(k, pub, r, name, c->now.real, err) < 0) {
		json_decref(info);
		return LB_EFAIL;
	}
	lb_info("%s registered %s key '%s'", c->client.user, role, name);
	json_object_update_new(info, key_json(lb_keys_find(k, pub)));
	if (sec[0])
		json_object_set_new(info, "secret_key", json_string(sec));
	memset(sec, 0, sizeof sec);
	*result = info;
	return 0;
}

/* keys.list: every registered key (never a secret), the bridge's public key and endpoints. */
static int m_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	lb_keys *k;
	json_t *info;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(k = store(s, c, err)))
		return LB_EFAIL;
	info = connection_info(s, err);
	if (!info)
		return LB_EFAIL;
	json_object_set_new(info, "keys", lb_keys_json(k));
	*result = info;
	return 0;
}

/* keys.revoke {key: NAME|FINGERPRINT}: the key gets nothing from now on (new connections are
 * refused, its open ones closed, any request still on its way refused). */
static int m_revoke(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"key", NULL};
	const char *which = NULL;
	lb_keys *k;
	lb_key out;
	int closed;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "key", true, &which, err) < 0 ||
	    !(k = store(s, c, err)) || lb_keys_revoke(k, which, &out, err) < 0)
		return LB_EFAIL;
	closed = srv_net_drop_key(s, out.pub);
	lb_info("%s revoked key '%s' (%s): %d connection(s) closed", c->client.user, out.name,
		out.fp, closed);
	*result = json_pack("{s:o,s:i}", "revoked", key_json(&out), "closed", closed);
	return 0;
}

/* keys.export {key: NAME|FINGERPRINT}: the key's public certificate and what a client needs to
 * connect (never a secret: the bridge has none of a client's). */
static int m_export(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"key", NULL};
	const char *which = NULL;
	lb_keys *k;
	lb_key *key;
	json_t *info;
	char cert[512];

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "key", true, &which, err) < 0 || !(k = store(s, c, err)))
		return LB_EFAIL;
	key = lb_keys_lookup(k, which);
	if (!key)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "no key is named '%s' (nor has that fingerprint)", which);
	info = connection_info(s, err);
	if (!info)
		return LB_EFAIL;
	/* the certificate as zcert writes it (ZPL) */
	snprintf(cert, sizeof cert,
		 "metadata\n    role = \"%s\"\n    name = \"%s\"\n    created = \"%s\"\ncurve\n    "
		 "public-key = \"%s\"\n",
		 lb_role_name(key->role), key->name, key->created, key->pub);
	json_object_update_new(info, key_json(key));
	json_object_set_new(info, "certificate", json_string(cert));
	*result = info;
	return 0;
}

/* The names of the registered student keys, as groups a teacher may assign devices to. */
static void keys_group_names(lb_server *s, json_t *names, lb_now now)
{
	lb_keys *k = srv_keys(s);
	json_t *list, *e;
	size_t i;

	if (!k)
		return;
	lb_keys_refresh(k, now.mono, false);
	list = lb_keys_json(k);
	json_array_foreach(list, i, e)
	{
		const char *role = json_string_value(json_object_get(e, "role"));
		const char *name = json_string_value(json_object_get(e, "name"));
		if (name && *name && role && strcmp(role, "student") == 0)
			json_object_set_new(names, name, json_true());
	}
	json_decref(list);
}

static const lb_method keys_methods[] = {
    {"keys.new", LB_ROLE_TEACHER, 0, m_new},
    {"keys.list", LB_ROLE_TEACHER, 0, m_list},
    {"keys.revoke", LB_ROLE_TEACHER, 0, m_revoke},
    {"keys.export", LB_ROLE_TEACHER, 0, m_export},
    {NULL, 0, 0, NULL},
};

/* The clients' CURVE keys (keys.h): teachers register, list, revoke and export them. */
static const lb_service keys_service = {
    .name = "keys",
    .methods = keys_methods,
    .group_names = keys_group_names,
};
LB_REGISTER_SERVICE(keys_service);
