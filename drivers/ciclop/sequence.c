/* sequence.c - a 3D scan's steps as a pure iterator (commands, waits, frames), time computed. */
#include "sequence.h"

#include <math.h>
#include <string.h>

#include "../../bridge/util/error.h"

enum {
	PH_MOTOR,
	PH_SPEED,
	PH_ZERO,
	PH_OFF,
	PH_MOVE,
	PH_MOVEWAIT,
	PH_TEXTURE,
	PH_LASER,
	PH_END,
	PH_DONE
};

int ciclop_scan_init(ciclop_scan *s, const ciclop_scan_cfg *cfg)
{
	if (!s || !cfg || cfg->steps < 1 || cfg->steps > CICLOP_STEPS_MAX || cfg->lasers < 1 ||
	    cfg->lasers >= (1 << CICLOP_LASERS_MAX) || !(cfg->speed > 0) ||
	    cfg->speed > CICLOP_SPEED_MAX || !(cfg->settle_ms >= 0 && cfg->settle_ms <= 60000) ||
	    !(cfg->laser_ms >= 0 && cfg->laser_ms <= 60000) || !(fabs(cfg->first_deg) <= 360) ||
	    !(fabs(cfg->step_deg) <= 360))
		return LB_EINVAL;
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	s->phase = PH_MOTOR;
	s->laser = 1;
	return 0;
}

/* The angle of step i (degrees). */
static double angle_of(const ciclop_scan *s, int i)
{
	if (i < 0)
		return 0; /* before step 0: where G50 left the table */
	if (s->cfg.step_deg != 0)
		return s->cfg.first_deg + s->cfg.step_deg * i;
	return s->cfg.first_deg + 360.0 * i / s->cfg.steps;
}

/* The next used laser at or after n, or 0 when none. */
static int next_laser(const ciclop_scan *s, int n)
{
	for (; n <= CICLOP_LASERS_MAX; n++)
		if (s->cfg.lasers & (1 << (n - 1)))
			return n;
	return 0;
}

ciclop_act_kind ciclop_scan_next(ciclop_scan *s, ciclop_action *a)
{
	memset(a, 0, sizeof *a);
	a->step = s->step;
	a->angle_deg = angle_of(s, s->step);
	switch (s->phase) {
	case PH_MOTOR:
		ciclop_encode_motor(a->cmd, sizeof a->cmd, 1);
		s->phase = PH_SPEED;
		return a->kind = CICLOP_ACT_SEND;
	case PH_SPEED:
		ciclop_encode_speed(a->cmd, sizeof a->cmd, s->cfg.speed);
		s->phase = PH_ZERO;
		return a->kind = CICLOP_ACT_SEND;
	case PH_ZERO:
		ciclop_encode_zero(a->cmd, sizeof a->cmd);
		s->phase = PH_OFF, s->laser = 1;
		return a->kind = CICLOP_ACT_SEND;
	case PH_OFF: /* every laser off, whatever the scan uses */
		ciclop_encode_laser(a->cmd, sizeof a->cmd, s->laser, 0);
		if (++s->laser > CICLOP_LASERS_MAX)
			s->phase = s->cfg.first_deg != 0 ? PH_MOVE : PH_TEXTURE;
		return a->kind = CICLOP_ACT_SEND;
	case PH_MOVE:
		ciclop_encode_move(a->cmd, sizeof a->cmd, angle_of(s, s->step));
		s->phase = PH_MOVEWAIT;
		return a->kind = CICLOP_ACT_SEND;
	case PH_MOVEWAIT:
		/* horus-fw answers a move when it is over (every block ends synchronised): only
		 * the settling is left to wait */
		a->wait_ms = s->cfg.settle_ms;
		s->phase = PH_TEXTURE;
		return a->kind = CICLOP_ACT_WAIT;
	case PH_TEXTURE:
		a->laser = 0;
		s->phase = PH_LASER, s->laser = next_laser(s, 1), s->sub = 0;
		return a->kind = CICLOP_ACT_FRAME;
	case PH_LASER:
		if (!s->laser) { /* every laser done: the step is complete */
			if (++s->step < s->cfg.steps)
				s->phase = PH_MOVE;
			else
				s->phase = PH_END, s->laser = 1;
			a->step = s->step - 1;
			a->angle_deg = angle_of(s, s->step - 1);
			return a->kind = CICLOP_ACT_STEP;
		}
		switch (s->sub++) {
		case 0:
			ciclop_encode_laser(a->cmd, sizeof a->cmd, s->laser, 1);
			return a->kind = CICLOP_ACT_SEND;
		case 1: a->wait_ms = s->cfg.laser_ms; return a->kind = CICLOP_ACT_WAIT;
		case 2: a->laser = s->laser; return a->kind = CICLOP_ACT_FRAME;
		default:
			ciclop_encode_laser(a->cmd, sizeof a->cmd, s->laser, 0);
			s->laser = next_laser(s, s->laser + 1), s->sub = 0;
			return a->kind = CICLOP_ACT_SEND;
		}
	case PH_END:
		ciclop_encode_motor(a->cmd, sizeof a->cmd, 0);
		s->phase = PH_DONE;
		a->step = s->cfg.steps - 1;
		return a->kind = CICLOP_ACT_SEND;
	default: a->step = s->cfg.steps - 1; return a->kind = CICLOP_ACT_DONE;
	}
}

int ciclop_scan_abort(char *buf, size_t cap)
{
	char cmd[CICLOP_CMD_MAX];
	size_t n = 0;

	for (int l = 1; l <= CICLOP_LASERS_MAX + 1; l++) {
		int k = l <= CICLOP_LASERS_MAX ? ciclop_encode_laser(cmd, sizeof cmd, l, 0)
					       : ciclop_encode_motor(cmd, sizeof cmd, 0);
		if (k < 0 || n + (size_t)k + 1 > cap)
			return -1;
		memcpy(buf + n, cmd, (size_t)k + 1);
		n += (size_t)k;
	}
	return (int)n;
}
