/* emulator.c - a Modbus weather sensor served by libmodbus, over RTU on a pty or TCP on loopback.
 */
#include "emulator.h"

#include "../../bridge/sdk/serial.h"
#include "../../bridge/util/thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EMU_MAX_CLIENTS 8
#define EMU_INPUT_N 11
#define EMU_HOLDING_START 100
#define EMU_HOLDING_N 5
#define EMU_COILS_N 1
#define EMU_DISCRETE_N 1
#define EMU_POLL_MS 100
#define EMU_GAP_MS 5 /* end of an RTU frame: 3.5 characters are 1.8 ms at 19200 baud */

const modbus_emu_channel modbus_emu_channels[] = {
    {"temperature", "input 0 float32 quantity=temperature unit=°C", 21.5},
    {"humidity", "input 2 int16 scale=0.1 quantity=humidity unit=%", 45.6},
    {"pressure", "input 3 int32 quantity=pressure unit=Pa", 101325},
    {"light", "input 5 uint16 quantity=light unit=lx", 850},
    {"dewpoint", "input 6 int16 scale=0.01 quantity=temperature unit=°C", -4.25},
    {"wind", "input 7 float32 order=cdab quantity=speed unit=m/s", 3.75},
    {"rain", "input 9 uint32 order=cdab scale=0.1 quantity=precipitation unit=mm", 12345.6},
    {"setpoint", "holding 100 uint16 scale=0.1 quantity=temperature unit=°C", 22.5},
    {"temp_trim", "holding 101 float32 order=badc quantity=temperature unit=°C", 1.25},
    {"pressure_trim", "holding 103 int32 order=dcba scale=0.01 quantity=pressure unit=hPa", -2},
    {"door", "discrete 0 bool", 1},
    {"heater", "coil 0 bool quantity=running", 0},
};
const int modbus_emu_nchannels = sizeof modbus_emu_channels / sizeof modbus_emu_channels[0];

/* The registers, written out by hand (not with the codec) so that the tests check the codec. */
static const uint16_t input_words[EMU_INPUT_N] = {
    0x41AC, 0x0000, /* 21.5f = 0x41AC0000 */
    0x01C8,	    /* 456 */
    0x0001, 0x8BCD, /* 101325 = 0x00018BCD */
    0x0352,	    /* 850 */
    0xFE57,	    /* -425 */
    0x0000, 0x4070, /* 3.75f = 0x40700000, low word first */
    0xE240, 0x0001, /* 123456 = 0x0001E240, low word first */
};
static const uint16_t holding_words[EMU_HOLDING_N] = {
    0x00E1,	    /* 225 */
    0xA03F, 0x0000, /* 1.25f = 0x3FA00000: bytes 3F A0 00 00 as A0 3F, 00 00 */
    0x38FF, 0xFFFF, /* -200 = 0xFFFFFF38: bytes FF FF FF 38 as 38 FF, FF FF */
};

struct modbus_emu {
	modbus_emu_link link;
	modbus_t *ctx;
	modbus_mapping_t *map;
	int fd; /* RTU: the pty master; TCP: the listening socket */
	int clients[EMU_MAX_CLIENTS];
	int nclients;
	char path[64];
	int port;
	pthread_t thread;
	int started;
	atomic_int stop;
	atomic_int fault;
	atomic_int exc_reg;
	atomic_ulong requests;
	uint64_t rng; /* emulator thread only */
};

/* CRC-16/MODBUS (reflected 0xA001, initial 0xFFFF), sent low byte first. */
static uint16_t crc16(const uint8_t *b, size_t n)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (uint16_t)(crc >> 1 ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

/* A pseudo-random bit (xorshift64). */
static int coin(modbus_emu *e)
{
	e->rng ^= e->rng << 13, e->rng ^= e->rng >> 7, e->rng ^= e->rng << 17;
	return (int)(e->rng >> 33 & 1);
}

/* Whether the request touches register reg (reads, writes, of either table). */
static int touches(int fc, int addr, int nb, int reg)
{
	if (fc == MODBUS_FC_WRITE_SINGLE_REGISTER)
		nb = 1;
	else if (fc != MODBUS_FC_READ_HOLDING_REGISTERS && fc != MODBUS_FC_READ_INPUT_REGISTERS &&
		 fc != MODBUS_FC_WRITE_MULTIPLE_REGISTERS)
		return 0;
	return reg >= addr && reg < addr + nb;
}

/*
 * Answer a read with a corrupted frame: right length, so the host reads all of it, but a bad CRC
 * (RTU: one data bit flipped after the CRC was computed) or another transaction id (TCP). Returns
 * 1 if sent, 0 if the request is not a read of existing registers (then answer it normally).
 */
static int send_garbage(modbus_emu *e, int fd, const uint8_t *q, int fc, int addr, int nb)
{
	const uint16_t *tab;
	uint8_t b[MODBUS_TCP_MAX_ADU_LENGTH];
	int start, count, n = 0;

	if (fc == MODBUS_FC_READ_INPUT_REGISTERS)
		tab = e->map->tab_input_registers, start = 0, count = EMU_INPUT_N;
	else if (fc == MODBUS_FC_READ_HOLDING_REGISTERS)
		tab = e->map->tab_registers, start = EMU_HOLDING_START, count = EMU_HOLDING_N;
	else
		return 0;
	if (nb < 1 || nb > MODBUS_MAX_READ_REGISTERS || addr < start || addr + nb > start + count)
		return 0;
	if (e->link == MODBUS_EMU_TCP) {
		int tid = (q[0] << 8 | q[1]) + 1;
		b[n++] = (uint8_t)(tid >> 8), b[n++] = (uint8_t)tid;
		b[n++] = 0, b[n++] = 0;
		b[n++] = (uint8_t)((3 + 2 * nb) >> 8), b[n++] = (uint8_t)(3 + 2 * nb);
		b[n++] = q[6];
	} else {
		b[n++] = q[0];
	}
	b[n++] = (uint8_t)fc;
	b[n++] = (uint8_t)(2 * nb);
	for (int i = 0; i < nb; i++) {
		b[n++] = (uint8_t)(tab[addr - start + i] >> 8);
		b[n++] = (uint8_t)tab[addr - start + i];
	}
	if (e->link == MODBUS_EMU_RTU) {
		uint16_t crc = crc16(b, (size_t)n);
		b[n++] = (uint8_t)crc, b[n++] = (uint8_t)(crc >> 8);
		b[3] ^= 0x10; /* a flipped bit: the CRC no longer matches */
		if (write(fd, b, (size_t)n) < 0)
			return 1;
	} else if (send(fd, b, (size_t)n, MSG_NOSIGNAL) < 0) {
		return 1;
	}
	return 1;
}

/* Handle one request received on fd (q[0..len) as libmodbus returned it), per the fault. */
static void serve(modbus_emu *e, int fd, const uint8_t *q, int len)
{
	int hl = modbus_get_header_length(e->ctx);
	int fault = atomic_load(&e->fault);
	int fc, addr, nb;

	atomic_fetch_add(&e->requests, 1);
	if (fault == MODBUS_EMU_SILENT)
		return;
	if (len >= hl + 5) { /* a register request: function, address, count or value */
		fc = q[hl];
		addr = q[hl + 1] << 8 | q[hl + 2];
		nb = q[hl + 3] << 8 | q[hl + 4];
		if (fault == MODBUS_EMU_EXCEPTION &&
		    touches(fc, addr, nb, atomic_load(&e->exc_reg))) {
			modbus_reply_exception(e->ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
			return;
		}
		if (fault == MODBUS_EMU_GARBAGE && coin(e) && send_garbage(e, fd, q, fc, addr, nb))
			return;
	}
	modbus_reply(e->ctx, q, len, e->map);
}

/* Receive and serve one request on a TCP connection; -1 when it is closed or broken. */
static int receive(modbus_emu *e, int fd)
{
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	int rc;

	modbus_set_socket(e->ctx, fd);
	rc = modbus_receive(e->ctx, q);
	if (rc > 0) {
		serve(e, fd, q, rc);
		return 0;
	}
	if (rc < 0 && (errno == ECONNRESET || errno == EBADF || errno == EPIPE || errno == EIO))
		return -1;
	if (rc < 0)
		modbus_flush(e->ctx); /* a bad request (CRC, cut short): drop the rest */
	return 0;
}

/*
 * Handle one RTU frame: a request with a good CRC for our unit is served; frames for other units
 * (a bus shared with other devices) and damaged ones are ignored, as a device does. libmodbus's
 * own receive is not used here: after a request for another unit it expects that unit's answer
 * and swallows the next request, which a real device does not.
 */
static void rtu_frame(modbus_emu *e, const uint8_t *f, size_t n)
{
	if (n < 4 || crc16(f, n - 2) != (uint16_t)(f[n - 2] | f[n - 1] << 8))
		return;
	if (f[0] != MODBUS_EMU_UNIT)
		return; /* another unit's request (or a broadcast: no answer to those) */
	serve(e, e->fd, f, (int)n);
}

/* The RTU loop: frames end with a silence on the line; idle while no host has the slave open. */
static void rtu_loop(modbus_emu *e)
{
	uint8_t f[MODBUS_RTU_MAX_ADU_LENGTH];
	size_t n = 0;

	while (!atomic_load(&e->stop)) {
		struct pollfd p = {e->fd, POLLIN, 0};
		int rc = poll(&p, 1, n ? EMU_GAP_MS : EMU_POLL_MS);
		if (rc < 0 && errno != EINTR)
			break;
		if (p.revents & POLLHUP) {
			struct timespec ts = {0, 20000000};
			n = 0;
			nanosleep(&ts, NULL); /* no host: the sensor is unpowered */
			continue;
		}
		if (p.revents & POLLIN) {
			ssize_t r = read(e->fd, f + n, sizeof f - n);
			if (r > 0)
				n += (size_t)r;
			if (n == sizeof f)
				n = 0; /* longer than any frame: noise */
		} else if (rc == 0 && n) {
			rtu_frame(e, f, n); /* 3.5 characters of silence: the frame is complete */
			n = 0;
		}
	}
}

/* Forget client i (closes it). */
static void drop_client(modbus_emu *e, int i)
{
	close(e->clients[i]);
	e->clients[i] = e->clients[--e->nclients];
}

/* The TCP loop: accept connections, serve each request. */
static void tcp_loop(modbus_emu *e)
{
	while (!atomic_load(&e->stop)) {
		struct pollfd p[EMU_MAX_CLIENTS + 1];
		int n = e->nclients;

		p[0] = (struct pollfd){e->fd, POLLIN, 0};
		for (int i = 0; i < n; i++)
			p[i + 1] = (struct pollfd){e->clients[i], POLLIN, 0};
		if (poll(p, (nfds_t)n + 1, EMU_POLL_MS) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = n - 1; i >= 0; i--)
			if (p[i + 1].revents && receive(e, e->clients[i]) < 0)
				drop_client(e, i);
		if (p[0].revents & POLLIN) {
			int c = accept4(e->fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && e->nclients < EMU_MAX_CLIENTS)
				e->clients[e->nclients++] = c;
			else if (c >= 0)
				close(c); /* as a device with few connection slots does */
		}
	}
}

/* The emulator's thread: serves its link until told to stop. */
static void *emu_thread(void *arg)
{
	modbus_emu *e = arg;

	if (e->link == MODBUS_EMU_RTU)
		rtu_loop(e);
	else
		tcp_loop(e);
	return NULL;
}

/* Create the pty (RTU) and its libmodbus server context; 0 or -1 with err set. */
static int open_rtu(modbus_emu *e, lb_error *err)
{
	e->fd = lb_pty_new(e->path, sizeof e->path, err);
	if (e->fd < 0)
		return LB_EFAIL;
	e->ctx = modbus_new_rtu(e->path, MODBUS_EMU_BAUD, MODBUS_EMU_PARITY, 8, 1);
	if (!e->ctx)
		return lb_error_set(err, LB_ERR_INTERNAL, "libmodbus: %s", modbus_strerror(errno));
	modbus_set_socket(e->ctx, e->fd); /* never modbus_connect(): the master has no path */
	return 0;
}

/* Bind 127.0.0.1:0 and listen (TCP); 0 or -1 with err set. */
static int open_tcp(modbus_emu *e, lb_error *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t alen = sizeof a;
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (e->fd < 0 || setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(e->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(e->fd, 8) < 0 ||
	    getsockname(e->fd, (struct sockaddr *)&a, &alen) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot listen on 127.0.0.1: %s",
				    strerror(errno));
	e->port = ntohs(a.sin_port);
	e->ctx = modbus_new_tcp("127.0.0.1", e->port);
	if (!e->ctx)
		return lb_error_set(err, LB_ERR_INTERNAL, "libmodbus: %s", modbus_strerror(errno));
	return 0;
}

/* See emulator.h: a new sensor on its own thread; NULL with err set (nothing left behind). */
modbus_emu *modbus_emu_new(modbus_emu_link link, lb_error *err)
{
	modbus_emu *e = calloc(1, sizeof *e);

	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	e->link = link;
	e->fd = -1;
	e->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)link;
	atomic_init(&e->exc_reg, MODBUS_EMU_EXCEPTION_REGISTER);
	if ((link == MODBUS_EMU_RTU ? open_rtu(e, err) : open_tcp(e, err)) < 0)
		goto fail;
	modbus_set_slave(e->ctx, MODBUS_EMU_UNIT);
	modbus_set_indication_timeout(e->ctx, 1, 0); /* a request cut short cannot hang it */
	e->map = modbus_mapping_new_start_address(0, EMU_COILS_N, 0, EMU_DISCRETE_N,
						  EMU_HOLDING_START, EMU_HOLDING_N, 0, EMU_INPUT_N);
	if (!e->map) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	memcpy(e->map->tab_input_registers, input_words, sizeof input_words);
	memcpy(e->map->tab_registers, holding_words, sizeof holding_words);
	e->map->tab_input_bits[0] = 1; /* the door is closed; the heater's coil is off */
	if (lb_thread_start(&e->thread, emu_thread, e) != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot start the emulator thread");
		goto fail;
	}
	e->started = 1;
	return e;
fail:
	modbus_emu_destroy(&e);
	return NULL;
}

/* The pty slave's path, "" for TCP. */
const char *modbus_emu_path(const modbus_emu *e)
{
	return e->path;
}

/* The TCP port, 0 for RTU. */
int modbus_emu_port(const modbus_emu *e)
{
	return e->port;
}

/* Set the fault (and the exception fault's register, -1: the default); thread-safe. */
void modbus_emu_set_fault(modbus_emu *e, modbus_emu_fault fault, int reg)
{
	if (fault == MODBUS_EMU_EXCEPTION)
		atomic_store(&e->exc_reg, reg >= 0 ? reg : MODBUS_EMU_EXCEPTION_REGISTER);
	atomic_store(&e->fault, (int)fault);
}

/* Requests received so far; thread-safe. */
unsigned long modbus_emu_requests(const modbus_emu *e)
{
	return atomic_load(&((modbus_emu *)e)->requests);
}

/* Stop the thread, close the pty or sockets, free everything. Accepts NULL; nulls *pe. */
void modbus_emu_destroy(modbus_emu **pe)
{
	modbus_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	atomic_store(&e->stop, 1);
	if (e->started)
		pthread_join(e->thread, NULL);
	while (e->nclients)
		drop_client(e, 0);
	if (e->fd >= 0)
		close(e->fd);
	if (e->ctx) {
		modbus_set_socket(e->ctx, -1); /* closed above; modbus_free does not close it */
		modbus_free(e->ctx);
	}
	modbus_mapping_free(e->map);
	free(e);
	*pe = NULL;
}
