/* robotmap.h - a Firmata board's pins mapped to a robot's wheels and outputs ([firmata.NAME]
 * robot = ...): parsing, checking against the board's capabilities, wheel speeds to pin values. */
#ifndef LB_FIRMATA_ROBOTMAP_H
#define LB_FIRMATA_ROBOTMAP_H

#include <stddef.h>

#include "../../protocols/firmata.h"

#define FM_MAX_OUTPUTS 8
#define FM_SERVO_MIN_US 544  /* the Arduino Servo library's default pulse widths */
#define FM_SERVO_MAX_US 2400 /* (what StandardFirmata attaches a servo with) */
#define FM_SERVO_STILL 90    /* a continuous-rotation servo at 90 degrees does not turn */

typedef enum fm_wheels {
	FM_WHEELS_NONE,	 /* not a robot */
	FM_WHEELS_SERVO, /* continuous-rotation servos: 90 still, 0 and 180 full speed */
	FM_WHEELS_PWM,	 /* a motor driver board: a PWM pin (speed) and a direction pin each */
} fm_wheels;

typedef struct fm_wheel {
	int pin;      /* the servo or PWM pin */
	int dir;      /* the direction pin (PWM wheels), else -1 */
	int reversed; /* mounted the other way round: forward turns it backward */
} fm_wheel;

typedef struct fm_output {
	char name[16]; /* "led", "buzzer": the key of robot.set */
	int pin;       /* a digital output */
} fm_output;

/* What [firmata.NAME] says of the robot. */
typedef struct fm_robot_map {
	fm_wheels wheels;
	fm_wheel left, right;
	fm_output outputs[FM_MAX_OUTPUTS];
	int noutputs;
	double max_speed;  /* m/s at speed 1, 0: not configured */
	double wheel_base; /* m between the wheels, 0: not configured */
} fm_robot_map;

/* The section's strings (NULL: absent), as the config file has them. */
typedef struct fm_robot_conf {
	const char *robot, *left, *right, *outputs, *max_speed, *wheel_base;
} fm_robot_conf;

/*
 * Parse the mapping: robot = servo-wheels | pwm-wheels (motor-wheels too), left/right =
 * "servo:9 [reversed]" or "pwm:5,dir:4 [reversed]" (pins as 9 or D9), outputs = "led:13,
 * buzzer:8", max_speed_m_s and wheel_base_m positive numbers. No robot key: m->wheels is
 * FM_WHEELS_NONE and 0. Returns 0, or -1 with *badkey the config key at fault ("left") and why
 * ("'wheel:9' is not ...: write servo:PIN [reversed] or pwm:PIN,dir:PIN [reversed]").
 */
int fm_robot_parse(const fm_robot_conf *c, fm_robot_map *m, const char **badkey, char *why,
		   size_t cap);

/*
 * Check the mapping against the board's pins (its capability query): each pin exists and has
 * the mode it is used in (SERVO for servo wheels, PWM for PWM wheels, OUTPUT for direction pins
 * and outputs), and no pin serves twice. Returns 0, or -1 with *badkey and why as above.
 */
int fm_robot_check(const fm_robot_map *m, const firmata_pin *pins, int npins, const char **badkey,
		   char *why, size_t cap);

/*
 * A wheel's pin values for speed (-1..1, clamped): servos: the angle (90 + 90 * speed, reversed
 * flips it), *dir_level -1; PWM wheels: the duty (|speed| * pwm_max) and the direction level (1
 * forward, 0 backward or still). Never fails.
 */
void fm_robot_wheel_value(const fm_robot_map *m, const fm_wheel *w, double speed, int pwm_max,
			  int *value, int *dir_level);

/* Whether pin is one of the mapping's (a wheel, a direction, an output); its role in *what
 * ("left wheel", "output led"), when it is. */
int fm_robot_uses(const fm_robot_map *m, int pin, char *what, size_t cap);

#endif
