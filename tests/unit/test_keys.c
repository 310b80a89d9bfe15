/* test_keys.c - unit tests of bridge/core/keys.c: the CURVE key store (add, find, revoke, reload,
 * limits, bad files) and the bridge's own key pair. */
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bridge/core/keys.h"
#include "../../bridge/core/net.h"
#include "../../bridge/util/fsutil.h"
#include "check.h"

#define SEC 1000000000LL
#define T0 (100 * SEC)

static char root[64];

/* A fresh Z85 public key. */
static void new_pub(char pub[41])
{
	char sec[41];

	zmq_curve_keypair(pub, sec);
}

/* Write text to path (a file a person might have put there by hand). */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_add_find_revoke(void)
{
	char dir[128], pub[41], pub2[41], path[256];
	lb_keys *k;
	lb_key *key, out;
	lb_error err = {0};

	snprintf(dir, sizeof dir, "%s/a", root);
	k = lb_keys_new(dir);
	CHECK(k != NULL);
	CHECK_EQ_INT(lb_keys_refresh(k, T0, false), 0); /* no directory yet: no keys */
	new_pub(pub);
	new_pub(pub2);
	CHECK_EQ_INT(lb_keys_add(k, pub, LB_ROLE_STUDENT, "5B group 3", T0, &err), 0);
	CHECK_EQ_INT(lb_keys_add(k, pub2, LB_ROLE_TEACHER, "Mme Durand", T0, &err), 0);
	key = lb_keys_find(k, pub);
	CHECK(key != NULL);
	if (key) {
		CHECK_STR(key->name, "5B group 3");
		CHECK_EQ_INT(key->role, LB_ROLE_STUDENT);
		CHECK_EQ_INT((int)strlen(key->fp), 16);
		CHECK_STR(key->created, "1970-01-01T00:01:40Z");
		snprintf(path, sizeof path, "%s/keys/%s.cert", dir, key->fp);
		CHECK_MSG(access(path, R_OK) == 0,
			  "the certificate is a file named by fingerprint");
	}
	/* the same key or the same name twice: refused */
	CHECK(lb_keys_add(k, pub, LB_ROLE_STUDENT, "other", T0, &err) < 0);
	CHECK(lb_keys_add(k, "short", LB_ROLE_STUDENT, "x", T0, &err) < 0);
	{
		char pub3[41];
		new_pub(pub3);
		CHECK(lb_keys_add(k, pub3, LB_ROLE_STUDENT, "5B group 3", T0, &err) < 0);
		CHECK(strstr(err.message, "already") != NULL);
	}
	/* a fresh store sees them on disk */
	{
		lb_keys *k2 = lb_keys_new(dir);
		CHECK_EQ_INT(lb_keys_refresh(k2, T0, false), 2);
		CHECK(lb_keys_find(k2, pub2) != NULL);
		CHECK(lb_keys_lookup(k2, "Mme Durand") != NULL);
		lb_keys_destroy(&k2);
		CHECK(k2 == NULL);
	}
	/* revoke by name; then by fingerprint */
	CHECK_EQ_INT(lb_keys_revoke(k, "5B group 3", &out, &err), 0);
	CHECK(lb_keys_find(k, pub) == NULL);
	snprintf(path, sizeof path, "%s/keys/revoked/%s.cert", dir, out.fp);
	CHECK_MSG(access(path, R_OK) == 0, "a revoked certificate is kept in keys/revoked/");
	CHECK(lb_keys_revoke(k, "5B group 3", NULL, &err) < 0);
	key = lb_keys_find(k, pub2);
	CHECK(key != NULL);
	if (key) {
		char fp[17];
		memcpy(fp, key->fp, sizeof fp);
		CHECK_EQ_INT(lb_keys_revoke(k, fp, NULL, &err), 0);
	}
	CHECK_EQ_INT((int)k->n, 0);
	/* what the store did itself is no reason to reload, and it reloads as empty anyway */
	CHECK_EQ_INT(lb_keys_refresh(k, T0 + 10 * SEC, false), 0);
	lb_keys_destroy(&k);
	lb_keys_destroy(&k); /* NULL is fine */
}

static void test_reload_on_change(void)
{
	char dir[128], kdir[160], pub[41], path[256];
	lb_keys *k, *other;
	lb_error err = {0};

	snprintf(dir, sizeof dir, "%s/b", root);
	snprintf(kdir, sizeof kdir, "%s/keys", dir);
	k = lb_keys_new(dir);
	other = lb_keys_new(dir); /* another process (labctl offline, a person) */
	CHECK_EQ_INT(lb_keys_refresh(k, T0, false), 0);
	new_pub(pub);
	CHECK_EQ_INT(lb_keys_add(other, pub, LB_ROLE_OBSERVER, "projector", T0, &err), 0);
	/* not looked at again before LB_KEYS_CHECK_NS: the cache answers */
	CHECK_EQ_INT(lb_keys_refresh(k, T0 + 1, false), 0);
	CHECK(lb_keys_find(k, pub) == NULL);
	CHECK_EQ_INT(lb_keys_refresh(k, T0 + LB_KEYS_CHECK_NS, false), 1);
	CHECK(lb_keys_find(k, pub) != NULL);
	/* removed by hand (moved away): gone at the next look */
	{
		lb_key *key = lb_keys_find(other, pub);
		CHECK(key != NULL);
		if (key) {
			snprintf(path, sizeof path, "%s/%s.cert", kdir, key->fp);
			CHECK_EQ_INT(unlink(path), 0);
		}
	}
	CHECK_EQ_INT(lb_keys_refresh(k, T0 + 2 * LB_KEYS_CHECK_NS, false), 0);
	CHECK(lb_keys_find(k, pub) == NULL);
	lb_keys_destroy(&k);
	lb_keys_destroy(&other);
}

static void test_bad_files(void)
{
	char dir[128], kdir[160], path[256], pub[41], text[512];
	lb_keys *k;
	lb_error err = {0};

	snprintf(dir, sizeof dir, "%s/c", root);
	snprintf(kdir, sizeof kdir, "%s/keys", dir);
	CHECK_EQ_INT(lb_mkdirs(kdir, 0755), 0);
	snprintf(path, sizeof path, "%s/garbage.cert", kdir);
	write_file(path, "\x01\x02 not a certificate {{{\n");
	snprintf(path, sizeof path, "%s/empty.cert", kdir);
	write_file(path, "");
	new_pub(pub);
	snprintf(path, sizeof path, "%s/badrole.cert", kdir);
	snprintf(
	    text, sizeof text,
	    "metadata\n    role = \"admin\"\n    name = \"x\"\ncurve\n    public-key = \"%s\"\n",
	    pub);
	write_file(path, text);
	snprintf(path, sizeof path, "%s/longname.cert", kdir);
	snprintf(text, sizeof text,
		 "metadata\n    role = \"student\"\n    name = \"%064d\"\ncurve\n    public-key = "
		 "\"%s\"\n",
		 0, pub);
	write_file(path, text);
	snprintf(path, sizeof path, "%s/shortkey.cert", kdir);
	write_file(path,
		   "metadata\n    role = \"student\"\n    name = \"y\"\ncurve\n    public-key = "
		   "\"abc\"\n");
	new_pub(pub);
	snprintf(path, sizeof path, "%s/good.cert", kdir);
	snprintf(
	    text, sizeof text,
	    "metadata\n    role = \"student\"\n    name = \"by hand\"\ncurve\n    public-key = "
	    "\"%s\"\n",
	    pub);
	write_file(path, text);
	snprintf(path, sizeof path, "%s/good.cert.bak", kdir); /* not a .cert: ignored */
	write_file(path, text);
	k = lb_keys_new(dir);
	CHECK_EQ_INT(lb_keys_refresh(k, T0, false), 1);
	CHECK(lb_keys_find(k, pub) != NULL);
	CHECK(lb_keys_lookup(k, "by hand") != NULL);
	/* revoking a file named by hand finds it */
	CHECK_EQ_INT(lb_keys_revoke(k, "by hand", NULL, &err), 0);
	snprintf(path, sizeof path, "%s/revoked/good.cert", kdir);
	CHECK(access(path, R_OK) == 0);
	lb_keys_destroy(&k);
}

static void test_names_and_limits(void)
{
	char name[80];

	CHECK(lb_keys_name_ok("5B group 3"));
	CHECK(lb_keys_name_ok("Élève 4ᵉ B"));
	CHECK(!lb_keys_name_ok(""));
	CHECK(!lb_keys_name_ok(NULL));
	CHECK(!lb_keys_name_ok(" lead"));
	CHECK(!lb_keys_name_ok("a\"b"));
	CHECK(!lb_keys_name_ok("a\nb"));
	CHECK(!lb_keys_name_ok("\xC3"));     /* cut UTF-8 */
	CHECK(!lb_keys_name_ok("\xC0\xAF")); /* overlong */
	CHECK(!lb_keys_name_ok("caf\xE9"));  /* Latin-1 */
	memset(name, 'x', 63);
	name[63] = '\0';
	CHECK(lb_keys_name_ok(name));
	name[63] = 'x';
	name[64] = '\0';
	CHECK(!lb_keys_name_ok(name));
	{
		char fp[17];
		CHECK(lb_keys_fingerprint("not a key", fp) < 0);
		CHECK(lb_keys_fingerprint("0000000000000000000000000000000000000000", fp) == 0);
	}
}

static void test_store_full(void)
{
	char dir[128];
	lb_keys *k;
	lb_error err = {0};
	char pub[41];

	snprintf(dir, sizeof dir, "%s/d", root);
	k = lb_keys_new(dir);
	lb_keys_refresh(k, T0, false);
	/* the limit without writing 10 000 files: the count as if loaded */
	k->v = calloc(LB_KEYS_MAX, sizeof *k->v);
	k->cap = LB_KEYS_MAX;
	k->n = LB_KEYS_MAX;
	for (size_t i = 0; i < k->n; i++)
		snprintf(k->v[i].pub, sizeof k->v[i].pub, "%040zu", i);
	new_pub(pub);
	CHECK(lb_keys_add(k, pub, LB_ROLE_STUDENT, "one too many", T0, &err) < 0);
	CHECK(strstr(err.message, "full") != NULL);
	lb_keys_destroy(&k);
}

static void test_server_key(void)
{
	char dir[128], path[256], pub[41], sec[41], pub2[41], sec2[41];
	struct stat st;
	lb_error err = {0};

	snprintf(dir, sizeof dir, "%s/e", root);
	CHECK_EQ_INT(lb_keys_server(dir, pub, sec, &err), 0);
	snprintf(path, sizeof path, "%s/server_key_secret", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(lb_keys_server(dir, pub2, sec2, &err), 0); /* kept, not made again */
	CHECK_STR(pub, pub2);
	CHECK_STR(sec, sec2);
	{
		uint8_t rs[32], rp[32];
		char derived[41];
		zmq_z85_decode(rs, sec);
		CHECK_EQ_INT(zmq_curve_public(derived, sec), 0);
		CHECK_STR(derived, pub);
		(void)rp;
	}
	write_file(path, "garbage\n");
	CHECK(lb_keys_server(dir, pub2, sec2, &err) < 0);
}

/* Which endpoints stay on this computer (the local sockets may only bind those). */
static void test_loopback_endpoints(void)
{
	CHECK(lb_endpoint_loopback("tcp://127.0.0.1:5556"));
	CHECK(lb_endpoint_loopback("tcp://127.0.0.1:0"));
	CHECK(lb_endpoint_loopback("tcp://127.5.6.7:1"));
	CHECK(lb_endpoint_loopback("tcp://localhost:5556"));
	CHECK(lb_endpoint_loopback("tcp://[::1]:5556"));
	CHECK(lb_endpoint_loopback("tcp://lo:5556"));
	CHECK(lb_endpoint_loopback("ws://127.0.0.1:5557"));
	CHECK(lb_endpoint_loopback("ipc:///run/labbridge/rpc"));
	CHECK(lb_endpoint_loopback("inproc://x"));
	CHECK(!lb_endpoint_loopback("tcp://0.0.0.0:5556"));
	CHECK(!lb_endpoint_loopback("tcp://*:5556"));
	CHECK(!lb_endpoint_loopback("tcp://[::]:5556"));
	CHECK(!lb_endpoint_loopback("tcp://10.0.0.5:5556"));
	CHECK(!lb_endpoint_loopback("tcp://eth0:5556"));
	CHECK(!lb_endpoint_loopback("tcp://localhost.example.org:5556"));
	CHECK(!lb_endpoint_loopback("tcp://[::1]x:5556"));
	CHECK(!lb_endpoint_loopback("pgm://eth0;239.192.1.1:5555"));
	CHECK(!lb_endpoint_loopback("tcp://127.0.0.1"));
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/lb-test-keys-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_add_find_revoke);
	RUN(test_reload_on_change);
	RUN(test_bad_files);
	RUN(test_names_and_limits);
	RUN(test_store_full);
	RUN(test_server_key);
	RUN(test_loopback_endpoints);
	lb_rmtree(root);
	return check_summary();
}
