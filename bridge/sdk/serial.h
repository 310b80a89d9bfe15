/* serial.h - a serial port for drivers: libserialport for real ports, termios for pseudo-terminals.
 */
#ifndef LB_SERIAL_H
#define LB_SERIAL_H

#include <stddef.h>
#include <sys/types.h>

#include "../util/error.h"

typedef struct lb_serial lb_serial;

/*
 * Open path at baud, 8N1, no flow control, non-blocking. Real ports go through libserialport;
 * pseudo-terminals (the emulators of the simulated lab), which libserialport cannot describe, are
 * opened with termios. The port is held exclusively with flock(2) (LOCK_EX, as pyserial's
 * exclusive mode), which binds root too, unlike TIOCEXCL: another process that opens it the same
 * way gets "in use" rather than half of its bytes (two readers of one tty each get a share of
 * what it sends; a pseudo-terminal's number is reused as soon as it is freed, so a stale path may
 * name another program's port). Returns NULL with err set ("cannot open /dev/ttyACM0: Permission
 * denied", "/dev/pts/3 is in use by another program").
 */
lb_serial *lb_serial_open(const char *path, int baud, lb_error *err);

/* Close. Accepts NULL; nulls the pointer. */
void lb_serial_destroy(lb_serial **ps);

/* The file descriptor to poll for input. */
int lb_serial_fd(const lb_serial *s);

/*
 * Read what is available without blocking: the number of bytes (0 if none), or LB_EGONE when the
 * device has gone away (unplugged, hang-up, I/O error).
 */
ssize_t lb_serial_read(lb_serial *s, void *buf, size_t cap);

/* Write all of buf, waiting at most timeout_ms for the port to accept it. 0, LB_EGONE or LB_EAGAIN.
 */
int lb_serial_write(lb_serial *s, const void *buf, size_t len, int timeout_ms);

/* Pulse DTR (resets an Arduino); ignored where the port has no modem lines. */
void lb_serial_pulse_dtr(lb_serial *s);

/* Drop unread input. */
void lb_serial_flush_input(lb_serial *s);

/*
 * A new pseudo-terminal in raw mode, for an emulated device: returns the master's descriptor
 * (the emulator's end) and writes the slave's path (what a driver opens like /dev/ttyACM0) to
 * path[cap]; negative with err set on failure.
 */
int lb_pty_new(char *path, size_t cap, lb_error *err);

#endif
