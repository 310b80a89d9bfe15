/* robot.h - what a robot driver implements so the robot service can drive it: one vocabulary. */
#ifndef LB_SDK_ROBOT_H
#define LB_SDK_ROBOT_H

#include <jansson.h>

#include "device.h"

/*
 * The robot service (bridge/services/robot/) serves robot.move, robot.stop, robot.program.*,
 * robot.set to clients: it checks the caller's role and lease, the room stop, and the parameters
 * (finite numbers, ranges, sizes), then hands the device one of the driver actions below through
 * device "call" (srv_send/srv_forward). Robot drivers declare these actions in lb_driver.actions
 * flagged LB_ACTION_SERVICE (clients never reach them through device.call), and
 * LB_ACTION_MOTION for those that set the robot moving (move, program.load, program.run, set):
 * the room stop refuses them. Family-specific extras ("aseba.get", "micropython.save"...) are
 * ordinary client actions of the driver (device.call), named with the driver's prefix.
 *
 * Arguments the driver's call() receives (already checked by the service):
 *   LB_ROBOT_MOVE       {"left": L, "right": R}: wheel speeds, finite, -1 <= L, R <= 1, as a
 *                       fraction of the robot's maximum. Result: null.
 *   LB_ROBOT_STOP       {}: motors off and any running program stopped: the robot is still.
 *   LB_ROBOT_LOAD       {"language": one of the describe() "languages", "source": text
 *                       (<= LB_ROBOT_SOURCE_MAX bytes)} or {"language": "aseba-bytecode",
 *                       "bytecode": [words]}. Loads without running. Result: an object (e.g.
 *                       {"words": 312}). A program that does not compile: LB_ERR_PROGRAM with
 *                       "line L, column C: message" and the same on the console stream.
 *   LB_ROBOT_RUN        {}: run the loaded program (MicroPython: execute it, output streamed).
 *   LB_ROBOT_PROG_STOP  {}: stop the program (Ctrl-C, Aseba STOP) and the motors.
 *   LB_ROBOT_SET        an object of the outputs describe() lists under "outputs"
 *                       ({"leds": {"top": [r, g, b]}, "sound": {"freq": 440, "ms": 200}}...):
 *                       the driver checks what it takes.
 *
 * What the driver tells (device thread):
 *   - describe() returns the "robot" object of the device description: {"languages": [...],
 *     "outputs": [...], "wheels": true|false, "max_speed": m/s, "wheel_base": m (both only when
 *     known: robot.move {linear, angular} needs them), "extras": ["aseba.get", ...]}.
 *   - its state, each time it changes: lb_robot_state(dev, "idle"|"running"|"stopped"|"error",
 *     detail or NULL). The service publishes robot/<id>/state/ with the owner added.
 *   - streams (declared in open(), kind "robot" so topics are robot/<id>/<name>/): sensors with
 *     units ("proximity", "ground", "acc", "ultrasonic", "buttons"...), "console" (json:
 *     {"stream": "stdout"|"stderr"|"compile", "text": ...}), "event/<name>" (json: {"args":
 *     [...]}, a robot's user events).
 *   - halt/halted hooks (the room stop, the dead-man): halt writes a stop the hardware obeys
 *     from any thread; halted finishes it (motors off, program stopped) and says "stopped".
 */
#define LB_ROBOT_MOVE "robot.move"
#define LB_ROBOT_STOP "robot.stop"
#define LB_ROBOT_LOAD "robot.program.load"
#define LB_ROBOT_RUN "robot.program.run"
#define LB_ROBOT_PROG_STOP "robot.program.stop"
#define LB_ROBOT_SET "robot.set"

/* The largest program source the service accepts (bytes). */
#define LB_ROBOT_SOURCE_MAX (256 * 1024)

/* Tell the robot service the robot's state changed (device thread). state: "idle", "running",
 * "stopped", "error"; detail: one line for people, or NULL. Lost only when out of memory. */
static inline void lb_robot_state(lb_device *dev, const char *state, const char *detail)
{
	json_t *ev = json_pack("{s:s,s:s?}", "robot_state", state, "detail", detail);

	if (ev)
		lb_device_event(dev, ev);
	json_decref(ev);
}

#endif
