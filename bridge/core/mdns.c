/* mdns.c - the bridge announces itself on the LAN with DNS-SD (_labbridge._tcp) through Avahi. */
#include "mdns.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/config.h"
#include "../util/log.h"
#include "../util/yesno.h"
#include "keys.h"
#include "net.h"
#include "service.h"

#define NAME_MAX_BYTES 63 /* a DNS-SD instance name (one DNS label) */
#define RENAMES_MAX 100	  /* alternative names tried in a row before giving up */
#define RETRY_MS 5000	  /* how often D-Bus is tried again while it is not there */

/* Everything but the fields marked "main" belongs to Avahi's thread once it runs. */
struct lb_mdns {
	AvahiThreadedPoll *poll; /* main */
	AvahiClient *client;
	AvahiEntryGroup *group;
	char *name; /* avahi_malloc'd: an alternative replaces it after a collision */
	uint16_t port;
	AvahiStringList *txt;
	AvahiTimeout *retry; /* trying D-Bus again, or NULL */
	bool warned;	     /* "no avahi-daemon" said */
	bool announced;	     /* the announcement was established once */
};

static void client_cb(AvahiClient *c, AvahiClientState state, void *ud);
static void connect_client(lb_mdns *m);

/* The retry timer: try D-Bus again (Avahi's thread). */
static void retry_cb(AvahiTimeout *t, void *ud)
{
	connect_client(ud);
}

/*
 * A new client into m->client (NO_FAIL: no daemon yet is its CONNECTING state, not an error, and
 * a daemon restarting too). Without D-Bus, tried again every RETRY_MS from Avahi's thread; the
 * first failure is warned about, not the next ones.
 */
static void connect_client(lb_mdns *m)
{
	const AvahiPoll *api = avahi_threaded_poll_get(m->poll);
	struct timeval tv;
	int error = 0;

	m->client = avahi_client_new(api, AVAHI_CLIENT_NO_FAIL, client_cb, m, &error);
	if (m->client)
		return;
	if (!m->warned)
		lb_warn("cannot reach avahi-daemon (%s): the bridge is not announced on the LAN "
			"until it can",
			avahi_strerror(error));
	m->warned = true;
	avahi_elapse_time(&tv, RETRY_MS, 0);
	if (m->retry)
		api->timeout_update(m->retry, &tv);
	else if (!(m->retry = api->timeout_new(api, &tv, retry_cb, m)))
		lb_warn("out of memory: the bridge is not announced on the LAN");
}

/* Take Avahi's alternative name ("labbridge #2") after a collision; false when out of memory. */
static bool rename_service(lb_mdns *m)
{
	char *alt = avahi_alternative_service_name(m->name);

	if (!alt)
		return false;
	lb_warn("the name '%s' is taken on the LAN: announcing as '%s'", m->name, alt);
	avahi_free(m->name);
	m->name = alt;
	return true;
}

static void add_service(lb_mdns *m, AvahiClient *c);

/* The entry group's news: established (logged), a collision (another name), a failure. */
static void group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud)
{
	lb_mdns *m = ud;

	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		lb_info("announced on the LAN as '%s' (%s, port %u)", m->name, LB_MDNS_TYPE,
			(unsigned)m->port);
		m->announced = true;
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		if (!rename_service(m))
			break;
		avahi_entry_group_reset(g);
		add_service(m, avahi_entry_group_get_client(g));
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		lb_warn("the LAN announcement failed: %s",
			avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
		break;
	default: break;
	}
}

/* Add the service to the (new or reset) entry group and commit it; failures are warnings. */
static void add_service(lb_mdns *m, AvahiClient *c)
{
	int rc = 0;

	if (!m->group && !(m->group = avahi_entry_group_new(c, group_cb, m))) {
		lb_warn("cannot announce on the LAN: %s", avahi_strerror(avahi_client_errno(c)));
		return;
	}
	if (!avahi_entry_group_is_empty(m->group))
		return;
	for (int tries = 0; tries < RENAMES_MAX; tries++) {
		rc = avahi_entry_group_add_service_strlst(
		    m->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, m->name, LB_MDNS_TYPE, NULL,
		    NULL, m->port, m->txt);
		if (rc != AVAHI_ERR_COLLISION)
			break;
		avahi_entry_group_reset(m->group);
		if (!rename_service(m))
			return;
	}
	if (rc < 0 || (rc = avahi_entry_group_commit(m->group)) < 0)
		lb_warn("cannot announce '%s' on the LAN: %s", m->name, avahi_strerror(rc));
}

/* Drop the entry group (it belongs to a daemon that is gone, or to a client being freed). */
static void drop_group(lb_mdns *m)
{
	if (m->group)
		avahi_entry_group_free(m->group);
	m->group = NULL;
}

/* The client's news: the daemon running (announce), gone (wait for it), or the host's name
 * changing (withdraw until it is settled). */
static void client_cb(AvahiClient *c, AvahiClientState state, void *ud)
{
	lb_mdns *m = ud;

	switch (state) {
	case AVAHI_CLIENT_S_RUNNING: add_service(m, c); break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		if (m->group)
			avahi_entry_group_reset(m->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		drop_group(m);
		if (!m->warned)
			lb_warn("no avahi-daemon: the bridge is not announced on the LAN (DNS-SD) "
				"until one runs");
		else if (m->announced)
			lb_info("avahi-daemon gone: announcing again when it is back");
		m->warned = true;
		break;
	case AVAHI_CLIENT_FAILURE:
		drop_group(m);
		if (avahi_client_errno(c) != AVAHI_ERR_DISCONNECTED) {
			lb_warn("the LAN announcement stops: %s",
				avahi_strerror(avahi_client_errno(c)));
			break;
		}
		/* D-Bus went away: a new client, waiting for it and the daemon */
		avahi_client_free(c);
		m->client = NULL;
		connect_client(m);
		break;
	default: break;
	}
}

lb_mdns *lb_mdns_new(const char *name, uint16_t port, const char *const *txt, int ntxt)
{
	lb_mdns *m;

	if (!name || !*name || strlen(name) > NAME_MAX_BYTES || ntxt < 0 || ntxt > LB_MDNS_TXT_MAX)
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		goto oom;
	m->port = port;
	m->name = avahi_strdup(name);
	if (!m->name)
		goto oom;
	for (int i = ntxt - 1; i >= 0; i--) /* add prepends: the list keeps txt's order */
		if (!(m->txt = avahi_string_list_add(m->txt, txt[i])))
			goto oom;
	m->poll = avahi_threaded_poll_new();
	if (!m->poll)
		goto oom;
	connect_client(m); /* before the thread starts: no lock needed */
	if (avahi_threaded_poll_start(m->poll) < 0) {
		lb_warn("cannot start the LAN announcement's thread");
		goto fail;
	}
	return m;
oom:
	lb_warn("out of memory: the bridge is not announced on the LAN");
fail:
	lb_mdns_destroy(&m);
	return NULL;
}

void lb_mdns_destroy(lb_mdns **pm)
{
	lb_mdns *m;

	if (!pm || !*pm)
		return;
	m = *pm;
	if (m->poll)
		avahi_threaded_poll_stop(m->poll); /* joins the thread; fine when not started */
	if (m->retry)
		avahi_threaded_poll_get(m->poll)->timeout_free(m->retry);
	if (m->client)
		avahi_client_free(m->client); /* withdraws the announcement, frees the group */
	if (m->poll)
		avahi_threaded_poll_free(m->poll);
	avahi_string_list_free(m->txt);
	avahi_free(m->name);
	free(m);
	*pm = NULL;
}

/* The host to name in URLs for a bound host (n bytes at host): itself, or, when bound to every
 * address (*, 0.0.0.0, [::]), this computer's first non-loopback IPv4 address (the hostname if
 * none). */
static void url_host(const char *host, size_t n, char *out, size_t cap)
{
	struct ifaddrs *ifs = NULL;

	snprintf(out, cap, "%.*s", (int)n, host);
	if (n && strcmp(out, "*") && strcmp(out, "0.0.0.0") && strcmp(out, "[::]"))
		return;
	if (gethostname(out, cap) < 0)
		snprintf(out, cap, "localhost");
	out[cap - 1] = '\0';
	if (getifaddrs(&ifs) < 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)i->ifa_addr;
		if (!sa || sa->sin_family != AF_INET || ntohl(sa->sin_addr.s_addr) >> 24 == 127)
			continue;
		inet_ntop(AF_INET, &sa->sin_addr, out, (socklen_t)cap);
		break;
	}
	freeifaddrs(ifs);
}

/* The host (into host[cap]) and port of the web page's URL "http://HOST:PORT/"; 0 when none. */
static unsigned http_host_port(const char *url, char *host, size_t cap)
{
	const char *h = url && strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	const char *colon = h ? strrchr(h, ':') : NULL;
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;

	if (!h || !colon || port == 0 || port > 65535 || (size_t)(colon - h) >= cap)
		return 0;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	return (unsigned)port;
}

/* A bound tcp:// endpoint's URL as announced, "KEY=tcp://HOST:PORT", into out; its port, or 0
 * when ep is none or not tcp:// beyond loopback. */
static unsigned tcp_txt(const char *key, const char *ep, char *out, size_t cap)
{
	const char *colon;
	char host[64];
	unsigned long port;

	if (!ep || strncmp(ep, "tcp://", 6) || lb_endpoint_loopback(ep) ||
	    !(colon = strrchr(ep + 6, ':')))
		return 0;
	port = strtoul(colon + 1, NULL, 10);
	if (port == 0 || port > 65535)
		return 0;
	url_host(ep + 6, (size_t)(colon - (ep + 6)), host, sizeof host);
	snprintf(out, cap, "%s=tcp://%s:%lu", key, host, port);
	return (unsigned)port;
}

int srv_mdns_start(lb_server *s, lb_mdns **out)
{
	const json_t *cfg = srv_config(s);
	const char *announce = lb_config_str(cfg, "bridge", "announce", NULL);
	const char *name = lb_config_str(cfg, "bridge", "name", NULL);
	char rpc[128] = "", pub[128] = "", http[128] = "", key[32] = "", nm[80], host[64], fp[17],
	     namekv[90];
	const char *txt[LB_MDNS_TXT_MAX];
	unsigned rpc_port, http_port, port;
	int yes = announce ? lb_yesno(announce) : -1, n = 0;
	lb_error err = {0};

	*out = NULL;
	if (announce && yes < 0) {
		lb_err("[bridge] announce must be yes or no, not '%s'", announce);
		return LB_EFAIL;
	}
	if (name && (!*name || strlen(name) > NAME_MAX_BYTES)) {
		lb_err("[bridge] name must have 1 to %d bytes", NAME_MAX_BYTES);
		return LB_EFAIL;
	}
	rpc_port = tcp_txt("rpc", lb_server_endpoint(s, "net_rpc"), rpc, sizeof rpc);
	tcp_txt("pub", lb_server_endpoint(s, "net_pub"), pub, sizeof pub);
	http_port = http_host_port(lb_server_endpoint(s, "http"), host, sizeof host);
	if (http_port && strncmp(host, "127.", 4) && strcmp(host, "localhost"))
		snprintf(http, sizeof http, "http=http://%s:%u/", host, http_port);
	else
		http_port = 0;
	port = rpc_port ? rpc_port : http_port;
	if (yes == 0 || (yes < 0 && !port))
		return 0;
	if (!port) {
		lb_warn("[bridge] announce = yes, but nothing listens beyond loopback (net_rpc, "
			"http): nothing to announce");
		return 0;
	}
	if (*rpc || *pub) { /* CURVE: the key clients must trust */
		const char *sk = srv_server_key(s, &err);
		if (sk && lb_keys_fingerprint(sk, fp) == 0)
			snprintf(key, sizeof key, "key=%s", fp);
	}
	if (name)
		snprintf(nm, sizeof nm, "%s", name);
	else if (gethostname(nm, NAME_MAX_BYTES + 1) < 0 || !nm[0])
		snprintf(nm, sizeof nm, "labbridge");
	nm[NAME_MAX_BYTES] = '\0';
	snprintf(namekv, sizeof namekv, "name=%s", nm);
	txt[n++] = "v=1";
	if (*rpc)
		txt[n++] = rpc;
	if (*pub)
		txt[n++] = pub;
	if (*http)
		txt[n++] = http;
	if (*key)
		txt[n++] = key;
	txt[n++] = namekv;
	*out = lb_mdns_new(nm, (uint16_t)port, txt, n);
	return 0;
}
