/* thymio_emu.c - a standalone emulated Thymio II (Debian's Aseba VM) on a pty or TCP, for tests
 * and benchmarks that need its port before the bridge starts; commands on stdin. */
#include "../../drivers/thymio/emulator.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Usage: thymio-emu [--tcp PORT]   (PORT 0: a free one; without --tcp: a pseudo-terminal)
 * Prints "pty PATH" or "target tcp:127.0.0.1;port=N", then answers each "probe" line on stdin
 * with "leds R G B motors L R running 0|1", and takes "fault ok|silent|garbage". Exits when
 * stdin closes.
 */
int main(int argc, char **argv)
{
	lb_error err = {0};
	thymio_emu *e;
	char line[64];
	int port = -1;

	if (argc == 3 && strcmp(argv[1], "--tcp") == 0) {
		char *end;
		port = (int)strtol(argv[2], &end, 10);
		if (*end || port < 0 || port > 65535)
			port = -2;
	}
	if ((argc != 1 && argc != 3) || port == -2 || (argc == 3 && port < 0)) {
		fprintf(stderr, "usage: thymio-emu [--tcp PORT]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	e = port >= 0 ? thymio_emu_new_tcp(port, &err) : thymio_emu_new(&err);
	if (!e) {
		fprintf(stderr, "thymio-emu: %s\n", err.message);
		return 1;
	}
	printf("%s %s\n", port >= 0 ? "target" : "pty", thymio_emu_path(e));
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		thymio_emu_probe pr;
		if (strncmp(line, "fault ", 6) == 0) {
			thymio_emu_set_fault(
			    e, strncmp(line + 6, "silent", 6) == 0    ? THYMIO_EMU_SILENT
			       : strncmp(line + 6, "garbage", 7) == 0 ? THYMIO_EMU_GARBAGE
								      : THYMIO_EMU_OK);
			continue;
		}
		if (strncmp(line, "probe", 5) != 0)
			continue;
		thymio_emu_probe_state(e, &pr);
		printf("leds %d %d %d motors %d %d running %d\n", pr.leds_top[0], pr.leds_top[1],
		       pr.leds_top[2], pr.motor_target[0], pr.motor_target[1], pr.running);
		fflush(stdout);
	}
	thymio_emu_destroy(&e);
	return 0;
}
