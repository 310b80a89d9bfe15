/* test_marlin_link.c - the Marlin driver's pacing choice from the kind of port (pure function). */
#include <string.h>

#include "../../drivers/marlin/link.h"
#include "check.h"

/* The choice and its description for one port. */
static int pace_of(int cfg, const char *name, int vid, int pid, char *desc)
{
	return mk_link_pace(cfg, name, vid, pid, 115200, desc, 96);
}

static void test_adapters_are_paced(void)
{
	char d[96];

	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyUSB0", 0x1a86, 0x7523, d), 1); /* CH340 */
	CHECK_STR(d, "link 115200 baud (USB-serial adapter)");
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyUSB1", 0x0403, 0x6001, d), 1); /* FTDI */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyUSB2", 0x10c4, 0xea60, d), 1); /* CP210x */
	/* an Arduino Mega's 16U2 shows as ttyACM but feeds the UART at baud */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyACM0", 0x2341, 0x0042, d), 1);
	CHECK_STR(d, "link 115200 baud (USB-serial adapter)");
	/* no ids: the name says it */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyUSB3", 0, 0, d), 1);
	CHECK_STR(d, "link 115200 baud (USB-serial adapter)");
}

static void test_native_usb_is_not_paced(void)
{
	char d[96];

	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyACM0", 0x2c99, 0x0002, d), 0); /* Prusa MK3 */
	CHECK_STR(d, "none (native USB)");
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyACM1", 0x0483, 0x5740, d), 0); /* STM32 */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyACM2", 0x1d50, 0x6029, d), 0); /* LPC176x */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyACM3", 0x2341, 0x003e, d), 0); /* Due native */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "ttyACM4", 0, 0, d), 0);		   /* by name */
	CHECK_STR(d, "none (native USB)");
	/* ids win over a misleading name */
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyUSB9", 0x2c99, 1, d), 0);
}

static void test_unknown_is_paced_and_forcing_wins(void)
{
	char d[96];

	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/pts/3", 0, 0, d), 1);
	CHECK_STR(d, "link 115200 baud (serial port of unknown kind)");
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, "/dev/ttyS0", 0, 0, d), 1);
	CHECK_EQ_INT(pace_of(MK_PACE_AUTO, NULL, 0, 0, d), 1);
	CHECK_EQ_INT(pace_of(0, "/dev/ttyUSB0", 0x1a86, 0x7523, d), 0);
	CHECK_STR(d, "none (pace = 0)");
	CHECK_EQ_INT(pace_of(1, "/dev/ttyACM0", 0x2c99, 2, d), 1);
	CHECK_STR(d, "link 115200 baud (pace = 1)");
	CHECK_EQ_INT(mk_link_pace(MK_PACE_AUTO, "/dev/ttyUSB0", 0, 0, 250000, d, sizeof d), 1);
	CHECK_STR(d, "link 250000 baud (USB-serial adapter)");
}

int main(void)
{
	RUN(test_adapters_are_paced);
	RUN(test_native_usb_is_not_paced);
	RUN(test_unknown_is_paced_and_forcing_wins);
	return check_summary();
}
