/* test_clientconf.c - unit tests of bridge/util/clientconf.c: --connect lists and client.ini. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../../bridge/util/clientconf.h"
#include "../../bridge/util/error.h"

/* spec must split into want_rpc and want_pub. */
static void split_ok(const char *spec, const char *want_rpc, const char *want_pub)
{
	char rpc[LB_CLIENT_STR] = "x", pub[LB_CLIENT_STR] = "x", err[256] = "";

	CHECK_EQ_INT(lb_connect_split(spec, rpc, sizeof rpc, pub, sizeof pub, err, sizeof err), 0);
	CHECK_STR(rpc, want_rpc);
	CHECK_STR(pub, want_pub);
}

/* spec must be refused with a message containing why. */
static void split_bad(const char *spec, const char *why)
{
	char rpc[LB_CLIENT_STR], pub[LB_CLIENT_STR], err[256] = "";

	CHECK_EQ_INT(lb_connect_split(spec, rpc, sizeof rpc, pub, sizeof pub, err, sizeof err),
		     LB_EINVAL);
	CHECK_MSG(strstr(err, why) != NULL, err);
}

static void test_connect_lists(void)
{
	split_ok("tcp://10.0.0.5:5556,tcp://10.0.0.5:5555", "tcp://10.0.0.5:5556",
		 "tcp://10.0.0.5:5555");
	split_ok("tcp://lab.local:7000", "tcp://lab.local:7000", "");
	split_ok("labpc", "tcp://labpc:5556", "tcp://labpc:5555");
	split_ok("192.168.1.20", "tcp://192.168.1.20:5556", "tcp://192.168.1.20:5555");
	split_ok("[fe80::1]", "tcp://[fe80::1]:5556", "tcp://[fe80::1]:5555");
	split_ok("tcp://[::1]:5556,tcp://[::1]:5555", "tcp://[::1]:5556", "tcp://[::1]:5555");
}

static void test_connect_refusals(void)
{
	split_bad("", "empty");
	split_bad("tcp://h", "is not tcp://HOST:PORT");
	split_bad("tcp://:5556", "is not tcp://HOST:PORT");
	split_bad("tcp://h:0", "is not tcp://HOST:PORT");
	split_bad("tcp://h:65536", "is not tcp://HOST:PORT");
	split_bad("tcp://h:55x6", "is not tcp://HOST:PORT");
	split_bad("ipc:///tmp/x", "is not tcp://HOST:PORT");
	split_bad("tcp://h:1,", "second endpoint");
	split_bad("tcp://h:1,ws://h:2", "second endpoint");
	split_bad("tcp://h:1,tcp://h:2,tcp://h:3", "second endpoint");
	split_bad("host:5556", "neither");
	split_bad("a host", "neither");
	split_bad("h,tcp://h:1", "is not tcp://HOST:PORT");
}

static void test_connect_too_long(void)
{
	char rpc[24], pub[24], err[256] = "";

	CHECK_EQ_INT(lb_connect_split("averyveryverylonghostname", rpc, sizeof rpc, pub, sizeof pub,
				      err, sizeof err),
		     LB_EINVAL);
	CHECK_EQ_INT(lb_connect_split("tcp://averyveryverylonghost:1", rpc, sizeof rpc, pub,
				      sizeof pub, err, sizeof err),
		     LB_EINVAL);
	CHECK(strstr(err, "too long") != NULL);
}

static void test_ini(void)
{
	struct lb_clientconf c;
	char err[256] = "";

	CHECK_EQ_INT(lb_clientconf_parse("# a laptop\n[bridge]\nconnect = labpc\n"
					 "key = ~/keys/me.key_secret ; mine\n"
					 "server_key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n",
					 &c, err, sizeof err),
		     0);
	CHECK_STR(c.connect, "labpc");
	CHECK_STR(c.key, "~/keys/me.key_secret");
	CHECK_STR(c.server_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
	CHECK_STR(c.rpc, "");
	CHECK_STR(c.pub, "");
	CHECK_EQ_INT(lb_clientconf_parse("", &c, err, sizeof err), 0);
	CHECK_STR(c.connect, "");
	CHECK_EQ_INT(
	    lb_clientconf_parse("[bridge]\nrpc=tcp://a:1\npub=tcp://a:2\n", &c, err, sizeof err),
	    0);
	CHECK_STR(c.rpc, "tcp://a:1");
	CHECK_STR(c.pub, "tcp://a:2");
}

static void test_ini_refusals(void)
{
	struct lb_clientconf c;
	char err[256] = "", big[1200];

	CHECK_EQ_INT(lb_clientconf_parse("[bridge]\nconect = labpc\n", &c, err, sizeof err),
		     LB_EINVAL);
	CHECK_STR(err, "line 2: unknown key 'conect' (connect, rpc, pub, key, server_key)");
	CHECK_EQ_INT(
	    lb_clientconf_parse("[bridge]\nkey = a\n[other]\nkey = b\n", &c, err, sizeof err),
	    LB_EINVAL);
	CHECK_STR(err, "line 4: unknown section [other] (only [bridge])");
	CHECK_EQ_INT(lb_clientconf_parse("connect = labpc\n", &c, err, sizeof err), LB_EINVAL);
	CHECK(strstr(err, "line 1: unknown section") != NULL);
	CHECK_EQ_INT(lb_clientconf_parse("[bridge]\njust words\n", &c, err, sizeof err), LB_EINVAL);
	CHECK_STR(err, "line 2: not 'name = value' nor '[section]'");
	snprintf(big, sizeof big, "[bridge]\nkey = %0600d\n", 0);
	CHECK_EQ_INT(lb_clientconf_parse(big, &c, err, sizeof err), LB_EINVAL);
	CHECK_STR(err, "line 2: longer than 198 bytes");
	snprintf(big, sizeof big, "[bridge]\nkey = %0192d\n", 0); /* 198 bytes: read whole */
	CHECK_EQ_INT(lb_clientconf_parse(big, &c, err, sizeof err), 0);
	CHECK_EQ_INT((int)strlen(c.key), 192);
}

static void test_endpoint_remote(void)
{
	CHECK(lb_endpoint_remote("tcp://192.168.1.20:5556"));
	CHECK(lb_endpoint_remote("tcp://labpc:5556"));
	CHECK(lb_endpoint_remote("tcp://[fe80::1]:5556"));
	CHECK(lb_endpoint_remote("tcp://127.example.org:5556"));
	CHECK(lb_endpoint_remote("tcp://0.0.0.0:5556"));
	CHECK(!lb_endpoint_remote("tcp://127.0.0.1:5556"));
	CHECK(!lb_endpoint_remote("tcp://127.1.2.3:5556"));
	CHECK(!lb_endpoint_remote("tcp://localhost:5556"));
	CHECK(!lb_endpoint_remote("tcp://[::1]:5556"));
	CHECK(!lb_endpoint_remote("ipc:///tmp/rpc"));
	CHECK(!lb_endpoint_remote("tcp://nocolon"));
	CHECK(!lb_endpoint_remote(""));
}

int main(void)
{
	RUN(test_endpoint_remote);
	RUN(test_connect_lists);
	RUN(test_connect_refusals);
	RUN(test_connect_too_long);
	RUN(test_ini);
	RUN(test_ini_refusals);
	return check_summary();
}
