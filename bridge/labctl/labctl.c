/* labctl.c - the labbridge command-line client: its command line, usage and dispatch. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "labctl.h"

#define DEFAULT_PUB "tcp://127.0.0.1:5555"
#define DEFAULT_RPC "tcp://127.0.0.1:5556"
#define DEFAULT_TIMEOUT_MS 5000

/* The commands, as bits so that each option can say where it applies. */
enum {
	C_DEVICES = 1,
	C_WATCH = 2,
	C_SNAPSHOT = 4,
	C_CALL = 8,
	C_INFO = 16,
	C_PRINT = 32,
	C_QUEUE = 64,
	C_JOB = 128,
	C_PRINTER = 256,
	C_ROOM = 512,
	C_ROBOTS = 1024,
	C_ROBOT = 2048,
	C_SCAN = 4096,
	C_KEYS = 8192,
	C_AUDIT = 16384,
	C_DISCOVER = 32768,
	C_PAIR = 65536,
	C_ALL = 131071
};

enum {
	OPT_PUB,
	OPT_RPC,
	OPT_TIMEOUT_MS,
	OPT_JSON,
	OPT_CSV,
	OPT_COUNT,
	OPT_TIMEOUT,
	OPT_PRINTER,
	OPT_NAME,
	OPT_NO_WAIT,
	OPT_PRESET,
	OPT_SCALE,
	OPT_ROTATE,
	OPT_HISTORY,
	OPT_FOR,
	OPT_DEVICE,
	OPT_FORMAT,
	OPT_SOURCE,
	OPT_SIZE,
	OPT_DPI,
	OPT_MODE,
	OPT_STEPS,
	OPT_OUTPUT,
	OPT_ROLE,
	OPT_PREFIX,
	OPT_ENDPOINT,
	OPT_OUTDIR,
	OPT_USER,
	OPT_SINCE,
	OPT_CONNECT,
	OPT_KEY,
	OPT_SERVER_KEY,
	OPT_DISCOVER,
	OPT_URL,
	OPT_NONE,
	OPT_USES,
	OPT_TTL
};

/* The options: name, whether it takes a value, the commands it applies to. */
static const struct optspec {
	const char *name;
	bool has_value;
	unsigned cmds;
} optspecs[] = {
    [OPT_PUB] = {"--pub", true, C_ALL & ~C_DISCOVER},
    [OPT_RPC] = {"--rpc", true, C_ALL & ~C_DISCOVER},
    [OPT_CONNECT] = {"--connect", true, C_ALL & ~C_DISCOVER},
    [OPT_KEY] = {"--key", true, C_ALL & ~C_DISCOVER},
    [OPT_SERVER_KEY] = {"--server-key", true, C_ALL & ~C_DISCOVER},
    [OPT_DISCOVER] = {"--discover", true, C_ALL & ~C_DISCOVER},
    [OPT_TIMEOUT_MS] = {"--timeout-ms", true, C_ALL},
    [OPT_JSON] = {"--json", false,
		  C_DEVICES | C_WATCH | C_SNAPSHOT | C_CALL | C_INFO | C_QUEUE | C_JOB | C_PRINTER |
		      C_ROOM | C_ROBOTS | C_KEYS | C_AUDIT | C_DISCOVER | C_PAIR},
    [OPT_CSV] = {"--csv", false, C_WATCH},
    [OPT_COUNT] = {"--count", true, C_WATCH | C_KEYS | C_AUDIT},
    [OPT_TIMEOUT] = {"--timeout", true, C_WATCH | C_DISCOVER},
    [OPT_PRINTER] = {"--printer", true, C_PRINT},
    [OPT_NAME] = {"--name", true, C_PRINT | C_ROBOT | C_KEYS | C_PAIR},
    [OPT_NO_WAIT] = {"--no-wait", false, C_PRINT},
    [OPT_PRESET] = {"--preset", true, C_PRINT},
    [OPT_SCALE] = {"--scale", true, C_PRINT},
    [OPT_ROTATE] = {"--rotate", true, C_PRINT},
    [OPT_HISTORY] = {"--history", false, C_QUEUE},
    [OPT_FOR] = {"--for", true, C_ROBOT},
    [OPT_DEVICE] = {"--device", true, C_SCAN | C_AUDIT | C_DEVICES},
    [OPT_FORMAT] = {"--format", true, C_SCAN},
    [OPT_SOURCE] = {"--source", true, C_SCAN},
    [OPT_SIZE] = {"--size", true, C_SCAN},
    [OPT_DPI] = {"--dpi", true, C_SCAN},
    [OPT_MODE] = {"--mode", true, C_SCAN},
    [OPT_STEPS] = {"--steps", true, C_SCAN},
    [OPT_OUTPUT] = {"-o", true, C_SCAN | C_KEYS | C_DEVICES},
    [OPT_ROLE] = {"--role", true, C_KEYS | C_PAIR},
    [OPT_PREFIX] = {"--prefix", true, C_KEYS},
    [OPT_ENDPOINT] = {"--endpoint", true, C_KEYS},
    [OPT_OUTDIR] = {"--output", true, C_KEYS},
    [OPT_USER] = {"--user", true, C_AUDIT},
    [OPT_SINCE] = {"--since", true, C_AUDIT},
    [OPT_URL] = {"--url", true, C_DEVICES},
    [OPT_NONE] = {"--none", false, C_ROOM},
    [OPT_USES] = {"--uses", true, C_PAIR},
    [OPT_TTL] = {"--ttl", true, C_PAIR},
};

/* Print the usage text on f. */
static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: labctl [OPTIONS] COMMAND [ARGS]\n"
	    "The labbridge command-line client (protocol: bridge/PROTOCOL.md).\n\n"
	    "Commands:\n"
	    "  devices [--json]              the devices, their streams (unit, rate) and leases\n"
	    "  devices labels -o FILE.pdf [--url http://HOST:PORT/] [--device ID]...\n"
	    "                                QR labels to stick on devices (4 x 5 cm, A4 pages)\n"
	    "  watch PATTERN [--count N] [--csv | --json] [--timeout SEC]\n"
	    "                                live samples of the topics starting with PATTERN:\n"
	    "                                sensor/ (every sensor), sensor/sim-temp-1/ (a "
	    "device),\n"
	    "                                sensor/sim-temp-1/temperature/ (a stream), bridge/\n"
	    "  snapshot [PREFIX] [--json]    the last value of every stream (under PREFIX)\n"
	    "  call METHOD [JSON-PARAMS]     any request; prints the result as JSON, e.g.\n"
	    "                                call device.set '{\"device\": \"sim-volt-1\", "
	    "\"key\": \"rate\", \"value\": 5000}'\n"
	    "  info [--json]                 the bridge: version, epoch, uptime, endpoints\n"
	    "  discover [--timeout S] [--json]\n"
	    "                                the bridges announced on the LAN (DNS-SD): name,\n"
	    "                                host, addresses, endpoints, key fingerprint\n\n"
	    "Print queue (3D printers):\n"
	    "  print FILE [--printer ID] [--name NAME] [--no-wait]\n"
	    "        [--preset NAME] [--scale PCT] [--rotate DEG]\n"
	    "                                upload a G-code file, or a 3D model (STL, 3MF, OBJ)\n"
	    "                                the bridge slices with a preset (brouillon, normal,\n"
	    "                                fin; scale and rotate: teachers), then follow it\n"
	    "                                until it is done (progress, ETA, temperatures)\n"
	    "  queue [--history] [--json]    the waiting and printing jobs, or the finished ones\n"
	    "  job show|approve|cancel|retry|delete|pause|resume ID [--json]\n"
	    "  job move ID POSITION          put a waiting job at POSITION (1 = next)\n"
	    "  printer clear ID              the printer's bed is clear: the next job may start\n"
	    "  printer estop [ID]            emergency stop of one printer, or of every printer\n\n"
	    "Scanners (document scanners through SANE, 3D scanners):\n"
	    "  scan -o FILE [--device ID] [--format pdf|png|jpeg|tiff|pnm|ply] [--source "
	    "adf|flatbed]\n"
	    "       [--size A3|A4|Letter|WxH] [--dpi N] [--mode color|gray|lineart] [--steps N]\n"
	    "                                scan as a job (default: the first scanner, PDF), "
	    "show\n"
	    "                                its progress, then fetch the result to FILE (several\n"
	    "                                files: FILE's stem + -1, -2...); WxH in mm; Ctrl-C\n"
	    "                                cancels the scan\n\n"
	    "Room stop (every device that can be halted: printers, sensors...):\n"
	    "  room stop                     halt them all now, and keep them halted (anyone)\n"
	    "  room release                  let devices start again (teachers)\n"
	    "  room state                    whether the room is stopped, by whom\n"
	    "  room assign DEVICE GROUP|--none  only GROUP's students may take DEVICE (teachers)\n"
	    "  room assignments              which device is assigned to which group, who holds "
	    "it\n\n"
	    "Robots (Thymio, MicroPython boards, mBot, Arduino robots):\n"
	    "  robots [--json]               every robot: state, owner, what it takes\n"
	    "  robot run ID FILE [--name NAME]\n"
	    "                                take the robot, load FILE (.py: MicroPython, .aseba:\n"
	    "                                Aseba), run it and print its output until it ends;\n"
	    "                                Ctrl-C stops the program\n"
	    "  robot drive ID LEFT RIGHT [--for SEC]\n"
	    "                                take the robot and turn its wheels (-1..1 of their\n"
	    "                                maximum) for SEC seconds (default 1), then stop\n"
	    "  robot stop ID                 stop a robot nobody else holds\n"
	    "A robot is ours while labctl runs: when it exits the bridge stops the robot.\n\n"
	    "Network keys (CurveZMQ, for net_rpc/net_pub; teachers):\n"
	    "  keys new --role ROLE --name NAME [--output DIR]\n"
	    "                                register a new key pair; writes NAME.key and\n"
	    "                                NAME.key_secret (0600) in DIR (default: here)\n"
	    "  keys list [--json]            the registered keys: role, fingerprint, last seen\n"
	    "  keys revoke NAME|FINGERPRINT  refuse that key from now on\n"
	    "  keys export NAME [--json]     its public certificate, the bridge's key, endpoints\n"
	    "  keys qr --role ROLE --prefix TEXT --count N -o FILE.pdf [--endpoint EP]\n"
	    "                                N keys 'TEXT 1'..'TEXT N' as a page of QR codes\n\n"
	    "Tablets (the web page; teachers):\n"
	    "  pair new --name NAME [--role ROLE] [--uses K] [--ttl SEC] [--json]\n"
	    "                                a pairing code, its URL and its QR code (terminal)\n"
	    "  pair list [--json]            the live pairings (their codes are not shown again)\n"
	    "  pair revoke ID                the code stops working, its sessions end\n\n"
	    "Audit log of commands (teachers):\n"
	    "  audit [--device D] [--user U] [--since 1h|30m|2d|SEC] [--count N] [--json]\n"
	    "                                who did what to which device, when (newest\n"
	    "                                first, at most N entries, default 100)\n\n"
	    "Options (anywhere on the line):\n"
	    "  --pub EP          stream endpoint (default $LABBRIDGE_PUB, else " DEFAULT_PUB ")\n"
	    "  --rpc EP          request endpoint (default $LABBRIDGE_RPC, else " DEFAULT_RPC ")\n"
	    "  --timeout-ms N    how long to wait for a reply (default 5000)\n"
	    "  -h, --help        this text\n\n"
	    "Another computer's bridge (CURVE, its net_rpc/net_pub endpoints):\n"
	    "  --connect RPC[,PUB]  tcp://HOST:PORT of its requests[, of its streams], or HOST\n"
	    "                    (tcp://HOST:5556,tcp://HOST:5555), or auto[:NAME] (discover)\n"
	    "  --key FILE        our key pair: NAME.key_secret from labctl keys new (alone, its\n"
	    "                    endpoints and the bridge's key written in it are used)\n"
	    "  --server-key K    the bridge's public key: Z85 text (labctl keys export) or a file\n"
	    "  --discover NAME   the bridge of that name on the LAN (checked against "
	    "--server-key)\n"
	    "  $LABBRIDGE_CONNECT, $LABBRIDGE_KEY, $LABBRIDGE_SERVER_KEY, $LABBRIDGE_DISCOVER, "
	    "and\n"
	    "  ~/.config/labbridge/client.ini ([bridge] connect/rpc/pub/key/server_key; or\n"
	    "  $LABBRIDGE_CLIENT_CONF) give the same, the command line first.\n\n"
	    "watch: --count N stops after N samples; --timeout SEC fails when no sample arrives\n"
	    "for SEC seconds (default: never, or 10 s with --count); lost messages (sequence "
	    "gaps)\n"
	    "are reported on stderr; fails when nothing at all, not even the bridge's heartbeat,\n"
	    "arrives for 3 s. --csv: time_ns,topic,value,unit; --json: one object per sample.\n\n"
	    "print: the upload shows its progress on stderr, then the job id and state on stdout;\n"
	    "without --no-wait labctl follows the job until it ends (a job waiting for a "
	    "teacher's\n"
	    "approval keeps waiting) and exits 0 when it is done, 1 when it failed, was cancelled\n"
	    "or interrupted. Ctrl-C stops following, not the job (status 1: it has not "
	    "finished).\n\n"
	    "Exit status: 0 success, 1 failure or error reply, 2 bad command line.\n");
}

/* Parse a whole positive finite number of seconds into *out; 0, or -1 if s is not one. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e6)
		return -1;
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- command line */

/* The commands: name, bit, positional arguments (min, max), what runs it. */
static const struct command {
	const char *name;
	unsigned bit;
	int minargs, maxargs;
	int (*run)(void *ctx, const struct labctl_opts *o);
} commands[] = {
    {"devices", C_DEVICES, 0, 1, labctl_cmd_devices},
    {"watch", C_WATCH, 1, 1, labctl_cmd_watch},
    {"snapshot", C_SNAPSHOT, 0, 1, labctl_cmd_snapshot},
    {"call", C_CALL, 1, 2, labctl_cmd_call},
    {"info", C_INFO, 0, 0, labctl_cmd_info},
    {"print", C_PRINT, 1, 1, labctl_cmd_print},
    {"queue", C_QUEUE, 0, 0, labctl_cmd_queue},
    {"job", C_JOB, 2, 3, labctl_cmd_job},
    {"printer", C_PRINTER, 1, 2, labctl_cmd_printer},
    {"room", C_ROOM, 1, 3, labctl_cmd_room},
    {"robots", C_ROBOTS, 0, 0, labctl_cmd_robots},
    {"robot", C_ROBOT, 2, 4, labctl_cmd_robot},
    {"scan", C_SCAN, 0, 0, labctl_cmd_scan},
    {"keys", C_KEYS, 1, 2, labctl_cmd_keys},
    {"audit", C_AUDIT, 0, 0, labctl_cmd_audit},
    {"discover", C_DISCOVER, 0, 0, labctl_cmd_discover},
    {"pair", C_PAIR, 1, 2, labctl_cmd_pair},
};

/* Read the command line into *o and find its command in *cmd. 0; 1 when help was asked; -1
 * after printing what is wrong (the caller adds the usage and exits with status 2). */
static int parse_args(int argc, char **argv, struct labctl_opts *o, const struct command **cmd)
{
	const char *pos[5];
	int npos = 0;
	bool positional_only = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		size_t nlen;
		int id = -1;

		/* a negative number (a wheel speed) is an argument, not an option */
		if (positional_only || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9') || a[1] == '.') {
			if (npos == 5) {
				labctl_errmsg("labctl: too many arguments ('%s')\n", a);
				return -1;
			}
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			positional_only = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		for (int k = 0; k < (int)(sizeof optspecs / sizeof *optspecs); k++)
			if (strlen(optspecs[k].name) == nlen && !strncmp(a, optspecs[k].name, nlen))
				id = k;
		if (id < 0) {
			labctl_errmsg("labctl: unknown option '%.*s'\n", (int)nlen, a);
			return -1;
		}
		if (optspecs[id].has_value) {
			val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!val) {
				labctl_errmsg("labctl: %s needs a value\n", optspecs[id].name);
				return -1;
			}
		} else if (eq) {
			labctl_errmsg("labctl: %s takes no value\n", optspecs[id].name);
			return -1;
		}
		o->given |= 1ull << id;
		switch (id) {
		case OPT_PUB: o->pub = val; break;
		case OPT_RPC: o->rpc = val; break;
		case OPT_CONNECT: o->connect = val; break;
		case OPT_KEY: o->key = val; break;
		case OPT_SERVER_KEY: o->server_key = val; break;
		case OPT_DISCOVER: o->discover = val; break;
		case OPT_JSON: o->json = true; break;
		case OPT_CSV: o->csv = true; break;
		case OPT_PRINTER: o->printer = val; break;
		case OPT_NAME: o->name = val; break;
		case OPT_NO_WAIT: o->no_wait = true; break;
		case OPT_PRESET: o->preset = val; break;
		case OPT_SCALE: o->scale = val; break;
		case OPT_ROTATE: o->rotate = val; break;
		case OPT_HISTORY: o->history = true; break;
		case OPT_DEVICE:
			o->device = val;
			if (o->ndevices == LABCTL_DEVICES_MAX) {
				labctl_errmsg("labctl: at most %d --device\n", LABCTL_DEVICES_MAX);
				return -1;
			}
			o->devices[o->ndevices++] = val;
			break;
		case OPT_URL: o->url = val; break;
		case OPT_NONE: o->none = true; break;
		case OPT_FORMAT: o->format = val; break;
		case OPT_SOURCE: o->source = val; break;
		case OPT_SIZE: o->size = val; break;
		case OPT_MODE: o->mode = val; break;
		case OPT_OUTPUT: o->output = val; break;
		case OPT_OUTDIR: o->output = val; break;
		case OPT_USER: o->user = val; break;
		case OPT_SINCE: o->since = val; break;
		case OPT_ROLE: o->role = val; break;
		case OPT_PREFIX: o->prefix = val; break;
		case OPT_ENDPOINT: o->endpoint = val; break;
		case OPT_USES:
			if (labctl_parse_long(val, 1, 100, &o->uses) < 0) {
				labctl_errmsg("labctl: --uses wants 1..100 tablets, not '%s'\n",
					      val);
				return -1;
			}
			break;
		case OPT_TTL:
			if (labctl_parse_long(val, 10, 86400, &o->ttl) < 0) {
				labctl_errmsg("labctl: --ttl wants 10..86400 seconds, not '%s'\n",
					      val);
				return -1;
			}
			break;
		case OPT_DPI:
			if (labctl_parse_long(val, 1, 100000, &o->dpi) < 0) {
				labctl_errmsg("labctl: --dpi wants dots per inch, not '%s'\n", val);
				return -1;
			}
			break;
		case OPT_STEPS:
			if (labctl_parse_long(val, 1, 100000, &o->steps) < 0) {
				labctl_errmsg("labctl: --steps wants a number of steps, not '%s'\n",
					      val);
				return -1;
			}
			break;
		case OPT_FOR:
			if (parse_seconds(val, &o->for_s) < 0) {
				labctl_errmsg("labctl: --for wants seconds (> 0), not '%s'\n", val);
				return -1;
			}
			break;
		case OPT_TIMEOUT_MS:
			if (labctl_parse_long(val, 1, 3600000, &o->timeout_ms) < 0) {
				labctl_errmsg(
				    "labctl: --timeout-ms wants milliseconds (1..3600000), "
				    "not '%s'\n",
				    val);
				return -1;
			}
			break;
		case OPT_COUNT:
			if (labctl_parse_long(val, 1, LONG_MAX, &o->count) < 0) {
				labctl_errmsg(
				    "labctl: --count wants a positive integer, not '%s'\n", val);
				return -1;
			}
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(val, &o->timeout_s) < 0) {
				labctl_errmsg("labctl: --timeout wants seconds (> 0), not '%s'\n",
					      val);
				return -1;
			}
			o->timeout_set = true;
			break;
		}
	}
	if (npos == 0) {
		labctl_errmsg("labctl: no command given\n");
		return -1;
	}
	o->cmd = pos[0];
	*cmd = NULL;
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
		if (!strcmp(o->cmd, commands[k].name))
			*cmd = &commands[k];
	if (!*cmd) {
		labctl_errmsg("labctl: unknown command '%s'\n", o->cmd);
		return -1;
	}
	o->narg = npos - 1;
	if (o->narg < (*cmd)->minargs || o->narg > (*cmd)->maxargs) {
		labctl_errmsg("labctl: wrong number of arguments for '%s'\n", o->cmd);
		return -1;
	}
	for (int k = 0; k < o->narg; k++)
		o->arg[k] = pos[k + 1];
	for (int k = 0; k < (int)(sizeof optspecs / sizeof *optspecs); k++)
		if ((o->given & 1ull << k) && !(optspecs[k].cmds & (*cmd)->bit)) {
			labctl_errmsg("labctl: %s does not apply to '%s'\n", optspecs[k].name,
				      o->cmd);
			return -1;
		}
	if (o->json && o->csv) {
		labctl_errmsg("labctl: choose one of --json and --csv\n");
		return -1;
	}
	return 0;
}

/* Parse the command line and run its command; the exit status (LABCTL_*). */
int main(int argc, char **argv)
{
	struct labctl_opts o = {
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	    .for_s = 1,
	};
	const struct command *cmd = NULL;
	void *ctx;
	int st;

	st = parse_args(argc, argv, &o, &cmd);
	if (st != 0) {
		usage(st > 0 ? stdout : stderr);
		return st > 0 ? LABCTL_OK : LABCTL_USAGE;
	}
	/* where the bridge is, and the keys to reach it over the network */
	if (cmd->bit != C_DISCOVER && labctl_net_setup(&o, DEFAULT_RPC, DEFAULT_PUB) < 0)
		return LABCTL_FAIL;
	ctx = zmq_ctx_new();
	if (!ctx) {
		labctl_errmsg("labctl: cannot start ZeroMQ: %s\n", zmq_strerror(errno));
		return LABCTL_FAIL;
	}
	st = cmd->run(ctx, &o);
	labctl_net_close();
	zmq_ctx_term(ctx);
	return st;
}
