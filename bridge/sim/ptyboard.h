/* ptyboard.h - an emulated serial board: a pseudo-terminal and the thread that plays the device. */
#ifndef LB_PTYBOARD_H
#define LB_PTYBOARD_H

#include <pthread.h>
#include <stdatomic.h>

#include "../util/error.h"

/* Embed one in an emulator; its thread reads and writes master and ends when stop is set. */
typedef struct lb_pty_board {
	int master;    /* the emulator's end of the pseudo-terminal */
	char path[64]; /* the slave's path: what a driver opens, like /dev/ttyACM0 */
	pthread_t thread;
	atomic_int stop;
	int running;
} lb_pty_board;

/*
 * Open a pseudo-terminal in raw mode (its master non-blocking when nonblock) and start
 * fn(arg) in a thread. 0, or negative with err set and nothing left open.
 */
int lb_pty_board_start(lb_pty_board *b, int nonblock, void *(*fn)(void *), void *arg,
		       lb_error *err);

/* Whether the board's thread has been asked to stop (for its loop). */
static inline int lb_pty_board_stopping(lb_pty_board *b)
{
	return atomic_load(&b->stop);
}

/* Stop the thread (join it) and close the pseudo-terminal: the port disappears. Safe on a board
 * that never started. */
void lb_pty_board_stop(lb_pty_board *b);

#endif
