/* hotplug.c - watches USB (libusb hot-plug) and serial ports (libserialport) for changes. */
#include "hotplug.h"

#include <jansson.h>
#include <libserialport.h>
#include <libusb.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../util/clock.h"
#include "../util/log.h"
#include "../util/thread.h"

#define HOTPLUG_ENDPOINT "inproc://lb-hotplug"
#define RESCAN_NS (2000000000LL)

/* The serial ports present now, as a JSON array (sorted by the OS enumeration order). */
static json_t *list_serial_ports(void)
{
	struct sp_port **ports = NULL;
	json_t *a = json_array();

	if (sp_list_ports(&ports) != SP_OK)
		return a;
	for (int i = 0; ports[i]; i++) {
		struct sp_port *p = ports[i];
		int vid = 0, pid = 0;
		const char *serial = NULL;

		if (sp_get_port_transport(p) == SP_TRANSPORT_USB) {
			sp_get_port_usb_vid_pid(p, &vid, &pid);
			serial = sp_get_port_usb_serial(p);
		}
		json_array_append_new(
		    a, json_pack("{s:s,s:i,s:i,s:s,s:s}", "path", sp_get_port_name(p), "vid", vid,
				 "pid", pid, "serial", serial ? serial : "", "description",
				 sp_get_port_description(p) ? sp_get_port_description(p) : ""));
	}
	sp_free_port_list(ports);
	return a;
}

/* libusb hot-plug callback: remember that something changed. */
static int LIBUSB_CALL on_usb_event(libusb_context *ctx, libusb_device *dev,
				    libusb_hotplug_event event, void *user)
{
	(void)ctx, (void)dev, (void)event;
	*(int *)user = 1;
	return 0;
}

/* Watch until main says "term"; send the port list when it changes. */
static void *hotplug_thread(void *arg)
{
	void *pipe = arg;
	libusb_context *usb = NULL;
	libusb_hotplug_callback_handle cb = 0;
	int usb_changed = 1, have_cb = 0;
	char *last = NULL;
	int64_t next_scan = 0;

	if (libusb_init(&usb) != 0) {
		lb_dbg("libusb unavailable: USB hot-plug events off, serial enumeration only");
		usb = NULL;
	} else if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
		   libusb_hotplug_register_callback(
		       usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		       0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
		       LIBUSB_HOTPLUG_MATCH_ANY, on_usb_event, &usb_changed, &cb) == 0) {
		have_cb = 1;
	}
	for (;;) {
		zmq_pollitem_t items[33] = {{pipe, 0, ZMQ_POLLIN, 0}};
		int n = 1;
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC);

		if (usb_changed || now >= next_scan) {
			json_t *ports = list_serial_ports();
			char *text = json_dumps(ports, JSON_COMPACT);
			json_decref(ports);
			if (text && (!last || strcmp(text, last) != 0 || usb_changed)) {
				zmq_send(pipe, text, strlen(text), 0);
				free(last);
				last = text;
			} else {
				free(text);
			}
			usb_changed = 0;
			next_scan = now + RESCAN_NS;
		}
		if (usb) {
			const struct libusb_pollfd **fds = libusb_get_pollfds(usb);
			for (int i = 0; fds && fds[i] && n < 33; i++, n++) {
				items[n].fd = fds[i]->fd;
				items[n].events =
				    (short)((fds[i]->events & POLLIN ? ZMQ_POLLIN : 0) |
					    (fds[i]->events & POLLOUT ? ZMQ_POLLOUT : 0));
			}
			libusb_free_pollfds(fds);
		}
		if (zmq_poll(items, n, (long)((next_scan - now) / 1000000 + 1)) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			lb_err("hot-plug watch stopped: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN)
			break; /* "term" */
		if (usb) {
			struct timeval zero = {0, 0};
			libusb_handle_events_timeout_completed(usb, &zero, NULL);
		}
	}
	free(last);
	if (have_cb)
		libusb_hotplug_deregister_callback(usb, cb);
	if (usb)
		libusb_exit(usb);
	zmq_close(pipe);
	return NULL;
}

lb_hotplug *lb_hotplug_new(void *zctx)
{
	lb_hotplug *h = calloc(1, sizeof *h);
	void *peer = NULL;
	int zero = 0;

	if (!h)
		return NULL;
	h->zctx = zctx;
	h->pipe = zmq_socket(zctx, ZMQ_PAIR);
	peer = zmq_socket(zctx, ZMQ_PAIR);
	if (!h->pipe || !peer)
		goto fail;
	zmq_setsockopt(h->pipe, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(peer, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_bind(h->pipe, HOTPLUG_ENDPOINT) < 0 || zmq_connect(peer, HOTPLUG_ENDPOINT) < 0)
		goto fail;
	if (lb_thread_start(&h->thread, hotplug_thread, peer) != 0)
		goto fail;
	return h;
fail:
	if (peer)
		zmq_close(peer);
	if (h->pipe)
		zmq_close(h->pipe);
	free(h);
	return NULL;
}

void lb_hotplug_destroy(lb_hotplug **phot)
{
	lb_hotplug *h;

	if (!phot || !*phot)
		return;
	h = *phot;
	/* never blocks: the thread may have ended on its own (its peer gone, a PAIR send would
	 * wait for ever) */
	zmq_send(h->pipe, "term", 4, ZMQ_DONTWAIT);
	pthread_join(h->thread, NULL);
	zmq_close(h->pipe);
	free(h);
	*phot = NULL;
}
