/* ciclop_emu.c - a standalone emulated Ciclop/Horus turntable-and-lasers board on a pty, for
 * tests that configure a [ciclop.NAME] section before the bridge starts; commands on stdin. */
#include "../../drivers/ciclop/emulator.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/*
 * Usage: ciclop-emu
 * Prints "pty PATH", then takes lines on stdin: "fault ok|silent|garbage|alarm" (answered "ok"),
 * "state" (answered "angle DEG lasers BITS motors 0|1 executed N"). Exits when stdin closes.
 */
int main(int argc, char **argv)
{
	static const char *const faults[] = {"ok", "silent", "garbage", "alarm", NULL};
	lb_error err = {0};
	ciclop_emu *e;
	char line[64];

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: ciclop-emu (commands on stdin)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!(e = ciclop_emu_new(&err))) {
		fprintf(stderr, "ciclop-emu: %s\n", err.message);
		return 1;
	}
	printf("pty %s\n", ciclop_emu_path(e));
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "fault ", 6) == 0) {
			int f;
			for (f = 0; faults[f] && strcmp(faults[f], line + 6) != 0; f++)
				;
			if (faults[f])
				ciclop_emu_set_fault(e, (ciclop_emu_fault)f);
			printf(faults[f] ? "ok\n" : "error: fault ok|silent|garbage|alarm\n");
		} else if (strcmp(line, "state") == 0) {
			double angle;
			int lasers, motors;
			long executed;
			ciclop_emu_board(e, ciclop_emu_now_ms(), &angle, &lasers, &motors,
					 &executed);
			printf("angle %.3f lasers %d motors %d executed %ld\n", angle, lasers,
			       motors, executed);
		} else {
			printf("error: fault ok|silent|garbage|alarm, or state\n");
		}
		fflush(stdout);
	}
	ciclop_emu_destroy(&e);
	return 0;
}
