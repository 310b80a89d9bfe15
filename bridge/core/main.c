/* main.c - labbridge: command line, configuration and signals around the server loop. */
#include <getopt.h>
#include <malloc.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"
#include "../util/config.h"
#include "../util/log.h"
#include "../util/yesno.h"
#include "server.h"

#define DEFAULT_CONFIG "/etc/labbridge/labbridge.conf"

static volatile sig_atomic_t stop_requested;

/* SIGINT/SIGTERM: ask the loop to stop (it wakes up from poll with EINTR). */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Print the usage text on f. */
static void usage(FILE *f)
{
	fprintf(
	    f, "usage: labbridge [options]\n"
	       "Bridges the lab's sensors, robots, printers and scanners to ZeroMQ streams.\n\n"
	       "  -c, --config FILE    configuration file (default " DEFAULT_CONFIG " if present)\n"
	       "      --pub EP         stream endpoint (default tcp://127.0.0.1:5555)\n"
	       "      --rpc EP         request endpoint (default tcp://127.0.0.1:5556)\n"
	       "      --ws EP          WebSocket stream endpoint, or 'none' (default "
	       "ws://127.0.0.1:5557)\n"
	       "      --http ADDR:PORT the tablets' web page and API, or 'none' (default "
	       "127.0.0.1:8080)\n"
	       "      --simulate[=WHEN] serve the simulated lab: yes, no or auto (default auto:\n"
	       "                       when no hardware is found)\n"
	       "  -v, --verbose        more log messages (-vv: debug)\n"
	       "  -q, --quiet          errors only\n"
	       "  -h, --help           this text\n"
	       "      --version        print the version\n\n"
	       "Protocol: bridge/PROTOCOL.md. Command-line options override the file.\n");
}

/* Parse an "auto/yes/no" word; -1, 1, 0, or -2 if invalid. */
static int parse_when(const char *s)
{
	if (!s)
		return 1;
	if (!strcmp(s, "auto"))
		return -1;
	return lb_yesno(s) < 0 ? -2 : lb_yesno(s);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"pub", required_argument, NULL, 'P'},
	    {"rpc", required_argument, NULL, 'R'},
	    {"ws", required_argument, NULL, 'W'},
	    {"simulate", optional_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"http", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	const char *o_pub = NULL, *o_rpc = NULL, *o_ws = NULL, *o_sim = NULL, *o_http = NULL;
	int verbosity = LB_LOG_INFO, opt, rc = 1;
	json_t *cfg = NULL;
	lb_error err = {0};
	lb_server_opts so = {0};
	lb_server *server = NULL;
	struct sigaction sa;
	sigset_t stop_set;
	double num;
	const char *ws;
	char home_dir[512];

	/* one malloc arena per thread would hold memory for each of the dozens of device threads,
	 * which allocate little: two arenas keep the idle resident size down */
	mallopt(M_ARENA_MAX, 2);
	while ((opt = getopt_long(argc, argv, "c:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'P': o_pub = optarg; break;
		case 'R': o_rpc = optarg; break;
		case 'W': o_ws = optarg; break;
		case 'H': o_http = optarg; break;
		case 'S': o_sim = optarg ? optarg : "yes"; break;
		case 'v': verbosity++; break;
		case 'q': verbosity = LB_LOG_ERROR; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("labbridge 0.1.0 (protocol 1)\n"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "labbridge: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	lb_log_set_level(verbosity);
	if (!config_path && access(DEFAULT_CONFIG, R_OK) == 0)
		config_path = DEFAULT_CONFIG;
	cfg = config_path ? lb_config_load(config_path, &err) : lb_config_empty();
	if (!cfg) {
		lb_err("%s", err.message);
		return 1;
	}
	if (config_path)
		lb_info("configuration: %s", config_path);
	if ((o_pub && lb_config_set(cfg, "bridge", "pub", o_pub) < 0) ||
	    (o_rpc && lb_config_set(cfg, "bridge", "rpc", o_rpc) < 0) ||
	    (o_ws && lb_config_set(cfg, "bridge", "ws", o_ws) < 0) ||
	    (o_sim && lb_config_set(cfg, "bridge", "simulate", o_sim) < 0) ||
	    (o_http && lb_config_set(cfg, "bridge", "http", o_http) < 0))
		goto out;
	/* the web service reads it (services/web): its default is the daemon's, not a test's */
	if (!lb_config_str(cfg, "bridge", "http", NULL) &&
	    lb_config_set(cfg, "bridge", "http", "127.0.0.1:8080") < 0)
		goto out;
	so.pub = lb_config_str(cfg, "bridge", "pub", "tcp://127.0.0.1:5555");
	so.rpc = lb_config_str(cfg, "bridge", "rpc", "tcp://127.0.0.1:5556");
	ws = lb_config_str(cfg, "bridge", "ws", "ws://127.0.0.1:5557");
	so.ws = strcmp(ws, "none") == 0 || !*ws ? NULL : ws;
	so.simulate = parse_when(lb_config_str(cfg, "bridge", "simulate", "auto"));
	if (so.simulate == -2) {
		lb_err("simulate must be yes, no or auto, not '%s'",
		       lb_config_str(cfg, "bridge", "simulate", ""));
		goto out;
	}
	if (so.ws && !zmq_has("WS")) {
		lb_warn("this libzmq has no WebSocket transport: %s is not served", so.ws);
		so.ws = NULL;
	}
	if (lb_config_num(cfg, "bridge", "heartbeat_ms", 10, 1000, 500, &num, &err) < 0)
		goto bad;
	so.heartbeat_ms = (int)num;
	if (lb_config_num(cfg, "bridge", "pub_hwm", 0, 1e8, 10000, &num, &err) < 0)
		goto bad;
	so.pub_hwm = (int)num;
	if (lb_config_num(cfg, "bridge", "subscriber_max_mb", 0, 65536, 32, &num, &err) < 0)
		goto bad;
	so.subscriber_max = (uint64_t)(num * 1024 * 1024); /* 0: no limit */
	if (lb_config_num(cfg, "bridge", "request_timeout_ms", 10, 600000, 5000, &num, &err) < 0)
		goto bad;
	so.request_timeout_ms = (int)num;
	if (lb_config_num(cfg, "bridge", "client_timeout_ms", 200, 60000, 300, &num, &err) < 0)
		goto bad;
	so.client_timeout_ms = (int)num;
	if (lb_policy_load(cfg, &so.policy, &err) < 0)
		goto bad;
	so.config = cfg;
	so.data_dir = lb_config_str(cfg, "bridge", "data_dir", NULL);
	if (!so.data_dir) {
		const char *state = getenv("STATE_DIRECTORY"), *home = getenv("HOME");
		if (state && *state)
			so.data_dir = state; /* systemd's StateDirectory= */
		else if (geteuid() == 0 || !home)
			so.data_dir = "/var/lib/labbridge";
		else {
			snprintf(home_dir, sizeof home_dir, "%s/.local/share/labbridge", home);
			so.data_dir = home_dir;
		}
	}

	/*
	 * SIGTERM and SIGINT are blocked in every thread (blocked here, before any thread exists,
	 * every thread inherits it) and read from a signalfd by the main loop: no thread is ever
	 * interrupted by them, and the stop reaches the loop whichever thread the kernel would have
	 * chosen. A handler stays as a fallback if the signalfd cannot be made.
	 */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	so.stop_fd = signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (so.stop_fd >= 0) {
		pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
	} else {
		lb_warn("signalfd: %s: stopping by a signal handler", strerror(errno));
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);

	{
		/* every device holds a few descriptors: use the whole allowance */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	server = lb_server_new(&so);
	if (!server)
		goto out;
	rc = lb_server_run(server, &stop_requested) < 0 ? 1 : 0;
	lb_info("stopping");
	goto out;
bad:
	lb_err("%s", err.message);
out:
	lb_server_destroy(&server);
	json_decref(cfg);
	return rc;
}
