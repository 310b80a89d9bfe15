/* firmata_emu.c - a standalone emulated StandardFirmata board (Uno) on a pty, for tests that need
 * its port before the bridge starts (a [firmata.NAME] section); commands on stdin. */
#include "../../drivers/firmata/emulator.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Usage: firmata-emu [2.3|2.4|2.5]
 * Prints "pty PATH", then answers each "probe" line on stdin with one line:
 * "interval_ms N D2 MODE LEVEL D3 MODE LEVEL ... D19 MODE LEVEL", and each "states" line with
 * "D2 MODE STATE ... D19 MODE STATE" (Firmata's pin states: a servo's angle, a PWM duty). Exits
 * when stdin closes.
 */
int main(int argc, char **argv)
{
	lb_error err = {0};
	firmata_emu *e;
	char line[64];
	int minor = 5;

	if (argc > 2 ||
	    (argc == 2 && (strncmp(argv[1], "2.", 2) != 0 || !argv[1][2] || argv[1][3]))) {
		fprintf(stderr, "usage: firmata-emu [2.3|2.4|2.5]\n");
		return 2;
	}
	if (argc == 2)
		minor = argv[1][2] - '0';
	signal(SIGPIPE, SIG_IGN);
	e = firmata_emu_new(minor, &err);
	if (!e) {
		fprintf(stderr, "firmata-emu: %s\n", err.message);
		return 1;
	}
	printf("pty %s\n", firmata_emu_path(e));
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		firmata_emu_probe pr;
		if (strncmp(line, "states", 6) == 0) {
			firmata_emu_probe_pins(e, &pr);
			for (int pin = 2; pin < 20; pin++)
				printf("%sD%d %d %d", pin > 2 ? " " : "", pin, pr.mode[pin],
				       pr.state[pin]);
			printf("\n");
			fflush(stdout);
			continue;
		}
		if (strncmp(line, "probe", 5) != 0)
			continue;
		firmata_emu_probe_pins(e, &pr);
		printf("interval_ms %d", pr.interval_ms);
		for (int pin = 2; pin < 20; pin++)
			printf(" D%d %d %d", pin, pr.mode[pin], pr.level[pin]);
		printf("\n");
		fflush(stdout);
	}
	firmata_emu_destroy(&e);
	return 0;
}
