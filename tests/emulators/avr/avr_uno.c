/* avr_uno.c - an Arduino Uno (ATmega328P, 16 MHz) simulated by simavr in real time, its UART on a
 * pseudo-terminal: runs a genuine firmware image (ELF or Intel HEX, e.g. StandardFirmata) for
 * integration tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_timer.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

/*
 * Usage: avr-uno [-n] FIRMWARE
 * FIRMWARE is an ELF file (avr-gcc's output) or an Intel HEX file (what the Arduino IDE uploads),
 * told apart by their first bytes. Prints "pty PATH" on stdout, then one line "D13 0|1" (any of
 * D2..D13) each time an output pin changes. Reads commands on stdin: "D2 1" drives input pin D2
 * high (0: low, z: released, read through its pull-up if the firmware enabled one), "A0 2500" puts
 * 2500 mV on analog input A0. Opening the pty resets the AVR, as DTR does on a real Uno (-n: it
 * does not, as on boards without auto-reset: the firmware boots once, when the program starts).
 * Exits when stdin closes.
 */

static avr_t *avr;
static int master = -1;
static int xon = 1;
static unsigned char rx[4096];
static size_t rx_len;

/* UART output (the firmware wrote a byte): to the pty; dropped if no one has it open. */
static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	unsigned char c = (unsigned char)value;
	(void)irq, (void)param;
	if (write(master, &c, 1) < 0) {
		/* no host: a real UART's bytes are lost too */
	}
}

static void uart_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq, (void)value, (void)param;
	xon = 1;
}

static void uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq, (void)value, (void)param;
	xon = 0;
}

/* An output pin changed: tell the test (D0-D7 are port D, D8-D13 port B bits 0-5). */
static void pin_changed(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	printf("D%d %u\n", (int)(intptr_t)param, value ? 1u : 0u);
	fflush(stdout);
}

static avr_irq_t *pin_irq(int d)
{
	return avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(d < 8 ? 'D' : 'B'), d < 8 ? d : d - 8);
}

/* The value of hex digits s[0..2n-1], or -1 if one is not a hex digit. */
static long hex_value(const char *s, int n)
{
	long v = 0;
	for (int i = 0; i < 2 * n; i++) {
		int c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Fill *fw's flash from the Intel HEX file path (records 00 data, 01 end, 02/04 extended
 * addresses; 03/05 start addresses ignored). Strict, unlike simavr 1.6's reader, which stops
 * quietly at a bad line: returns -1 with the file's line on stderr on a malformed record, a bad
 * checksum, data outside the ATmega328P's 32 KiB of flash or a missing end record; 0 on success
 * (fw->flash malloc'ed, its unwritten bytes 0xff as on an erased flash). */
static int read_hex(const char *path, elf_firmware_t *fw)
{
	enum { FLASH = 32768 };
	FILE *f = fopen(path, "r");
	uint8_t *flash = malloc(FLASH);
	char line[600];
	uint32_t base = 0, end = 0;
	int lineno = 0, done = 0, rc = -1;
	const char *why = NULL;

	if (!f || !flash) {
		fprintf(stderr, "avr-uno: %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	memset(flash, 0xff, FLASH);
	while (!done && fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\r\n");
		long n, addr, type, sum = 0;
		lineno++;
		line[len] = '\0';
		if (len == 0)
			continue;
		n = len >= 11 && line[0] == ':' ? hex_value(line + 1, 1) : -1;
		if (n < 0 || len != 11 + 2 * (size_t)n) {
			why = "malformed record";
			goto bad;
		}
		for (long i = 0; i < n + 5; i++) {
			long b = hex_value(line + 1 + 2 * i, 1);
			if (b < 0) {
				why = "not a hex digit";
				goto bad;
			}
			sum += b;
		}
		if (sum & 0xff) {
			why = "bad checksum";
			goto bad;
		}
		addr = hex_value(line + 3, 2);
		type = hex_value(line + 7, 1);
		if (type == 0) {
			uint32_t at = base + (uint32_t)addr;
			if (at >= FLASH || at + (uint32_t)n > FLASH) {
				why = "data outside the 32 KiB flash";
				goto bad;
			}
			for (long i = 0; i < n; i++)
				flash[at + i] = (uint8_t)hex_value(line + 9 + 2 * i, 1);
			if (at + (uint32_t)n > end)
				end = at + (uint32_t)n;
		} else if (type == 1) {
			done = 1;
		} else if ((type == 2 || type == 4) && n == 2) {
			base = (uint32_t)hex_value(line + 9, 2) << (type == 2 ? 4 : 16);
		} else if (type != 3 && type != 5) {
			why = "unknown record type";
			goto bad;
		}
	}
	if (!done || end == 0) {
		fprintf(stderr, "avr-uno: %s: %s\n", path,
			!done ? "no end record (truncated Intel HEX file?)" : "no program data");
		goto cleanup;
	}
	fw->flash = flash;
	fw->flashbase = 0;
	fw->flashsize = end;
	flash = NULL;
	rc = 0;
	goto cleanup;
bad:
	fprintf(stderr, "avr-uno: %s:%d: %s\n", path, lineno, why);
cleanup:
	if (f)
		fclose(f);
	free(flash);
	return rc;
}

/* Fill *fw from path, an ELF or an Intel HEX file. Returns 0, or -1 with a message on stderr. */
static int read_firmware(const char *path, elf_firmware_t *fw)
{
	unsigned char magic[4] = {0};
	FILE *f = fopen(path, "rb");

	if (!f || fread(magic, 1, sizeof magic, f) < 1) {
		fprintf(stderr, "avr-uno: cannot read %s: %s\n", path,
			f ? "empty file" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	if (memcmp(magic, "\177ELF", 4) == 0) {
		if (elf_read_firmware(path, fw) != 0) {
			fprintf(stderr, "avr-uno: %s: not a valid AVR ELF file\n", path);
			return -1;
		}
		return 0;
	}
	if (magic[0] == ':')
		return read_hex(path, fw);
	fprintf(stderr, "avr-uno: %s is neither an ELF nor an Intel HEX file\n", path);
	return -1;
}

/*
 * Timer 1's compare match A at OCR1A = 0 (the ATmega328P's TIMSK1, OCR1AL/H and TCCR1B): on the
 * chip, a CTC timer whose top is 0 matches at every tick, so enabling OCIE1A runs the ISR at once.
 * simavr 1.6 leaves a timer of top 0 stopped (its period would be one cycle), and Grbl-derived
 * firmware (horus-fw's stepper) relies on that first interrupt to load OCR1A: without it the
 * stepper never starts. Raised here when the firmware enables OCIE1A in that state.
 */
static avr_timer_comp_t *t1_compa;

static void timsk1_write(avr_t *a, avr_io_addr_t addr, uint8_t v, void *param)
{
	(void)param;
	a->data[addr] = v;
	if ((v & 0x02) && a->data[0x88] == 0 && a->data[0x89] == 0 && (a->data[0x81] & 0x07) &&
	    (a->data[0x81] & 0x18) == 0x08 && t1_compa)
		avr_raise_interrupt(a, &t1_compa->interrupt);
}

/* Hook timer 1's OCIE1A enable (see timsk1_write), when simavr's timer 1 is where expected. */
static void hook_timer1(void)
{
	avr_timer_comp_t *c = avr->io[AVR_DATA_TO_IO(0x88)].w.param;

	if (c && c->r_ocr == 0x88 && c->interrupt.vector == 11) {
		t1_compa = c;
		avr_register_io_write(avr, 0x6F, timsk1_write, NULL);
	} else {
		fprintf(stderr,
			"avr-uno: timer 1 not found where expected: OCR1A = 0 not emulated\n");
	}
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A command from stdin. */
static void command(const char *line)
{
	int n;
	char v[16];

	if (sscanf(line, "D%d %15s", &n, v) == 2 && n >= 2 && n <= 13) {
		avr_irq_t *irq = pin_irq(n);
		if (v[0] == 'z') {
			/* released: the AVR reads its own pull-up (or a floating low) */
			avr_ioport_external_t ext = {.name = n < 8 ? 'D' : 'B',
						     .mask = (uint8_t)(1u << (n & 7)),
						     .value = 0};
			avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(ext.name), &ext);
		} else {
			avr_raise_irq(irq, v[0] == '1');
		}
	} else if (sscanf(line, "A%d %15s", &n, v) == 2 && n >= 0 && n <= 5) {
		avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + n),
			      (uint32_t)atoi(v));
	}
}

int main(int argc, char **argv)
{
	elf_firmware_t fw;
	uint32_t flags = 0;
	int host_open = 0;
	int64_t t0;
	avr_cycle_count_t c0;
	char line[128];
	size_t nline = 0;
	int slips = 0, reset_on_open = 1;

	if (argc == 3 && strcmp(argv[1], "-n") == 0) {
		reset_on_open = 0;
		argv++, argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: avr-uno [-n] FIRMWARE.elf|FIRMWARE.hex\n");
		return 2;
	}
	memset(&fw, 0, sizeof fw);
	if (read_firmware(argv[1], &fw) != 0)
		return 1;
	avr = avr_make_mcu_by_name("atmega328p");
	if (!avr) {
		fprintf(stderr, "avr-uno: simavr has no atmega328p\n");
		return 1;
	}
	avr_init(avr);
	avr->frequency = 16000000;
	avr->vcc = avr->avcc = avr->aref = 5000;
	avr->log = 0;
	avr_load_firmware(avr, &fw);
	hook_timer1();
	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		perror("avr-uno: pty");
		return 1;
	}
	{
		/* raw: the firmware's bytes unchanged */
		int s = open(ptsname(master), O_RDWR | O_NOCTTY);
		struct termios t;
		if (s >= 0 && tcgetattr(s, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(s, TCSANOW, &t);
		}
		if (s >= 0)
			close(s);
	}
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	flags &= ~(uint32_t)AVR_UART_FLAG_STDIO;
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
				uart_out, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
				uart_xon, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
				uart_xoff, NULL);
	for (int d = 2; d <= 13; d++)
		avr_irq_register_notify(pin_irq(d), pin_changed, (void *)(intptr_t)d);
	printf("pty %s\n", ptsname(master));
	fflush(stdout);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	t0 = wall_ns();
	c0 = avr->cycle;
	for (;;) {
		struct pollfd pf[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
		int64_t sim_ns, ahead;
		for (int i = 0; i < 4000; i++) {
			int st = avr_run(avr);
			if (st == cpu_Done || st == cpu_Crashed) {
				fprintf(stderr, "avr-uno: the AVR stopped (%d)\n", st);
				return 1;
			}
		}
		/* real time: simulated cycles never run ahead of the wall clock */
		sim_ns = (int64_t)((avr->cycle - c0) * 1000000000ULL / avr->frequency);
		ahead = sim_ns - (wall_ns() - t0);
		poll(pf, 2, ahead > 1000000 ? (int)(ahead / 1000000) : 0);
		if (ahead < -200000000LL) {
			/* far behind (a loaded machine): let simulated time slip, never race */
			t0 = wall_ns() - sim_ns;
			slips++;
			if (getenv("AVR_UNO_DEBUG"))
				fprintf(stderr, "avr-uno: behind real time, %d slip(s)\n", slips);
		}
		if (pf[0].revents & POLLHUP) {
			host_open = 0;
			rx_len = 0;
		} else if (!host_open) {
			host_open = 1; /* the port was opened: DTR resets the board */
			if (reset_on_open)
				avr_reset(avr);
		}
		if (host_open && (pf[0].revents & POLLIN) && rx_len < sizeof rx) {
			ssize_t n = read(master, rx + rx_len, sizeof rx - rx_len);
			if (n > 0)
				rx_len += (size_t)n;
		}
		while (rx_len && xon) {
			avr_raise_irq(
			    avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT), rx[0]);
			memmove(rx, rx + 1, --rx_len);
		}
		if (pf[1].revents & (POLLIN | POLLHUP)) {
			char c;
			ssize_t n;
			while ((n = read(0, &c, 1)) == 1) {
				if (c == '\n') {
					line[nline] = '\0';
					command(line);
					nline = 0;
				} else if (nline + 1 < sizeof line) {
					line[nline++] = c;
				}
			}
			if (n == 0)
				return 0;
		}
	}
}
