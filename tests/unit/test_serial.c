/* test_serial.c - a serial port is one reader's: a second open of a port held is refused, and the
 * port is free again once closed (a leaked bridge on a reused pty stole a Thymio's answers). */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/serial.h"
#include "check.h"

/* A second lb_serial_open of a port held fails and says why; after the close it opens again. */
static void test_a_port_held_is_refused(void)
{
	lb_error err = {0};
	char path[64];
	int master = lb_pty_new(path, sizeof path, &err);
	lb_serial *a, *b;

	CHECK(master >= 0);
	if (master < 0)
		return;
	a = lb_serial_open(path, 115200, &err);
	CHECK(a != NULL);
	b = lb_serial_open(path, 115200, &err);
	CHECK_MSG(b == NULL, "two openers of one tty would each read part of the answers");
	CHECK(strstr(err.message, "another program has it open") != NULL);
	lb_serial_destroy(&b);
	lb_serial_destroy(&a);
	CHECK(a == NULL);
	memset(&err, 0, sizeof err);
	b = lb_serial_open(path, 115200, &err);
	CHECK_MSG(b != NULL, "the lock goes with the close");
	lb_serial_destroy(&b);
	close(master);
}

/* The holder still reads every byte the device sends (nothing went to the refused opener). */
static void test_the_holder_reads_everything(void)
{
	lb_error err = {0};
	char path[64];
	int master = lb_pty_new(path, sizeof path, &err);
	lb_serial *a, *b;
	char buf[16] = {0};
	size_t got = 0;

	CHECK(master >= 0);
	if (master < 0)
		return;
	a = lb_serial_open(path, 115200, &err);
	b = lb_serial_open(path, 115200, &err);
	CHECK(a != NULL && b == NULL);
	CHECK_EQ_INT(write(master, "0123456789", 10), 10);
	for (int i = 0; i < 100 && got < 10 && a; i++) {
		struct pollfd pf = {lb_serial_fd(a), POLLIN, 0};
		ssize_t n;
		poll(&pf, 1, 30);
		n = lb_serial_read(a, buf + got, sizeof buf - 1 - got);
		if (n < 0)
			break;
		got += (size_t)n;
	}
	CHECK_EQ_INT(got, 10);
	CHECK_STR(buf, "0123456789");
	lb_serial_destroy(&b);
	lb_serial_destroy(&a);
	close(master);
}

int main(void)
{
	RUN(test_a_port_held_is_refused);
	RUN(test_the_holder_reads_everything);
	return check_summary();
}
