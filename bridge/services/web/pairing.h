/* pairing.h - pairing codes and web sessions (bridge/HTTP.md): thread-safe, time passed in. */
#ifndef LB_PAIRING_H
#define LB_PAIRING_H

#include <jansson.h>
#include <stdint.h>

#include "../../core/access.h"
#include "../../util/clock.h"
#include "../../util/error.h"
#include "../../../protocols/httpapi.h"

#define LB_PAIRS_MAX 256     /* live pairings */
#define LB_SESSIONS_MAX 1024 /* sessions kept (live, or ended and remembered for a while) */
#define LB_PAIR_FAILS 5	     /* wrong codes from one address ... */
#define LB_PAIR_WINDOW_NS 60000000000LL /* ... within this window: refused until it ends */

typedef struct lb_pairs lb_pairs;

/* A pairing as created. */
typedef struct lb_pair_info {
	char id[32];
	char code[LB_HTTPAPI_CODE_LEN + 1];
	lb_role role;
	char name[64];
	int64_t expires_real; /* ns since 1970 */
	int uses;
} lb_pair_info;

/* A session's identity, as the bridge gives it. */
typedef struct lb_session_info {
	char session[24]; /* "s12": its own id (leases) */
	char user[48];	  /* "web:p3.TAG": what owns its jobs */
	char name[64];
	lb_role role;
	int64_t expires_real; /* its maximum age, ns since 1970 */
	int idle_s;
} lb_session_info;

/* Outcomes of lb_pairs_redeem and lb_pairs_check besides 0. */
enum { LB_PAIRS_REFUSED = -10, LB_PAIRS_LIMITED = -11 };

/*
 * A new empty store with this idle timeout for sessions; tag (up to 15 characters, e.g. random
 * hex) ends every pairing id ("p3.TAG"), so that a pairing made after a restart never takes the
 * user name ("web:p3.TAG") that owns an earlier one's jobs. NULL on ENOMEM.
 */
lb_pairs *lb_pairs_new(int64_t idle_ns, const char *tag);

/*
 * Keep the store in the SQLite file at path from now on (only hashes of codes and tokens): load
 * the pairings and sessions still live at now, drop the others; every change is written (a
 * session's last use at most once a minute, WAL without a sync per write). An unreadable file is
 * logged and moved aside (path.bad-SECONDS) and a new one started. 0, or LB_EFAIL with err when
 * not even a new file can be made (the store stays in memory).
 */
int lb_pairs_persist(lb_pairs *p, const char *path, lb_now now, lb_error *err);

/* Free the store; accepts NULL and nulls *p. */
void lb_pairs_destroy(lb_pairs **p);

/*
 * Create a pairing: a code from rnd (LB_HTTPAPI_CODE_LEN random bytes; a code already live is
 * refused: call again), valid ttl_ns, for uses sessions, each at most session_ns long. 0 with
 * *out, or LB_EFAIL with err (too many pairings, code in use).
 */
int lb_pairs_add(lb_pairs *p, lb_role role, const char *name, int64_t ttl_ns, int uses,
		 int64_t session_ns, const unsigned char *rnd, lb_now now, lb_pair_info *out,
		 lb_error *err);

/* The live pairings {pairings: [{id, role, name, expires, uses_left, sessions}]} (no codes). */
json_t *lb_pairs_list(lb_pairs *p, lb_now now);

/* Add the name of every live pairing and live session of role as a key of names (an object used
 * as a set). Never fails (a name that cannot be added is left out). */
void lb_pairs_names(lb_pairs *p, lb_role role, lb_now now, json_t *names);

/* End pairing id and its sessions: how many sessions ended, or LB_EFAIL (unknown id). */
int lb_pairs_revoke(lb_pairs *p, const char *id);

/*
 * Exchange a canonical code from address addr for a session whose token is token (the caller's
 * 43 random characters). 0 with *out; LB_PAIRS_REFUSED (unknown, used up or expired code: one
 * more failure for addr) or LB_PAIRS_LIMITED (addr failed too often lately), with *why.
 */
int lb_pairs_redeem(lb_pairs *p, const char *code, const char *addr, const char *token, lb_now now,
		    lb_session_info *out, const char **why);

/*
 * The session of token, used now (its idle timer restarts): 0 with *out, or LB_PAIRS_REFUSED
 * with *why ("unknown token", "session expired", "session revoked").
 */
int lb_pairs_check(lb_pairs *p, const char *token, lb_now now, lb_session_info *out,
		   const char **why);

#endif
