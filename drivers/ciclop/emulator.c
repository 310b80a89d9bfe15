/* emulator.c - the Ciclop/Horus board on a pseudo-terminal: board.c's model behind a pty thread. */
#include "emulator.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/sim/ptyboard.h"
#include "../../protocols/ciclop.h"
#include "board.h"

struct ciclop_emu {
	lb_pty_board b;
	pthread_mutex_t lock; /* guards board */
	ciclop_board board;
	atomic_int fault;
	atomic_int refs; /* the owner's and every ciclop_emu_ref's */
};

double ciclop_emu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Write all of buf to the master (a full pty drops the rest: the host is not reading). */
static void put(ciclop_emu *e, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(e->b.master, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n, len -= (size_t)n;
	}
}

/* Reset the board and print its greeting. */
static void reset(ciclop_emu *e)
{
	char out[64];
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = ciclop_board_reset(&e->board, ciclop_emu_now_ms(), out, sizeof out);
	pthread_mutex_unlock(&e->lock);
	put(e, out, n);
}

/* Answer one received line according to the fault in force. */
static void answer(ciclop_emu *e, const char *line, size_t len)
{
	char out[128];
	size_t n;
	double due;

	switch (atomic_load(&e->fault)) {
	case CICLOP_EMU_SILENT: return;
	case CICLOP_EMU_ALARM: put(e, "ALARM: Hard limit\r\n", 19); return;
	case CICLOP_EMU_GARBAGE: put(e, "\x01\xfe#garbage%\r\n", 13); break;
	default: break;
	}
	pthread_mutex_lock(&e->lock);
	n = ciclop_board_line(&e->board, line, len, ciclop_emu_now_ms(), out, sizeof out);
	due = ciclop_board_reply_ms(&e->board);
	pthread_mutex_unlock(&e->lock);
	/* horus-fw answers when the queued motion is over (the next lines wait in its buffer; a
	 * Ctrl-X meanwhile is seen after it, where the board would abort the move at once) */
	for (double left;
	     n && !lb_pty_board_stopping(&e->b) && (left = due - ciclop_emu_now_ms()) > 0;)
		poll(NULL, 0, left < 20 ? (int)ceil(left) : 20);
	put(e, out, n);
}

/* The board's thread: read lines (Ctrl-X resets), answer them, until stopped. */
static void *emu_thread(void *arg)
{
	ciclop_emu *e = arg;
	ciclop_splitter sp = {0};
	char buf[256];

	reset(e);
	while (!lb_pty_board_stopping(&e->b)) {
		struct pollfd p = {.fd = e->b.master, .events = POLLIN};
		int r = poll(&p, 1, 20);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0 || !(p.revents & POLLIN))
			continue;
		ssize_t n = read(e->b.master, buf, sizeof buf);
		if (n <= 0)
			continue; /* EIO while no one has the slave open */
		size_t off = 0;
		while (off < (size_t)n) {
			const char *chunk = buf + off, *x = memchr(chunk, 0x18, (size_t)n - off);
			size_t avail = x ? (size_t)(x - chunk) : (size_t)n - off, used, linelen;
			const char *line;
			if (avail == 0) { /* Ctrl-X: soft reset, the partial line is lost */
				memset(&sp, 0, sizeof sp);
				reset(e);
				off++;
				continue;
			}
			if (ciclop_next_line(&sp, chunk, avail, &used, &line, &linelen) == 1)
				answer(e, line, linelen);
			off += used;
		}
	}
	return NULL;
}

ciclop_emu *ciclop_emu_new(lb_error *err)
{
	ciclop_emu *e = calloc(1, sizeof *e);

	if (!e) {
		lb_error_set(err, LB_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	atomic_init(&e->refs, 1);
	ciclop_board_reset(&e->board, ciclop_emu_now_ms(), NULL, 0);
	if (lb_pty_board_start(&e->b, 0, emu_thread, e, err) < 0) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return NULL;
	}
	return e;
}

const char *ciclop_emu_path(const ciclop_emu *e)
{
	return e->b.path;
}

void ciclop_emu_set_fault(ciclop_emu *e, ciclop_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

void ciclop_emu_state(ciclop_emu *e, double now_ms, double *angle, int *lasers)
{
	pthread_mutex_lock(&e->lock);
	*angle = ciclop_board_angle(&e->board, now_ms);
	*lasers = e->board.lasers;
	pthread_mutex_unlock(&e->lock);
}

void ciclop_emu_board(ciclop_emu *e, double now_ms, double *angle, int *lasers, int *motors,
		      long *executed)
{
	pthread_mutex_lock(&e->lock);
	*angle = ciclop_board_angle(&e->board, now_ms);
	*lasers = e->board.lasers;
	*motors = e->board.motors;
	*executed = e->board.executed;
	pthread_mutex_unlock(&e->lock);
}

ciclop_emu *ciclop_emu_ref(ciclop_emu *e)
{
	atomic_fetch_add(&e->refs, 1);
	return e;
}

void ciclop_emu_unref(ciclop_emu **pe)
{
	if (!pe || !*pe)
		return;
	if (atomic_fetch_sub(&(*pe)->refs, 1) == 1) {
		pthread_mutex_destroy(&(*pe)->lock);
		free(*pe);
	}
	*pe = NULL;
}

void ciclop_emu_destroy(ciclop_emu **pe)
{
	if (!pe || !*pe)
		return;
	lb_pty_board_stop(&(*pe)->b);
	ciclop_emu_unref(pe);
}
