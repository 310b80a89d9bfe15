/* labctl_net.c - labctl over the network: CURVE keys, endpoints from options, environment,
 * client.ini or discovery, and the handshake watched so a refused key is said, not waited out. */
#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/clientconf.h"
#include "labctl.h"

#define CONF_MAX_BYTES 65536	 /* a client.ini larger than this is not one */
#define DISCOVER_TIMEOUT_MS 3000 /* --discover / --connect auto: how long to browse */

/* One level of settings (the command line, the environment, client.ini); NULL: not given. */
struct level {
	const char *what; /* how errors name it */
	const char *connect, *rpc, *pub, *key, *server_key, *discover;
};

/* getenv, with an empty value counted as not set. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* A non-empty string or NULL. */
static const char *given(const char *s)
{
	return s && *s ? s : NULL;
}

int labctl_fingerprint(const char *key, char fp[17])
{
	uint8_t raw[32], h[crypto_hash_sha256_BYTES];

	if (!key || strlen(key) != 40 || !zmq_z85_decode(raw, key))
		return -1;
	crypto_hash_sha256(h, raw, sizeof raw);
	for (int i = 0; i < 8; i++)
		snprintf(fp + 2 * i, 3, "%02x", h[i]);
	return 0;
}

/* Whether s is a 40-character Z85 key. */
static bool is_z85_key(const char *s)
{
	uint8_t raw[32];

	return strlen(s) == 40 && zmq_z85_decode(raw, s);
}

/*
 * The client config file's path into path[cap]: $LABBRIDGE_CLIENT_CONF, else
 * $XDG_CONFIG_HOME/labbridge/client.ini, else ~/.config/labbridge/client.ini. false when none
 * can be named.
 */
static bool conf_path(char *path, size_t cap, bool *explicit)
{
	const char *p = env("LABBRIDGE_CLIENT_CONF"), *xdg = env("XDG_CONFIG_HOME"),
		   *home = env("HOME");

	*explicit = p != NULL;
	if (p)
		return snprintf(path, cap, "%s", p) < (int)cap;
	if (xdg)
		return snprintf(path, cap, "%s/labbridge/client.ini", xdg) < (int)cap;
	if (home)
		return snprintf(path, cap, "%s/.config/labbridge/client.ini", home) < (int)cap;
	return false;
}

/* A path from client.ini made usable: "~/x" under $HOME, a relative one beside the file. The
 * result in out[cap]. */
static void conf_relative(const char *conf, const char *p, char *out, size_t cap)
{
	const char *slash = strrchr(conf, '/'), *home = env("HOME");

	if (p[0] == '~' && p[1] == '/' && home)
		snprintf(out, cap, "%s%s", home, p + 1);
	else if (p[0] == '/' || !slash)
		snprintf(out, cap, "%s", p);
	else
		snprintf(out, cap, "%.*s/%s", (int)(slash - conf), conf, p);
}

/*
 * Read the client config file into *cf (its key and server key paths made usable, in
 * key_path/server_path). 0 when read or when there is none (and it was not named by
 * LABBRIDGE_CLIENT_CONF); -1 after saying why.
 */
static int read_conf(struct lb_clientconf *cf, char *key_path, char *server_path, size_t cap)
{
	char path[4096], err[256];
	bool explicit;
	FILE *f;
	char *text = NULL;
	size_t n;
	int rc = -1;

	memset(cf, 0, sizeof *cf);
	if (!conf_path(path, sizeof path, &explicit))
		return 0;
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT && !explicit)
			return 0;
		labctl_errmsg("labctl: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	text = malloc(CONF_MAX_BYTES + 1);
	if (!text) {
		labctl_errmsg("labctl: out of memory\n");
		goto out;
	}
	n = fread(text, 1, CONF_MAX_BYTES + 1, f);
	if (ferror(f) || n > CONF_MAX_BYTES) {
		labctl_errmsg("labctl: cannot read %s: %s\n", path,
			      n > CONF_MAX_BYTES ? "larger than 64 KiB" : strerror(errno));
		goto out;
	}
	text[n] = '\0';
	if (lb_clientconf_parse(text, cf, err, sizeof err) < 0) {
		labctl_errmsg("labctl: %s: %s\n", path, err);
		goto out;
	}
	if (cf->key[0])
		conf_relative(path, cf->key, key_path, cap);
	/* a server key is a Z85 key or a file */
	if (cf->server_key[0] && !is_z85_key(cf->server_key))
		conf_relative(path, cf->server_key, server_path, cap);
	else
		snprintf(server_path, cap, "%s", cf->server_key);
	rc = 0;
out:
	free(text);
	fclose(f);
	return rc;
}

/*
 * Load our key pair from the zcert file path (NAME.key_secret, or NAME.key when its _secret
 * file is beside it) into o->curve_public/secret; its metadata into *meta_* (copied into the
 * buffers given). 0, or -1 after saying why.
 */
static int load_key(struct labctl_opts *o, const char *path, const char *what, char *meta_rpc,
		    char *meta_pub, char *meta_server, size_t cap)
{
	static const char zero[] = "0000000000000000000000000000000000000000";
	char secret_path[4200];
	uint8_t sec[32], pub[32];
	zcert_t *cert;
	FILE *f;
	const char *v;

	/* zcert_load says nothing of why: look first */
	snprintf(secret_path, sizeof secret_path, "%s_secret", path);
	f = fopen(path, "r");
	if (!f && !(errno == ENOENT && access(secret_path, R_OK) == 0)) {
		labctl_errmsg("labctl: cannot read the key file %s (%s): %s\n", path, what,
			      strerror(errno));
		return -1;
	}
	if (f)
		fclose(f);
	cert = zcert_load(path);
	if (!cert) {
		labctl_errmsg("labctl: %s (%s) is not a key file (CZMQ certificate, as labctl keys "
			      "new writes NAME.key_secret)\n",
			      path, what);
		return -1;
	}
	if (!strcmp(zcert_secret_txt(cert), zero)) {
		labctl_errmsg("labctl: %s (%s) holds a public key only, not a secret key: give the "
			      "NAME.key_secret file labctl keys new wrote\n",
			      path, what);
		zcert_destroy(&cert);
		return -1;
	}
	/* the secret key must be the public one's pair */
	if (!zmq_z85_decode(sec, zcert_secret_txt(cert)) || crypto_scalarmult_base(pub, sec) != 0 ||
	    memcmp(pub, zcert_public_key(cert), 32)) {
		labctl_errmsg("labctl: %s (%s): its secret key is not its public key's pair\n",
			      path, what);
		sodium_memzero(sec, sizeof sec);
		zcert_destroy(&cert);
		return -1;
	}
	sodium_memzero(sec, sizeof sec);
	snprintf(o->curve_public, sizeof o->curve_public, "%s", zcert_public_txt(cert));
	snprintf(o->curve_secret, sizeof o->curve_secret, "%s", zcert_secret_txt(cert));
	if ((v = zcert_meta(cert, "net_rpc")) != NULL)
		snprintf(meta_rpc, cap, "%s", v);
	if ((v = zcert_meta(cert, "net_pub")) != NULL)
		snprintf(meta_pub, cap, "%s", v);
	if ((v = zcert_meta(cert, "server-key")) != NULL)
		snprintf(meta_server, cap, "%s", v);
	zcert_destroy(&cert);
	return 0;
}

/* The bridge's public key from arg (Z85, or a certificate file: the bridge's server_key, or a
 * key file of ours made by labctl keys new, whose metadata names it) into o->curve_server. 0, or
 * -1 after saying why. */
static int load_server_key(struct labctl_opts *o, const char *arg, const char *what)
{
	zcert_t *cert;
	const char *v;

	if (is_z85_key(arg)) {
		snprintf(o->curve_server, sizeof o->curve_server, "%s", arg);
		return 0;
	}
	if (access(arg, F_OK) != 0) {
		labctl_errmsg("labctl: the server key (%s) '%s' is neither a public key (40 "
			      "characters of Z85: labctl keys export, or the bridge's startup log, "
			      "shows it) nor a readable file\n",
			      what, arg);
		return -1;
	}
	cert = zcert_load(arg);
	if (!cert) {
		labctl_errmsg("labctl: the server key file %s (%s) is not a CZMQ certificate\n",
			      arg, what);
		return -1;
	}
	v = zcert_meta(cert, "server-key");
	snprintf(o->curve_server, sizeof o->curve_server, "%s",
		 v && is_z85_key(v) ? v : zcert_public_txt(cert));
	zcert_destroy(&cert);
	return 0;
}

/* The endpoints a level gives into rpc/pub (each cap bytes, "" when not given). 0, or -1 after
 * saying why (a malformed --connect). */
static int level_endpoints(const struct level *l, char *rpc, char *pub, size_t cap)
{
	char err[256];

	rpc[0] = pub[0] = '\0';
	if (l->connect && strncmp(l->connect, "auto", 4) &&
	    lb_connect_split(l->connect, rpc, cap, pub, cap, err, sizeof err) < 0) {
		labctl_errmsg("labctl: connect (%s): %s (give tcp://HOST:PORT[,tcp://HOST:PORT] "
			      "or a host name)\n",
			      l->what, err);
		return -1;
	}
	if (l->rpc)
		snprintf(rpc, cap, "%s", l->rpc);
	if (l->pub)
		snprintf(pub, cap, "%s", l->pub);
	return 0;
}

/* Which bridge a level asks to discover: its --discover NAME, or --connect auto[:NAME]; "" for
 * the first found; NULL when it asks none. */
static const char *level_discover(const struct level *l)
{
	if (l->discover)
		return l->discover;
	if (l->connect && !strcmp(l->connect, "auto"))
		return "";
	if (l->connect && !strncmp(l->connect, "auto:", 5))
		return l->connect + 5;
	return NULL;
}

/* Find the bridge named want ("" the first one) on the LAN: its endpoints into o, its
 * fingerprint checked against o->curve_server when set. 0, or -1 after saying why. */
static int discover(struct labctl_opts *o, const char *want)
{
	struct labctl_found found;
	char fp[17];
	int n = 0;

	if (labctl_browse(*want ? want : NULL, DISCOVER_TIMEOUT_MS, &found, 1, &n) < 0)
		return -1;
	if (n == 0) {
		if (*want)
			labctl_errmsg("labctl: no bridge named '%s' found on the LAN within %d s "
				      "(labctl discover lists those found)\n",
				      want, DISCOVER_TIMEOUT_MS / 1000);
		else
			labctl_errmsg("labctl: no bridge found on the LAN within %d s\n",
				      DISCOVER_TIMEOUT_MS / 1000);
		return -1;
	}
	if (!o->curve) {
		labctl_errmsg(
		    "labctl: the bridge '%s' found on the LAN serves CURVE only: give --key "
		    "FILE (NAME.key_secret from labctl keys new) and --server-key\n",
		    found.name);
		return -1;
	}
	if (!found.rpc[0]) {
		labctl_errmsg("labctl: the bridge '%s' serves no network requests (no net_rpc): "
			      "only its web page\n",
			      found.name);
		return -1;
	}
	if (o->curve_server[0] && found.key[0] &&
	    (labctl_fingerprint(o->curve_server, fp) < 0 || strcmp(fp, found.key))) {
		labctl_errmsg(
		    "labctl: the bridge '%s' found on the LAN has the key fingerprint %s, "
		    "not %s (that of the server key given): not connecting\n",
		    found.name, found.key, fp);
		return -1;
	}
	snprintf(o->rpc_buf, sizeof o->rpc_buf, "%s", found.rpc);
	snprintf(o->pub_buf, sizeof o->pub_buf, "%s", found.pub);
	return 0;
}

int labctl_net_setup(struct labctl_opts *o, const char *default_rpc, const char *default_pub)
{
	static struct lb_clientconf cf;
	static char key_path[4096], server_path[4096], meta_rpc[512], meta_pub[512],
	    meta_server[512];
	struct level lv[3];
	const char *key = NULL, *key_what = NULL, *skey = NULL, *skey_what = NULL, *want = NULL;
	char rpc[512], pub[512];
	bool have_rpc = false, have_pub = false;

	if (read_conf(&cf, key_path, server_path, sizeof key_path) < 0)
		return -1;
	lv[0] = (struct level){"the command line", o->connect, o->rpc, o->pub, o->key,
			       o->server_key,	   o->discover};
	lv[1] = (struct level){"the environment",	 env("LABBRIDGE_CONNECT"),
			       env("LABBRIDGE_RPC"),	 env("LABBRIDGE_PUB"),
			       env("LABBRIDGE_KEY"),	 env("LABBRIDGE_SERVER_KEY"),
			       env("LABBRIDGE_DISCOVER")};
	lv[2] = (struct level){"client.ini",	given(cf.connect),  given(cf.rpc), given(cf.pub),
			       given(key_path), given(server_path), NULL};
	for (int i = 0; i < 3; i++) {
		if (!key && lv[i].key)
			key = lv[i].key, key_what = lv[i].what;
		if (!skey && lv[i].server_key)
			skey = lv[i].server_key, skey_what = lv[i].what;
	}
	/* each endpoint from the first level naming it; a --connect names both (a single
	 * endpoint: no streams), and so does discovery */
	for (int i = 0; i < 3; i++) {
		const char *d = level_discover(&lv[i]);
		bool whole = lv[i].connect && !d;

		if (d && !want && !have_rpc && !have_pub) {
			want = d;
			have_rpc = have_pub = true;
			continue;
		}
		if (level_endpoints(&lv[i], rpc, pub, sizeof rpc) < 0)
			return -1;
		if (!have_rpc && (rpc[0] || whole)) {
			snprintf(o->rpc_buf, sizeof o->rpc_buf, "%s", rpc);
			have_rpc = true;
		}
		if (!have_pub && (pub[0] || whole)) {
			snprintf(o->pub_buf, sizeof o->pub_buf, "%s", pub);
			have_pub = true;
		}
	}
	if (key && load_key(o, key, key_what, meta_rpc, meta_pub, meta_server, sizeof meta_rpc) < 0)
		return -1;
	if (skey && load_server_key(o, skey, skey_what) < 0)
		return -1;
	if (skey && !key) {
		labctl_errmsg("labctl: a server key (%s) without a key of our own: give --key "
			      "FILE too (NAME.key_secret from labctl keys new)\n",
			      skey_what);
		return -1;
	}
	if (key && !skey) {
		if (!is_z85_key(meta_server)) {
			labctl_errmsg("labctl: the bridge's public key is not known: give "
				      "--server-key Z85|FILE (labctl keys export shows it)\n");
			return -1;
		}
		memcpy(o->curve_server, meta_server, 41); /* 40 characters and the NUL */
	}
	o->curve = key != NULL;
	if (want && discover(o, want) < 0)
		return -1;
	/* the rest: with a key, the endpoints written in it (keys new); else the local ones */
	if (!have_rpc)
		snprintf(o->rpc_buf, sizeof o->rpc_buf, "%s", o->curve ? meta_rpc : default_rpc);
	if (!have_pub)
		snprintf(o->pub_buf, sizeof o->pub_buf, "%s", o->curve ? meta_pub : default_pub);
	if (!o->rpc_buf[0] && !o->pub_buf[0]) {
		labctl_errmsg("labctl: no endpoint is known (the key file names none): give "
			      "--connect tcp://HOST:PORT,tcp://HOST:PORT\n");
		return -1;
	}
	/* the bridge serves only loopback without CURVE: a plain connection elsewhere would
	 * wait out its timeout and then blame the network */
	if (!o->curve && (lb_endpoint_remote(o->rpc_buf) || lb_endpoint_remote(o->pub_buf))) {
		labctl_errmsg(
		    "labctl: %s is another computer's: a bridge serves it with CURVE only; "
		    "give --key FILE (NAME.key_secret from labctl keys new)\n",
		    lb_endpoint_remote(o->rpc_buf) ? o->rpc_buf : o->pub_buf);
		return -1;
	}
	o->rpc = o->rpc_buf;
	o->pub = o->pub_buf;
	return 0;
}

/* ---------------------------------------------------------------- the handshake */

/* One event from a monitor socket into *event / *value; 0, or -1 (interrupted, closed). */
static int monitor_event(void *mon, uint16_t *event, uint32_t *value)
{
	zmq_msg_t m;
	int more, rc = -1;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, mon, 0) < 0)
		goto out;
	if (zmq_msg_size(&m) >= 6) {
		memcpy(event, zmq_msg_data(&m), 2);
		memcpy(value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
		rc = 0;
	}
	more = zmq_msg_more(&m);
	while (more) { /* the endpoint's frame */
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, mon, 0) < 0) {
			rc = -1;
			break;
		}
		more = zmq_msg_more(&m);
	}
out:
	zmq_msg_close(&m);
	return rc;
}

/* Wait on monitor mon until the handshake of sock with ep ends or timeout_ms pass (see
 * labctl_net_connect). */
static int wait_handshake(void *mon, const char *ep, long timeout_ms)
{
	int64_t deadline = labctl_mono_ms() + timeout_ms;

	for (;;) {
		zmq_pollitem_t item = {mon, 0, ZMQ_POLLIN, 0};
		int64_t left = deadline - labctl_mono_ms();
		uint16_t ev = 0;
		uint32_t val = 0;

		if (left <= 0) {
			labctl_errmsg("labctl: no answer from the bridge at %s within %ld ms — is "
				      "it running, and is this its address?\n",
				      ep, timeout_ms);
			return -3;
		}
		if (zmq_poll(&item, 1, (long)left) < 0) {
			if (errno == EINTR && !labctl_stopping())
				continue;
			return -1;
		}
		if (!(item.revents & ZMQ_POLLIN) || monitor_event(mon, &ev, &val) < 0)
			continue;
		switch (ev) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return 0;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			labctl_errmsg("labctl: the bridge at %s refused this key (revoked or "
				      "unknown: ask the teacher for a new one)\n",
				      ep);
			return -1;
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
			labctl_errmsg("labctl: %s does not speak CURVE as expected (protocol error "
				      "0x%x): is it the bridge's net_rpc/net_pub endpoint?\n",
				      ep, (unsigned)val);
			return -1;
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			/* the bridge closed the connection before its WELCOME: it could not read
			 * our HELLO, sealed for another server key, or it is a NULL endpoint */
			labctl_errmsg(
			    "labctl: the bridge at %s closed the connection during the "
			    "CURVE handshake: the server key is probably wrong (labctl keys "
			    "export shows the right one), or this is not its net_rpc/net_pub "
			    "endpoint\n",
			    ep);
			return -1;
		default:
			break; /* refused (nothing listens there yet): retried until the time is up
				*/
		}
	}
}

/* The stream socket whose connection is still watched after its handshake, and its monitor. */
static void *watched, *watched_mon;

/* Stop watching the stream socket's connection (labctl_net_close). */
static void unwatch(void)
{
	if (watched_mon)
		zmq_close(watched_mon);
	watched = watched_mon = NULL;
}

void labctl_net_close(void)
{
	unwatch();
}

void labctl_net_explain(void *sock)
{
	uint16_t ev;
	uint32_t val;

	if (!sock || sock != watched)
		return;
	for (;;) {
		zmq_pollitem_t item = {watched_mon, 0, ZMQ_POLLIN, 0};

		if (zmq_poll(&item, 1, 0) <= 0 || monitor_event(watched_mon, &ev, &val) < 0)
			return;
		/* its handshake succeeded once: refused now, the key was revoked meanwhile */
		if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			labctl_errmsg(
			    "labctl: the bridge closed our connection and refuses this key "
			    "now (revoked while in use: ask the teacher for a new one)\n");
			return;
		}
	}
}

int labctl_net_connect(void *ctx, void *sock, const struct labctl_opts *o, const char *ep,
		       long timeout_ms, bool watch_after)
{
	static unsigned serial;
	char addr[64];
	void *mon = NULL;
	int rc = -1, linger = 0, server = 0;

	if (!ep || !*ep) {
		labctl_errmsg("labctl: no endpoint is known for this: give --connect RPC,PUB (or "
			      "--rpc and --pub)\n");
		return -1;
	}
	if (o->curve && (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &server, sizeof server) < 0 ||
			 zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, o->curve_server, 40) < 0 ||
			 zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, o->curve_public, 40) < 0 ||
			 zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->curve_secret, 40) < 0)) {
		labctl_errmsg("labctl: cannot set the CURVE keys: %s\n", zmq_strerror(errno));
		return -1;
	}
	if (o->curve) {
		snprintf(addr, sizeof addr, "inproc://labctl-monitor-%u", serial++);
		if (zmq_socket_monitor(
			sock, addr,
			ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
			    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_CONNECT_RETRIED) < 0 ||
		    !(mon = zmq_socket(ctx, ZMQ_PAIR)) || zmq_connect(mon, addr) < 0) {
			labctl_errmsg("labctl: cannot watch the handshake: %s\n",
				      zmq_strerror(errno));
			goto out;
		}
		zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
	}
	if (zmq_connect(sock, ep) < 0) {
		labctl_errmsg("labctl: cannot connect to '%s': %s\n", ep, zmq_strerror(errno));
		goto out;
	}
	rc = o->curve ? wait_handshake(mon, ep, timeout_ms) : 0;
	if (rc == 0 && mon && watch_after) {
		/* kept: a key revoked while in use is told apart from a bridge gone */
		unwatch();
		watched = sock;
		watched_mon = mon;
		return 0;
	}
out:
	if (o->curve)
		zmq_socket_monitor(sock, NULL, 0);
	if (mon)
		zmq_close(mon);
	return rc;
}
