/* keys.h - the CURVE key store: clients' public certificates with their role and name. */
#ifndef LB_KEYS_H
#define LB_KEYS_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../util/error.h"
#include "access.h"

#define LB_KEYS_MAX 10000	     /* keys registered at most */
#define LB_KEY_NAME_MAX 63	     /* a display name's bytes (UTF-8) */
#define LB_KEYS_CHECK_NS 250000000LL /* how often the directory's mtime is looked at */

/* One registered client key (its public certificate, keys/<fingerprint>.cert). */
typedef struct lb_key {
	char pub[41]; /* Z85 public key */
	char fp[17];  /* fingerprint: 16 hex digits of the SHA-256 of the 32-byte key */
	char name[LB_KEY_NAME_MAX + 1];
	lb_role role;
	char created[32];  /* ISO 8601 UTC, as recorded in the certificate */
	int64_t last_seen; /* realtime ns of its last request (this run only), 0: never */
} lb_key;

/*
 * The store: <data_dir>/keys/ of zcert public certificates (metadata role, name, created), one
 * file per key; revoked ones moved to keys/revoked/. Kept in memory sorted by public key, loaded
 * again when the directory's mtime changes (looked at no more often than LB_KEYS_CHECK_NS).
 */
typedef struct lb_keys {
	char dir[PATH_MAX];
	lb_key *v;
	size_t n, cap;
	struct timespec mtime; /* of dir when last loaded */
	unsigned long ino;
	bool loaded;
	int64_t next_check; /* monotonic ns */
	unsigned gen;	    /* changes whenever keys are loaded, added or revoked */
} lb_keys;

/* A store over <data_dir>/keys (the directory is made on the first key added); NULL on ENOMEM
 * or a path too long. Nothing is read until lb_keys_refresh. */
lb_keys *lb_keys_new(const char *data_dir);

/* Free the store. Accepts NULL; nulls the pointer. */
void lb_keys_destroy(lb_keys **pk);

/*
 * Load the directory again if its mtime changed since the last load (stat at most once per
 * LB_KEYS_CHECK_NS of now, monotonic ns; force: look now). Bad files (not a certificate, a bad
 * role, a name too long) and keys beyond LB_KEYS_MAX are skipped with a warning. Returns the number
 * of keys, or LB_EFAIL when the directory cannot be read (the keys already known are kept; an
 * absent directory is no keys).
 */
int lb_keys_refresh(lb_keys *k, int64_t now, bool force);

/* The key of a Z85 public key, or NULL (unknown or revoked). Binary search: no I/O. */
lb_key *lb_keys_find(lb_keys *k, const char *pub);

/* The key whose name or fingerprint is which, or NULL. */
lb_key *lb_keys_lookup(lb_keys *k, const char *which);

/*
 * Register a public key (Z85, 40 characters) with role and name (1..63 bytes of UTF-8, no
 * control characters or quotes, unique); created is a realtime ns timestamp. Writes the
 * certificate (a temporary file renamed) and updates the store. 0, or LB_EFAIL with err set
 * (invalid_params: a bad key, a name in use, the store full; internal: the disk).
 */
int lb_keys_add(lb_keys *k, const char *pub, lb_role role, const char *name, int64_t created,
		lb_error *err);

/* Revoke the key named which (a name or a fingerprint): its certificate moves to keys/revoked/.
 * out (if not NULL) receives it. 0, or LB_EFAIL with err set (unknown key, the disk). */
int lb_keys_revoke(lb_keys *k, const char *which, lb_key *out, lb_error *err);

/* Whether name is a valid display name (see lb_keys_add). */
bool lb_keys_name_ok(const char *name);

/* The fingerprint of a Z85 public key into fp[17]; 0, or LB_EINVAL when it is not one. */
int lb_keys_fingerprint(const char *pub, char fp[17]);

/*
 * The bridge's own key pair: <data_dir>/server_key (public certificate) and server_key_secret
 * (mode 0600), made on first need. pub and sec receive the Z85 keys. 0, or LB_EFAIL with err set.
 */
int lb_keys_server(const char *data_dir, char pub[41], char sec[41], lb_error *err);

/* The keys as keys.list shows them, by name: [{name, role, fingerprint, public_key, created,
 * last_seen}], a new array (NULL on ENOMEM). */
json_t *lb_keys_json(const lb_keys *k);

#endif
