/* uplink.h - messages from the device threads to the main loop: a queue per thread, one eventfd. */
#ifndef LB_UPLINK_H
#define LB_UPLINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

/*
 * A device thread hands the main loop its messages (samples to publish, replies, lifecycle) as
 * ZeroMQ frames, which the main loop then sends on the XPUB socket without copying. They travel
 * in a FIFO per host thread, under a mutex, and an eventfd shared by every queue wakes the main
 * loop when it sleeps. (An inproc PUSH/PULL pipe per thread did the same, but
 * each pipe keeps two 16 KB chunks of message slots resident once a few hundred messages have
 * passed: ~32 KB per device thread of an idle bridge.)
 */

/* Kinds of messages a device thread sends to the main loop (lb_up.meta.type). */
enum lb_chan_type {
	LB_CHAN_DATA = 1, /* + topic, header, [samples]: publish */
	LB_CHAN_OPENED,	  /* + description JSON: the device is open and ready */
	LB_CHAN_FAILED,	  /* + error message: open failed, the thread ends (BYE follows) */
	LB_CHAN_DESC,	  /* + description JSON: settings or state changed */
	LB_CHAN_REPLY,	  /* + reply JSON {"result":...} or {"error":{...}} to request `token` */
	LB_CHAN_GONE,	  /* the device went away; the thread ends (BYE follows) */
	LB_CHAN_BYE,	  /* the device is closed: its last message (main may free it) */
	LB_CHAN_EVENT,	  /* + event JSON for the bridge's services (e.g. a print job's state) */
};

typedef struct lb_chan_meta {
	uint32_t type;
	uint32_t stream;
	struct lb_device *dev;
	uint64_t seq;
	uint64_t token;
	double last;
	uint64_t bytes; /* data: its frames and lb_up, counted against the device's budget */
} lb_chan_meta;

/* A message: its meaning and its frames. */
typedef struct lb_up {
	struct lb_up *next;
	lb_chan_meta meta;
	int nframes; /* data: topic, header[, samples]; control: [text] */
	zmq_msg_t frame[3];
} lb_up;

/* What wakes the main loop: its eventfd, written only while it sleeps (one per server). */
typedef struct lb_upwake {
	int efd;
	atomic_int sleeping; /* set by the main loop before it polls, cleared by the first writer */
} lb_upwake;

typedef struct lb_upq {
	pthread_mutex_t lock;
	lb_up *head, *tail;
	lb_upwake *wake; /* the main loop's (shared, not owned) */
	bool held;	 /* pushed without waking since the last flush (producer's own) */
	/* Spent messages the main loop gave back for reuse (lb_upq_alloc, lb_upq_recycle):
	 * spare under the lock, at most LB_UPQ_SPARE; reuse is the producer's own list. */
	lb_up *spare;
	atomic_int nspare;
	lb_up *reuse;
} lb_upq;

/* Spent messages a queue keeps for reuse (~300 bytes each): no malloc and free per message
 * in a stream, where a producer's allocations freed by another thread cost twice. */
#define LB_UPQ_SPARE 512

/* An empty queue that wakes the main loop through wake. */
void lb_upq_init(lb_upq *q, lb_upwake *wake);

/*
 * Append m (taken over); if the main loop sleeps, wake it. Never blocks long. A busy main loop
 * costs its producers no system call: it takes every queue again before it sleeps (below).
 */
void lb_upq_push(lb_upq *q, lb_up *m);

/*
 * Append m (taken over) without waking the main loop: for a burst of data messages, whose
 * producer then calls lb_upq_flush once (before it sleeps or turns to other work), so that the
 * main loop wakes once per burst instead of racing its producer message by message. Only the
 * queue's producer thread calls push_held and flush.
 */
void lb_upq_push_held(lb_upq *q, lb_up *m);

/* Wake the main loop, if it sleeps, for the messages held since the last flush (none: no-op). */
void lb_upq_flush(lb_upq *q);

/*
 * The main loop is about to sleep: from now on, a push wakes it. Call it, then take every
 * queue, then poll (without waiting if something was taken).
 */
void lb_upwake_sleeping(lb_upwake *w);

/* The main loop is awake again (after its poll): no more wake-ups, and the eventfd reset. */
void lb_upwake_awake(lb_upwake *w);

/* Take every message waiting, oldest first (main thread); NULL if none. */
lb_up *lb_upq_take(lb_upq *q);

/* The same, and the last message taken in *tail (NULL if none): no walk down the list. */
lb_up *lb_upq_take_tail(lb_upq *q, lb_up **tail);

/* Free what is left in the queue. */
void lb_upq_fini(lb_upq *q);

/* A message without frames yet (add them with zmq_msg_init_* on frame[nframes++]); NULL if out
 * of memory. */
lb_up *lb_up_new(const lb_chan_meta *meta);

/* Close a message's frames and free it; accepts NULL. */
void lb_up_free(lb_up *m);

/* A message without frames, as lb_up_new, reusing one given back to q if there is one
 * (producer thread only); NULL if out of memory. */
lb_up *lb_upq_alloc(lb_upq *q, const lb_chan_meta *meta);

/*
 * Give spent messages back to q for reuse (main thread): the chain first..last (linked by next,
 * n of them) taken from q. Their frames are closed here; beyond LB_UPQ_SPARE they are freed.
 */
void lb_upq_recycle(lb_upq *q, lb_up *first, lb_up *last, int n);

#endif
