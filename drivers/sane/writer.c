/* writer.c - a scan job's output written by a thread of its own, fed with the bands as read. */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../bridge/util/log.h"
#include "../../bridge/util/thread.h"

enum op { OP_ROWS, OP_BEGIN, OP_END, OP_FINISH };

/* One operation for the writer's thread. */
typedef struct item {
	struct item *next;
	enum op op;
	sn_band *band; /* OP_ROWS: the band holding the rows (a reference) */
	const uint8_t *rows;
	size_t n, bytes;
	lb_page_shape shape; /* OP_BEGIN */
	int pages;	     /* OP_FINISH */
} item;

struct sn_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	item *head, *tail; /* under lock */
	bool stop;	   /* under lock: destroy asks the thread to end */
	atomic_size_t queued;
	atomic_int state;      /* 0 writing, 1 finished, -1 failed (set by the thread) */
	atomic_bool want_wake; /* the device thread waits on efd */
	int efd;
	/* the thread's own until state leaves 0, then the device thread's */
	sn_output *out;
	json_t *names;
	lb_error err;
	char folder[1024];
};

/* Free an item and its band reference. */
static void item_free(item *it)
{
	sn_band_unref(it->band);
	free(it);
}

/* Carry out one operation on the output; 0 or negative with w->err set. */
static int item_do(sn_writer *w, item *it)
{
	switch (it->op) {
	case OP_ROWS: return sn_output_rows(w->out, it->rows, it->n, &w->err);
	case OP_BEGIN: return sn_output_begin_page(w->out, &it->shape, &w->err);
	case OP_END: return sn_output_end_page(w->out, &w->err);
	case OP_FINISH:
		/* frees the output in every case; its files are the job's results now */
		return sn_output_finish(&w->out, it->pages, &w->names, &w->err);
	}
	return lb_error_set(&w->err, LB_ERR_INTERNAL, "bad writer operation");
}

/* Wake the device thread if it waits (or always: an end). */
static void wake(sn_writer *w, bool always)
{
	uint64_t one = 1;

	if ((atomic_exchange(&w->want_wake, false) || always) &&
	    write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		lb_warn("sane: the writer cannot signal: %s", strerror(errno));
}

/* The writer's thread: the operations in order until stopped; after the first error or the
 * finish, the rest is only dropped. */
static void *writer_thread(void *arg)
{
	sn_writer *w = arg;

	for (;;) {
		item *it;
		bool ended = false;
		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		it = w->head;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		if (atomic_load(&w->state) == 0) {
			if (item_do(w, it) < 0) {
				atomic_store(&w->state, -1);
				ended = true;
			} else if (it->op == OP_FINISH) {
				atomic_store(&w->state, 1);
				ended = true;
			}
		}
		atomic_fetch_sub(&w->queued, it->bytes);
		item_free(it);
		wake(w, ended);
	}
}

sn_writer *sn_writer_new(sn_output *o, const char *folder, lb_error *err)
{
	sn_writer *w = calloc(1, sizeof *w);
	int rc;

	if (!w) {
		sn_output_destroy(&o);
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	w->out = o;
	snprintf(w->folder, sizeof w->folder, "%s", folder ? folder : "");
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	rc = lb_thread_start(&w->thread, writer_thread, w);
	if (rc != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot start the writer thread: %s",
			     strerror(rc));
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		close(w->efd);
		goto fail;
	}
	return w;
fail:
	sn_output_destroy(&w->out);
	free(w);
	return NULL;
}

/* Append it (taken over) to the queue and wake the thread; 0. */
static int push(sn_writer *w, item *it)
{
	pthread_mutex_lock(&w->lock);
	atomic_fetch_add(&w->queued, it->bytes);
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int sn_writer_rows(sn_writer *w, sn_band *b, const uint8_t *rows, size_t n, size_t bytes)
{
	item *it = calloc(1, sizeof *it);

	if (!it)
		return LB_ENOMEM;
	sn_band_ref(b);
	*it = (item){.op = OP_ROWS, .band = b, .rows = rows, .n = n, .bytes = bytes};
	return push(w, it);
}

int sn_writer_begin_page(sn_writer *w, const lb_page_shape *shape)
{
	item *it = calloc(1, sizeof *it);

	if (!it)
		return LB_ENOMEM;
	*it = (item){.op = OP_BEGIN, .shape = *shape};
	return push(w, it);
}

int sn_writer_end_page(sn_writer *w)
{
	item *it = calloc(1, sizeof *it);

	if (!it)
		return LB_ENOMEM;
	it->op = OP_END;
	return push(w, it);
}

int sn_writer_finish(sn_writer *w, int pages)
{
	item *it = calloc(1, sizeof *it);

	if (!it)
		return LB_ENOMEM;
	it->op = OP_FINISH;
	it->pages = pages;
	return push(w, it);
}

size_t sn_writer_queued(const sn_writer *w)
{
	return atomic_load(&((sn_writer *)w)->queued);
}

int sn_writer_state(sn_writer *w, json_t **names, lb_error *err)
{
	int st = atomic_load(&w->state);

	if (st < 0) {
		if (err)
			*err = w->err;
		return LB_EFAIL;
	}
	if (st == 1 && names) {
		*names = w->names;
		w->names = NULL;
	}
	return st;
}

void sn_writer_arm(sn_writer *w)
{
	atomic_store(&w->want_wake, true);
}

int sn_writer_fd(const sn_writer *w)
{
	return w->efd;
}

void sn_writer_drain(sn_writer *w)
{
	uint64_t n;

	if (read(w->efd, &n, sizeof n) < 0 && errno != EAGAIN)
		lb_warn("sane: the writer's eventfd: %s", strerror(errno));
}

void sn_writer_destroy(sn_writer **pw)
{
	sn_writer *w = pw ? *pw : NULL;
	item *it, *next;
	size_t i;
	json_t *n;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (it = w->head; it; it = next) {
		next = it->next;
		item_free(it);
	}
	sn_output_destroy(&w->out); /* partial files and completed pages go */
	json_array_foreach(w->names, i, n)
	{
		/* finished but never handed over: the job did not end done */
		char path[1300];
		snprintf(path, sizeof path, "%s/%s", w->folder, json_string_value(n));
		if (unlink(path) < 0 && errno != ENOENT)
			lb_warn("sane: cannot remove %s: %s", path, strerror(errno));
	}
	json_decref(w->names);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	close(w->efd);
	free(w);
	*pw = NULL;
}
