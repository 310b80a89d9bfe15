/* link.h - what kind of link a printer's port is, and whether writes are paced to its baud rate. */
#ifndef LB_MARLIN_LINK_H
#define LB_MARLIN_LINK_H

#include <stddef.h>

/* pace = auto / 0 / 1 in a [marlin.NAME] section */
#define MK_PACE_AUTO -1

/*
 * Whether to pace writes to the configured baud rate, from pace_cfg (MK_PACE_AUTO, 0 or 1), the
 * port's device name after symlinks ("ttyACM0", "ttyUSB1", "pts/3"; NULL if unknown) and its USB
 * ids (0 if unknown). A USB-serial adapter (CH340 1a86, FTDI 0403, CP210x 10c4, PL2303 067b, the
 * 16U2 of an Arduino Mega) feeds the board's UART at baud: pacing keeps an emergency stop from
 * queueing behind a full adapter. A board with native USB (CDC ACM: Prusa 2c99, STM32 0483,
 * LPC176x 1d50, RP2040 2e8a, Arduino Due's native port) takes USB's full speed: pacing would cap
 * it at 115200-baud speed for nothing. By default the ids decide, then the name (ttyACM: native,
 * ttyUSB: adapter), and an unknown kind is paced (the safe choice). Writes the description for
 * the device ("link 115200 baud (USB-serial adapter)", "none (native USB)") into desc[cap].
 * Returns 1 (pace) or 0; pure, cannot fail.
 */
int mk_link_pace(int pace_cfg, const char *dev_name, int vid, int pid, long baud, char *desc,
		 size_t cap);

#endif
