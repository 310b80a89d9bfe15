/* device.h - a device as the core sees it: its fields, its streams, its commands (drivers see
 * only bridge/sdk/device.h: the publishing API and the accessors). */
#ifndef LB_DEVICE_H
#define LB_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "../sdk/device.h"
#include "../sdk/driver.h"
#include "header.h"
#include "uplink.h"

#define LB_HEADER_MAX 512
/*
 * Data messages a device may have waiting for the main loop: LB_CHAN_HWM messages (50 s of a
 * stream at 20/s) or LB_CHAN_HWM_BYTES of them (frames and bookkeeping), whichever is more: 1000
 * messages of 4000 bytes, or ~5 000 unbatched messages (~400 bytes each: 50 ms of a 100 kHz
 * stream, where 1000 were 10 ms, shorter than a main loop's wait for a core on a busy machine).
 */
#define LB_CHAN_HWM 1000
#define LB_CHAN_HWM_BYTES (2u << 20)
/* How often a device thread looks whether its description changed (lb_device_refresh). */
#define LB_DESC_EVERY_NS 1000000000LL

/* A stream as its device thread sees it. */
typedef struct lb_stream {
	char name[32];
	char topic[128];
	char quantity[32];
	char unit[16];
	lb_sample_type type;
	double rate;
	double min, max, resolution;
	uint64_t seq;	     /* last sequence number sent */
	double gain, offset; /* calibration applied to float samples: gain * x + offset */
	char *prefix;	     /* the header's constant part (malloc'd, prefix_len bytes + NUL) */
	int prefix_len;
	char *error; /* "code\0message" while the stream cannot deliver (malloc'd), or NULL */
} lb_stream;

/* The main loop's view of a stream: the Clone pattern's last value. */
typedef struct lb_stream_cache {
	uint64_t seq;
	double last;
	zmq_msg_t header; /* copy of the last header (reference-counted, not copied) */
	bool has_header;
} lb_stream_cache;

struct lb_device {
	/* Set by the registry before the thread starts; read-only afterwards. */
	const lb_driver *driver;
	lb_device_spec spec;
	char epoch[17];
	json_t *seq_base;  /* {"stream name": last seq} from an earlier plug-in, or NULL */
	json_t *calib;	   /* {"stream name": {gain, offset}} stored calibrations, or NULL */
	lb_upwake *upwake; /* what wakes the main loop (uplink.h) */

	/* Owned by the device's thread. */
	lb_stream *streams; /* nstreams of them, at most LB_MAX_STREAMS */
	int nstreams;
	size_t capstreams;
	bool running;
	void *priv;
	lb_upq *upq;	  /* its host's queue to the main loop */
	int64_t start_at; /* real time of a scheduled start (synchronised acquisition), or 0 */
	float *scratch;	  /* calibrated copy of a batch */
	size_t scratch_cap;
	uint64_t desc_hash; /* FNV-1a of the last description sent; 0 until the device opened */
	int64_t desc_next;  /* monotonic ns of the next look for a changed description */

	/* Data messages in the uplink, not yet published (device: +1, main loop: -1). Beyond
	 * LB_CHAN_HWM and LB_CHAN_HWM_BYTES the device drops (seq shows the gap), as a full ZeroMQ
	 * pipe would. */
	atomic_int queued;
	atomic_size_t queued_bytes; /* their size (lb_chan_meta.bytes): the same accounting */

	/* The halt path (lb_device_halt, any thread, against the device thread's close): whether
	 * the driver's halt hook may run (1 from open's success until close begins), and how many
	 * hooks are running; close waits for none. Zero (closed) as calloc leaves them. */
	atomic_int halt_open;
	atomic_int halt_users;

	/* Owned by the main thread. */
	struct lb_host *host; /* the thread that runs it (host.c); NULL until spawned */
	bool opened, removing;
	const char *end_reason; /* why its streams end: "unplugged", "stopped answering"... */
	char *desc; /* the last description, compact JSON text (a jansson tree costs ~5x) */
	lb_stream_cache *cache; /* one per stream, allocated when the device opens */
	int capcache;		/* entries in cache (its streams) */
	int ncache;		/* 1 + the highest stream that has sent */
};

/* A device's state as the core keeps it (devices.list "state"): drivers report what they do
 * (started, stopped, a job event), the core decides. */
typedef enum lb_device_state {
	LB_STATE_OPENING, /* its thread is opening it */
	LB_STATE_READY,	  /* open, idle */
	LB_STATE_RUNNING, /* acquiring (its streams flow) */
	LB_STATE_BUSY,	  /* running a job for a service (a print) */
	LB_STATE_CLOSING, /* going away (unplugged, failed, bridge stopping) */
} lb_device_state;

/* "opening", "ready", "running", "busy", "closing". */
const char *lb_device_state_name(lb_device_state st);

/*
 * Largest calibration accepted: a calibrated float32 sample must stay finite. |gain| up to
 * LB_CALIB_MAX_GAIN (not 0), |offset| up to LB_CALIB_MAX_OFFSET, and when the stream declares its
 * range [min, max] (max > min), gain * min + offset and gain * max + offset within float32.
 */
#define LB_CALIB_MAX_GAIN 1e9
#define LB_CALIB_MAX_OFFSET 1e30

/* Whether gain and offset may calibrate a stream of range [min, max] (max <= min: none
 * declared): 0, or LB_EFAIL with err saying why (LB_ERR_INVALID_PARAMS). */
int lb_calib_check(double gain, double offset, double min, double max, lb_error *err);

/* The device's description as a new JSON object (device thread only). */
json_t *lb_device_describe(lb_device *dev);

/* Whether the device can be halted out of band: its driver has the halt hook ("halt" among
 * the description's capabilities). */
bool lb_device_can_halt(const lb_device *dev);

/*
 * Call the driver's halt hook now, from any thread, unless the device is not open or is
 * closing (lb_device_halt_disarm), which waits for a hook running. 0 when the hook ran and
 * succeeded; LB_EGONE when the device is not open; LB_EFAIL when the hook failed; LB_EINVAL
 * when the driver has no hook. (host.h's lb_device_halt adds the priority mail.)
 */
int lb_device_halt_hook(lb_device *dev);

/* For the host loop (host.c), in the device's thread: */

/* The device has opened: its halt hook may run from now on. */
void lb_device_halt_arm(lb_device *dev);

/* The device is about to close: no halt hook runs from now on; returns once a hook running in
 * another thread has returned. */
void lb_device_halt_disarm(lb_device *dev);

/*
 * A halt reached the device's thread (ahead of its waiting commands): the driver's halted
 * finishes the stop (or acquisition stops, without one), then the description is sent.
 */
void lb_device_halted(lb_device *dev);

/*
 * Carry out one command from the main loop (start, stop, get, set, call, calib or term) and send
 * its reply for token; params (may be NULL) is taken over. Returns 1 on "term": the caller then
 * closes the device.
 */
int lb_device_command(lb_device *dev, const char *name, uint64_t token, json_t *params);

/*
 * Keep the main loop's copy of the description current: once LB_DESC_EVERY_NS has passed since
 * the last look, describe the device and send the description if its text differs from the last
 * one sent (a "changed" event follows, at most once per period). Does nothing before the device
 * opened. Returns the monotonic time of the next look, or -1 before the device opened.
 */
int64_t lb_device_refresh(lb_device *dev, int64_t mono);

/* Start the device if its synchronised start (start_at) has come; 1 if it was due. */
int lb_device_scheduled_start(lb_device *dev, const lb_now *now);

/* Send the main loop a control message of that type, with an optional text frame. */
void lb_device_report(lb_device *dev, uint32_t type, const char *text);

/* Report the device open, with its description. */
void lb_device_opened(lb_device *dev);

/* Free a device that has said BYE (joins its own thread). Accepts NULL; nulls the pointer. */
void lb_device_destroy(lb_device **pdev);

#endif
