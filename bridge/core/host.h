/* host.h - the threads that run devices: a thread per device, or one shared by several. */
#ifndef LB_HOST_H
#define LB_HOST_H

#include "device.h"

/*
 * A host is a thread with one poll loop over its devices: the main loop's commands (a mailbox),
 * the fds their drivers ask for and their deadlines. A device whose spec names no thread gets a
 * host of its own, which ends with it: a blocking driver then only delays itself. Devices whose
 * drivers never block (the simulated sensors) share a named host, which saves a thread and its
 * stack per device. The devices' messages reach the main loop through the host's uplink queue
 * (uplink.h), which wakes the main loop through upwake.
 */
typedef struct lb_host lb_host;

/*
 * A shared host named name (main thread): its thread runs until lb_host_destroy. NULL if its
 * sockets or thread cannot be created.
 */
lb_host *lb_host_new(const char *name, lb_upwake *upwake);

/* The messages the host's devices sent the main loop, oldest first (main thread); NULL if none.
 * tail (may be NULL) receives the last of them. */
lb_up *lb_host_take_up(lb_host *h, lb_up **tail);

/* The name devices give in lb_device_spec.thread to share this host. */
const char *lb_host_name(const lb_host *h);

/* Whether the host is shared (made by lb_host_new), not a device's own. */
int lb_host_shared(const lb_host *h);

/*
 * Stop a shared host's thread and free it (main thread), once its devices have said BYE (any
 * left are closed first). Accepts NULL; nulls *ph.
 */
void lb_host_destroy(lb_host **ph);

/*
 * Start dev (main thread): in host, or in a host of its own when host is NULL. The device then
 * reports OPENED or FAILED, and BYE when it has closed. 0, or LB_EFAIL with nothing started
 * (no memory or thread left).
 */
int lb_device_spawn(lb_device *dev, lb_host *host);

/*
 * Send a command to the device's thread (main thread): cmd is start, stop, get, set, call,
 * calib or term, params is copied (may be NULL). The answer comes back as a REPLY with the same
 * token. 0, or LB_EAGAIN if the thread has 1000 commands waiting (the device is stuck).
 */
int lb_device_send(lb_device *dev, const char *cmd, uint64_t token, const json_t *params);

/*
 * Halt the device out of band (main thread; it may be busy in a blocking driver call): the
 * driver's halt hook runs now, in the calling thread (lb_device_halt_hook), then a priority mail
 * makes the device's thread finish the stop (the driver's halted, or acquisition stopped) ahead
 * of every command waiting. 0 when the hook reached the hardware; LB_EINVAL when the device
 * cannot be halted (no hook: nothing done); LB_EGONE when it is not open (opening or closing:
 * no hook ran); LB_EFAIL when the hook failed or the mail could not be posted (logged).
 */
int lb_device_halt(lb_device *dev);

/*
 * After the device's BYE (main thread): join and free its host if it had one of its own. Call it
 * before lb_device_destroy (device.c knows nothing of hosts).
 */
void lb_device_unspawn(lb_device *dev);

#endif
