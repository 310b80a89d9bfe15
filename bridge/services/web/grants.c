/* grants.c - the restricted topics granted to the web's SSE streams by ownership, taken back when
 * ownership ends (bridge/HTTP.md): shared by the main loop and the HTTP threads. */
#include "grants.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct grant {
	uint64_t stream;
	lb_client who;
	char prefix[256];
	bool revoked, announced;
	char reason[160];
} grant;

struct lb_grants {
	pthread_mutex_t mu;
	grant *v;
	size_t n, cap;
};

lb_grants *lb_grants_new(void)
{
	lb_grants *g = calloc(1, sizeof *g);

	if (g)
		pthread_mutex_init(&g->mu, NULL);
	return g;
}

void lb_grants_destroy(lb_grants **pg)
{
	lb_grants *g = pg ? *pg : NULL;

	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g->v);
	free(g);
	*pg = NULL;
}

int lb_grants_add(lb_grants *g, uint64_t stream, const lb_client *who, const char *prefix)
{
	int rc = LB_EFAIL;
	grant *e;

	if (strlen(prefix) >= sizeof e->prefix)
		return LB_EFAIL;
	pthread_mutex_lock(&g->mu);
	if (g->n == g->cap && g->cap < LB_GRANTS_MAX) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		grant *v = realloc(g->v, (cap > LB_GRANTS_MAX ? LB_GRANTS_MAX : cap) * sizeof *v);
		if (v) {
			g->v = v;
			g->cap = cap > LB_GRANTS_MAX ? LB_GRANTS_MAX : cap;
		}
	}
	if (g->n < g->cap) {
		e = &g->v[g->n++];
		memset(e, 0, sizeof *e);
		e->stream = stream;
		e->who = *who;
		snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
		rc = 0;
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

size_t lb_grants_recheck(lb_grants *g, lb_grants_still_fn *still, void *arg)
{
	size_t n = 0;

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n; i++) {
		grant *e = &g->v[i];
		if (e->revoked || still(arg, &e->who, e->prefix, e->reason, sizeof e->reason) == 1)
			continue;
		e->revoked = true;
		n++;
	}
	pthread_mutex_unlock(&g->mu);
	return n;
}

bool lb_grants_blocked(lb_grants *g, uint64_t stream, const char *topic, size_t len)
{
	bool blocked = false;

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n && !blocked; i++) {
		const grant *e = &g->v[i];
		size_t pl = strlen(e->prefix);
		blocked = e->stream == stream && e->revoked && pl <= len &&
			  memcmp(e->prefix, topic, pl) == 0;
	}
	pthread_mutex_unlock(&g->mu);
	return blocked;
}

int lb_grants_next_revoked(lb_grants *g, uint64_t stream, char *prefix, size_t pcap, char *reason,
			   size_t rcap)
{
	int found = 0;

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n && !found; i++) {
		grant *e = &g->v[i];
		if (e->stream != stream || !e->revoked || e->announced)
			continue;
		e->announced = true;
		snprintf(prefix, pcap, "%s", e->prefix);
		snprintf(reason, rcap, "%s", e->reason);
		found = 1;
	}
	pthread_mutex_unlock(&g->mu);
	return found;
}

void lb_grants_drop(lb_grants *g, uint64_t stream)
{
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n;)
		if (g->v[i].stream == stream)
			g->v[i] = g->v[--g->n];
		else
			i++;
	pthread_mutex_unlock(&g->mu);
}

size_t lb_grants_count(lb_grants *g)
{
	size_t n;

	pthread_mutex_lock(&g->mu);
	n = g->n;
	pthread_mutex_unlock(&g->mu);
	return n;
}
