/* device.h - what a driver may do with its device: read its spec, keep its state, declare and
 * publish streams. struct lb_device itself is the core's (bridge/core/device.h). */
#ifndef LB_SDK_DEVICE_H
#define LB_SDK_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "sample.h"

#define LB_MAX_STREAMS 32
/* The characters of device ids and stream names (topic segments). */
#define LB_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* The spec scan made for the device (id, name, kind, params...); read-only, never NULL. */
const lb_device_spec *lb_device_get_spec(const lb_device *dev);

/* The device's id (lb_device_get_spec(dev)->id), for messages. */
const char *lb_device_id(const lb_device *dev);

/* The driver's private state, as set by lb_device_set_priv (NULL until then). */
void *lb_device_priv(const lb_device *dev);

/* Keep the driver's private state with the device (open sets it, close clears it). */
void lb_device_set_priv(lb_device *dev, void *priv);

/* Whether the device's streams are running (acquisition started). */
bool lb_device_running(const lb_device *dev);

/* Say whether acquisition runs (open, start, stop and run say it as the device does). */
void lb_device_set_running(lb_device *dev, bool running);

/* How many streams the device declared so far. */
int lb_device_nstreams(const lb_device *dev);

/* The name and unit of stream i (0 <= i < lb_device_nstreams), or NULL for another i. */
const char *lb_device_stream_name(const lb_device *dev, int i);
const char *lb_device_stream_unit(const lb_device *dev, int i);

/*
 * Declare a stream (in open()); returns its index, or LB_EINVAL when there are too many or the
 * name is not segments of LB_NAME_CHARS joined by '/' ("acc", "event/clap"). The topic is
 * kind/id/name/.
 */
int lb_device_add_stream(lb_device *dev, const char *name, const char *quantity, const char *unit,
			 lb_sample_type type, double rate);

/* Set the range and resolution a stream reports in the device description. */
void lb_stream_set_range(lb_device *dev, int stream, double min, double max, double resolution);

/* Change a stream's nominal rate (the next headers carry it). 0 or LB_EINVAL. */
int lb_stream_set_rate(lb_device *dev, int stream, double rate);

/*
 * Publish count packed little-endian samples of the stream's type, the first taken at t_host
 * (ns since 1970) and t_dev (device clock). Never blocks; 0, or LB_EINVAL / LB_ENOMEM. When
 * LB_CHAN_HWM messages of the device wait for the main loop, this one is dropped (still 0): its
 * seq advances, so subscribers see the gap.
 */
int lb_stream_publish(lb_device *dev, int stream, int64_t t_dev, int64_t t_host,
		      const void *samples, uint32_t count);

/* Frees a buffer handed over to lb_stream_publish_owned (hint: the caller's); called once, from
 * any thread (libzmq's I/O thread, the main loop, or the caller's when dropped). */
typedef void lb_free_fn(void *data, void *hint);

/*
 * As lb_stream_publish (same header, seq and drop rule; calibration applied in place), but
 * without copying: samples (count of the stream's type) is taken over and becomes the message's
 * payload frame as it is, and free_fn(samples, hint) is called once nobody needs it any more
 * (when sent, or at once when dropped or refused; free_fn NULL: never freed). The caller must not
 * touch samples afterwards. 0, or LB_EINVAL (samples freed too).
 */
int lb_stream_publish_owned(lb_device *dev, int stream, int64_t t_dev, int64_t t_host,
			    void *samples, uint32_t count, lb_free_fn *free_fn, void *hint);

/*
 * Bytes of the device's data messages (every stream's: frames and bookkeeping) that wait for the
 * main loop to publish them: a bulk producer (a scanner's bands) keeps it below a few MiB by
 * pausing its reads, so that its stream is slowed rather than cut (past LB_CHAN_HWM messages
 * and 2 MiB, lb_stream_publish drops). Any thread; never fails.
 */
size_t lb_stream_backlog(const lb_device *dev);

/* Publish a JSON event on a json stream (data is borrowed). 0 or negative. */
int lb_stream_publish_json(lb_device *dev, int stream, int64_t t_host, const json_t *data);

/*
 * Say that a stream cannot deliver (code: a short snake_case name such as
 * "illegal_data_address", message: one line for people, valid UTF-8), or that it delivers again
 * (code NULL). A new or different error updates the description (the stream gets "error":
 * {code, message}) and then publishes {"event": "error", "code", "message"} as a json message on
 * the stream's own topic (taking the next seq, whatever the stream's type), so subscribers and
 * snapshots see it; the same error again does nothing. Clearing updates the description only:
 * the next sample shows the stream delivers. 0, or LB_EINVAL / LB_ENOMEM.
 */
int lb_stream_set_error(lb_device *dev, int stream, int64_t t_host, const char *code,
			const char *message);

/*
 * Tell the bridge the device's settings or state changed: the description is sent at once (a
 * "changed" event follows). For state that changes all the time (counters, temperatures) there
 * is no need to call it: the host sends the description again when its text changed, looking
 * at most once per LB_DESC_EVERY_NS (lb_device_refresh).
 */
void lb_device_changed(lb_device *dev);

/*
 * Tell the bridge's services something only they act on (device thread only): e.g. a printer's
 * {"job": 12, "state": "done"} reaches the print queue. event is borrowed. Never dropped (it
 * waits in the uplink queue however far behind the main loop is); lost only if out of memory,
 * which is logged.
 */
void lb_device_event(lb_device *dev, const json_t *event);

/* A sample (or any measured number) as JSON: a real, or for a non-finite v its name as a string
 * (lb_nonfinite_name). NULL only when out of memory. */
json_t *lb_json_sample(double v);

#endif
