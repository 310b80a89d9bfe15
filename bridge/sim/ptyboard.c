/* ptyboard.c - an emulated serial board: a pseudo-terminal and the thread that plays the device. */
#include "ptyboard.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../sdk/serial.h"
#include "../util/thread.h"

int lb_pty_board_start(lb_pty_board *b, int nonblock, void *(*fn)(void *), void *arg, lb_error *err)
{
	int flags;

	atomic_store(&b->stop, 0);
	b->running = 0;
	b->master = lb_pty_new(b->path, sizeof b->path, err);
	if (b->master < 0)
		return LB_EFAIL;
	if (nonblock && ((flags = fcntl(b->master, F_GETFL)) < 0 ||
			 fcntl(b->master, F_SETFL, flags | O_NONBLOCK) < 0)) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot make the pty non-blocking: %s",
			     strerror(errno));
		goto fail;
	}
	if (lb_thread_start(&b->thread, fn, arg) != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot start the emulator thread");
		goto fail;
	}
	b->running = 1;
	return 0;
fail:
	close(b->master);
	b->master = -1;
	return LB_EFAIL;
}

void lb_pty_board_stop(lb_pty_board *b)
{
	if (!b->running)
		return;
	atomic_store(&b->stop, 1);
	pthread_join(b->thread, NULL);
	close(b->master);
	b->master = -1;
	b->running = 0;
}
