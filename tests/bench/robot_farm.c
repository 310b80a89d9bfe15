/* robot_farm.c - a classroom of emulated robots on pseudo-terminals, for the robot benchmarks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/firmata/emulator.h"
#include "../../drivers/mbot/emulator.h"
#include "../../drivers/micropython/emulator.h"
#include "../../drivers/thymio/emulator.h"

/*
 * Usage: robot-farm N
 * Starts N robots of each family (mBot, Thymio, MicroPython board with raw-paste, Firmata
 * board), each the emulator the simulated lab runs, on its own pseudo-terminal; prints one line
 * "FAMILY PATH" per robot, then "ready"; stops them all when stdin closes. Exit status 1 when one
 * could not start.
 */
#define MAX_EACH 64

int main(int argc, char **argv)
{
	mbot_emu *mb[MAX_EACH] = {0};
	thymio_emu *th[MAX_EACH] = {0};
	mpy_emu *mp[MAX_EACH] = {0};
	firmata_emu *fm[MAX_EACH] = {0};
	lb_error err = {0};
	int n, rc = 1;
	char line[64];

	if (argc != 2 || (n = atoi(argv[1])) < 1 || n > MAX_EACH) {
		fprintf(stderr, "usage: robot-farm N (1..%d robots of each family)\n", MAX_EACH);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++) {
		if (!(mb[i] = mbot_emu_new(&err)) || !(th[i] = thymio_emu_new(&err)) ||
		    !(mp[i] = mpy_emu_new(1, &err)) || !(fm[i] = firmata_emu_new(5, &err))) {
			fprintf(stderr, "robot-farm: %s\n", err.message);
			goto cleanup;
		}
		printf("mbot %s\nthymio %s\nmicropython %s\nfirmata %s\n", mbot_emu_path(mb[i]),
		       thymio_emu_path(th[i]), mpy_emu_path(mp[i]), firmata_emu_path(fm[i]));
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin))
		;
	rc = 0;
cleanup:
	for (int i = 0; i < n; i++) {
		mbot_emu_destroy(&mb[i]);
		thymio_emu_destroy(&th[i]);
		mpy_emu_destroy(&mp[i]);
		firmata_emu_destroy(&fm[i]);
	}
	return rc;
}
