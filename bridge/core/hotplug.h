/* hotplug.h - watches USB and serial ports and tells the main loop when the set changes. */
#ifndef LB_HOTPLUG_H
#define LB_HOTPLUG_H

#include <pthread.h>

typedef struct lb_hotplug {
	void *zctx;
	void *pipe; /* main's end: receives a JSON port list each time it changes */
	pthread_t thread;
} lb_hotplug;

/*
 * Start the watcher. It sends, on lb_hotplug.pipe, a JSON array of serial ports
 * [{"path","vid","pid","serial","description"}] at start and whenever USB or serial devices come
 * and go (libusb hot-plug events where available, libserialport enumeration every 2 s).
 * Returns NULL on failure.
 */
lb_hotplug *lb_hotplug_new(void *zctx);

/* Stop the watcher and free it. Accepts NULL; nulls the pointer. */
void lb_hotplug_destroy(lb_hotplug **phot);

#endif
