/* link.c - what kind of link a printer's port is, and whether writes are paced to its baud rate. */
#include "link.h"

#include <stdio.h>
#include <string.h>

typedef enum link_kind { LINK_UNKNOWN, LINK_ADAPTER, LINK_NATIVE } link_kind;

/* The kind of link from the USB ids, or LINK_UNKNOWN. */
static link_kind kind_by_ids(int vid, int pid)
{
	switch (vid) {
	case 0x1a86: /* WCH CH340/CH341 */
	case 0x0403: /* FTDI */
	case 0x10c4: /* Silicon Labs CP210x */
	case 0x067b: /* Prolific PL2303 */ return LINK_ADAPTER;
	case 0x2341: /* Arduino: the Due's native port, else a 16U2 bridging to the UART */
	case 0x2a03: return pid == 0x003e ? LINK_NATIVE : LINK_ADAPTER;
	case 0x2c99: /* Prusa Research */
	case 0x0483: /* STMicroelectronics (STM32 CDC) */
	case 0x1d50: /* OpenMoko ids: Marlin LPC176x 6029, Klipper 614e... */
	case 0x2e8a: /* Raspberry Pi RP2040 */ return LINK_NATIVE;
	default: return LINK_UNKNOWN;
	}
}

/* The kind of link from the device name, or LINK_UNKNOWN. */
static link_kind kind_by_name(const char *name)
{
	const char *base = name ? strrchr(name, '/') : NULL;

	base = base ? base + 1 : name;
	if (!base)
		return LINK_UNKNOWN;
	if (strncmp(base, "ttyACM", 6) == 0)
		return LINK_NATIVE;
	if (strncmp(base, "ttyUSB", 6) == 0)
		return LINK_ADAPTER;
	return LINK_UNKNOWN;
}

int mk_link_pace(int pace_cfg, const char *dev_name, int vid, int pid, long baud, char *desc,
		 size_t cap)
{
	link_kind k = kind_by_ids(vid, pid);
	const char *why;
	int pace;

	if (k == LINK_UNKNOWN)
		k = kind_by_name(dev_name);
	if (pace_cfg == 0 || pace_cfg == 1) {
		pace = pace_cfg;
		why = pace ? "pace = 1" : "pace = 0";
	} else {
		pace = k != LINK_NATIVE;
		why = k == LINK_NATIVE	  ? "native USB"
		      : k == LINK_ADAPTER ? "USB-serial adapter"
					  : "serial port of unknown kind";
	}
	if (pace)
		snprintf(desc, cap, "link %ld baud (%s)", baud, why);
	else
		snprintf(desc, cap, "none (%s)", why);
	return pace;
}
