/* labctl_discover.c - labctl discover: the bridges announced on the LAN (DNS-SD through Avahi). */
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl.h"

#define SERVICE_TYPE "_labbridge._tcp"
#define FOUND_MAX 64		 /* bridges listed at most */
#define DEFAULT_DISCOVER_MS 3000 /* labctl discover without --timeout */

/* The browse under way. */
struct browse {
	AvahiClient *client;
	const char *want; /* the name wanted, or NULL for all */
	struct labctl_found *found;
	int max, n;
	int pending;	  /* resolvers not finished */
	bool all_for_now; /* Avahi listed what it knows */
	bool failed;	  /* said on stderr */
};

/* The value of TXT record key in txt into out[cap] ("" when absent). */
static void txt_value(AvahiStringList *txt, const char *key, char *out, size_t cap)
{
	AvahiStringList *l = avahi_string_list_find(txt, key);
	char *k = NULL, *v = NULL;

	out[0] = '\0';
	if (l && avahi_string_list_get_pair(l, &k, &v, NULL) == 0 && v)
		snprintf(out, cap, "%s", v);
	avahi_free(k);
	avahi_free(v);
}

/* The entry for name in b->found: the one there, a new one, or NULL when full. */
static struct labctl_found *entry(struct browse *b, const char *name)
{
	struct labctl_found *f;

	for (int i = 0; i < b->n; i++)
		if (!strcmp(b->found[i].name, name))
			return &b->found[i];
	if (b->n == b->max)
		return NULL;
	f = &b->found[b->n++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	return f;
}

/* A service resolved (or not): noted in b->found, addresses of the same name merged. */
static void resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
		       AvahiResolverEvent event, const char *name, const char *type,
		       const char *domain, const char *host, const AvahiAddress *addr,
		       uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags, void *ud)
{
	struct browse *b = ud;
	struct labctl_found *f;
	char a[AVAHI_ADDRESS_STR_MAX];

	(void)iface, (void)proto, (void)type, (void)domain, (void)flags;
	b->pending--;
	if (event == AVAHI_RESOLVER_FOUND && (f = entry(b, name)) != NULL) {
		snprintf(f->host, sizeof f->host, "%s", host);
		f->port = port;
		avahi_address_snprint(a, sizeof a, addr);
		if (!strstr(f->addrs, a) && strlen(f->addrs) + strlen(a) + 2 < sizeof f->addrs)
			snprintf(f->addrs + strlen(f->addrs), sizeof f->addrs - strlen(f->addrs),
				 "%s%s", f->addrs[0] ? " " : "", a);
		txt_value(txt, "rpc", f->rpc, sizeof f->rpc);
		txt_value(txt, "pub", f->pub, sizeof f->pub);
		txt_value(txt, "http", f->http, sizeof f->http);
		txt_value(txt, "key", f->key, sizeof f->key);
	}
	avahi_service_resolver_free(r);
}

/* A service appeared (resolve it), or Avahi listed all it knows, or failed. */
static void browse_cb(AvahiServiceBrowser *sb, AvahiIfIndex iface, AvahiProtocol proto,
		      AvahiBrowserEvent event, const char *name, const char *type,
		      const char *domain, AvahiLookupResultFlags flags, void *ud)
{
	struct browse *b = ud;

	(void)sb, (void)flags;
	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (b->want && strcmp(name, b->want))
			break;
		if (avahi_service_resolver_new(b->client, iface, proto, name, type, domain,
					       AVAHI_PROTO_UNSPEC, 0, resolve_cb, b))
			b->pending++;
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW: b->all_for_now = true; break;
	case AVAHI_BROWSER_FAILURE:
		labctl_errmsg("labctl: browsing the LAN failed: %s\n",
			      avahi_strerror(avahi_client_errno(b->client)));
		b->failed = true;
		break;
	default: break;
	}
}

/* The client's state: a daemon that goes away ends the browse. */
static void client_cb(AvahiClient *c, AvahiClientState state, void *ud)
{
	struct browse *b = ud;

	if (state == AVAHI_CLIENT_FAILURE && !b->failed) {
		labctl_errmsg("labctl: avahi-daemon: %s\n", avahi_strerror(avahi_client_errno(c)));
		b->failed = true;
	}
}

int labctl_browse(const char *want, long timeout_ms, struct labctl_found *found, int max, int *n)
{
	struct browse b = {.want = want, .found = found, .max = max};
	AvahiSimplePoll *sp = avahi_simple_poll_new();
	AvahiServiceBrowser *sb = NULL;
	int64_t deadline = labctl_mono_ms() + timeout_ms;
	int error = 0, rc = -1;

	*n = 0;
	if (!sp) {
		labctl_errmsg("labctl: out of memory\n");
		return -1;
	}
	b.client = avahi_client_new(avahi_simple_poll_get(sp), 0, client_cb, &b, &error);
	if (!b.client) {
		labctl_errmsg("labctl: cannot browse the LAN: no avahi-daemon (%s)\n",
			      avahi_strerror(error));
		goto out;
	}
	sb = avahi_service_browser_new(b.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, SERVICE_TYPE,
				       NULL, 0, browse_cb, &b);
	if (!sb) {
		labctl_errmsg("labctl: cannot browse the LAN: %s\n",
			      avahi_strerror(avahi_client_errno(b.client)));
		goto out;
	}
	/* until Avahi listed all it knows and each was resolved, the one wanted found, or the
	 * time is up */
	while (!b.failed && !(b.all_for_now && b.pending == 0) && !(want && b.n > 0) &&
	       !labctl_stopping()) {
		int64_t left = deadline - labctl_mono_ms();

		if (left <= 0 || avahi_simple_poll_iterate(sp, (int)(left < 100 ? left : 100)) != 0)
			break;
	}
	if (!b.failed)
		rc = 0;
	*n = b.n;
out:
	if (sb)
		avahi_service_browser_free(sb);
	if (b.client)
		avahi_client_free(b.client);
	avahi_simple_poll_free(sp);
	return rc;
}

/* labctl discover [--timeout S] [--json]. */
int labctl_cmd_discover(void *ctx, const struct labctl_opts *o)
{
	static struct labctl_found found[FOUND_MAX];
	struct labctl_table t = {.ncols = 7};
	static const char *const head[] = {"NAME", "HOST", "ADDRESSES", "RPC",
					   "PUB",  "HTTP", "KEY"};
	long ms = o->timeout_set ? (long)(o->timeout_s * 1000) : DEFAULT_DISCOVER_MS;
	json_t *list = NULL;
	int n = 0, st = LABCTL_FAIL;

	(void)ctx;
	labctl_catch_stop();
	if (labctl_browse(NULL, ms, found, FOUND_MAX, &n) < 0)
		return LABCTL_FAIL;
	if (o->json) {
		list = json_array();
		for (int i = 0; list && i < n; i++) {
			const struct labctl_found *f = &found[i];
			json_t *addrs = json_array();
			char buf[sizeof f->addrs], *save = NULL;

			snprintf(buf, sizeof buf, "%s", f->addrs);
			for (char *a = strtok_r(buf, " ", &save); a && addrs;
			     a = strtok_r(NULL, " ", &save))
				json_array_append_new(addrs, json_string(a));
			json_array_append_new(
			    list,
			    json_pack("{s:s,s:s,s:o,s:i,s:s?,s:s?,s:s?,s:s?}", "name", f->name,
				      "host", f->host, "addresses", addrs ? addrs : json_null(),
				      "port", f->port, "rpc", f->rpc[0] ? f->rpc : NULL, "pub",
				      f->pub[0] ? f->pub : NULL, "http",
				      f->http[0] ? f->http : NULL, "key",
				      f->key[0] ? f->key : NULL));
		}
		st = list && labctl_print_json(list) == 0 ? LABCTL_OK : LABCTL_FAIL;
		json_decref(list);
		return st;
	}
	if (n == 0) {
		printf("no bridge found on the LAN within %ld ms\n", ms);
		return LABCTL_OK;
	}
	if (labctl_table_add(&t, head) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		const struct labctl_found *f = &found[i];
		const char *row[7] = {f->name,
				      f->host,
				      f->addrs,
				      f->rpc[0] ? f->rpc : NULL,
				      f->pub[0] ? f->pub : NULL,
				      f->http[0] ? f->http : NULL,
				      f->key[0] ? f->key : NULL};

		if (labctl_table_add(&t, row) < 0)
			goto out;
	}
	labctl_table_print(&t);
	st = LABCTL_OK;
out:
	labctl_table_free(&t);
	return st;
}
