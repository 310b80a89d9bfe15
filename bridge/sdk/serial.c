/* serial.c - a serial port for drivers: libserialport for real ports, termios for pseudo-terminals.
 */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct lb_serial {
	struct sp_port *sp; /* NULL for a pseudo-terminal */
	int fd;
};

/* termios speed constant for a baud rate, or 0. */
static speed_t speed_for(int baud)
{
	static const struct {
		int baud;
		speed_t speed;
	} map[] = {{9600, B9600},     {19200, B19200},	  {38400, B38400},   {57600, B57600},
		   {115200, B115200}, {230400, B230400},  {460800, B460800}, {500000, B500000},
		   {921600, B921600}, {1000000, B1000000}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].baud == baud)
			return map[i].speed;
	return 0;
}

/* Open a pseudo-terminal (or any tty libserialport cannot describe) with termios. */
static int open_termios(lb_serial *s, const char *path, int baud, lb_error *err)
{
	struct termios t;
	speed_t sp = speed_for(baud);

	s->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot open %s: %s", path,
				    strerror(errno));
	if (tcgetattr(s->fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL | CREAD;
		if (sp) {
			cfsetispeed(&t, sp);
			cfsetospeed(&t, sp);
		}
		tcsetattr(s->fd, TCSANOW, &t);
	}
	return 0;
}

/* Hold the open port exclusively (flock: released when it is closed); 0, or LB_EFAIL with err
 * set when another process holds it. */
static int lock_port(lb_serial *s, const char *path, lb_error *err)
{
	if (flock(s->fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return 0; /* a file system without locks: as before */
	return lb_error_set(err, LB_ERR_DEVICE, "%s is in use by another program", path);
}

lb_serial *lb_serial_open(const char *path, int baud, lb_error *err)
{
	lb_serial *s = calloc(1, sizeof *s);

	if (!s) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	s->fd = -1;
	if (sp_get_port_by_name(path, &s->sp) != SP_OK) {
		s->sp = NULL;
		if (open_termios(s, path, baud, err) < 0 || lock_port(s, path, err) < 0)
			goto fail;
		return s;
	}
	if (sp_open(s->sp, SP_MODE_READ_WRITE) != SP_OK) {
		char *msg = sp_last_error_message();
		lb_error_set(err, LB_ERR_DEVICE, "cannot open %s: %s%s", path, msg,
			     errno == EACCES ? " (install udev/60-labbridge.rules or join the "
					       "dialout group)"
					     : "");
		sp_free_error_message(msg);
		goto fail;
	}
	if (sp_set_baudrate(s->sp, baud) != SP_OK || sp_set_bits(s->sp, 8) != SP_OK ||
	    sp_set_parity(s->sp, SP_PARITY_NONE) != SP_OK || sp_set_stopbits(s->sp, 1) != SP_OK ||
	    sp_set_flowcontrol(s->sp, SP_FLOWCONTROL_NONE) != SP_OK) {
		lb_error_set(err, LB_ERR_DEVICE, "cannot configure %s at %d baud", path, baud);
		goto fail;
	}
	sp_get_port_handle(s->sp, &s->fd);
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	if (lock_port(s, path, err) < 0)
		goto fail;
	return s;
fail:
	lb_serial_destroy(&s);
	return NULL;
}

void lb_serial_destroy(lb_serial **ps)
{
	lb_serial *s;

	if (!ps || !*ps)
		return;
	s = *ps;
	if (s->sp) {
		sp_close(s->sp);
		sp_free_port(s->sp);
	} else if (s->fd >= 0) {
		close(s->fd);
	}
	free(s);
	*ps = NULL;
}

int lb_serial_fd(const lb_serial *s)
{
	return s->fd;
}

ssize_t lb_serial_read(lb_serial *s, void *buf, size_t cap)
{
	struct pollfd p = {s->fd, POLLIN, 0};
	ssize_t n;

	n = read(s->fd, buf, cap);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0) {
		/* 0 from a non-blocking tty: no data, unless the line hung up */
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
			return LB_EGONE;
		return 0;
	}
	return LB_EGONE; /* EIO: unplugged, or the emulator closed its end */
}

int lb_serial_write(lb_serial *s, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(s->fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return LB_EGONE;
		{
			struct pollfd pf = {s->fd, POLLOUT, 0};
			int r = poll(&pf, 1, timeout_ms);
			if (r == 0)
				return LB_EAGAIN;
			if (r < 0 && errno != EINTR)
				return LB_EGONE;
			if (pf.revents & (POLLHUP | POLLERR))
				return LB_EGONE;
		}
	}
	return 0;
}

void lb_serial_pulse_dtr(lb_serial *s)
{
	struct timespec ts = {0, 50 * 1000000};

	if (!s->sp)
		return;
	sp_set_dtr(s->sp, SP_DTR_OFF);
	nanosleep(&ts, NULL);
	sp_set_dtr(s->sp, SP_DTR_ON);
}

int lb_pty_new(char *path, size_t cap, lb_error *err)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, path, cap) != 0) {
		lb_error_set(err, LB_ERR_DEVICE, "cannot create a pseudo-terminal: %s",
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return LB_EFAIL;
	}
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

void lb_serial_flush_input(lb_serial *s)
{
	if (s->sp)
		sp_flush(s->sp, SP_BUF_INPUT);
	else
		tcflush(s->fd, TCIFLUSH);
}
