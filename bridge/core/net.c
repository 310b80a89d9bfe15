/* net.c - the network's endpoints: a ROUTER and an XPUB of their own with CURVE, and the keys. */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zmq.h>

#include "../util/grow.h"
#include "../util/log.h"
#include "keys.h"
#include "state.h"

#define NET_MONITOR "inproc://lb-net-rpc-monitor"
#define NET_PUB_MONITOR "inproc://lb-net-pub-monitor"

/* A network request connection, and the key it authenticated with. */
struct lb_net_conn {
	int fd;
	unsigned long ino;
	char pub[41];
};

bool lb_endpoint_loopback(const char *ep)
{
	const char *host, *end;
	size_t n;

	if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
		return true;
	if (strncmp(ep, "tcp://", 6) == 0)
		host = ep + 6;
	else if (strncmp(ep, "ws://", 5) == 0)
		host = ep + 5;
	else
		return false;
	/* tcp://[::1]:5556, tcp://127.0.0.1:5556, tcp://localhost:5556, tcp://lo:5556 */
	end = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
	if (!end)
		return false;
	if (host[0] == '[')
		return end - host == 4 && strncmp(host, "[::1]:", 6) == 0;
	n = (size_t)(end - host);
	return (n >= 4 && strncmp(host, "127.", 4) == 0) ||
	       (n == 9 && !strncmp(host, "localhost", 9)) ||
	       (n == 2 && strncmp(host, "lo", 2) == 0);
}

/* Copy an int option of the local socket to the network one. */
static int copy_int(void *from, void *to, int opt)
{
	int v;
	size_t sz = sizeof v;

	if (zmq_getsockopt(from, opt, &v, &sz) < 0)
		return -1;
	return zmq_setsockopt(to, opt, &v, sizeof v);
}

/* The network socket of type, with the local one's limits (server.c sets those), CURVE server
 * with the bridge's secret key, the ZAP domain; bound to ep (recorded in out). NULL, logged. */
static void *net_socket(lb_server *s, int type, void *local, const char *what, const char *ep,
			const char *secret, char *out, size_t cap)
{
	void *sock = zmq_socket(s->zctx, type);
	int one = 1;
	int64_t max;
	uint64_t affinity = 2;
	size_t sz = sizeof max;

	if (!sock)
		return NULL;
	/* connections on the second I/O thread (server.c makes two with network endpoints) */
	if (zmq_setsockopt(sock, ZMQ_AFFINITY, &affinity, sizeof affinity) < 0 ||
	    zmq_getsockopt(local, ZMQ_MAXMSGSIZE, &max, &sz) < 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) < 0 ||
	    copy_int(local, sock, ZMQ_RCVHWM) < 0 || copy_int(local, sock, ZMQ_SNDHWM) < 0 ||
	    copy_int(local, sock, ZMQ_LINGER) < 0 ||
	    (type == ZMQ_ROUTER && (copy_int(local, sock, ZMQ_HEARTBEAT_IVL) < 0 ||
				    copy_int(local, sock, ZMQ_HEARTBEAT_TIMEOUT) < 0)) ||
	    /* as the local XPUB: every (un)subscription seen, and applied only as the policy
	     * allows (subpolicy.h) */
	    (type == ZMQ_XPUB && (zmq_setsockopt(sock, ZMQ_XPUB_VERBOSER, &one, sizeof one) < 0 ||
				  zmq_setsockopt(sock, ZMQ_XPUB_MANUAL, &one, sizeof one) < 0)) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, 40) < 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, LB_AUTH_DOMAIN, strlen(LB_AUTH_DOMAIN)) < 0) {
		lb_err("cannot set up the %s socket: %s", what, zmq_strerror(zmq_errno()));
		zmq_close(sock);
		return NULL;
	}
	if (zmq_bind(sock, ep) < 0) {
		lb_err("cannot bind the %s endpoint %s: %s", what, ep, zmq_strerror(zmq_errno()));
		zmq_close(sock);
		return NULL;
	}
	zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &cap);
	return sock;
}

/* A PAIR socket receiving sock's connection events through inproc endpoint ep, or NULL. */
static void *net_monitor(lb_server *s, void *sock, const char *ep)
{
	void *mon;
	int zero = 0;

	if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0)
		return NULL;
	mon = zmq_socket(s->zctx, ZMQ_PAIR);
	if (!mon)
		return NULL;
	zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(mon, ep) < 0) {
		zmq_close(mon);
		return NULL;
	}
	return mon;
}

const char *srv_server_key(lb_server *s, lb_error *err)
{
	char sec[41];

	if (!s->server_key[0] && lb_keys_server(s->opts.data_dir, s->server_key, sec, err) < 0)
		return NULL;
	return s->server_key;
}

struct lb_keys *srv_keys(lb_server *s)
{
	return s->keys;
}

int srv_net_open(lb_server *s)
{
	const lb_server_opts *o = &s->opts;
	const char *local[2] = {o->pub, o->rpc}, *names[2] = {"pub", "rpc"};
	char pub[41], sec[41];
	lb_error err = {0};
	int n;

	for (int i = 0; i < 2; i++)
		if (local[i] && !lb_endpoint_loopback(local[i])) {
			lb_err("[bridge] %s = %s is reachable from the network, where requests and "
			       "streams need CURVE: keep %s on this computer (tcp://127.0.0.1:...) "
			       "and give the network its own endpoint, net_%s = %s",
			       names[i], local[i], names[i], names[i], local[i]);
			return LB_EFAIL;
		}
	if (o->ws && *o->ws && !lb_endpoint_loopback(o->ws))
		lb_warn("[bridge] ws = %s is reachable from the network without CURVE (browsers "
			"cannot do it): anyone there reads every stream",
			o->ws);
	s->keys = o->data_dir ? lb_keys_new(o->data_dir) : NULL;
	if (!s->keys) {
		lb_err("cannot open the key store (data directory %s)",
		       o->data_dir ? o->data_dir : "unset");
		return LB_EFAIL;
	}
	s->auth->keys = s->keys; /* CURVE handshakes are answered from it */
	n = lb_keys_refresh(s->keys, lb_clock_ns(CLOCK_MONOTONIC), true);
	if (!(o->net_pub && *o->net_pub) && !(o->net_rpc && *o->net_rpc))
		return 0;
	if (n < 0) {
		lb_err("cannot read the key store %s: %s", s->keys->dir, strerror(errno));
		return LB_EFAIL;
	}
	if (n == 0) {
		lb_err(
		    "net_pub/net_rpc are set but no client key is registered in %s: nobody could "
		    "connect. Start the bridge without them once and make keys with "
		    "`labctl keys new --role teacher --name \"...\"` (and --role student for "
		    "groups, or `labctl keys qr` for a class), then start it again",
		    s->keys->dir);
		return LB_EFAIL;
	}
	if (lb_keys_server(o->data_dir, pub, sec, &err) < 0) {
		lb_err("the bridge's key pair: %s", err.message);
		return LB_EFAIL;
	}
	memcpy(s->server_key, pub, sizeof s->server_key);
	if (o->net_rpc && *o->net_rpc) {
		s->net_router = net_socket(s, ZMQ_ROUTER, s->router, "network requests", o->net_rpc,
					   sec, s->ep_net_rpc, sizeof s->ep_net_rpc);
		s->net_monitor = s->net_router ? net_monitor(s, s->net_router, NET_MONITOR) : NULL;
		if (!s->net_monitor)
			goto fail;
	}
	if (o->net_pub && *o->net_pub) {
		s->net_xpub = net_socket(s, ZMQ_XPUB, s->xpub, "network streams", o->net_pub, sec,
					 s->ep_net_pub, sizeof s->ep_net_pub);
		s->net_pub_monitor =
		    s->net_xpub ? net_monitor(s, s->net_xpub, NET_PUB_MONITOR) : NULL;
		if (!s->net_pub_monitor)
			goto fail;
	}
	memset(sec, 0, sizeof sec);
	lb_info("network endpoints (CURVE, %d client keys): requests %s, streams %s; the bridge's "
		"public key %s",
		n, s->ep_net_rpc[0] ? s->ep_net_rpc : "none",
		s->ep_net_pub[0] ? s->ep_net_pub : "none", s->server_key);
	return 0;
fail:
	memset(sec, 0, sizeof sec);
	return LB_EFAIL;
}

void srv_net_close(lb_server *s)
{
	if (s->net_router)
		zmq_socket_monitor(s->net_router, NULL, 0);
	if (s->net_xpub)
		zmq_socket_monitor(s->net_xpub, NULL, 0);
	if (s->net_monitor)
		zmq_close(s->net_monitor);
	if (s->net_pub_monitor)
		zmq_close(s->net_pub_monitor);
	if (s->net_router)
		zmq_close(s->net_router);
	if (s->net_xpub)
		zmq_close(s->net_xpub);
	s->net_router = s->net_xpub = s->net_monitor = s->net_pub_monitor = NULL;
	lb_keys_destroy(&s->keys);
	free(s->net_conn);
	s->net_conn = NULL;
	s->nnet_conn = s->capnet_conn = 0;
}

/* The inode of socket fd, 0 if it is closed. */
static unsigned long fd_ino(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Remember that connection fd uses key pub (the table is pruned of closed connections). */
static void note_conn(lb_server *s, int fd, const char *pub)
{
	unsigned long ino = fd_ino(fd);

	if (!ino)
		return;
	for (size_t i = 0; i < s->nnet_conn;) {
		struct lb_net_conn *c = &s->net_conn[i];
		if (c->fd == fd && c->ino == ino)
			return; /* known */
		if (c->fd == fd || fd_ino(c->fd) != c->ino)
			*c = s->net_conn[--s->nnet_conn]; /* closed, or its fd reused */
		else
			i++;
	}
	if (lb_grow(&s->net_conn, &s->capnet_conn, s->nnet_conn, sizeof *s->net_conn) < 0)
		return; /* not remembered: its next request is refused all the same */
	s->net_conn[s->nnet_conn].fd = fd;
	s->net_conn[s->nnet_conn].ino = ino;
	memcpy(s->net_conn[s->nnet_conn].pub, pub, 41);
	s->nnet_conn++;
}

int srv_net_check(lb_server *s, lb_client *c, lb_now now, lb_error *err)
{
	const char *pub = strncmp(c->user, "key:", 4) == 0 ? c->user + 4 : NULL;
	lb_key *key;

	if (!pub || !s->keys)
		return lb_error_set(err, LB_ERR_FORBIDDEN, "no key: the network needs CURVE");
	lb_keys_refresh(s->keys, now.mono, false);
	key = lb_keys_find(s->keys, pub);
	if (!key)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "this key was revoked: ask the teacher for a new one");
	key->last_seen = now.real;
	c->role = c->role < key->role ? c->role : key->role; /* never above the store's */
	note_conn(s, c->fd, pub);
	return 0;
}

void srv_net_note_sub(lb_server *s, zmq_msg_t *m, int fd)
{
	const char *user = zmq_msg_gets(m, "User-Id");

	if (user && strncmp(user, "key:", 4) == 0 && strlen(user + 4) == 40)
		note_conn(s, fd, user + 4);
}

void srv_net_sweep(lb_server *s, int64_t now)
{
	if (!s->keys || !s->nnet_conn)
		return;
	lb_keys_refresh(s->keys, now, false);
	if (s->keys->gen == s->net_keys_gen)
		return;
	s->net_keys_gen = s->keys->gen;
	for (size_t i = 0; i < s->nnet_conn;) {
		struct lb_net_conn *c = &s->net_conn[i];
		if (lb_keys_find(s->keys, c->pub)) {
			i++;
			continue;
		}
		if (fd_ino(c->fd) == c->ino) {
			lb_info("closed a network connection of key %.8s...: no longer registered",
				c->pub);
			shutdown(c->fd, SHUT_RDWR);
		}
		*c = s->net_conn[--s->nnet_conn];
	}
}

int srv_net_drop_key(lb_server *s, const char *pub)
{
	int n = 0;

	for (size_t i = 0; i < s->nnet_conn;) {
		struct lb_net_conn *c = &s->net_conn[i];
		if (strcmp(c->pub, pub) == 0) {
			/* libzmq cannot close one connection: shutting its socket down makes it see
			 * the end (the fd stays libzmq's to close) */
			if (fd_ino(c->fd) == c->ino) {
				shutdown(c->fd, SHUT_RDWR);
				n++;
			}
			*c = s->net_conn[--s->nnet_conn];
		} else {
			i++;
		}
	}
	return n;
}
