/* test_serial.c - a serial port is held exclusively: a second opener is told it is in use, and
 * may open it once the first has closed it. */
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/serial.h"
#include "check.h"

static void test_exclusive_open(void)
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
	/* another opener (a stale path naming this pty, a second program): refused */
	b = lb_serial_open(path, 115200, &err);
	CHECK(b == NULL);
	CHECK(strstr(err.message, "is in use by another program") != NULL);
	lb_serial_destroy(&a);
	CHECK(a == NULL);
	/* free again once closed */
	memset(&err, 0, sizeof err);
	b = lb_serial_open(path, 115200, &err);
	CHECK(b != NULL);
	lb_serial_destroy(&b);
	close(master);
}

int main(void)
{
	RUN(test_exclusive_open);
	return check_summary();
}
