/* emulated.h - one emulated board of the simulated lab: start, port, faults, unplug and plug. */
#ifndef LB_EMULATED_H
#define LB_EMULATED_H

#include <jansson.h>

#include "../sdk/driver.h"
#include "../util/error.h"

/* Faults every emulated board understands (an emulator may ignore some). */
typedef enum lb_fault {
	LB_FAULT_OK,	  /* behave */
	LB_FAULT_SILENT,  /* stop answering */
	LB_FAULT_GARBAGE, /* noise on the line */
	LB_FAULT_UNPLUG,  /* the port disappears */
	LB_FAULT_PLUG,	  /* it comes back (a new port, the same serial number) */
} lb_fault;

/*
 * A driver's emulated board (main thread only): its emulator's functions, the port description
 * scan finds it by, and its state. Declare one static per driver and call lb_emulated_port from
 * the driver's simulate hook, lb_emulated_fault from its bridge_call, lb_emulated_stop from its
 * cleanup.
 */
typedef struct lb_emulated {
	const char *driver;	 /* the driver's name: port hint and method prefix */
	const char *description; /* of the port and of the device */
	const char *serial;	 /* USB serial number: the device id comes from it */
	int vid, pid;		 /* the USB ids the real board has */
	void *(*create)(lb_error *err);
	const char *(*path)(const void *emu);
	void (*set_fault)(void *emu, lb_fault fault);
	void (*destroy)(void *emu);
	/* What the board shows and has counted, as a new object, for tests and teachers
	 * ("<driver>.emulator {probe: true}"); NULL when it has nothing to show. */
	json_t *(*probe)(void *emu);
	/* state */
	void *emu;
	int unplugged;
} lb_emulated;

/* Start the emulator if needed and append its port to ports (unless unplugged). 0 or negative. */
int lb_emulated_port(lb_emulated *e, json_t *ports);

/* `<driver>.emulator {fault}`: apply a fault (*result = null); `{probe: true}`: what the board
 * shows (e->probe). 0, or negative with err set. */
int lb_emulated_fault(lb_emulated *e, const char *method, const json_t *params, json_t **result,
		      lb_error *err);

/* The running emulator, or NULL with err set ("the simulated X board is not running"): for a
 * driver's own emulator requests. */
void *lb_emulated_running(lb_emulated *e, lb_error *err);

/* Stop the emulator (at shutdown). */
void lb_emulated_stop(lb_emulated *e);

/*
 * Define a driver's simulate, cleanup and bridge_call hooks (prefix_simulate, prefix_cleanup,
 * prefix_bridge_call) for its one emulated board e, a static lb_emulated: the board starts with
 * the simulated lab, stops at shutdown, and takes faults through "<driver>.emulator {fault}".
 */
#define LB_EMULATED_HOOKS(prefix, e)                                                               \
	LB_EMULATED_SIM_HOOKS(prefix, e)                                                           \
	static int prefix##_bridge_call(const lb_driver *drv, const char *method,                  \
					const json_t *params, json_t **result, lb_error *err)      \
	{                                                                                          \
		(void)drv;                                                                         \
		return lb_emulated_fault(&(e), method, params, result, err);                       \
	}

/* Only the simulate and cleanup hooks, for a driver whose bridge_call does more (and falls back
 * on lb_emulated_fault). */
#define LB_EMULATED_SIM_HOOKS(prefix, e)                                                           \
	static int prefix##_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)  \
	{                                                                                          \
		(void)drv, (void)ctx;                                                              \
		return lb_emulated_port(&(e), ports);                                              \
	}                                                                                          \
	static void prefix##_cleanup(const lb_driver *drv)                                         \
	{                                                                                          \
		(void)drv;                                                                         \
		lb_emulated_stop(&(e));                                                            \
	}

#endif
