/* keys.c - the CURVE key store: zcert public certificates in <data_dir>/keys, cached. */
#include "keys.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../util/fsutil.h"
#include "../util/grow.h"
#include "../util/log.h"

lb_keys *lb_keys_new(const char *data_dir)
{
	lb_keys *k = calloc(1, sizeof *k);

	if (!k)
		return NULL;
	if ((size_t)snprintf(k->dir, sizeof k->dir, "%s/keys", data_dir) >= sizeof k->dir - 64) {
		free(k);
		return NULL;
	}
	return k;
}

void lb_keys_destroy(lb_keys **pk)
{
	if (!pk || !*pk)
		return;
	free((*pk)->v);
	free(*pk);
	*pk = NULL;
}

bool lb_keys_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	const unsigned char *p = (const unsigned char *)name;

	if (n == 0 || n > LB_KEY_NAME_MAX || name[0] == ' ' || name[n - 1] == ' ')
		return false;
	/* UTF-8 (no overlong forms checked beyond the lead byte), no controls, no quotes */
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t len = c < 0x80		  ? 1
			     : (c & 0xE0) == 0xC0 ? 2
			     : (c & 0xF0) == 0xE0 ? 3
			     : (c & 0xF8) == 0xF0 ? 4
						  : 0;
		if (len == 0 || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4) || i + len > n)
			return false;
		if (len == 1 && (c < 0x20 || c == 0x7F || c == '"' || c == '\\'))
			return false;
		for (size_t j = 1; j < len; j++)
			if ((p[i + j] & 0xC0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

int lb_keys_fingerprint(const char *pub, char fp[17])
{
	uint8_t raw[32], h[crypto_hash_sha256_BYTES];

	if (!pub || strlen(pub) != 40 || !zmq_z85_decode(raw, pub))
		return LB_EINVAL;
	crypto_hash_sha256(h, raw, sizeof raw);
	for (int i = 0; i < 8; i++)
		snprintf(fp + 2 * i, 3, "%02x", h[i]);
	return 0;
}

/* qsort/bsearch order: by public key. */
static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const lb_key *)a)->pub, ((const lb_key *)b)->pub);
}

#define CERT_MAX 4096 /* a certificate's bytes at most (one is about 300) */

/* A certificate file parsed (ZPL, as zcert writes it), or NULL when it is not one or too big.
 * Read here rather than by zcert_load: bounded, and CZMQ's loader leaks on a syntax error. */
static zconfig_t *load_conf(const char *path)
{
	char buf[CERT_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n == 0 || n > CERT_MAX || memchr(buf, '\0', n))
		return NULL;
	buf[n] = '\0';
	return zconfig_str_load(buf);
}

/* Read one certificate file into key; 0, or -1 (logged) when it is not a valid one. */
static int load_one(const char *path, lb_key *key)
{
	zconfig_t *conf = load_conf(path);
	const char *pub, *role, *name, *created;
	int rc = -1;

	if (!conf) {
		lb_warn("key store: %s is not a certificate (or over %d bytes): skipped", path,
			CERT_MAX);
		return -1;
	}
	memset(key, 0, sizeof *key);
	pub = zconfig_get(conf, "/curve/public-key", NULL);
	role = zconfig_get(conf, "/metadata/role", NULL);
	name = zconfig_get(conf, "/metadata/name", NULL);
	created = zconfig_get(conf, "/metadata/created", NULL);
	if (lb_keys_fingerprint(pub, key->fp) < 0)
		lb_warn("key store: %s has no valid public key: skipped", path);
	else if (!role || lb_role_parse(role, &key->role) < 0)
		lb_warn("key store: %s: role must be teacher, student or observer: skipped", path);
	else if (!lb_keys_name_ok(name))
		lb_warn("key store: %s: the name must be 1 to %d bytes of UTF-8 without "
			"quotes: skipped",
			path, LB_KEY_NAME_MAX);
	else {
		snprintf(key->pub, sizeof key->pub, "%s", pub);
		snprintf(key->name, sizeof key->name, "%s", name);
		snprintf(key->created, sizeof key->created, "%s", created ? created : "");
		rc = 0;
	}
	zconfig_destroy(&conf);
	return rc;
}

/* Whether file name is a certificate of the store ("*.cert", not hidden). */
static bool is_cert_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".cert") == 0;
}

/* Load the directory whole (opened as d) into a new array; the old one's last_seen carried. */
static int load_dir(lb_keys *k, DIR *d)
{
	lb_key *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	bool warned = false;

	while ((e = readdir(d))) {
		char path[PATH_MAX + 256];
		lb_key key;
		if (!is_cert_name(e->d_name))
			continue;
		if (n >= LB_KEYS_MAX) {
			if (!warned)
				lb_warn("key store: over %d keys in %s: the others are ignored",
					LB_KEYS_MAX, k->dir);
			warned = true;
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", k->dir, e->d_name);
		if (load_one(path, &key) < 0)
			continue;
		if (lb_grow(&v, &cap, n, sizeof *v) < 0) {
			free(v);
			return LB_ENOMEM;
		}
		v[n++] = key;
	}
	if (n)
		qsort(v, n, sizeof *v, key_cmp);
	/* the same key twice (copied under another name): keep one */
	for (size_t i = 1; i < n;)
		if (strcmp(v[i].pub, v[i - 1].pub) == 0)
			memmove(&v[i], &v[i + 1], (--n - i) * sizeof *v);
		else
			i++;
	for (size_t i = 0; i < n; i++) {
		lb_key *old = lb_keys_find(k, v[i].pub);
		if (old)
			v[i].last_seen = old->last_seen;
	}
	free(k->v);
	k->v = v;
	k->n = n;
	k->cap = cap;
	k->gen++;
	return (int)n;
}

int lb_keys_refresh(lb_keys *k, int64_t now, bool force)
{
	struct stat st;
	DIR *d;
	int rc;

	if (!force && k->loaded && now < k->next_check)
		return (int)k->n;
	k->next_check = now + LB_KEYS_CHECK_NS;
	if (stat(k->dir, &st) < 0) {
		if (errno != ENOENT)
			return LB_EFAIL;
		if (k->n || !k->loaded)
			k->gen++;
		k->n = 0; /* no directory: no keys */
		k->loaded = true;
		memset(&k->mtime, 0, sizeof k->mtime);
		return 0;
	}
	if (k->loaded && (unsigned long)st.st_ino == k->ino &&
	    st.st_mtim.tv_sec == k->mtime.tv_sec && st.st_mtim.tv_nsec == k->mtime.tv_nsec)
		return (int)k->n;
	d = opendir(k->dir);
	if (!d)
		return LB_EFAIL;
	rc = load_dir(k, d);
	closedir(d);
	if (rc < 0)
		return rc;
	k->mtime = st.st_mtim;
	k->ino = (unsigned long)st.st_ino;
	k->loaded = true;
	lb_dbg("key store: %zu keys in %s", k->n, k->dir);
	return rc;
}

lb_key *lb_keys_find(lb_keys *k, const char *pub)
{
	lb_key probe;

	if (!pub || strlen(pub) != 40 || k->n == 0)
		return NULL;
	memcpy(probe.pub, pub, 41);
	return bsearch(&probe, k->v, k->n, sizeof *k->v, key_cmp);
}

lb_key *lb_keys_lookup(lb_keys *k, const char *which)
{
	for (size_t i = 0; which && i < k->n; i++)
		if (strcmp(k->v[i].name, which) == 0 || strcmp(k->v[i].fp, which) == 0)
			return &k->v[i];
	return NULL;
}

/* Note the directory's mtime after a change made by the store itself (nothing to reload). */
static void note_mtime(lb_keys *k)
{
	struct stat st;

	if (stat(k->dir, &st) == 0) {
		k->mtime = st.st_mtim;
		k->ino = (unsigned long)st.st_ino;
	}
}

int lb_keys_add(lb_keys *k, const char *pub, lb_role role, const char *name, int64_t created,
		lb_error *err)
{
	uint8_t raw[32];
	lb_key key;
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	zcert_t *cert;
	time_t secs = (time_t)(created / 1000000000);
	struct tm tm;
	int rc;

	memset(&key, 0, sizeof key);
	if (lb_keys_fingerprint(pub, key.fp) < 0 || !zmq_z85_decode(raw, pub))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "not a CURVE public key (40 characters of Z85)");
	if (!lb_keys_name_ok(name))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a key's name is 1 to %d bytes of UTF-8, without quotes, "
				    "control characters or spaces at its ends",
				    LB_KEY_NAME_MAX);
	if (lb_keys_find(k, pub))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "this key is registered already");
	if (lb_keys_lookup(k, name))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a key is named '%s' already: revoke it or choose another name",
				    name);
	if (k->n >= LB_KEYS_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the key store is full (%d keys): revoke some", LB_KEYS_MAX);
	if (lb_grow(&k->v, &k->cap, k->n, sizeof *k->v) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (lb_mkdirs(k->dir, 0755) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot make %s: %s", k->dir,
				    strerror(errno));
	gmtime_r(&secs, &tm);
	strftime(key.created, sizeof key.created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	memcpy(key.pub, pub, 41);
	snprintf(key.name, sizeof key.name, "%s", name);
	key.role = role;
	/* zcert wants a secret key too: a public certificate is saved without it */
	cert = zcert_new_from(raw, raw);
	if (!cert)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	zcert_set_meta(cert, "role", "%s", lb_role_name(role));
	zcert_set_meta(cert, "name", "%s", name);
	zcert_set_meta(cert, "created", "%s", key.created);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", k->dir, key.fp);
	snprintf(path, sizeof path, "%s/%s.cert", k->dir, key.fp);
	rc = zcert_save_public(cert, tmp);
	zcert_destroy(&cert);
	if (rc < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path,
				    strerror(errno));
	}
	k->v[k->n++] = key;
	qsort(k->v, k->n, sizeof *k->v, key_cmp);
	k->gen++;
	note_mtime(k);
	lb_info("key store: added %s key '%s' (%s)", lb_role_name(role), name, key.fp);
	return 0;
}

int lb_keys_revoke(lb_keys *k, const char *which, lb_key *out, lb_error *err)
{
	lb_key *key = lb_keys_lookup(k, which);
	char from[PATH_MAX + 64], to[PATH_MAX + 320], rdir[PATH_MAX + 16];

	if (!key)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "no key is named '%s' (nor has that fingerprint)",
				    which ? which : "");
	snprintf(rdir, sizeof rdir, "%s/revoked", k->dir);
	snprintf(from, sizeof from, "%s/%s.cert", k->dir, key->fp);
	snprintf(to, sizeof to, "%s/%s.cert", rdir, key->fp);
	if (lb_mkdirs(rdir, 0755) < 0 || rename(from, to) < 0) {
		/* a file named otherwise by hand: find it */
		int found = 0;
		DIR *d = opendir(k->dir);
		struct dirent *e;
		while (d && !found && (e = readdir(d))) {
			lb_key other;
			char path[PATH_MAX + 256];
			if (!is_cert_name(e->d_name))
				continue;
			snprintf(path, sizeof path, "%s/%s", k->dir, e->d_name);
			if (load_one(path, &other) == 0 && strcmp(other.pub, key->pub) == 0) {
				snprintf(to, sizeof to, "%s/%s", rdir, e->d_name);
				found = rename(path, to) == 0;
			}
		}
		if (d)
			closedir(d);
		if (!found)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot move %s to %s: %s", from,
					    rdir, strerror(errno));
	}
	lb_info("key store: revoked %s key '%s' (%s)", lb_role_name(key->role), key->name, key->fp);
	if (out)
		*out = *key;
	memmove(key, key + 1, (size_t)(k->v + k->n - key - 1) * sizeof *key);
	k->n--;
	k->gen++;
	note_mtime(k);
	return 0;
}

/* qsort order of key pointers: by name. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(const lb_key *const *)a)->name, (*(const lb_key *const *)b)->name);
}

json_t *lb_keys_json(const lb_keys *k)
{
	json_t *a = json_array();
	const lb_key **by = k->n ? malloc(k->n * sizeof *by) : NULL;

	if (k->n && !by) {
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < k->n; i++)
		by[i] = &k->v[i];
	if (k->n)
		qsort(by, k->n, sizeof *by, name_cmp);
	for (size_t i = 0; a && i < k->n; i++) {
		const lb_key *key = by[i];
		json_array_append_new(
		    a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "name", key->name, "role",
				 lb_role_name(key->role), "fingerprint", key->fp, "public_key",
				 key->pub, "created", key->created, "last_seen",
				 key->last_seen ? json_integer(key->last_seen) : json_null()));
	}
	free(by);
	return a;
}

/* Whether path exists. */
static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int lb_keys_server(const char *data_dir, char pub[41], char sec[41], lb_error *err)
{
	char path[PATH_MAX], spath[PATH_MAX + 8];
	zcert_t *cert;

	if ((size_t)snprintf(path, sizeof path, "%s/server_key", data_dir) >= sizeof path)
		return lb_error_set(err, LB_ERR_INTERNAL, "data directory path too long");
	snprintf(spath, sizeof spath, "%s_secret", path);
	if (!exists(spath)) {
		mode_t old;
		int rc;
		if (lb_mkdirs(data_dir, 0755) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot make %s: %s", data_dir,
					    strerror(errno));
		cert = zcert_new();
		if (!cert)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot make a key pair");
		zcert_set_meta(cert, "name", "labbridge");
		old = umask(077);
		rc = zcert_save(cert, path);
		umask(old);
		zcert_destroy(&cert);
		if (rc < 0 || chmod(spath, 0600) < 0 || chmod(path, 0644) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", spath,
					    strerror(errno));
		lb_info("made the bridge's key pair: %s and %s", path, spath);
	}
	{
		zconfig_t *conf = load_conf(spath);
		const char *p = conf ? zconfig_get(conf, "/curve/public-key", "") : "";
		const char *q = conf ? zconfig_get(conf, "/curve/secret-key", "") : "";
		char derived[41];
		int ok = strlen(p) == 40 && strlen(q) == 40 && zmq_curve_public(derived, q) == 0 &&
			 strcmp(derived, p) == 0;
		if (ok) {
			memcpy(pub, p, 41);
			memcpy(sec, q, 41);
		}
		zconfig_destroy(&conf);
		if (!ok)
			return lb_error_set(
			    err, LB_ERR_INTERNAL,
			    "%s is not a key pair: remove it and %s, the bridge makes "
			    "a new one (clients' exports must then be made again)",
			    spath, path);
	}
	{
		struct stat st;
		if (stat(spath, &st) == 0 && (st.st_mode & 077))
			chmod(spath, 0600); /* a secret readable by others: make it private */
	}
	return 0;
}
