/* emulated.c - one emulated board of the simulated lab: start, port, faults, unplug and plug. */
#include "emulated.h"

#include <string.h>

#include "../util/log.h"
#include "../sdk/params.h"

int lb_emulated_port(lb_emulated *e, json_t *ports)
{
	lb_error err;

	if (e->unplugged)
		return 0;
	if (!e->emu && !(e->emu = e->create(&err))) {
		lb_err("%s emulator: %s", e->driver, err.message);
		return LB_EFAIL;
	}
	return json_array_append_new(
	    ports, json_pack("{s:s,s:i,s:i,s:s,s:s,s:s,s:b}", "path", e->path(e->emu), "vid",
			     e->vid, "pid", e->pid, "serial", e->serial, "description",
			     e->description, "driver", e->driver, "simulated", 1));
}

int lb_emulated_fault(lb_emulated *e, const char *method, const json_t *params, json_t **result,
		      lb_error *err)
{
	static const char *const faults[] = {"ok", "silent", "garbage", "unplug", "plug", NULL};
	static const char *const allowed[] = {"fault", "probe", NULL};
	const char *fault = NULL;
	bool probe = false;
	int f;

	if (strcmp(method, "emulator") != 0)
		return lb_error_set(err, LB_ERR_METHOD_NOT_FOUND,
				    "unknown method '%s.%s' (%s.emulator)", e->driver, method,
				    e->driver);
	if (lb_param_only(params, allowed, err) < 0 ||
	    lb_param_bool(params, "probe", &probe, err) < 0)
		return LB_EFAIL;
	if (probe) {
		if (!e->probe || json_object_get(params, "fault"))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    e->probe
						? "probe or fault, not both"
						: "the simulated %s board shows nothing to probe",
					    e->driver);
		if (!lb_emulated_running(e, err))
			return LB_EFAIL;
		if (!(*result = e->probe(e->emu)))
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return 0;
	}
	if (lb_param_string(params, "fault", true, &fault, err) < 0)
		return LB_EFAIL;
	for (f = 0; faults[f] && strcmp(faults[f], fault) != 0; f++)
		;
	if (!faults[f])
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "fault must be ok, silent, garbage, unplug or plug");
	if (f == LB_FAULT_UNPLUG) {
		lb_emulated_stop(e);
		e->unplugged = 1;
	} else if (f == LB_FAULT_PLUG) {
		e->unplugged = 0; /* the next scan starts it again */
	} else if (!lb_emulated_running(e, err)) {
		return LB_EFAIL;
	} else {
		e->set_fault(e->emu, (lb_fault)f);
	}
	*result = json_null();
	return 0;
}

void *lb_emulated_running(lb_emulated *e, lb_error *err)
{
	if (!e->emu)
		lb_error_set(
		    err, LB_ERR_UNKNOWN_DEVICE,
		    "the simulated %s board is not running (unplugged, or the simulated lab "
		    "is off)",
		    e->driver);
	return e->emu;
}

void lb_emulated_stop(lb_emulated *e)
{
	if (e->emu)
		e->destroy(e->emu);
	e->emu = NULL;
}
