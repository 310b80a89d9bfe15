/* host.c - the threads that run devices: a thread per device, or one shared by several. */
#include "host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/grow.h"
#include "../util/log.h"
#include "../util/thread.h"

#define MAX_ITEMS 16	 /* poll items per device */
#define MAILBOX_MAX 1000 /* commands waiting for a host: beyond, its device is stuck */

/*
 * The main loop talks to a host through a mailbox: a list under a mutex and an eventfd that wakes
 * the host's poll. (A ZeroMQ PAIR per device did the same at ~25 KB resident each, for a few
 * messages a minute: two 16 KB pipe chunks touched at both ends, two sockets and their
 * mailboxes.) A halt goes in a second, priority list, which the thread reads first and again
 * before each mail it handles: it overtakes every command waiting.
 */
typedef enum mail_kind { MAIL_ADOPT, MAIL_COMMAND, MAIL_STOP, MAIL_HALT } mail_kind;

typedef struct mail {
	struct mail *next;
	mail_kind kind;
	lb_device *dev;
	uint64_t token;
	char name[16];
	json_t *params; /* owned by the mail */
} mail;

/* A device in a host: its poll items and its deadline. */
typedef struct slot {
	lb_device *dev;
	int64_t deadline; /* monotonic ns of the driver's next run; -1: none */
	bool due;	  /* a command was handled: run the driver */
	zmq_pollitem_t items[MAX_ITEMS];
	int nitems;
	size_t pfd; /* index of its first item in the host's pollfd array */
} slot;

struct lb_host {
	char name[16];
	bool own; /* runs one device and ends with it */
	pthread_t thread;
	pthread_mutex_t lock; /* guards the mailbox */
	mail *head, *tail;
	size_t queued;
	mail *uhead, *utail; /* the priority mail (halts), under lock too */
	atomic_int urgent;   /* there is priority mail: looked at without the lock */
	int efd;	     /* eventfd: mail has come */
	lb_upq upq;	     /* its devices' messages to the main loop */
	/* the host thread's */
	slot *slots;
	size_t nslots, capslots;
	struct pollfd *pfd;
	size_t cappfd;
	bool stopping;
	lb_device *first; /* an own host's device, opened when its thread starts */
};

static void mail_free(mail *m)
{
	json_decref(m->params);
	free(m);
}

/* Queue a mail for the host and wake it (main thread); 0, LB_EAGAIN (full) or LB_ENOMEM. */
static int post(lb_host *h, mail_kind kind, lb_device *dev, const char *name, uint64_t token,
		const json_t *params)
{
	mail *m = calloc(1, sizeof *m);
	uint64_t one = 1;
	int rc = 0;

	if (!m)
		return LB_ENOMEM;
	m->kind = kind;
	m->dev = dev;
	m->token = token;
	snprintf(m->name, sizeof m->name, "%s", name ? name : "");
	/* a copy of its own: the host's thread may hold it while the main loop goes on */
	m->params = params ? json_deep_copy(params) : NULL;
	pthread_mutex_lock(&h->lock);
	if (kind == MAIL_HALT) {
		if (h->utail)
			h->utail->next = m;
		else
			h->uhead = m;
		h->utail = m;
		atomic_store(&h->urgent, 1);
	} else if (kind == MAIL_COMMAND && h->queued >= MAILBOX_MAX) {
		rc = LB_EAGAIN;
	} else {
		if (h->tail)
			h->tail->next = m;
		else
			h->head = m;
		h->tail = m;
		h->queued++;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0) {
		mail_free(m);
		return rc;
	}
	if (write(h->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		lb_warn("host %s: cannot wake its thread: %s", h->name, strerror(errno));
	return 0;
}

/* Take every mail waiting, oldest first (host thread). */
static mail *take_mail(lb_host *h)
{
	uint64_t n;
	mail *m;

	if (read(h->efd, &n, sizeof n) < 0 && errno != EAGAIN)
		lb_warn("host %s: eventfd: %s", h->name, strerror(errno));
	pthread_mutex_lock(&h->lock);
	m = h->head;
	h->head = h->tail = NULL;
	h->queued = 0;
	pthread_mutex_unlock(&h->lock);
	return m;
}

/* Open a device in the host (host thread): OPENED and a slot, or FAILED + BYE and no slot. */
static void slot_open(lb_host *h, lb_device *dev)
{
	lb_error err = {0};
	lb_now now = lb_now_read();
	slot *sl;

	dev->upq = &h->upq;
	if (lb_grow(&h->slots, &h->capslots, h->nslots, sizeof *h->slots) < 0) {
		lb_device_report(dev, LB_CHAN_FAILED, "out of memory");
		goto fail;
	}
	if (dev->driver->open(dev, &now, &err) < 0) {
		lb_device_report(dev, LB_CHAN_FAILED, err.message[0] ? err.message : "open failed");
		goto fail;
	}
	sl = &h->slots[h->nslots++];
	memset(sl, 0, sizeof *sl);
	sl->dev = dev;
	sl->deadline = 0; /* run the driver once at once */
	/* before OPENED: the main loop halts only devices it knows are open */
	lb_device_halt_arm(dev);
	lb_device_opened(dev);
	return;
fail:
	lb_device_report(dev, LB_CHAN_BYE, NULL); /* the last word: main may free dev now */
}

/* Stop and close slot i's device, say BYE, and drop the slot (host thread). */
static void slot_close(lb_host *h, size_t i)
{
	lb_device *dev = h->slots[i].dev;
	lb_error err = {0};

	lb_device_halt_disarm(dev); /* no halt hook from now on, nor one still running */
	if (dev->running && dev->driver->stop)
		dev->driver->stop(dev, &err);
	dev->running = false;
	if (dev->driver->close)
		dev->driver->close(dev);
	h->slots[i] = h->slots[--h->nslots];
	lb_device_report(dev, LB_CHAN_BYE, NULL); /* the last word: main may free dev now */
}

/* The slot running dev, or -1 (it has closed: the mail came too late). */
static long slot_of(const lb_host *h, const lb_device *dev)
{
	for (size_t i = 0; i < h->nslots; i++)
		if (h->slots[i].dev == dev)
			return (long)i;
	return -1;
}

/* Act on the priority mail (host thread): each halt of a device still open reaches it now. */
static void host_urgent(lb_host *h)
{
	mail *m, *next;

	if (!atomic_load(&h->urgent))
		return;
	pthread_mutex_lock(&h->lock);
	m = h->uhead;
	h->uhead = h->utail = NULL;
	atomic_store(&h->urgent, 0);
	pthread_mutex_unlock(&h->lock);
	for (; m; m = next) {
		long i = slot_of(h, m->dev);
		next = m->next;
		if (i >= 0) {
			lb_device_halted(m->dev);
			/* the driver runs next: its status after the halt */
			h->slots[i].due = true;
		}
		mail_free(m);
	}
}

/*
 * Act on the mail, in order (host thread), the priority mail first and again before each one. A
 * command for a device that has already closed is dropped: the main loop fails its request when the
 * BYE arrives. Devices are compared by address only, and a new device (perhaps at a freed one's
 * address) is adopted after any mail sent before that BYE, so a late command never reaches the
 * wrong device.
 */
static void host_mail(lb_host *h)
{
	mail *m = take_mail(h), *next;

	host_urgent(h);
	for (; m; m = next) {
		long i;
		next = m->next;
		host_urgent(h); /* a halt that came while the last mail was handled */
		switch (m->kind) {
		case MAIL_HALT: break; /* not in this list */
		case MAIL_ADOPT: slot_open(h, m->dev); break;
		case MAIL_STOP: h->stopping = true; break;
		case MAIL_COMMAND:
			i = slot_of(h, m->dev);
			if (i < 0)
				break;
			h->slots[i].due = true;
			if (lb_device_command(m->dev, m->name, m->token, m->params))
				slot_close(h, (size_t)i);
			m->params = NULL; /* taken over */
			break;
		}
		mail_free(m);
	}
}

/* Room for n pollfds; 0 or LB_ENOMEM. */
static int pfd_reserve(lb_host *h, size_t n)
{
	struct pollfd *p;

	if (n <= h->cappfd)
		return 0;
	p = realloc(h->pfd, n * sizeof *p);
	if (!p)
		return LB_ENOMEM;
	h->pfd = p;
	h->cappfd = n;
	return 0;
}

/* The pollfd of a driver's item (a ZeroMQ socket's ZMQ_FD signals any change). */
static struct pollfd item_pfd(const zmq_pollitem_t *it)
{
	struct pollfd p = {it->fd, 0, 0};
	size_t sz = sizeof p.fd;

	if (it->socket) {
		zmq_getsockopt(it->socket, ZMQ_FD, &p.fd, &sz);
		p.events = POLLIN;
		return p;
	}
	if (it->events & ZMQ_POLLIN)
		p.events |= POLLIN;
	if (it->events & ZMQ_POLLOUT)
		p.events |= POLLOUT;
	return p;
}

/* Set the revents of a slot's items from the pollfds ppoll filled. */
static void items_revents(lb_host *h, slot *sl)
{
	for (int k = 0; k < sl->nitems; k++) {
		zmq_pollitem_t *it = &sl->items[k];
		if (it->socket) {
			int ev = 0;
			size_t sz = sizeof ev;
			zmq_getsockopt(it->socket, ZMQ_EVENTS, &ev, &sz);
			it->revents = (short)(ev & it->events);
		} else {
			short r = h->pfd[sl->pfd + (size_t)k].revents;
			it->revents = (short)(((r & POLLIN) ? ZMQ_POLLIN : 0) |
					      ((r & POLLOUT) ? ZMQ_POLLOUT : 0) |
					      ((r & (POLLERR | POLLHUP)) ? ZMQ_POLLERR : 0));
		}
	}
}

/*
 * Wait until mail, a driver's fd or the earliest deadline: one ppoll(2) with a nanosecond
 * timeout (zmq_poll's milliseconds would add up to 1 ms of latency), then the items' revents.
 */
static void host_wait(lb_host *h)
{
	size_t n = 0, need = 1;
	int64_t deadline = -1;
	struct timespec ts, *tp = NULL;

	for (size_t i = 0; i < h->nslots; i++) {
		slot *sl = &h->slots[i];
		const lb_driver *drv = sl->dev->driver;
		memset(sl->items, 0, sizeof sl->items);
		sl->nitems = drv->pollitems ? drv->pollitems(sl->dev, sl->items, MAX_ITEMS) : 0;
		need += (size_t)sl->nitems;
	}
	if (pfd_reserve(h, need) < 0) {
		lb_err("host %s: out of memory for its poll set; retrying in 10 ms", h->name);
		ts = (struct timespec){0, 10000000};
		nanosleep(&ts, NULL);
		return;
	}
	h->pfd[n++] = (struct pollfd){h->efd, POLLIN, 0};
	for (size_t i = 0; i < h->nslots; i++) {
		slot *sl = &h->slots[i];
		int64_t d = sl->deadline;
		int64_t r = sl->dev->desc_hash ? sl->dev->desc_next : -1;
		if (r >= 0 && (d < 0 || r < d))
			d = r; /* the next look at its description */
		if (sl->dev->start_at) {
			/* wake up for the scheduled start (the real clock's offset to mono now) */
			lb_now t = lb_now_read();
			int64_t at = t.mono + (sl->dev->start_at - t.real);
			if (d < 0 || at < d)
				d = at;
		}
		if (d >= 0 && (deadline < 0 || d < deadline))
			deadline = d;
		sl->pfd = n;
		for (int k = 0; k < sl->nitems; k++)
			h->pfd[n++] = item_pfd(&sl->items[k]);
	}
	if (deadline >= 0) {
		int64_t left = deadline - lb_clock_ns(CLOCK_MONOTONIC);
		if (left < 0)
			left = 0;
		ts = (struct timespec){left / 1000000000LL, left % 1000000000LL};
		tp = &ts;
	}
	if (ppoll(h->pfd, (nfds_t)n, tp, NULL) < 0 && errno != EINTR)
		lb_warn("host %s: ppoll: %s", h->name, strerror(errno));
	for (size_t i = 0; i < h->nslots; i++)
		items_revents(h, &h->slots[i]);
}

/*
 * Serve slot i after a wait: a look at its description (once a second), a scheduled start, and
 * its driver's run when due (deadline reached, an item ready, or a command handled). Returns 1
 * if the slot was closed.
 */
static int slot_serve(lb_host *h, size_t i)
{
	slot *sl = &h->slots[i];
	lb_device *dev = sl->dev;
	lb_now now = lb_now_read();
	int due = sl->due;

	sl->due = false;
	lb_device_refresh(dev, now.mono); /* a description that follows the device */
	due |= lb_device_scheduled_start(dev, &now);
	due |= sl->deadline >= 0 && now.mono >= sl->deadline;
	for (int k = 0; !due && k < sl->nitems; k++)
		due = sl->items[k].revents != 0;
	if (!due)
		return 0;
	sl->deadline = -1;
	if (dev->driver->run &&
	    dev->driver->run(dev, &now, sl->items, sl->nitems, &sl->deadline) == LB_EGONE) {
		lb_info("device %s is gone", dev->spec.id);
		lb_device_report(dev, LB_CHAN_GONE, NULL);
		slot_close(h, i);
		return 1;
	}
	return 0;
}

/* The host's thread: adopt devices, serve them, until its device ends (own) or it is stopped. */
static void *host_thread(void *arg)
{
	lb_host *h = arg;

	/* Device threads yield to the publishing loop: an overloaded machine loses samples (seen as
	 * seq gaps) rather than stalling every stream behind a backlog. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
	/* deadlines are met to the microsecond: no timer slack (50 us by default) on ppoll */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (h->own)
		slot_open(h, h->first);
	while (h->own ? h->nslots > 0 : !h->stopping) {
		/* data messages are pushed without a wake-up (lb_upq_push_held): one for all that
		 * its devices published since the last turn, before sleeping */
		lb_upq_flush(&h->upq);
		host_wait(h);
		if (h->pfd[0].revents & POLLIN)
			host_mail(h);
		for (size_t i = 0; i < h->nslots;)
			if (!slot_serve(h, i))
				i++;
	}
	lb_upq_flush(&h->upq);
	while (h->nslots) /* stopped with devices left: close them as a term would */
		slot_close(h, h->nslots - 1);
	return NULL;
}

/* Free a host whose thread has ended (or never started), with any mail left. */
static void host_free(lb_host *h)
{
	mail *m, *next;

	for (m = h->head; m; m = next) {
		next = m->next;
		mail_free(m);
	}
	for (m = h->uhead; m; m = next) {
		next = m->next;
		mail_free(m);
	}
	lb_upq_fini(&h->upq);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->lock);
	free(h->slots);
	free(h->pfd);
	free(h);
}

/* A host with its mailbox and uplink queue, its thread started; NULL on failure. */
static lb_host *host_start(const char *name, lb_upwake *upwake, lb_device *first)
{
	lb_host *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->own = first != NULL;
	h->first = first;
	snprintf(h->name, sizeof h->name, "%s", name);
	pthread_mutex_init(&h->lock, NULL);
	lb_upq_init(&h->upq, upwake);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* the thread needs one pollfd at least: the eventfd */
	if (h->efd < 0 || pfd_reserve(h, 8) < 0 ||
	    lb_thread_start(&h->thread, host_thread, h) != 0) {
		host_free(h);
		return NULL;
	}
	return h;
}

lb_host *lb_host_new(const char *name, lb_upwake *upwake)
{
	return host_start(name, upwake, NULL);
}

lb_up *lb_host_take_up(lb_host *h, lb_up **tail)
{
	return lb_upq_take_tail(&h->upq, tail);
}

const char *lb_host_name(const lb_host *h)
{
	return h->name;
}

int lb_host_shared(const lb_host *h)
{
	return !h->own;
}

void lb_host_destroy(lb_host **ph)
{
	if (!ph || !*ph)
		return;
	if (post(*ph, MAIL_STOP, NULL, NULL, 0, NULL) < 0) {
		/* out of memory: leave the thread running rather than free what it uses */
		lb_err("host %s: cannot ask its thread to stop", (*ph)->name);
		*ph = NULL;
		return;
	}
	pthread_join((*ph)->thread, NULL);
	host_free(*ph);
	*ph = NULL;
}

int lb_device_spawn(lb_device *dev, lb_host *host)
{
	if (host) {
		if (post(host, MAIL_ADOPT, dev, NULL, 0, NULL) < 0)
			return LB_EFAIL;
		dev->host = host;
		return 0;
	}
	dev->host = host_start(dev->spec.id, dev->upwake, dev);
	return dev->host ? 0 : LB_EFAIL;
}

int lb_device_send(lb_device *dev, const char *cmd, uint64_t token, const json_t *params)
{
	if (!dev->host)
		return LB_EFAIL;
	return post(dev->host, MAIL_COMMAND, dev, cmd, token, params);
}

int lb_device_halt(lb_device *dev)
{
	/* the hardware first: at once, whatever the device's thread is doing */
	int rc = lb_device_halt_hook(dev);

	if (rc == LB_EINVAL || !dev->host)
		return rc == LB_EINVAL ? rc : LB_EGONE;
	if (post(dev->host, MAIL_HALT, dev, "halt", 0, NULL) < 0) {
		lb_err("device %s: out of memory for the halt's mail: its thread does not finish "
		       "the stop",
		       dev->spec.id);
		return rc < 0 ? rc : LB_EFAIL;
	}
	return rc;
}

void lb_device_unspawn(lb_device *dev)
{
	if (dev->host && dev->host->own) {
		pthread_join(dev->host->thread, NULL);
		host_free(dev->host);
	}
	dev->host = NULL;
}
