/* emulator.c - a micro:bit printing sensor lines on a pseudo-terminal, for the simulated lab. */
#include "emulator.h"

#include "../../bridge/util/clock.h"

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/sim/simmath.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 100000000LL /* a record every 100 ms */

struct lines_emu {
	lb_pty_board b; /* the pseudo-terminal and the thread */
	atomic_int fault;
};

/* Print text to the host (what the pty cannot take is dropped, like a UART would). */
static void emit(lines_emu *e, const char *text)
{
	if (write(e->b.master, text, strlen(text)) < 0)
		return;
}

static void *emu_thread(void *arg)
{
	lines_emu *e = arg;
	int open_ = 0;
	int64_t next = 0, t0 = lb_clock_ns(CLOCK_MONOTONIC);
	uint64_t rng = 0x2545F4914F6CDD1DULL;

	while (!lb_pty_board_stopping(&e->b)) {
		struct pollfd p = {e->b.master, POLLIN, 0};
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), wait = open_ ? next - now : 20000000LL;
		struct timespec ts;
		char line[128];

		if (wait < 0)
			wait = 0;
		ts = (struct timespec){wait / 1000000000LL, wait % 1000000000LL};
		if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
			break;
		if (p.revents & POLLHUP) {
			open_ = 0; /* nobody listens: the board is unplugged from the host's view */
			ts = (struct timespec){0, 20000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (p.revents & POLLIN) {
			char sink[64];
			if (read(e->b.master, sink, sizeof sink) < 0)
				continue; /* the host may type: the program ignores it */
		}
		now = lb_clock_ns(CLOCK_MONOTONIC);
		if (!open_) {
			open_ = 1; /* the port was opened: the program (re)starts */
			if (atomic_load(&e->fault) != LINES_EMU_SILENT)
				emit(e, "# micro:bit sensors v1\r\ntemperature(\xc2\xb0"
					"C),light(lx),accel_x(mg)\r\n");
			next = now + PERIOD_NS;
			continue;
		}
		if (now < next)
			continue;
		next += PERIOD_NS;
		if (next < now)
			next = now + PERIOD_NS;
		if (atomic_load(&e->fault) == LINES_EMU_SILENT)
			continue;
		{
			double t = (double)(now - t0) / 1e9;
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			snprintf(line, sizeof line, "%.1f,%d,%d\r\n",
				 21.0 + 2.0 * lb_sin_turns(0.2 * t * 0.15915494309189535),
				 (int)(120 + 30 * lb_sin_turns(t * 0.15915494309189535)),
				 (int)(rng % 41) - 20);
		}
		if (atomic_load(&e->fault) == LINES_EMU_GARBAGE) {
			emit(e, "\x13\xfe\x01#!?,,\r\n21."); /* noise, then a cut line */
			emit(e, line + strlen(line) / 2);    /* the rest of a line: garbage */
		}
		emit(e, line);
	}
	return NULL;
}

lines_emu *lines_emu_new(lb_error *err)
{
	lines_emu *e = calloc(1, sizeof *e);
	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (lb_pty_board_start(&e->b, 0, emu_thread, e, err) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

const char *lines_emu_path(const lines_emu *e)
{
	return e->b.path;
}

void lines_emu_set_fault(lines_emu *e, lines_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

void lines_emu_destroy(lines_emu **pe)
{
	lines_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	lb_pty_board_stop(&e->b);
	free(e);
	*pe = NULL;
}
