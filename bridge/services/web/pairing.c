/* pairing.c - pairing codes and web sessions (bridge/HTTP.md): thread-safe, time passed in. */
#include "pairing.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMEMBER_NS 3600000000000LL /* an ended session still says why for an hour */
#define ADDRS_MAX 256

typedef struct pairing {
	lb_pair_info info;
	int64_t expires; /* mono */
	int uses_left;
	int64_t session_ns;
	unsigned sessions; /* opened with it */
} pairing;

typedef struct session {
	char token[LB_HTTPAPI_TOKEN_LEN + 1];
	char pairing[32];
	lb_session_info info;
	int64_t last, max_end; /* mono */
	const char *ended;     /* NULL while live, else why */
	int64_t ended_at;      /* mono */
} session;

typedef struct addr_fails {
	char addr[64];
	int64_t since; /* mono: the window's start */
	unsigned fails;
} addr_fails;

struct lb_pairs {
	pthread_mutex_t mu;
	char tag[16];
	int64_t idle_ns;
	unsigned next_pair, next_session;
	pairing pairs[LB_PAIRS_MAX];
	size_t npairs;
	session *sess; /* LB_SESSIONS_MAX */
	size_t nsess;
	addr_fails addrs[ADDRS_MAX];
	size_t naddrs;
};

lb_pairs *lb_pairs_new(int64_t idle_ns, const char *tag)
{
	lb_pairs *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->sess = calloc(LB_SESSIONS_MAX, sizeof *p->sess);
	if (!p->sess) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->idle_ns = idle_ns;
	snprintf(p->tag, sizeof p->tag, "%s", tag);
	return p;
}

void lb_pairs_destroy(lb_pairs **pp)
{
	lb_pairs *p = pp ? *pp : NULL;

	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	sodium_memzero(p->sess, LB_SESSIONS_MAX * sizeof *p->sess);
	free(p->sess);
	free(p);
	*pp = NULL;
}

/* Drop expired pairings, end sessions past their time, forget long-ended ones (mu held). */
static void sweep(lb_pairs *p, int64_t now)
{
	for (size_t i = 0; i < p->npairs;)
		if (p->pairs[i].expires <= now)
			p->pairs[i] = p->pairs[--p->npairs];
		else
			i++;
	for (size_t i = 0; i < p->nsess;) {
		session *s = &p->sess[i];
		if (!s->ended && (now >= s->max_end || now - s->last >= p->idle_ns)) {
			s->ended = "session expired: pair again";
			s->ended_at = now;
		}
		if (s->ended && now - s->ended_at >= REMEMBER_NS) {
			p->sess[i] = p->sess[--p->nsess];
			sodium_memzero(&p->sess[p->nsess], sizeof p->sess[p->nsess]);
		} else {
			i++;
		}
	}
}

int lb_pairs_add(lb_pairs *p, lb_role role, const char *name, int64_t ttl_ns, int uses,
		 int64_t session_ns, const unsigned char *rnd, lb_now now, lb_pair_info *out,
		 lb_error *err)
{
	pairing *g;
	char code[LB_HTTPAPI_CODE_LEN + 1];
	int rc = LB_EFAIL;

	lb_httpapi_code_make(rnd, code);
	pthread_mutex_lock(&p->mu);
	sweep(p, now.mono);
	if (p->npairs == LB_PAIRS_MAX) {
		lb_error_set(err, LB_ERR_TOO_LARGE, "%d pairings are live: revoke some first",
			     LB_PAIRS_MAX);
		goto out;
	}
	for (size_t i = 0; i < p->npairs; i++)
		if (strcmp(p->pairs[i].info.code, code) == 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "code in use");
			goto out;
		}
	g = &p->pairs[p->npairs++];
	memset(g, 0, sizeof *g);
	snprintf(g->info.id, sizeof g->info.id, "p%u.%s", ++p->next_pair, p->tag);
	memcpy(g->info.code, code, sizeof code);
	g->info.role = role;
	snprintf(g->info.name, sizeof g->info.name, "%s", name);
	g->info.expires_real = now.real + ttl_ns;
	g->info.uses = uses;
	g->expires = now.mono + ttl_ns;
	g->uses_left = uses;
	g->session_ns = session_ns;
	*out = g->info;
	rc = 0;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

json_t *lb_pairs_list(lb_pairs *p, lb_now now)
{
	json_t *a = json_array();

	pthread_mutex_lock(&p->mu);
	sweep(p, now.mono);
	for (size_t i = 0; a && i < p->npairs; i++) {
		const pairing *g = &p->pairs[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i}", "id", g->info.id, "role",
				 lb_role_name(g->info.role), "name", g->info.name, "expires",
				 (json_int_t)(g->info.expires_real / 1000000000), "uses_left",
				 g->uses_left, "sessions", (int)g->sessions));
	}
	pthread_mutex_unlock(&p->mu);
	return a ? json_pack("{s:o}", "pairings", a) : NULL;
}

void lb_pairs_names(lb_pairs *p, lb_role role, lb_now now, json_t *names)
{
	pthread_mutex_lock(&p->mu);
	sweep(p, now.mono);
	for (size_t i = 0; i < p->npairs; i++)
		if (p->pairs[i].info.role == role && p->pairs[i].info.name[0])
			json_object_set_new(names, p->pairs[i].info.name, json_true());
	for (size_t i = 0; i < p->nsess; i++)
		if (!p->sess[i].ended && p->sess[i].info.role == role && p->sess[i].info.name[0])
			json_object_set_new(names, p->sess[i].info.name, json_true());
	pthread_mutex_unlock(&p->mu);
}

int lb_pairs_revoke(lb_pairs *p, const char *id)
{
	int found = 0, n = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->npairs; i++)
		if (strcmp(p->pairs[i].info.id, id) == 0) {
			p->pairs[i] = p->pairs[--p->npairs];
			found = 1;
			break;
		}
	for (size_t i = 0; i < p->nsess; i++)
		if (strcmp(p->sess[i].pairing, id) == 0) {
			found = 1;
			if (!p->sess[i].ended) {
				p->sess[i].ended = "session revoked by the teacher";
				p->sess[i].ended_at = p->sess[i].last;
				n++;
			}
		}
	pthread_mutex_unlock(&p->mu);
	return found ? n : LB_EFAIL;
}

/* The failure record of addr (a new one, evicting the oldest, if none); mu held. */
static addr_fails *fails_of(lb_pairs *p, const char *addr, int64_t now)
{
	size_t oldest = 0;

	for (size_t i = 0; i < p->naddrs; i++) {
		if (strcmp(p->addrs[i].addr, addr) == 0) {
			if (now - p->addrs[i].since >= LB_PAIR_WINDOW_NS) {
				p->addrs[i].since = now;
				p->addrs[i].fails = 0;
			}
			return &p->addrs[i];
		}
		if (p->addrs[i].since < p->addrs[oldest].since)
			oldest = i;
	}
	if (p->naddrs < ADDRS_MAX)
		oldest = p->naddrs++;
	snprintf(p->addrs[oldest].addr, sizeof p->addrs[oldest].addr, "%s", addr);
	p->addrs[oldest].since = now;
	p->addrs[oldest].fails = 0;
	return &p->addrs[oldest];
}

int lb_pairs_redeem(lb_pairs *p, const char *code, const char *addr, const char *token, lb_now now,
		    lb_session_info *out, const char **why)
{
	addr_fails *f;
	pairing *g = NULL;
	session *s;
	int rc = LB_PAIRS_REFUSED;

	pthread_mutex_lock(&p->mu);
	sweep(p, now.mono);
	f = fails_of(p, addr, now.mono);
	if (f->fails >= LB_PAIR_FAILS) {
		*why = "too many wrong codes from this address: wait a minute";
		rc = LB_PAIRS_LIMITED;
		goto out;
	}
	for (size_t i = 0; i < p->npairs; i++)
		if (sodium_memcmp(p->pairs[i].info.code, code, LB_HTTPAPI_CODE_LEN) == 0 &&
		    strlen(code) == LB_HTTPAPI_CODE_LEN)
			g = &p->pairs[i];
	if (!g || g->uses_left <= 0) {
		f->fails++;
		*why = "unknown or expired pairing code";
		goto out;
	}
	if (p->nsess == LB_SESSIONS_MAX) {
		*why = "too many sessions: ask the teacher to revoke old pairings";
		goto out;
	}
	s = &p->sess[p->nsess++];
	memset(s, 0, sizeof *s);
	snprintf(s->token, sizeof s->token, "%s", token);
	snprintf(s->pairing, sizeof s->pairing, "%s", g->info.id);
	snprintf(s->info.session, sizeof s->info.session, "s%u", ++p->next_session);
	snprintf(s->info.user, sizeof s->info.user, "web:%s", g->info.id);
	snprintf(s->info.name, sizeof s->info.name, "%s", g->info.name);
	s->info.role = g->info.role;
	s->info.expires_real = now.real + g->session_ns;
	s->info.idle_s = (int)(p->idle_ns / 1000000000);
	s->last = now.mono;
	s->max_end = now.mono + g->session_ns;
	*out = s->info;
	g->sessions++;
	if (--g->uses_left == 0) /* used up: gone (a listed pairing can still be opened) */
		*g = p->pairs[--p->npairs];
	rc = 0;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int lb_pairs_check(lb_pairs *p, const char *token, lb_now now, lb_session_info *out,
		   const char **why)
{
	session *found = NULL;
	int rc = LB_PAIRS_REFUSED;

	pthread_mutex_lock(&p->mu);
	sweep(p, now.mono);
	if (strlen(token) == LB_HTTPAPI_TOKEN_LEN)
		for (size_t i = 0; i < p->nsess; i++)
			if (sodium_memcmp(p->sess[i].token, token, LB_HTTPAPI_TOKEN_LEN) == 0)
				found = &p->sess[i];
	if (!found)
		*why = "unknown token: pair again";
	else if (found->ended)
		*why = found->ended;
	else {
		found->last = now.mono;
		*out = found->info;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}
