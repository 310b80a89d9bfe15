/* test_ciclop_emu.c - the Ciclop board emulator on its pseudo-terminal, spoken to with the codec.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../drivers/ciclop/emulator.h"
#include "../../protocols/ciclop.h"
#include "check.h"

typedef struct port {
	int fd;
	ciclop_splitter sp;
	char pend[512];
	size_t npend, off;
} port;

/* The next reply line within timeout_ms, parsed into *r; returns its kind, or -1 on timeout. */
static int next_reply(port *p, int timeout_ms, ciclop_reply *r)
{
	double end = ciclop_emu_now_ms() + timeout_ms;

	for (;;) {
		size_t used, linelen;
		const char *line;
		if (p->off < p->npend) {
			int got = ciclop_next_line(&p->sp, p->pend + p->off, p->npend - p->off,
						   &used, &line, &linelen);
			p->off += used;
			if (got)
				return (int)ciclop_parse(line, linelen, r);
			continue;
		}
		int left = (int)(end - ciclop_emu_now_ms());
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -1;
		ssize_t n = read(p->fd, p->pend, sizeof p->pend);
		if (n <= 0)
			return -1;
		p->npend = (size_t)n, p->off = 0;
	}
}

/* Send a command and return the first non-blank reply's kind within 2 s (-1: none). */
static int command(port *p, const char *cmd, ciclop_reply *r)
{
	int k;

	if (write(p->fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -2;
	while ((k = next_reply(p, 2000, r)) == CICLOP_OTHER && r->text[0] == 0)
		;
	return k;
}

/* Greeting, a scan's commands, state for the camera, faults, and Ctrl-X. */
static void test_emulator(void)
{
	lb_error err = {0};
	ciclop_emu *e = ciclop_emu_new(&err);
	port p = {.fd = -1};
	ciclop_reply r;
	char cmd[CICLOP_CMD_MAX];
	struct termios tio;
	double angle;
	int lasers, k;

	if (!CHECK(e != NULL))
		return;
	p.fd = open(ciclop_emu_path(e), O_RDWR | O_NOCTTY);
	if (!CHECK(p.fd >= 0))
		goto out;
	tcgetattr(p.fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(p.fd, TCSANOW, &tio);
	/* the greeting printed at power-on; if it was lost before we opened, Ctrl-X brings it back
	 */
	do
		k = next_reply(&p, 2000, &r);
	while (k != CICLOP_GREETING && k != -1);
	if (k == -1) {
		CHECK(write(p.fd, "\x18", 1) == 1);
		do
			k = next_reply(&p, 2000, &r);
		while (k != CICLOP_GREETING && k != -1);
	}
	CHECK_EQ_INT(k, CICLOP_GREETING);
	CHECK_STR(r.text, "Horus 0.2");

	ciclop_encode_motor(cmd, sizeof cmd, 1);
	CHECK_EQ_INT(command(&p, cmd, &r), CICLOP_OK);
	ciclop_encode_speed(cmd, sizeof cmd, 60000);
	CHECK_EQ_INT(command(&p, cmd, &r), CICLOP_OK);
	ciclop_encode_move(cmd, sizeof cmd, 90);
	CHECK_EQ_INT(command(&p, cmd, &r), CICLOP_OK);
	ciclop_encode_laser(cmd, sizeof cmd, 1, 1);
	CHECK_EQ_INT(command(&p, cmd, &r), CICLOP_OK);
	ciclop_emu_state(e, ciclop_emu_now_ms() + 10000, &angle, &lasers);
	CHECK_NEAR(angle, 90, 1e-9); /* where the table is once the move is done */
	CHECK_EQ_INT(lasers, 1);
	CHECK_EQ_INT(command(&p, "G7\n", &r), CICLOP_ERROR);

	ciclop_emu_set_fault(e, CICLOP_EMU_GARBAGE);
	CHECK_EQ_INT(command(&p, "M18\n", &r), CICLOP_OTHER);
	CHECK_EQ_INT(next_reply(&p, 2000, &r), CICLOP_OK);
	ciclop_emu_set_fault(e, CICLOP_EMU_ALARM);
	CHECK_EQ_INT(command(&p, "M18\n", &r), CICLOP_ALARM);
	ciclop_emu_set_fault(e, CICLOP_EMU_SILENT);
	CHECK(write(p.fd, "M18\n", 4) == 4);
	CHECK_EQ_INT(next_reply(&p, 150, &r), -1); /* nothing comes back */
	ciclop_emu_set_fault(e, CICLOP_EMU_OK);
	CHECK(write(p.fd, "G1X1\x18", 5) == 5); /* Ctrl-X: the partial line is dropped */
	do
		k = next_reply(&p, 2000, &r);
	while (k != CICLOP_GREETING && k != -1);
	CHECK_EQ_INT(k, CICLOP_GREETING);
	ciclop_emu_state(e, ciclop_emu_now_ms() + 10000, &angle, &lasers);
	CHECK_NEAR(angle, 0, 0);
	CHECK_EQ_INT(lasers, 0);
out:
	if (p.fd >= 0)
		close(p.fd);
	ciclop_emu_destroy(&e);
	CHECK(e == NULL);
	ciclop_emu_destroy(&e);
}

int main(void)
{
	RUN(test_emulator);
	return check_summary();
}
