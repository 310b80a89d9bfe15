/* marlin_emu.c - a standalone emulated Marlin printer on a pty, driven by commands on stdin. */
#include "../../drivers/marlin/emulator.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

/* SIGTERM/SIGINT: ask the main loop to exit cleanly. */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Print the usage on stderr; returns 2 (the exit status for bad arguments). */
static int usage(const char *msg, const char *arg)
{
	fprintf(stderr, "marlin-emu: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr, "usage: marlin-emu [--baud N] [--bufsize N] [--rx-buffer N] "
			"[--no-advanced-ok] [--no-autoreport] [--time-scale X] [--log FILE] "
			"[--ack-log FILE] [--serial S]\n");
	return 2;
}

/* Parse a whole decimal integer in [lo, hi] into *out; 0 or -1 if s is not one. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* The fault named name, or -1 if there is no such fault. */
static int fault_by_name(const char *name)
{
	static const struct {
		const char *name;
		marlin_emu_fault fault;
	} faults[] = {
	    {"ok", MARLIN_EMU_OK},
	    {"silent", MARLIN_EMU_SILENT},
	    {"garbage", MARLIN_EMU_GARBAGE},
	    {"corrupt", MARLIN_EMU_CORRUPT},
	    {"drop_ok", MARLIN_EMU_DROP_OK},
	    {"no_resend_ok", MARLIN_EMU_NO_RESEND_OK},
	    {"reset", MARLIN_EMU_RESET},
	    {"thermal", MARLIN_EMU_THERMAL},
	    {"always_corrupt", MARLIN_EMU_ALWAYS_CORRUPT},
	};

	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		if (strcmp(name, faults[i].name) == 0)
			return (int)faults[i].fault;
	return -1;
}

/* Answer one command line from stdin with one line of JSON on stdout. */
static void command(marlin_emu *e, char *line)
{
	char *verb = strtok(line, " \t\r"), *arg1 = strtok(NULL, " \t\r"),
	     *arg2 = strtok(NULL, " \t\r");

	if (!verb) {
		return;
	} else if (strcmp(verb, "fault") == 0 && arg1) {
		int f = fault_by_name(arg1);
		long every = 1;
		char *end = NULL;

		if (arg2)
			every = strtol(arg2, &end, 10);
		if (f < 0 || (arg2 && (end == arg2 || *end))) {
			printf("{\"ok\":false,\"error\":\"bad fault\"}\n");
		} else {
			marlin_emu_set_fault(e, (marlin_emu_fault)f, every);
			printf("{\"ok\":true}\n");
		}
	} else if (strcmp(verb, "stats") == 0) {
		marlin_emu_stats s;
		marlin_emu_stats_get(e, &s);
		printf("{\"executed\":%ld,\"rejected\":%ld,\"dropped_ok\":%ld,\"resets\":%ld,"
		       "\"estop_ns\":%lld,\"hotend\":%.3f,\"bed\":%.3f,\"halted\":%s,"
		       "\"port_open\":%s}\n",
		       s.executed, s.rejected, s.dropped_ok, s.resets, (long long)s.estop_ns,
		       s.hotend, s.bed, s.halted ? "true" : "false",
		       s.port_open ? "true" : "false");
	} else {
		printf("{\"ok\":false,\"error\":\"unknown command\"}\n");
	}
	fflush(stdout);
}

/* Run the emulator until EOF on stdin or SIGTERM/SIGINT: 0; bad arguments: 2; no pty: 1. */
int main(int argc, char **argv)
{
	marlin_emu_options o;
	marlin_emu *e = NULL;
	lb_error err = {0};
	struct sigaction sa;
	char buf[4096];
	size_t len = 0;
	int rc = 0;

	marlin_emu_options_default(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-advanced-ok") == 0) {
			o.advanced_ok = 0;
			continue;
		}
		if (strcmp(a, "--no-autoreport") == 0) {
			o.autoreport = 0;
			continue;
		}
		if (!v)
			return usage("missing value or unknown option", a);
		i++;
		if (strcmp(a, "--baud") == 0) {
			if (parse_int(v, 0, 100000000, &o.baud) < 0)
				return usage("bad --baud", v);
		} else if (strcmp(a, "--bufsize") == 0) {
			if (parse_int(v, 1, 1024, &o.bufsize) < 0)
				return usage("bad --bufsize", v);
		} else if (strcmp(a, "--rx-buffer") == 0) {
			if (parse_int(v, 1, 1 << 20, &o.rx_buffer) < 0)
				return usage("bad --rx-buffer", v);
		} else if (strcmp(a, "--time-scale") == 0) {
			char *end;
			o.time_scale = strtod(v, &end);
			if (end == v || *end || !(o.time_scale >= 0) || o.time_scale > 1e6)
				return usage("bad --time-scale", v);
		} else if (strcmp(a, "--log") == 0) {
			o.log_path = v;
		} else if (strcmp(a, "--ack-log") == 0) {
			o.ack_log_path = v;
		} else if (strcmp(a, "--serial") == 0) {
			o.serial = v;
		} else {
			return usage("unknown option", a);
		}
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	e = marlin_emu_new(&o, &err);
	if (!e) {
		fprintf(stderr, "marlin-emu: %s\n", err.message);
		return 1;
	}
	printf("%s\n", marlin_emu_path(e));
	fflush(stdout);

	while (!stop_requested) {
		struct pollfd p = {STDIN_FILENO, POLLIN, 0};
		ssize_t n;
		char *nl;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break; /* EOF: the test is done with us */
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t used = (size_t)(nl - buf) + 1;
			*nl = '\0';
			command(e, buf);
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		if (len == sizeof buf - 1)
			len = 0; /* an absurdly long line: forget it */
	}
	marlin_emu_destroy(&e);
	return rc;
}
