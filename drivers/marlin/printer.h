/* printer.h - a Marlin/RepRap printer's state and the driver's protocol handling behind it. */
#ifndef LB_MARLIN_PRINTER_H
#define LB_MARLIN_PRINTER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/serial.h"
#include "../../protocols/gcode.h"
#include "../../protocols/marlin.h"
#include "sender.h"

#define DEFAULT_BAUD 115200
#define OWN_MAX 64 /* the driver's own commands waiting to be sent */
#define OUT_MAX 8192
#define READ_MAX 8192

typedef enum mk_state {
	ST_IDLE,
	ST_PRINTING,
	ST_PAUSING, /* no more job lines; waiting for the lines in flight, then park */
	ST_PAUSED,
	ST_CANCELLING, /* no more job lines; waiting for the lines in flight, then end G-code */
	ST_HALTED,     /* the firmware stopped (kill, thermal error, emergency stop) */
} mk_state;

typedef struct mk_job {
	long long id;
	char name[128];
	FILE *f;
	long long size;
	long lines; /* lines in the file (from the queue's metadata), 0 if unknown */
	long line;  /* lines read so far */
	long long offset;
	double est_s; /* slicer's estimate, or -1 */
	int eof;
	int64_t started, last_progress;
	double paused_s;
	int64_t paused_at;
	int has_progress_fd; /* progress_fd is the job's progress file (bridge/sdk/progress.h) */
	int progress_fd;
	long saved_line; /* the position last written there */
	long long saved_offset;
} mk_job;

typedef struct mk_priv {
	lb_serial *port;
	/* The halt hook's own descriptor of the port (a dup: the device thread may close the port,
	 * never this one, which only close releases), and whether it put M112 on the wire. */
	int halt_fd;
	atomic_int halt_sent;
	mk_sender snd;
	marlin_splitter split;
	mk_state state;
	char message[MARLIN_TEXT_MAX]; /* the last error or notice */
	char last_error[MARLIN_TEXT_MAX];
	char firmware[MARLIN_TEXT_MAX];
	int autoreport, advanced_ok, emergency_parser;
	int64_t m108_at;  /* cancelling: when M108 last went out (monotonic ns) */
	int m110_pending; /* 2: M110 is on its way, nothing else until it is acknowledged */
	int inflight_cfg, rx_buffer, max_free_slots;
	int64_t quiet_ns; /* how long the bytes in flight take to arrive: twice their wire time */
	int pace;	  /* write at the link's pace (a UART at baud), not ahead of it */
	char pacing[96];  /* what pacing and why, for the description */
	long baud;
	int64_t wire_at; /* when the link will have sent everything written */
	int64_t timeouts[4];
	double hotend, hotend_target, bed, bed_target;
	double pos[4]; /* X Y Z E from the last M114 */
	int has_pos;
	int64_t next_pos;
	int s_status, s_hotend, s_bed, s_console;
	int64_t next_status, next_poll;
	char own[OWN_MAX][GCODE_CMD_MAX + 1];
	int own_head, own_count;
	char pause_gcode[512], resume_gcode[512], cancel_gcode[512];
	gcode_policy policy;	/* what console commands may do */
	char policy_error[200]; /* why the policy refuses everything (a bad [print] entry) */
	mk_job job;
	char out[OUT_MAX];
	size_t nout;
	char rx[READ_MAX]; /* read from the port, not yet split into lines */
	size_t rx_off, rx_len;
	char pend[GCODE_CMD_MAX + 1]; /* a job line read but not yet sent (window full) */
	int pend_len;
	mk_tag pend_tag;
} mk_priv;

/*
 * Connect to the firmware on the open port p->port (p's settings filled by open): line numbers
 * reset (M110, answered), the firmware's name and capabilities asked (M115, read as it runs).
 * The handshake waits on the real clock (blocking reads); what follows is scheduled from now,
 * the open's time. 0, or negative with err set (no answer: wrong baud rate, not a
 * Marlin/RepRap printer).
 */
int mk_connect(lb_device *dev, mk_priv *p, const lb_now *now, lb_error *err);

/* The device thread's work: replies read, the job's lines sent within the window, status
 * published; *deadline receives the next wake-up. 0, or LB_EGONE when the port went away. */
int mk_printer_run(lb_device *dev, mk_priv *p, const lb_now *now, const zmq_pollitem_t *items,
		   int nitems, int64_t *deadline);

/* A device.call action: print, pause, resume, cancel, estop, gcode, reset. 0 or negative with
 * err set. */
int mk_printer_call(lb_device *dev, mk_priv *p, const char *action, const json_t *args,
		    lb_error *err);

/* A halt reached the device thread: M112 on the wire unless m112_sent (the halt hook wrote it),
 * then heaters off, the job failed "emergency stop", the printer halted (reset it). */
void mk_printer_halted(lb_device *dev, mk_priv *p, int m112_sent, const lb_now *now);

/* The printer's settings and status as a new object (the device description's "config"). */
json_t *mk_printer_config(lb_device *dev, mk_priv *p);

/* The port is closing: a job still on the printer is reported interrupted. */
void mk_printer_abandon(lb_device *dev, mk_priv *p);

#endif
