/* web.c - the web service: starts the HTTP server and serves pair.new, pair.list, pair.revoke. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/service.h"
#include "../../util/config.h"
#include "../../util/log.h"
#include "../../util/qrsvg.h"
#include "web.h"

#ifndef LB_PREFIX
#define LB_PREFIX "/usr/local"
#endif

#define IDLE_NS (30 * 60 * 1000000000LL)

typedef struct web_state {
	lb_pairs *pairs;
	lb_grants *grants; /* what SSE streams receive by ownership */
	lb_web *web;
	char host[64]; /* what pairing URLs name */
	unsigned port;
} web_state;

static const lb_service web_service;

/* The service's state (NULL before init). */
static web_state *state(lb_server *s)
{
	return *lb_service_state(s, &web_service);
}

/* The page's folder: [bridge] www, else www/ beside the build tree the binary runs from
 * (build/labbridge, build/asan/labbridge), else the installed share folder; into out. */
static void find_www(const json_t *cfg, char *out, size_t cap)
{
	const char *www = lb_config_str(cfg, "bridge", "www", NULL);
	char exe[PATH_MAX];
	ssize_t n;

	if (www && *www) {
		snprintf(out, cap, "%s", www);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) { /* the binary, build/, build/asan/ */
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0'; /* one folder up */
			int len = snprintf(out, cap, "%s/www/index.html", exe);
			if (len > 0 && (size_t)len < cap && access(out, R_OK) == 0) {
				out[len - (int)strlen("/index.html")] = '\0'; /* the folder */
				return;
			}
		}
	}
	snprintf(out, cap, "%s/share/labbridge/www", LB_PREFIX);
}

/* The host pairing URLs name (as typed in a browser: IPv6 in brackets): the bound address, or,
 * bound to every address, this computer's first non-loopback IPv4 address, else (IPv6 allowed) its
 * first global IPv6 one, else loopback. */
static void url_host(const char *addr, char *out, size_t cap)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : 0;
	struct ifaddrs *ifs = NULL;
	int any6 = n == 4 && !strncmp(addr, "[::]", 4), any4 = 0, only4 = 0, found = 0;
	char text[INET6_ADDRSTRLEN];

	snprintf(out, cap, "%.*s", (int)n, addr);
	any4 = !n || !strcmp(out, "*") || !strcmp(out, "0.0.0.0");
	only4 = !strcmp(out, "0.0.0.0");
	if (!any4 && !any6)
		return; /* as given: an IPv4 address, localhost, or [IPv6] */
	snprintf(out, cap, any6 ? "[::1]" : "127.0.0.1");
	if (getifaddrs(&ifs) < 0)
		return;
	for (int pass = 0; pass < (only4 ? 1 : 2) && !found; pass++) /* IPv4 first, then IPv6 */
		for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
			const struct sockaddr *sa = i->ifa_addr;
			if (pass == 0 && !any6 && sa && sa->sa_family == AF_INET) {
				const struct in_addr *a =
				    &((const struct sockaddr_in *)sa)->sin_addr;
				if (ntohl(a->s_addr) >> 24 == 127)
					continue;
				inet_ntop(AF_INET, a, out, (socklen_t)cap);
				found = 1;
			} else if (pass == 1 && sa && sa->sa_family == AF_INET6) {
				const struct in6_addr *a =
				    &((const struct sockaddr_in6 *)sa)->sin6_addr;
				if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
				    IN6_IS_ADDR_V4MAPPED(a))
					continue;
				inet_ntop(AF_INET6, a, text, sizeof text);
				snprintf(out, cap, "[%s]", text);
				found = 1;
			}
		}
	freeifaddrs(ifs);
}

/* Start the HTTP server unless [bridge] http is "none"; 0, or LB_EFAIL (not an address: the
 * bridge does not start). A port in use or a missing folder is a warning: the bridge runs
 * without its page. */
static int web_init(lb_server *s)
{
	const json_t *cfg = srv_config(s);
	/* the daemon sets its default (main.c); a server made by a test without it serves none */
	const char *addr = lb_config_str(cfg, "bridge", "http", "none");
	web_state *st;
	char www[PATH_MAX];
	double timeout_ms = 5000;
	lb_error err;
	lb_web_opts o;
	unsigned char rnd[3];
	char tag[7];
	struct sockaddr_storage sa;
	int dual;

	if (sodium_init() < 0)
		return LB_EFAIL;
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(tag, sizeof tag, rnd, sizeof rnd);
	st = calloc(1, sizeof *st);
	if (!st || !(st->pairs = lb_pairs_new(IDLE_NS, tag)) || !(st->grants = lb_grants_new())) {
		if (st)
			lb_pairs_destroy(&st->pairs);
		free(st);
		return LB_ENOMEM;
	}
	*lb_service_state(s, &web_service) = st;
	if (srv_data_dir(s)) { /* sessions survive a restart */
		char path[PATH_MAX];
		mkdir(srv_data_dir(s), 0755); /* a bridge that never stored anything yet */
		snprintf(path, sizeof path, "%s/web.db", srv_data_dir(s));
		if (lb_pairs_persist(st->pairs, path, lb_now_read(), &err) < 0)
			lb_warn("web sessions: %s: kept in memory only (a restart ends them)",
				err.message);
	}
	if (!strcmp(addr, "none") || !*addr)
		return 0;
	if (lb_web_parse_addr(addr, &sa, &dual) < 0) {
		lb_err("[bridge] http: '%s' is not ADDR:PORT (an IPv4 address, an IPv6 one in "
		       "brackets, or * for every address), nor none",
		       addr);
		return LB_EFAIL;
	}
	lb_config_num(cfg, "bridge", "request_timeout_ms", 10, 600000, 5000, &timeout_ms, &err);
	find_www(cfg, www, sizeof www);
	o = (lb_web_opts){.addr = addr,
			  .www = www,
			  .zctx = srv_zmq_context(s),
			  .streams_endpoint = srv_streams_endpoint(s),
			  .streams_token = srv_streams_token(s),
			  .call_timeout_ms = (int)timeout_ms + 1000,
			  .pairs = st->pairs,
			  .grants = st->grants};
	st->web = lb_web_new(&o);
	if (!st->web) {
		lb_warn("the tablets' web page is not served");
		return 0;
	}
	st->port = lb_web_port(st->web);
	url_host(addr, st->host, sizeof st->host);
	lb_info("web page on http://%s:%u/ (files from %s)", st->host, st->port, www);
	printf("labbridge web page on http://%s:%u/\n", st->host, st->port);
	{
		char url[300];
		snprintf(url, sizeof url, "http://%s:%u/", st->host, st->port);
		srv_set_http(s, url);
	}
	fflush(stdout);
	return 0;
}

/* Stop the HTTP server (its streams end), then forget every session. */
static void web_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &web_service);
	web_state *st = *slot;

	if (!st)
		return;
	lb_web_destroy(&st->web);
	lb_pairs_destroy(&st->pairs);
	lb_grants_destroy(&st->grants);
	free(st);
	*slot = NULL;
}

/* pair.new {role?, name, ttl_s?, uses?, session_s?} -> {id, code, url, role, name, expires,
 * uses, served, qr_svg} (teacher); qr_svg: the QR code of url as an SVG document. */
static int m_pair_new(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"role", "name", "ttl_s", "uses", "session_s", NULL};
	web_state *st = state(s);
	json_t *p = lb_call_params(c);
	const char *role_name = "student", *name = NULL;
	long long ttl = 600, uses = 1, session_s = 4 * 3600;
	lb_role role;
	lb_pair_info info;
	char url[160], *svg;
	int rc = LB_EFAIL;

	if (lb_param_only(p, allowed, err) < 0 ||
	    lb_param_string(p, "role", false, &role_name, err) < 0 ||
	    lb_param_string(p, "name", true, &name, err) < 0 ||
	    lb_param_int(p, "ttl_s", false, 10, 86400, &ttl, err) < 0 ||
	    lb_param_int(p, "uses", false, 1, 100, &uses, err) < 0 ||
	    lb_param_int(p, "session_s", false, 1, 86400, &session_s, err) < 0)
		return LB_EFAIL;
	if (lb_role_parse(role_name, &role) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "role must be student, observer or teacher");
	if (!*name || strlen(name) > 63)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "name must be 1 to 63 bytes");
	for (int tries = 0; tries < 8 && rc < 0; tries++) { /* a code already live: another */
		unsigned char rnd[LB_HTTPAPI_CODE_LEN];
		randombytes_buf(rnd, sizeof rnd);
		rc = lb_pairs_add(st->pairs, role, name, ttl * 1000000000LL, (int)uses,
				  session_s * 1000000000LL, rnd, *lb_call_now(c), &info, err);
		if (rc < 0 && err->code != LB_ERR_INTERNAL)
			return rc;
	}
	if (rc < 0)
		return rc;
	snprintf(url, sizeof url, "http://%s:%u/#pair=%s", st->host[0] ? st->host : "127.0.0.1",
		 st->port, info.code);
	lb_info("pairing %s (%s, \"%s\", %lld use%s) made by %s", info.id, lb_role_name(role), name,
		uses, uses > 1 ? "s" : "", lb_call_client(c)->user);
	svg = lb_qrsvg(url, 0);
	*result =
	    svg ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:b, s:s}", "id", info.id, "code",
			    info.code, "url", url, "role", lb_role_name(role), "name", info.name,
			    "expires", (json_int_t)(info.expires_real / 1000000000), "uses",
			    info.uses, "served", st->web != NULL, "qr_svg", svg)
		: NULL;
	free(svg);
	sodium_memzero(&info, sizeof info);
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}

/* pair.list -> {pairings: [...]} (teacher). */
static int m_pair_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	*result = lb_pairs_list(state(s)->pairs, *lb_call_now(c));
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}

/* pair.revoke {id} -> {id, revoked, sessions} (teacher): the code and its sessions end. */
static int m_pair_revoke(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	const char *id;
	int n;

	if (lb_param_string(lb_call_params(c), "id", true, &id, err) < 0)
		return LB_EFAIL;
	n = lb_pairs_revoke(state(s)->pairs, id);
	if (n < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no pairing '%s'", id);
	lb_info("pairing %s revoked by %s (%d session%s ended)", id, lb_call_client(c)->user, n,
		n == 1 ? "" : "s");
	*result = json_pack("{s:s, s:b, s:i}", "id", id, "revoked", 1, "sessions", n);
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}

/* The names of the live student pairings and sessions, as groups a teacher may assign devices to.
 */
static void web_group_names(lb_server *s, json_t *names, lb_now now)
{
	if (state(s))
		lb_pairs_names(state(s)->pairs, LB_ROLE_STUDENT, now, names);
}

/* ---------------------------------------------------------------- streams by ownership */

#define GRANT_PREFIXES 64 /* prefixes one stream may be granted */

/* The prefixes a stream request is granted (lb_topic_emit). */
typedef struct granted {
	json_t *list; /* strings */
} granted;

static void granted_add(void *arg, const char *prefix, size_t len)
{
	granted *g = arg;

	if (json_array_size(g->list) < GRANT_PREFIXES)
		json_array_append_new(g->list, json_stringn(prefix, len));
}

/*
 * web.stream_grant {stream, prefixes: [...]} -> {prefixes: [...], dependent: N} (internal: the
 * HTTP thread's /api/stream, as the session): what the session receives of each prefix, by the
 * topic policy with the devices and owners now, a lease counting only when this session holds it.
 * The granted prefixes that depend on what it owns are remembered (grants.h) and taken back when
 * that ends. A prefix of restricted topics only, of a device it does not own: forbidden.
 */
static int m_stream_grant(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"stream", "prefixes", NULL};
	web_state *st = state(s);
	json_t *p = lb_call_params(c), *prefixes = json_object_get(p, "prefixes"), *v;
	const lb_client *who = lb_call_client(c);
	long long stream;
	granted g = {json_array()};
	size_t i, ndep = 0;
	int rc = LB_EFAIL;

	if (!g.list)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (lb_param_only(p, allowed, err) < 0 ||
	    lb_param_int(p, "stream", true, 1, INT64_MAX, &stream, err) < 0)
		goto out;
	if (!json_is_array(prefixes) || json_array_size(prefixes) > LB_HTTPAPI_TOPICS_MAX) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "prefixes: 0..%d strings",
			     LB_HTTPAPI_TOPICS_MAX);
		goto out;
	}
	json_array_foreach(prefixes, i, v)
	{
		const char *pre = json_string_value(v);
		char why[400];
		size_t before = json_array_size(g.list);
		bool dep = false;
		lb_topic_verdict r;
		if (!pre || strlen(pre) > LB_TOPIC_MAX) {
			lb_error_set(err, LB_ERR_INVALID_PARAMS, "prefixes: strings of 0..%d bytes",
				     LB_TOPIC_MAX);
			goto out;
		}
		r = srv_sub_decide(s, who, pre, strlen(pre), granted_add, &g, &dep, why,
				   sizeof why);
		if (r == LB_TOPIC_REFUSE) {
			lb_error_set(err, LB_ERR_FORBIDDEN, "a %s may not subscribe to '%s': %s",
				     lb_role_name(who->role), pre, why);
			goto out;
		}
		if (r == LB_TOPIC_ALLOW)
			granted_add(&g, pre, strlen(pre));
		/* each prefix granted that covers restricted topics it owns: remembered */
		for (size_t k = before; dep && k < json_array_size(g.list); k++) {
			const char *e = json_string_value(json_array_get(g.list, k));
			bool edep = false;
			if (srv_sub_decide(s, who, e, strlen(e), NULL, NULL, &edep, NULL, 0) !=
				LB_TOPIC_ALLOW ||
			    !edep)
				continue;
			if (lb_grants_add(st->grants, (uint64_t)stream, who, e) < 0) {
				lb_error_set(err, LB_ERR_TOO_LARGE,
					     "too many live streams by ownership");
				goto out;
			}
			ndep++;
		}
	}
	*result = json_pack("{s:O, s:I}", "prefixes", g.list, "dependent", (json_int_t)ndep);
	rc = *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
out:
	if (rc < 0)
		lb_grants_drop(st->grants, (uint64_t)stream);
	json_decref(g.list);
	return rc;
}

/* lb_grants_still_fn: whether who still receives prefix; else why, for the tablet. */
static int still_granted(void *arg, const lb_client *who, const char *prefix, char *why, size_t cap)
{
	lb_server *s = arg;
	char dev[128] = "";
	const char *slash1 = strchr(prefix, '/'), *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
	const lb_lease *l;

	if (srv_sub_decide(s, who, prefix, strlen(prefix), NULL, NULL, NULL, NULL, 0) ==
	    LB_TOPIC_ALLOW)
		return 1;
	if (slash1 && slash2 && slash2 - slash1 - 1 < (long)sizeof dev)
		snprintf(dev, sizeof dev, "%.*s", (int)(slash2 - slash1 - 1), slash1 + 1);
	l = dev[0] ? srv_lease_find(s, dev, lb_now_read().mono) : NULL;
	if (!l)
		snprintf(why, cap, "lease on %s released or expired, or its job ended",
			 dev[0] ? dev : "the device");
	else
		snprintf(why, cap, "lease on %s taken by %s (%s)", dev, l->holder.user,
			 lb_role_name(l->holder.role));
	return 0;
}

/* subs_changed: a lease, a job or the devices changed: take back what streams no longer own. */
static void web_subs_changed(lb_server *s)
{
	web_state *st = state(s);
	size_t n;

	if (!st)
		return;
	n = lb_grants_recheck(st->grants, still_granted, s);
	if (n)
		lb_info("web: %zu stream grant%s taken back (ownership ended)", n,
			n == 1 ? "" : "s");
}

static const lb_method web_internal[] = {
    {"web.stream_grant", LB_ROLE_OBSERVER, 0, m_stream_grant},
    {NULL, 0, 0, NULL},
};

static const lb_method web_methods[] = {
    {"pair.new", LB_ROLE_TEACHER, 0, m_pair_new},
    {"pair.list", LB_ROLE_TEACHER, 0, m_pair_list},
    {"pair.revoke", LB_ROLE_TEACHER, 0, m_pair_revoke},
    {NULL, 0, 0, NULL},
};

static const lb_service web_service = {
    .name = "web",
    .methods = web_methods,
    .init = web_init,
    .destroy = web_destroy,
    .group_names = web_group_names,
    .internal = web_internal,
    .subs_changed = web_subs_changed,
};

LB_REGISTER_SERVICE(web_service);
