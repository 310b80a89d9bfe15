/* sequence.h - a 3D scan's steps as a pure iterator: board commands, waits, frames to take. */
#ifndef LB_CICLOP_SEQUENCE_H
#define LB_CICLOP_SEQUENCE_H

#include "../../protocols/ciclop.h"

#define CICLOP_STEPS_MAX 3600

typedef struct ciclop_scan_cfg {
	int steps;	  /* positions around the table, 1..CICLOP_STEPS_MAX */
	int lasers;	  /* bit n-1: use laser n (1..CICLOP_LASERS_MAX) */
	double speed;	  /* turntable speed, deg/min (G1F) */
	double settle_ms; /* after a move's ok (the move is over), before the next frame */
	double laser_ms;  /* after a laser is switched, before its frame */
	double first_deg; /* step 0's angle (0 for a scan; a calibration's start, e.g. -60) */
	double step_deg;  /* between steps; 0: 360 / steps (a scan's full turn) */
} ciclop_scan_cfg;

typedef enum ciclop_act_kind {
	CICLOP_ACT_SEND = 1, /* send cmd, wait for its "ok" (error/alarm/timeout: the scan fails) */
	CICLOP_ACT_WAIT,     /* let wait_ms pass (the move's ok comes when it is over: settling) */
	CICLOP_ACT_FRAME,    /* take a frame: laser 0 = all lasers off (texture and background),
				else with laser n on */
	CICLOP_ACT_STEP,     /* step `step` is complete at angle_deg: reconstruct and stream it */
	CICLOP_ACT_DONE,     /* the scan is over (lasers off, motor off sent) */
} ciclop_act_kind;

typedef struct ciclop_action {
	ciclop_act_kind kind;
	char cmd[CICLOP_CMD_MAX]; /* SEND */
	double wait_ms;		  /* WAIT */
	int laser;		  /* FRAME */
	int step;		  /* FRAME, STEP: 0..steps-1 */
	double angle_deg;	  /* FRAME, STEP: the table's angle */
} ciclop_action;

typedef struct ciclop_scan {
	ciclop_scan_cfg cfg;
	int phase, step, laser, sub;
} ciclop_scan;

/* Check cfg and start a scan in *s. Returns 0, or LB_EINVAL on steps, lasers or speeds out of
 * range (speed in (0, CICLOP_SPEED_MAX], waits in [0, 60000] ms, |first_deg| and |step_deg| at
 * most 360). */
int ciclop_scan_init(ciclop_scan *s, const ciclop_scan_cfg *cfg);

/* The next action into *a; returns a->kind (CICLOP_ACT_DONE again and again at the end). The
 * sequence: M17, G1F, G50, lasers off; for each step: (move to first_deg + step * step_deg, WAIT
 * settle_ms; step 0 moves only when first_deg is not 0) FRAME laser 0, then for
 * each laser used: M71T, WAIT laser_ms, FRAME, M70T; STEP; at the end M18, DONE. For a cancel the
 * caller stops asking and uses ciclop_scan_abort. */
ciclop_act_kind ciclop_scan_next(ciclop_scan *s, ciclop_action *a);

/* After a cancel or a failure: the commands that leave the board safe (every laser off, motor
 * off), "\n"-separated in buf[cap]; returns the length, or -1 when cap is too small. */
int ciclop_scan_abort(char *buf, size_t cap);

#endif
