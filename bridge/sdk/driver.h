/* driver.h - the driver interface: what a device family implements to join the bridge. */
#ifndef LB_DRIVER_H
#define LB_DRIVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#include "../core/access.h"
#include "../util/clock.h"
#include "../util/error.h"

typedef struct lb_device lb_device;
typedef struct lb_driver lb_driver;

/* A device found by a driver's scan: enough to open it later in its thread. */
typedef struct lb_device_spec {
	char id[64];	/* stable id: [A-Za-z0-9._-], e.g. from the USB serial number */
	char name[128]; /* human-readable name */
	char kind[16];	/* sensor, robot, printer, scanner, scanner3d */
	bool simulated;
	/* "" (the default): the device runs in a thread of its own, where a blocking call only
	 * delays it. A name: it shares that thread with the other devices naming it, for drivers
	 * whose every call returns at once (the simulated sensors); set by scan. */
	char thread[16];
	json_t *params; /* driver-private (port path, config section...); owned by the spec */
} lb_device_spec;

/* What scan gets: the bridge's config and the current hot-plug view. */
typedef struct lb_scan_ctx {
	const json_t *config; /* whole configuration, as JSON (sections -> objects) */
	const json_t *ports;  /* serial ports: [{path, vid, pid, serial, description}] */
	bool simulate;	      /* the simulated lab is on */
	const char *data_dir; /* the bridge's data directory (a driver's stored calibrations), or
				 NULL */
} lb_scan_ctx;

/* A configured device that scan did not find, and why: shown by devices.list {all: true}. */
typedef struct lb_absent_spec {
	char id[64];
	char name[128];
	char kind[16];
	char reason[256]; /* "port /dev/ttyUSB3 does not exist", "[marlin.x] has no port" */
	char where[320];  /* the section's "FILE:LINE", or "" */
} lb_absent_spec;

/* What scan returns: the devices present now (v), and the configured ones absent (absent). */
typedef struct lb_spec_list {
	lb_device_spec *v;
	size_t n, cap;
	lb_absent_spec *absent;
	size_t nabsent, capabsent;
} lb_spec_list;

/* Appends a spec to the list; 0 or LB_ENOMEM. params is taken over (even on failure). */
int lb_spec_list_add(lb_spec_list *l, const char *id, const char *name, const char *kind,
		     bool simulated, json_t *params);

/*
 * Appends a configured device that is not there, with the reason in words and where it is
 * configured (cfg and section give "FILE:LINE"; section NULL: nowhere). The bridge logs it
 * once (again when the reason changes) and devices.list {all: true} shows it. 0 or LB_ENOMEM.
 */
int lb_spec_list_absent(lb_spec_list *l, const char *id, const char *name, const char *kind,
			const json_t *cfg, const char *section, const char *reason);

/* Frees both lists' entries; l may be used again. */
void lb_spec_list_clear(lb_spec_list *l);

/* What a driver action asks of the client calling it through device.call (lb_action.flags). */
enum {
	/* For the bridge's services only (the print queue's "print"): never reachable by clients.
	 */
	LB_ACTION_SERVICE = 1u << 0,
	/* Acts on the job the device is running: only its owner or a teacher, while there is one.
	 */
	LB_ACTION_JOB = 1u << 1,
	/* Sets something moving or heating (a printer's resume, console G-code): refused while
	 * the room is stopped (room.stop), until a teacher releases it. */
	LB_ACTION_MOTION = 1u << 2,
	/* Only the client HOLDING the device's lease (not merely one that nobody else's lease
	 * excludes): a robot's extras that move it (a motor variable, a program saved to run at
	 * boot), so that a free robot is not driven by someone the dead-man cannot stop. */
	LB_ACTION_HOLDER = 1u << 3,
};

/*
 * What a device can do, as clients see it in devices.list ("capabilities": ["stream", ...]). The
 * core works most of them out (streams declared, actions and events declared, a halt hook, a
 * service running jobs on it); a driver states the rest in lb_driver.capabilities.
 */
enum {
	LB_CAP_STREAM = 1u << 0,  /* publishes streams */
	LB_CAP_HALT = 1u << 1,	  /* can be halted out of band (room stop) */
	LB_CAP_PROGRAM = 1u << 2, /* runs programs sent to it (robots) */
	LB_CAP_JOB = 1u << 3,	  /* a service runs jobs on it (prints, scans) */
	LB_CAP_UPLOAD = 1u << 4,  /* takes files uploaded for it (G-code, programs) */
	LB_CAP_ACTIONS = 1u << 5, /* has client actions (device.call) */
	LB_CAP_EVENTS = 1u << 6,  /* takes client events (device.emit) */
};

/* The name of one LB_CAP_* bit ("stream", "halt"...), or NULL. */
const char *lb_cap_name(unsigned bit);

/* A driver action, as the core checks it before the device's thread sees it. */
typedef struct lb_action {
	const char *name;
	lb_role role;	/* the least role allowed (the device's lease is checked as well) */
	unsigned flags; /* LB_ACTION_* */
} lb_action;

/*
 * The driver vtable, in the spirit of libsigrok's sr_dev_driver. scan and bridge_call run in the
 * main thread and must not block; all the others run in the device's thread: its own, where
 * blocking only delays that device, or one it shares (lb_device_spec.thread), where they must
 * not block. Any function pointer but scan and open may be NULL.
 */
struct lb_driver {
	const char *name; /* "sim", "firmata"...: also the prefix of its bridge methods */
	const char *description;
	/* LB_CAP_* the core cannot work out by itself (LB_CAP_PROGRAM); 0 for most drivers. */
	unsigned capabilities;

	/* Append the devices present now to out; 0 or negative. Called at start and on hot-plug. */
	int (*scan)(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out);

	/* Open the device (dev->spec says which), declare its streams; 0 or negative with err set.
	 */
	int (*open)(lb_device *dev, const lb_now *now, lb_error *err);
	/* Release everything open() took. Always called once after a successful open. */
	void (*close)(lb_device *dev);
	/* Start/stop acquisition; 0 or negative with err set. */
	int (*start)(lb_device *dev, const lb_now *now, lb_error *err);
	int (*stop)(lb_device *dev, lb_error *err);
	/* Current settings as a new JSON object (e.g. {"rate": 10}); NULL if none. */
	json_t *(*config_get)(lb_device *dev);
	/* The device's real limits as a new JSON object ({"rate": {"min":1,"max":1000}}); or NULL.
	 */
	json_t *(*limits_get)(lb_device *dev);
	/* What the device's kind says about it, as a new object the description carries under the
	 * kind's name: a robot's languages, outputs and wheels (sdk/robot.h). NULL: nothing. */
	json_t *(*describe)(lb_device *dev);
	/* Change one setting; 0 or negative with err set (LB_ERR_INVALID_PARAMS,
	 * _NOT_SUPPORTED...). */
	int (*config_set)(lb_device *dev, const char *key, const json_t *value, lb_error *err);
	/* The driver's actions, ended by {NULL}: device.call reaches only these, with their roles
	 * checked by the core; call() sees nothing else from a client. NULL: no actions. */
	const lb_action *actions;
	/*
	 * The events clients may send the device (device.emit: fire and forget, in order with
	 * its other commands), ended by {NULL}, each with its least role; NULL: none. A robot's
	 * user events, a pin toggled by a joystick: no answer travels back.
	 */
	const lb_action *events;
	/* Take a client's event (one of events, args an object or NULL); 0, or negative with err
	 * set: the bridge logs it (the client has had its answer already). */
	int (*event)(lb_device *dev, const char *name, const json_t *args, lb_error *err);
	/* A driver-specific action; *result is a new reference (may stay NULL for null). */
	int (*call)(lb_device *dev, const char *action, const json_t *args, json_t **result,
		    lb_error *err);
	/* Fill up to max poll items with the fds/sockets to watch; returns how many. */
	int (*pollitems)(lb_device *dev, zmq_pollitem_t *items, int max);
	/*
	 * Do the due work: read ready fds (items as filled by pollitems, revents set), produce
	 * samples up to now. Sets *deadline to the next monotonic time it wants to run (or -1 for
	 * none). Returns 0, or LB_EGONE when the device has gone (its streams end, it is removed).
	 */
	int (*run)(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		   int64_t *deadline);

	/*
	 * The simulated lab (main thread): start this family's emulators if not yet running and
	 * append the ports they serve to ports ([{path, vid, pid, serial, description}]), so that
	 * scan finds them as it finds real devices. 0 or negative. NULL if the family has none.
	 */
	int (*simulate)(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports);
	/* Stop what simulate started (at shutdown, after every device has closed). */
	void (*cleanup)(const lb_driver *drv);

	/* Bridge-level method "<name>.<method>" (main thread, non-blocking); NULL if none. */
	int (*bridge_call)(const lb_driver *drv, const char *method, const json_t *params,
			   json_t **result, lb_error *err);

	/*
	 * The out-of-band halt (an emergency stop, the room stop), in two parts. NULL: the device
	 * cannot be halted (it lacks the "halt" capability of its description).
	 *
	 * halt is called from ANOTHER thread (the main loop, lb_device_halt) while the device's
	 * thread may be blocked in any of the calls above. It must return at once and be safe to
	 * run beside them, async-signal-safe in spirit: write a byte or an M112 to an fd the device
	 * owns (a write(2) of a short line is safe from another thread), set an atomic flag, wake a
	 * poll the blocking call waits in (as sane_cancel does). Never take a lock the device
	 * thread may hold, never allocate or free, touch no field of dev but priv's atomics and fds
	 * (an fd the device thread may close meanwhile is not one: dup it in open). The core never
	 * calls it before open has returned 0, nor during or after close (close waits for it to
	 * return). Returns 0, or negative when the hardware could not be told (halted still runs).
	 */
	int (*halt)(lb_device *dev);
	/*
	 * Then, in the device's thread, ahead of every command still waiting in its mailbox: finish
	 * the stop (heaters off, the job ended "emergency stop", acquisition stopped). May be NULL:
	 * the core then stops acquisition as device.stop does. The description is sent after it.
	 */
	void (*halted)(lb_device *dev, const lb_now *now);
};

/*
 * Register a driver: put LB_REGISTER_DRIVER(my_driver); after its vtable. The bridge finds every
 * registered driver through a linker section, so adding a driver touches no shared list.
 */
#define LB_REGISTER_DRIVER(drv)                                                                    \
	static const lb_driver *lb_driver_ptr_##drv                                                \
	    __attribute__((section("lb_driver_list"), used, aligned(sizeof(void *)))) = &drv

/* The registered drivers, in link order; *n receives their number. */
const lb_driver *const *lb_drivers(size_t *n);

/* The registered driver of that name, or NULL. */
const lb_driver *lb_driver_find(const char *name);

/*
 * A device id: prefix then tail (a config section's name, a USB serial number) with every
 * character outside LB_NAME_CHARS made '_', truncated to cap - 1 bytes ("firmata-", "bench 3" ->
 * "firmata-bench_3").
 */
void lb_make_id(char *out, size_t cap, const char *prefix, const char *tail);

/* The action of that name among drv's (a service-only one too), or NULL. */
const lb_action *lb_driver_action(const lb_driver *drv, const char *name);

/* The event of that name among drv's, or NULL. */
const lb_action *lb_driver_event(const lb_driver *drv, const char *name);

/*
 * For a driver's scan: the port of a configured device's section ([DRIVER.NAME] port = PATH)
 * when that path exists now. Otherwise NULL, after appending the device to out's absent list
 * with the reason ("port PATH does not exist", or "[SECTION] has no port"), which the bridge
 * logs once with the section's file and line. key is the option's name ("port").
 */
const char *lb_scan_port(const lb_scan_ctx *ctx, const char *section, const char *key,
			 lb_spec_list *out, const char *id, const char *name, const char *kind);

/* A configured device of a family, as a scan walks them: one [FAMILY.NAME] section. */
typedef struct lb_config_device {
	const char *section;   /* "firmata.bench" */
	const char *name;      /* what follows "FAMILY.": "bench" (never empty) */
	const json_t *options; /* the section: {key: "value", ..., "_line": N} */
	const char *title;     /* its title = ..., or the default title */
	char id[64];	       /* id_prefix + name, by lb_make_id: "firmata-bench" */
	void *iter_;	       /* where the walk is (lb_scan_sections only) */
} lb_config_device;

/*
 * Walk the [FAMILY.NAME] sections of ctx->config, in the file's order, skipping an empty NAME
 * (lb_config_check_sections warns about it). Start with d zeroed; each call fills d with the
 * next one (title: the section's title, or def_title) and returns true, then false when there
 * is none left. Allocates nothing and never fails.
 *	lb_config_device d = {0};
 *	while (lb_scan_sections(ctx, "lines", "lines-", "Serial sensor board", &d)) ...
 */
bool lb_scan_sections(const lb_scan_ctx *ctx, const char *family, const char *id_prefix,
		      const char *def_title, lb_config_device *d);

#endif
