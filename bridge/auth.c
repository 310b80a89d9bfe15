/* auth.c - the ZAP authenticator (RFC 27): a User-Id and an X-Role for every connection. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

lb_role lb_auth_role_for(const lb_auth *auth, const char *address)
{
	/* ipc:// peers are reported as "localhost:<uid>:<gid>:<pid>" by libzmq */
	if (strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0 || address[0] == '\0' ||
	    strncmp(address, "localhost", 9) == 0)
		return auth->local_role;
	return auth->remote_role;
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

void lb_auth_handle(lb_auth *auth)
{
	for (;;) {
		char version[16], reqid[256], domain[64], address[128], mechanism[16];
		char user[192];
		unsigned char meta[256];
		size_t metalen;
		int more = 1, ev = 0;
		size_t moresz = sizeof more, evsz = sizeof ev;
		lb_role role;

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
		/* credentials frames, if any */
		zmq_getsockopt(auth->sock, ZMQ_RCVMORE, &more, &moresz);
		while (more) {
			char skip[8];
			if (zmq_recv(auth->sock, skip, sizeof skip, 0) < 0)
				return;
			zmq_getsockopt(auth->sock, ZMQ_RCVMORE, &more, &moresz);
		}
		role = lb_auth_role_for(auth, address);
		lb_dbg("ZAP: %s connection from '%s' gets role %s", mechanism, address,
		       lb_role_name(role));
		snprintf(user, sizeof user, "local:%s", address[0] ? address : "ipc");
		metalen = put_property(meta, "X-Role", lb_role_name(role));
		if (strcmp(mechanism, "NULL") != 0) {
			/* Only NULL is configured today; CURVE keys will map to roles here. */
			zmq_send(auth->sock, "1.0", 3, ZMQ_SNDMORE);
			zmq_send(auth->sock, reqid, strlen(reqid), ZMQ_SNDMORE);
			zmq_send(auth->sock, "400", 3, ZMQ_SNDMORE);
			zmq_send(auth->sock, "unsupported mechanism", 21, ZMQ_SNDMORE);
			zmq_send(auth->sock, "", 0, ZMQ_SNDMORE);
			zmq_send(auth->sock, "", 0, 0);
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

lb_auth *lb_auth_new(void *zctx, lb_role local_role, lb_role remote_role)
{
	lb_auth *auth = calloc(1, sizeof *auth);
	int zero = 0;

	if (!auth)
		return NULL;
	auth->zctx = zctx;
	auth->local_role = local_role;
	auth->remote_role = remote_role;
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
	free(*pauth);
	*pauth = NULL;
}
