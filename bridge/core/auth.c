/* auth.c - who is connected: ZAP (RFC 27) for every connection, the Unix user of local ones. */
#include "auth.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../util/config.h"
#include "../util/grow.h"
#include "../util/log.h"
#include "keys.h"
#include "peer.h"

bool lb_auth_address_local(const char *address)
{
	/* ipc:// peers are reported as "localhost:<uid>:<gid>:<pid>" by libzmq */
	return strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0 ||
	       strncmp(address, "::ffff:127.", 11) == 0 || address[0] == '\0' ||
	       strncmp(address, "localhost", 9) == 0;
}

/* Receive one frame as a NUL-terminated string (truncated to cap); returns -1 on ETERM. */
static int recv_str(void *s, char *buf, size_t cap)
{
	int n = zmq_recv(s, buf, cap - 1, 0);

	if (n < 0)
		return -1;
	buf[(size_t)n < cap - 1 ? (size_t)n : cap - 1] = '\0';
	return 0;
}

/* Encode one ZMTP property (name-len, name, 4-byte value-len, value) at p; returns its size. */
static size_t put_property(unsigned char *p, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	p[0] = (unsigned char)nl;
	memcpy(p + 1, name, nl);
	p[1 + nl] = (unsigned char)(vl >> 24);
	p[2 + nl] = (unsigned char)(vl >> 16);
	p[3 + nl] = (unsigned char)(vl >> 8);
	p[4 + nl] = (unsigned char)vl;
	memcpy(p + 5 + nl, value, vl);
	return 5 + nl + vl;
}

/* Answer a ZAP request with status 400 (refused): no user, no properties. */
static void refuse(lb_auth *auth, const char *reqid, const char *why)
{
	zmq_send(auth->sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(auth->sock, reqid, strlen(reqid), ZMQ_SNDMORE);
	zmq_send(auth->sock, "400", 3, ZMQ_SNDMORE);
	zmq_send(auth->sock, why, strlen(why), ZMQ_SNDMORE);
	zmq_send(auth->sock, "", 0, ZMQ_SNDMORE);
	zmq_send(auth->sock, "", 0, 0);
}

/* A CURVE handshake from address with client key raw (32 bytes): the key's identity into user
 * and meta (its length in *metalen), or -1 when the key is not registered (logged). */
static int curve_identity(lb_auth *auth, int64_t now, const char *address, const unsigned char *raw,
			  char *user, size_t cap, unsigned char *meta, size_t *metalen)
{
	char z85[41];
	lb_key *key;

	if (!zmq_z85_encode(z85, raw, 32))
		return -1;
	if (auth->keys)
		lb_keys_refresh(auth->keys, now, false);
	key = auth->keys ? lb_keys_find(auth->keys, z85) : NULL;
	if (!key) {
		auth->refused++;
		if (!auth->refused_logged || now - auth->refused_logged >= 10000000000LL) {
			lb_warn("refused a connection from %s: CURVE key %s is not registered (or "
				"was revoked)%s",
				address, z85,
				auth->refused > 1 ? " (and others since the last such message)"
						  : "");
			auth->refused_logged = now;
			auth->refused = 0;
		}
		return -1;
	}
	snprintf(user, cap, "key:%s", z85);
	*metalen = put_property(meta, "X-Role", lb_role_name(key->role));
	*metalen += put_property(meta + *metalen, "X-Name", key->name);
	*metalen += put_property(meta + *metalen, "X-Local", "0");
	lb_dbg("ZAP: CURVE key '%s' (%s, %s) from %s", key->name, key->fp, lb_role_name(key->role),
	       address);
	return 0;
}

void lb_auth_handle(lb_auth *auth, int64_t now)
{
	for (;;) {
		char version[16], reqid[256], domain[64], address[128], mechanism[16];
		char user[192], connid[24];
		unsigned char meta[512], cred[64];
		int ncred = -1;
		size_t metalen;
		int more = 1, ev = 0;
		size_t moresz = sizeof more, evsz = sizeof ev;
		lb_role role;
		bool local;

		/* a request arrives whole (multipart): once its first frame is there, so is the
		 * rest */
		if (zmq_getsockopt(auth->sock, ZMQ_EVENTS, &ev, &evsz) < 0 || !(ev & ZMQ_POLLIN))
			return;
		if (recv_str(auth->sock, version, sizeof version) < 0 ||
		    recv_str(auth->sock, reqid, sizeof reqid) < 0 ||
		    recv_str(auth->sock, domain, sizeof domain) < 0 ||
		    recv_str(auth->sock, address, sizeof address) < 0 ||
		    recv_str(auth->sock, user, sizeof user) < 0 || /* routing identity, unused */
		    recv_str(auth->sock, mechanism, sizeof mechanism) < 0)
			return;
		/* credentials frames, if any: CURVE's is the client's public key (32 bytes) */
		zmq_getsockopt(auth->sock, ZMQ_RCVMORE, &more, &moresz);
		while (more) {
			int n = zmq_recv(auth->sock, cred, sizeof cred, 0);
			if (n < 0)
				return;
			if (ncred == -1)
				ncred = n;
			zmq_getsockopt(auth->sock, ZMQ_RCVMORE, &more, &moresz);
		}
		/* the connection's number, after the caller saw every connection accepted so far
		 * (auth.h): libzmq sent its ACCEPTED event before this request */
		if (auth->before_answer)
			auth->before_answer(auth->before_arg);
		if (strcmp(mechanism, "CURVE") == 0) {
			if (ncred != 32 || curve_identity(auth, now, address, cred, user,
							  sizeof user, meta, &metalen) < 0) {
				refuse(auth, reqid, "unknown key");
				continue;
			}
			snprintf(connid, sizeof connid, "%" PRIu64, auth->next_conn++);
			metalen += put_property(meta + metalen, "X-Conn", connid);
			zmq_send(auth->sock, "1.0", 3, ZMQ_SNDMORE);
			zmq_send(auth->sock, reqid, strlen(reqid), ZMQ_SNDMORE);
			zmq_send(auth->sock, "200", 3, ZMQ_SNDMORE);
			zmq_send(auth->sock, "OK", 2, ZMQ_SNDMORE);
			zmq_send(auth->sock, user, strlen(user), ZMQ_SNDMORE);
			zmq_send(auth->sock, meta, metalen, 0);
			continue;
		}
		local = lb_auth_address_local(address);
		/* a local program's role follows its Unix user, asked of the kernel on its first
		 * request (lb_auth_local); until then it is nobody in particular */
		role = local ? LB_ROLE_OBSERVER : auth->policy.remote_role;
		lb_dbg("ZAP: %s connection from '%s'%s", mechanism, address,
		       local ? " (this computer: identified by its Unix user)" : "");
		snprintf(user, sizeof user, "%s:%s", local ? "local" : "remote",
			 address[0] ? address : "ipc");
		metalen = put_property(meta, "X-Role", lb_role_name(role));
		/* always set: a property of ZAP's wins over one the client sends itself
		 * (ZMQ_METADATA) */
		metalen += put_property(meta + metalen, "X-Local", local ? "1" : "0");
		snprintf(connid, sizeof connid, "%" PRIu64, auth->next_conn++);
		metalen += put_property(meta + metalen, "X-Conn", connid);
		if (strcmp(mechanism, "NULL") != 0) {
			refuse(auth, reqid, "unsupported mechanism");
			continue;
		}
		zmq_send(auth->sock, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(auth->sock, reqid, strlen(reqid), ZMQ_SNDMORE);
		zmq_send(auth->sock, "200", 3, ZMQ_SNDMORE);
		zmq_send(auth->sock, "OK", 2, ZMQ_SNDMORE);
		zmq_send(auth->sock, user, strlen(user), ZMQ_SNDMORE);
		zmq_send(auth->sock, meta, metalen, 0);
	}
}

lb_auth *lb_auth_new(void *zctx, const lb_policy *policy)
{
	lb_auth *auth = calloc(1, sizeof *auth);
	int zero = 0;

	if (!auth)
		return NULL;
	auth->zctx = zctx;
	auth->policy = *policy;
	auth->sock = zmq_socket(zctx, ZMQ_REP);
	if (!auth->sock)
		goto fail;
	zmq_setsockopt(auth->sock, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_bind(auth->sock, "inproc://zeromq.zap.01") < 0) {
		lb_err("cannot start the authenticator: %s", zmq_strerror(zmq_errno()));
		zmq_close(auth->sock);
		goto fail;
	}
	return auth;
fail:
	free(auth);
	return NULL;
}

void lb_auth_destroy(lb_auth **pauth)
{
	if (!pauth || !*pauth)
		return;
	zmq_close((*pauth)->sock);
	free((*pauth)->conn);
	free(*pauth);
	*pauth = NULL;
}

/* The remembered identity of connection fd if it is still the same socket (inode), or NULL. */
static lb_auth_conn *conn_find(lb_auth *auth, int fd, unsigned long ino)
{
	for (size_t i = 0; i < auth->nconn; i++)
		if (auth->conn[i].fd == fd) {
			if (auth->conn[i].ino == ino)
				return &auth->conn[i];
			auth->conn[i] = auth->conn[--auth->nconn]; /* fd reused: forget it */
			return NULL;
		}
	return NULL;
}

/* The user name of uid ("unix:alice", "unix:uid-1234" without a passwd entry) and its role. */
static void describe_uid(const lb_policy *p, uid_t uid, char *user, size_t cap, lb_role *role)
{
	struct passwd pw, *found = NULL;
	char buf[2048];
	gid_t groups[64];
	int ngroups = 64;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found) {
		snprintf(user, cap, "unix:uid-%u", (unsigned)uid);
		*role = lb_policy_role(p, uid, NULL, 0);
		return;
	}
	snprintf(user, cap, "unix:%s", pw.pw_name);
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0)
		ngroups = 64; /* more than 64 groups: the first 64 */
	*role = lb_policy_role(p, uid, groups, (size_t)ngroups);
}

int lb_auth_local(lb_auth *auth, int fd, char *user, size_t cap, lb_role *role)
{
	struct stat st;
	lb_auth_conn *c;
	uid_t uid;

	if (fd < 0 || fstat(fd, &st) < 0 || lb_peer_uid(fd, &uid) < 0) {
		lb_warn("cannot tell which user is behind a local connection (fd %d): %s; it is an "
			"observer",
			fd, strerror(errno));
		snprintf(user, cap, "local:unknown");
		*role = LB_ROLE_OBSERVER;
		return LB_EFAIL;
	}
	c = conn_find(auth, fd, (unsigned long)st.st_ino);
	if (!c) {
		if (lb_grow(&auth->conn, &auth->capconn, auth->nconn, sizeof *auth->conn) < 0) {
			describe_uid(&auth->policy, uid, user, cap, role); /* not remembered */
			return 0;
		}
		c = &auth->conn[auth->nconn++];
		c->fd = fd;
		c->ino = (unsigned long)st.st_ino;
		describe_uid(&auth->policy, uid, c->user, sizeof c->user, &c->role);
		lb_dbg("connection fd %d is %s: %s", fd, c->user, lb_role_name(c->role));
	}
	snprintf(user, cap, "%s", c->user);
	*role = c->role;
	return 0;
}

void lb_auth_forget(lb_auth *auth, int fd)
{
	for (size_t i = 0; i < auth->nconn; i++)
		if (auth->conn[i].fd == fd) {
			auth->conn[i] = auth->conn[--auth->nconn];
			return;
		}
}

/* Add a name of the teachers list (user, @group or number) to p; 0 or LB_EINVAL. */
static int add_teacher(lb_policy *p, const char *word)
{
	char *end;
	unsigned long n;

	if (word[0] == '@') {
		struct group *g = getgrnam(word + 1);
		if (!g || p->nteacher_groups >= LB_POLICY_MAX)
			return LB_EINVAL;
		p->teacher_groups[p->nteacher_groups++] = g->gr_gid;
		return 0;
	}
	if (p->nteachers >= LB_POLICY_MAX)
		return LB_EINVAL;
	n = strtoul(word, &end, 10);
	if (*word && !*end) {
		p->teachers[p->nteachers++] = (uid_t)n;
		return 0;
	}
	{
		struct passwd *pw = getpwnam(word);
		if (!pw)
			return LB_EINVAL;
		p->teachers[p->nteachers++] = pw->pw_uid;
	}
	return 0;
}

/* The role in [access] key, or def. */
static lb_role role_key(const json_t *cfg, const char *key, lb_role def)
{
	lb_role r = def;

	lb_role_parse(lb_config_str(cfg, "access", key, NULL), &r); /* checked by the loader */
	return r;
}

int lb_policy_load(const json_t *cfg, lb_policy *p, lb_error *err)
{
	const json_t *sec = json_object_get(cfg, "access");
	const char *list = lb_config_str(cfg, "access", "teachers", NULL);
	const char *path = json_string_value(json_object_get(cfg, "_path"));
	json_int_t line =
	    json_integer_value(json_object_get(json_object_get(sec, "_lines"), "teachers"));
	const char *legacy = lb_config_str(cfg, "access", "default_role", NULL);

	memset(p, 0, sizeof *p);
	p->local_role = role_key(cfg, "local_role", LB_ROLE_STUDENT);
	p->remote_role = role_key(cfg, "remote_role", LB_ROLE_OBSERVER);
	p->every_local = -1;
	if (lb_config_num(cfg, "access", "student_max_rate", 1, 1e12, 10000, &p->student_max_rate,
			  err) < 0 ||
	    lb_config_num(cfg, "access", "student_max_batch", 1, 1e9, 1000, &p->student_max_batch,
			  err) < 0)
		return LB_EINVAL;
	if (legacy) {
		p->every_local = (int)role_key(cfg, "default_role", LB_ROLE_OBSERVER);
		lb_warn("%s:%lld: [access] default_role = %s gives every program on this computer "
			"the same role%s; prefer teachers = USERS and local_role",
			path ? path : "(configuration)",
			(long long)json_integer_value(
			    json_object_get(json_object_get(sec, "_lines"), "default_role")),
			legacy,
			p->every_local == LB_ROLE_TEACHER
			    ? " (every pupil on a shared computer is a teacher)"
			    : "");
	}
	if (!list) {
		/* the person who started the bridge, and root */
		p->teachers[p->nteachers++] = geteuid();
		if (geteuid() != 0)
			p->teachers[p->nteachers++] = 0;
		return 0;
	}
	{
		char buf[1024], *save = NULL;
		snprintf(buf, sizeof buf, "%s", list);
		for (char *w = strtok_r(buf, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save))
			if (add_teacher(p, w) < 0)
				return lb_error_set(
				    err, LB_ERR_INVALID_PARAMS,
				    "%s:%lld: [access] teachers: '%s' is %s",
				    path ? path : "(configuration)", (long long)line, w,
				    (w[0] == '@' ? p->nteacher_groups : p->nteachers) >=
					    LB_POLICY_MAX
					? "one too many (at most 32 users and 32 groups)"
				    : w[0] == '@' ? "not a group of this computer"
						  : "not a user of this computer");
	}
	return 0;
}
