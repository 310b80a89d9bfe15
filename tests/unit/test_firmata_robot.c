/* test_firmata_robot.c - [firmata.NAME] robot mappings: parsing, checks against an Uno's
 * capabilities, wheel speeds to servo angles and PWM duties. */
#include <string.h>

#include "../../drivers/firmata/robotmap.h"
#include "check.h"

/* An Uno as StandardFirmata 2.4 describes it: D0/D1 nothing, D2..D13 input/output/servo, PWM on
 * 3, 5, 6, 9, 10, 11, A0..A5 (pins 14-19) analog too. */
static int uno(firmata_pin *pins)
{
	memset(pins, 0, 20 * sizeof *pins);
	for (int pin = 2; pin < 20; pin++) {
		pins[pin].modes =
		    1u << FIRMATA_MODE_INPUT | 1u << FIRMATA_MODE_OUTPUT | 1u << FIRMATA_MODE_SERVO;
		if (pin >= 14)
			pins[pin].modes |= 1u << FIRMATA_MODE_ANALOG;
		if (pin == 3 || pin == 5 || pin == 6 || pin == 9 || pin == 10 || pin == 11)
			pins[pin].modes |= 1u << FIRMATA_MODE_PWM;
	}
	return 20;
}

static void test_servo_wheels(void)
{
	fm_robot_conf c = {.robot = "servo-wheels",
			   .left = "servo:9",
			   .right = "servo:D10 reversed",
			   .outputs = "led:13, buzzer:8",
			   .max_speed = "0.2",
			   .wheel_base = "0.12"};
	fm_robot_map m;
	firmata_pin pins[20];
	const char *key = NULL;
	char why[256], what[64];
	int v, dir;

	CHECK_EQ_INT(fm_robot_parse(&c, &m, &key, why, sizeof why), 0);
	CHECK_EQ_INT(m.wheels, FM_WHEELS_SERVO);
	CHECK_EQ_INT(m.left.pin, 9);
	CHECK_EQ_INT(m.left.reversed, 0);
	CHECK_EQ_INT(m.right.pin, 10);
	CHECK_EQ_INT(m.right.reversed, 1);
	CHECK_EQ_INT(m.right.dir, -1);
	CHECK_EQ_INT(m.noutputs, 2);
	CHECK_STR(m.outputs[1].name, "buzzer");
	CHECK_EQ_INT(m.outputs[1].pin, 8);
	CHECK_NEAR(m.max_speed, 0.2, 1e-12);
	CHECK_NEAR(m.wheel_base, 0.12, 1e-12);
	CHECK_EQ_INT(fm_robot_check(&m, pins, uno(pins), &key, why, sizeof why), 0);
	fm_robot_wheel_value(&m, &m.left, 0.5, 255, &v, &dir);
	CHECK_EQ_INT(v, 135);
	CHECK_EQ_INT(dir, -1);
	fm_robot_wheel_value(&m, &m.right, 0.5, 255, &v, &dir);
	CHECK_EQ_INT(v, 45);
	fm_robot_wheel_value(&m, &m.left, -1, 255, &v, &dir);
	CHECK_EQ_INT(v, 0);
	fm_robot_wheel_value(&m, &m.left, 0, 255, &v, &dir);
	CHECK_EQ_INT(v, 90);
	fm_robot_wheel_value(&m, &m.left, 7, 255, &v, &dir); /* clamped */
	CHECK_EQ_INT(v, 180);
	CHECK(fm_robot_uses(&m, 8, what, sizeof what));
	CHECK_STR(what, "the robot's output buzzer");
	CHECK(!fm_robot_uses(&m, 7, what, sizeof what));
}

static void test_pwm_wheels(void)
{
	fm_robot_conf c = {
	    .robot = "pwm-wheels", .left = "pwm:5,dir:4", .right = "pwm:6, dir:7 reversed"};
	fm_robot_map m;
	firmata_pin pins[20];
	const char *key = NULL;
	char why[256];
	int v, dir;

	CHECK_EQ_INT(fm_robot_parse(&c, &m, &key, why, sizeof why), 0);
	CHECK_EQ_INT(m.wheels, FM_WHEELS_PWM);
	CHECK_EQ_INT(m.left.pin, 5);
	CHECK_EQ_INT(m.left.dir, 4);
	CHECK_EQ_INT(m.right.dir, 7);
	CHECK_EQ_INT(m.noutputs, 0);
	CHECK_EQ_INT((int)m.max_speed, 0);
	CHECK_EQ_INT(fm_robot_check(&m, pins, uno(pins), &key, why, sizeof why), 0);
	fm_robot_wheel_value(&m, &m.left, 0.5, 255, &v, &dir);
	CHECK_EQ_INT(v, 128);
	CHECK_EQ_INT(dir, 1);
	fm_robot_wheel_value(&m, &m.left, -1, 255, &v, &dir);
	CHECK_EQ_INT(v, 255);
	CHECK_EQ_INT(dir, 0);
	fm_robot_wheel_value(&m, &m.right, 0.25, 255, &v, &dir);
	CHECK_EQ_INT(v, 64);
	CHECK_EQ_INT(dir, 0);
	fm_robot_wheel_value(&m, &m.right, 0, 255, &v, &dir);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(dir, 0);
}

/* Each mistake names its key and says what to write. */
static void test_bad_mappings(void)
{
	static const struct {
		fm_robot_conf c;
		const char *key, *why;
	} bad[] = {
	    {{.robot = "tank"}, "robot", "servo-wheels"},
	    {{.robot = "servo-wheels", .left = "servo:9"}, "right", "no right wheel"},
	    {{.robot = "servo-wheels", .left = "wheel:9", .right = "servo:10"},
	     "left",
	     "'wheel:9' is not understood"},
	    {{.robot = "servo-wheels", .left = "pwm:5,dir:4", .right = "servo:10"},
	     "left",
	     "servo-wheels takes servo:PIN"},
	    {{.robot = "pwm-wheels", .left = "pwm:5", .right = "pwm:6,dir:7"},
	     "left",
	     "pwm-wheels takes pwm:PIN,dir:PIN"},
	    {{.robot = "servo-wheels", .left = "servo:9", .right = "servo:10", .outputs = "led"},
	     "outputs",
	     "'led' is not NAME:PIN"},
	    {{.robot = "servo-wheels",
	      .left = "servo:9",
	      .right = "servo:10",
	      .outputs = "a:2 a:3"},
	     "outputs",
	     "named twice"},
	    {{.robot = "servo-wheels", .left = "servo:9", .right = "servo:10", .max_speed = "-1"},
	     "max_speed_m_s",
	     "not a speed"},
	    {{.robot = "servo-wheels", .left = "servo:9", .right = "servo:10", .wheel_base = "x"},
	     "wheel_base_m",
	     "not a distance"},
	    {{.left = "servo:9"}, "left", "without robot ="},
	};
	fm_robot_map m;
	const char *key;
	char why[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		key = NULL;
		why[0] = '\0';
		CHECK_EQ_INT(fm_robot_parse(&bad[i].c, &m, &key, why, sizeof why), -1);
		CHECK_STR(key ? key : "(none)", bad[i].key);
		CHECK_CONTAINS(why, bad[i].why);
	}
	/* no robot key at all: not a robot, not an error */
	CHECK_EQ_INT(fm_robot_parse(&(fm_robot_conf){0}, &m, &key, why, sizeof why), 0);
	CHECK_EQ_INT(m.wheels, FM_WHEELS_NONE);
}

/* What the board has decides: a pin it lacks, a mode it lacks on that pin, a pin used twice. */
static void test_checked_against_the_board(void)
{
	static const struct {
		fm_robot_conf c;
		const char *key, *why;
	} bad[] = {
	    {{.robot = "servo-wheels", .left = "servo:9", .right = "servo:30"},
	     "right",
	     "D30 (the right wheel's servo): the board has pins D0 to D19"},
	    {{.robot = "pwm-wheels", .left = "pwm:4,dir:2", .right = "pwm:6,dir:7"},
	     "left",
	     "D4 (the left wheel's PWM) cannot be a PWM pin on this board (its capabilities: "
	     "output, SERVO)"},
	    {{.robot = "servo-wheels", .left = "servo:1", .right = "servo:10"},
	     "left",
	     "none, the firmware keeps it"},
	    {{.robot = "servo-wheels", .left = "servo:9", .right = "servo:10", .outputs = "led:9"},
	     "outputs",
	     "D9 (output led) is used twice"},
	};
	fm_robot_map m;
	firmata_pin pins[20];
	const char *key;
	char why[256];
	int n = uno(pins);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		key = NULL;
		CHECK_EQ_INT(fm_robot_parse(&bad[i].c, &m, &key, why, sizeof why), 0);
		CHECK_EQ_INT(fm_robot_check(&m, pins, n, &key, why, sizeof why), -1);
		CHECK_STR(key ? key : "(none)", bad[i].key);
		CHECK_CONTAINS(why, bad[i].why);
	}
}

int main(void)
{
	RUN(test_servo_wheels);
	RUN(test_pwm_wheels);
	RUN(test_bad_mappings);
	RUN(test_checked_against_the_board);
	return check_summary();
}
