/* emulator.h - a Modbus weather sensor served by libmodbus, over RTU on a pty or TCP on loopback.
 */
#ifndef LB_MODBUS_EMULATOR_H
#define LB_MODBUS_EMULATOR_H

#include "../../bridge/util/error.h"

/*
 * The simulated lab's Modbus sensor: a small weather station, unit 1, with this register map
 * (the same on both links; the driver's built-in map of the simulated devices is
 * modbus_emu_channels, and each value is exact in the registers):
 *
 *   input 0-1     float32 abcd       temperature     21.5 °C
 *   input 2       int16  x0.1        humidity        45.6 %
 *   input 3-4     int32  abcd        pressure        101325 Pa
 *   input 5       uint16             light           850 lx
 *   input 6       int16  x0.01       dew point       -4.25 °C
 *   input 7-8     float32 cdab       wind speed      3.75 m/s
 *   input 9-10    uint32 cdab x0.1   rain            12345.6 mm
 *   holding 100   uint16 x0.1        setpoint        22.5 °C       (writable)
 *   holding 101-2 float32 badc       temperature trim 1.25 °C      (writable)
 *   holding 103-4 int32 dcba x0.01   pressure trim   -2 hPa        (writable)
 *   discrete 0    bool               door contact    1 (closed)
 *   coil 0        bool               heater relay    0 (off)       (writable)
 *
 * Any other register answers exception 2 (illegal data address), as a real device does.
 *
 * RTU: libmodbus serves the pty's master side. The master has no path that open() could give
 * back (opening /dev/ptmx makes a new pty), so the server's RTU context is never "connected":
 * it is given the master fd with modbus_set_socket(), and modbus_reply() writes the answers on
 * it as on a serial port (no termios needed). Requests are framed by the emulator itself (a
 * silence ends a frame; CRC and unit checked, other units' requests ignored): libmodbus's
 * server-side receive, after a request for another unit of a shared bus, takes the next request
 * for that unit's answer and drops it, which a real device does not. The driver opens the slave
 * path (/dev/pts/N) with modbus_new_rtu() + modbus_connect(), exactly as it opens a USB adapter,
 * termios and all. When no host has the slave open the master reports POLLHUP and the emulator
 * idles. TCP: the emulator binds 127.0.0.1 port 0 itself (no race for a free port), reads the
 * port back, and serves each accepted connection with modbus_set_socket().
 */

#define MODBUS_EMU_UNIT 1
#define MODBUS_EMU_BAUD 19200
#define MODBUS_EMU_PARITY 'E'
#define MODBUS_EMU_EXCEPTION_REGISTER 2 /* default register of the exception fault */

typedef struct modbus_emu modbus_emu;

typedef enum modbus_emu_link { MODBUS_EMU_RTU, MODBUS_EMU_TCP } modbus_emu_link;

/* Faults a test or a teacher can inject. */
typedef enum modbus_emu_fault {
	MODBUS_EMU_OK,	      /* behave */
	MODBUS_EMU_SILENT,    /* read requests, answer none (a crashed device: timeouts) */
	MODBUS_EMU_GARBAGE,   /* corrupt about half of the read answers: a bad CRC on RTU, a
				 wrong transaction id on TCP (a noisy line, a confused gateway) */
	MODBUS_EMU_EXCEPTION, /* answer exception 2 to any request touching one register */
} modbus_emu_fault;

/* The emulated sensor's channels: stream name, description (modbus_map syntax), exact value. */
typedef struct modbus_emu_channel {
	const char *name;
	const char *desc;
	double value;
} modbus_emu_channel;

extern const modbus_emu_channel modbus_emu_channels[];
extern const int modbus_emu_nchannels;

/*
 * Start a sensor answering on a new pseudo-terminal (RTU, 19200 baud 8E1 as far as the driver's
 * termios go) or on a new TCP port of 127.0.0.1, served by its own thread. Returns NULL with err
 * set.
 */
modbus_emu *modbus_emu_new(modbus_emu_link link, lb_error *err);

/* The pty slave's path (RTU; "" for TCP) and the TCP port (0 for RTU). */
const char *modbus_emu_path(const modbus_emu *e);
int modbus_emu_port(const modbus_emu *e);

/* Inject a fault (thread-safe); reg is the register of MODBUS_EMU_EXCEPTION (input or holding). */
void modbus_emu_set_fault(modbus_emu *e, modbus_emu_fault fault, int reg);

/* Number of requests received so far (answered or not). */
unsigned long modbus_emu_requests(const modbus_emu *e);

/* Stop the sensor: the pty or port disappears, as when the cable is pulled. Accepts NULL. */
void modbus_emu_destroy(modbus_emu **pe);

#endif
