/* emulator.h - an emulated Go Direct Force and Acceleration sensor (GDX-FOR) for the simulated lab.
 */
#ifndef LB_GODIRECT_EMULATOR_H
#define LB_GODIRECT_EMULATOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct gdx_emu gdx_emu;

/*
 * A GDX-FOR that speaks the Go Direct packet protocol through 64-byte reports, as the USB HID
 * interface does: it answers INIT, status, device and sensor info, the sensor masks, SET_PERIOD,
 * START and STOP, and streams measurement packets (type 0x06) at the period while started. It
 * lives in the calling thread: reads wait for the next report. NULL on failure.
 */
gdx_emu *gdx_emu_new(void);

/* Free. Accepts NULL. */
void gdx_emu_destroy(gdx_emu *e);

/* Take one output report from the host (length byte, packet bytes, padding); 0 or -1. */
int gdx_emu_write(gdx_emu *e, const uint8_t *report, size_t len);

/* The next input report (64 bytes), waiting at most timeout_ms; its size, or 0 on timeout. */
int gdx_emu_read(gdx_emu *e, uint8_t *report, size_t cap, unsigned timeout_ms);

#endif
