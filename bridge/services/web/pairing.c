/* pairing.c - pairing codes and web sessions (bridge/HTTP.md): thread-safe, time passed in. */
#include "pairing.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/db.h"
#include "../../util/log.h"

#define REMEMBER_NS 3600000000000LL /* an ended session still says why for an hour */
#define ADDRS_MAX 256
#define LAST_USE_NS 60000000000LL /* a session's last use is written at most this often */
#define HASH_LEN crypto_hash_sha256_BYTES

/* The store's file: only hashes of codes and tokens, times on the real clock (ns since 1970). */
static const char schema[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS pairings (id TEXT PRIMARY KEY, code_hash BLOB NOT NULL,"
    " role INTEGER NOT NULL, name TEXT NOT NULL, expires INTEGER NOT NULL,"
    " uses INTEGER NOT NULL, uses_left INTEGER NOT NULL, session_ns INTEGER NOT NULL,"
    " sessions INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions (token_hash BLOB PRIMARY KEY, id TEXT NOT NULL,"
    " pairing TEXT NOT NULL, user TEXT NOT NULL, name TEXT NOT NULL, role INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, last INTEGER NOT NULL);";

typedef struct pairing {
	lb_pair_info info; /* its code zeroed: only code_hash is kept */
	unsigned char code_hash[HASH_LEN];
	int64_t expires; /* mono */
	int uses_left;
	int64_t session_ns;
	unsigned sessions; /* opened with it */
} pairing;

typedef struct session {
	unsigned char token_hash[HASH_LEN];
	char pairing[32];
	lb_session_info info;
	int64_t last, max_end; /* mono */
	int64_t last_written;  /* mono: when last was last written to the file */
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
	sqlite3 *db;	   /* NULL: in memory only */
	int64_t mono2real; /* real - mono at the last call, to write mono times as real ones */
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
	sqlite3_close(p->db);
	sodium_memzero(p->sess, LB_SESSIONS_MAX * sizeof *p->sess);
	sodium_memzero(p->pairs, sizeof p->pairs);
	free(p->sess);
	free(p);
	*pp = NULL;
}

/* ---------------------------------------------------------------- the file */

/* SHA-256 of len bytes of text into out. */
static void hash_of(const char *text, size_t len, unsigned char out[HASH_LEN])
{
	crypto_hash_sha256(out, (const unsigned char *)text, len);
}

/* Run sql with its parameters bound by the format: 't' text, 'b' a hash (HASH_LEN bytes), 'i'
 * an int64_t; a failure is logged (the store goes on in memory). mu held. */
static void db_do(lb_pairs *p, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	lb_error err = {0};
	va_list ap;

	if (!p->db)
		return;
	st = lb_db_prepare(p->db, sql, &err);
	if (!st) {
		lb_warn("web sessions: %s", err.message);
		return;
	}
	va_start(ap, fmt);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 't')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
					  SQLITE_TRANSIENT);
		else if (fmt[i] == 'b')
			sqlite3_bind_blob(st, i + 1, va_arg(ap, const unsigned char *), HASH_LEN,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (lb_db_run(p->db, st, &err) < 0)
		lb_warn("web sessions: %s", err.message);
}

/* Write pairing g as it is now. mu held. */
static void db_put_pairing(lb_pairs *p, const pairing *g)
{
	db_do(
	    p,
	    "INSERT OR REPLACE INTO pairings (id, code_hash, role, name, expires, uses, uses_left,"
	    " session_ns, sessions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    "tbitiiiii", g->info.id, g->code_hash, (int64_t)g->info.role, g->info.name,
	    g->info.expires_real, (int64_t)g->info.uses, (int64_t)g->uses_left, g->session_ns,
	    (int64_t)g->sessions);
}

/* Write session x as it is now (its mono times as real ones). mu held. */
static void db_put_session(lb_pairs *p, session *x)
{
	db_do(p,
	      "INSERT OR REPLACE INTO sessions (token_hash, id, pairing, user, name, role, expires,"
	      " last) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	      "bttttiii", x->token_hash, x->info.session, x->pairing, x->info.user, x->info.name,
	      (int64_t)x->info.role, x->info.expires_real, x->last + p->mono2real);
	x->last_written = x->last;
}

/* Forget session x in the file. mu held. */
static void db_del_session(lb_pairs *p, const session *x)
{
	db_do(p, "DELETE FROM sessions WHERE token_hash = ?", "b", x->token_hash);
}

/* Make the file at path and its journal readable by the bridge's user only: a code's hash is
 * cheap to reverse (32^6 codes), so another user must not read them. */
static void keep_private(const char *path)
{
	const char *side[] = {"", "-wal", "-shm"};

	for (size_t i = 0; i < 3; i++) {
		char f[4200];
		snprintf(f, sizeof f, "%s%s", path, side[i]);
		if (chmod(f, 0600) < 0 && errno != ENOENT)
			lb_warn("web sessions: %s: %s", f, strerror(errno));
	}
}

/* Move the unreadable file at path aside (path.bad-SECONDS), logged. */
static void set_aside(const char *path, int64_t real, const char *why)
{
	char bad[4200];
	const char *side[] = {"-wal", "-shm"};

	snprintf(bad, sizeof bad, "%s.bad-%lld", path, (long long)(real / 1000000000));
	if (rename(path, bad) < 0 && errno != ENOENT)
		lb_err("web sessions: cannot move %s aside: %s", path, strerror(errno));
	else
		lb_err("web sessions: %s (%s): kept as %s, starting with no session", path, why,
		       bad);
	for (size_t i = 0; i < 2; i++) { /* the journal of a bad file is no use */
		char j[4200];
		snprintf(j, sizeof j, "%s%s", path, side[i]);
		unlink(j);
	}
}

/* Column i of the row as text ("" when NULL). */
static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Read the file's pairings and sessions that are still live at now, drop the others; mu held,
 * p->db open. 0, or LB_EFAIL with err (an unreadable file). */
static int load(lb_pairs *p, lb_now now, lb_error *err)
{
	sqlite3_stmt *st;
	int rc;

	db_do(p, "DELETE FROM pairings WHERE expires <= ? OR uses_left <= 0", "i", now.real);
	db_do(p, "DELETE FROM sessions WHERE expires <= ? OR last <= ?", "ii", now.real,
	      now.real - p->idle_ns);
	st = lb_db_prepare(p->db,
			   "SELECT id, code_hash, role, name, expires, uses, uses_left, session_ns,"
			   " sessions FROM pairings",
			   err);
	if (!st)
		return LB_EFAIL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && p->npairs < LB_PAIRS_MAX) {
		pairing *g = &p->pairs[p->npairs];
		const void *h = sqlite3_column_blob(st, 1);
		int role = sqlite3_column_int(st, 2);
		if (!sqlite3_column_text(st, 0) || !h || sqlite3_column_bytes(st, 1) != HASH_LEN ||
		    role < LB_ROLE_OBSERVER || role > LB_ROLE_TEACHER)
			continue;
		memset(g, 0, sizeof *g);
		snprintf(g->info.id, sizeof g->info.id, "%s", col_text(st, 0));
		memcpy(g->code_hash, h, HASH_LEN);
		g->info.role = (lb_role)role;
		snprintf(g->info.name, sizeof g->info.name, "%s", col_text(st, 3));
		g->info.expires_real = sqlite3_column_int64(st, 4);
		g->info.uses = sqlite3_column_int(st, 5);
		g->uses_left = sqlite3_column_int(st, 6);
		g->session_ns = sqlite3_column_int64(st, 7);
		g->sessions = (unsigned)sqlite3_column_int(st, 8);
		g->expires = g->info.expires_real - now.real + now.mono;
		p->npairs++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return lb_error_set(err, LB_ERR_INTERNAL, "%s", sqlite3_errmsg(p->db));
	st = lb_db_prepare(p->db,
			   "SELECT token_hash, id, pairing, user, name, role, expires, last"
			   " FROM sessions",
			   err);
	if (!st)
		return LB_EFAIL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && p->nsess < LB_SESSIONS_MAX) {
		session *x = &p->sess[p->nsess];
		const void *h = sqlite3_column_blob(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		int role = sqlite3_column_int(st, 5);
		unsigned num;
		if (!h || sqlite3_column_bytes(st, 0) != HASH_LEN || !id ||
		    !sqlite3_column_text(st, 2) || !sqlite3_column_text(st, 3) ||
		    role < LB_ROLE_OBSERVER || role > LB_ROLE_TEACHER)
			continue;
		memset(x, 0, sizeof *x);
		memcpy(x->token_hash, h, HASH_LEN);
		snprintf(x->info.session, sizeof x->info.session, "%s", id);
		snprintf(x->pairing, sizeof x->pairing, "%s", col_text(st, 2));
		snprintf(x->info.user, sizeof x->info.user, "%s", col_text(st, 3));
		snprintf(x->info.name, sizeof x->info.name, "%s", col_text(st, 4));
		x->info.role = (lb_role)role;
		x->info.expires_real = sqlite3_column_int64(st, 6);
		x->info.idle_s = (int)(p->idle_ns / 1000000000);
		x->max_end = x->info.expires_real - now.real + now.mono;
		x->last = sqlite3_column_int64(st, 7) - now.real + now.mono;
		x->last_written = x->last;
		/* new sessions are numbered after the ones kept (their lease identities) */
		if (sscanf(id, "s%u", &num) == 1 && num > p->next_session)
			p->next_session = num;
		p->nsess++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return lb_error_set(err, LB_ERR_INTERNAL, "%s", sqlite3_errmsg(p->db));
	return 0;
}

int lb_pairs_persist(lb_pairs *p, const char *path, lb_now now, lb_error *err)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	p->mono2real = now.real - now.mono;
	for (int attempt = 0; attempt < 2; attempt++) {
		lb_error e = {0};
		p->npairs = p->nsess = 0;
		p->db = lb_db_open(path, schema, &e);
		if (p->db)
			keep_private(path);
		if (p->db && load(p, now, &e) == 0)
			break;
		sqlite3_close(p->db);
		p->db = NULL;
		p->npairs = p->nsess = 0;
		if (attempt == 1) { /* even a new file fails: the folder itself */
			rc = lb_error_set(err, LB_ERR_INTERNAL, "%s", e.message);
			break;
		}
		set_aside(path, now.real, e.message);
	}
	if (p->db)
		lb_info("web sessions: %zu pairing%s and %zu session%s kept from %s", p->npairs,
			p->npairs == 1 ? "" : "s", p->nsess, p->nsess == 1 ? "" : "s", path);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* ---------------------------------------------------------------- the store */

/* Drop expired pairings, end sessions past their time, forget long-ended ones (mu held). */
static void sweep(lb_pairs *p, lb_now now_)
{
	int64_t now = now_.mono;

	p->mono2real = now_.real - now_.mono;
	for (size_t i = 0; i < p->npairs;)
		if (p->pairs[i].expires <= now) {
			db_do(p, "DELETE FROM pairings WHERE id = ?", "t", p->pairs[i].info.id);
			p->pairs[i] = p->pairs[--p->npairs];
		} else {
			i++;
		}
	for (size_t i = 0; i < p->nsess;) {
		session *s = &p->sess[i];
		if (!s->ended && (now >= s->max_end || now - s->last >= p->idle_ns)) {
			s->ended = "session expired: pair again";
			s->ended_at = now;
			db_del_session(p, s);
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
	unsigned char h[HASH_LEN];
	int rc = LB_EFAIL;

	lb_httpapi_code_make(rnd, code);
	hash_of(code, LB_HTTPAPI_CODE_LEN, h);
	pthread_mutex_lock(&p->mu);
	sweep(p, now);
	if (p->npairs == LB_PAIRS_MAX) {
		lb_error_set(err, LB_ERR_TOO_LARGE, "%d pairings are live: revoke some first",
			     LB_PAIRS_MAX);
		goto out;
	}
	for (size_t i = 0; i < p->npairs; i++)
		if (memcmp(p->pairs[i].code_hash, h, HASH_LEN) == 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "code in use");
			goto out;
		}
	g = &p->pairs[p->npairs++];
	memset(g, 0, sizeof *g);
	snprintf(g->info.id, sizeof g->info.id, "p%u.%s", ++p->next_pair, p->tag);
	memcpy(g->code_hash, h, HASH_LEN);
	g->info.role = role;
	snprintf(g->info.name, sizeof g->info.name, "%s", name);
	g->info.expires_real = now.real + ttl_ns;
	g->info.uses = uses;
	g->expires = now.mono + ttl_ns;
	g->uses_left = uses;
	g->session_ns = session_ns;
	db_put_pairing(p, g);
	*out = g->info;
	memcpy(out->code, code, sizeof code); /* the caller's copy only */
	rc = 0;
out:
	pthread_mutex_unlock(&p->mu);
	sodium_memzero(code, sizeof code);
	return rc;
}

json_t *lb_pairs_list(lb_pairs *p, lb_now now)
{
	json_t *a = json_array();

	pthread_mutex_lock(&p->mu);
	sweep(p, now);
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
	sweep(p, now);
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
	db_do(p, "DELETE FROM pairings WHERE id = ?", "t", id);
	db_do(p, "DELETE FROM sessions WHERE pairing = ?", "t", id);
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
	unsigned char h[HASH_LEN];
	int rc = LB_PAIRS_REFUSED;

	hash_of(code, strlen(code), h);
	pthread_mutex_lock(&p->mu);
	sweep(p, now);
	f = fails_of(p, addr, now.mono);
	if (f->fails >= LB_PAIR_FAILS) {
		*why = "too many wrong codes from this address: wait a minute";
		rc = LB_PAIRS_LIMITED;
		goto out;
	}
	for (size_t i = 0; i < p->npairs; i++)
		if (sodium_memcmp(p->pairs[i].code_hash, h, HASH_LEN) == 0 &&
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
	hash_of(token, strlen(token), s->token_hash);
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
	if (p->db)
		sqlite3_exec(p->db, "BEGIN", NULL, NULL, NULL);
	db_put_session(p, s);
	if (--g->uses_left == 0) { /* used up: gone (a listed pairing can still be opened) */
		db_do(p, "DELETE FROM pairings WHERE id = ?", "t", g->info.id);
		*g = p->pairs[--p->npairs];
	} else {
		db_put_pairing(p, g);
	}
	if (p->db && sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		lb_warn("web sessions: %s", sqlite3_errmsg(p->db));
	rc = 0;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int lb_pairs_check(lb_pairs *p, const char *token, lb_now now, lb_session_info *out,
		   const char **why)
{
	session *found = NULL;
	unsigned char h[HASH_LEN];
	int rc = LB_PAIRS_REFUSED;

	hash_of(token, strlen(token), h);
	pthread_mutex_lock(&p->mu);
	sweep(p, now);
	if (strlen(token) == LB_HTTPAPI_TOKEN_LEN)
		for (size_t i = 0; i < p->nsess; i++)
			if (sodium_memcmp(p->sess[i].token_hash, h, HASH_LEN) == 0)
				found = &p->sess[i];
	if (!found)
		*why = "unknown token: pair again";
	else if (found->ended)
		*why = found->ended;
	else {
		found->last = now.mono;
		if (now.mono - found->last_written >= LAST_USE_NS) { /* not on every request */
			db_do(p, "UPDATE sessions SET last = ? WHERE token_hash = ?", "ib",
			      now.real, found->token_hash);
			found->last_written = now.mono;
		}
		*out = found->info;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}
