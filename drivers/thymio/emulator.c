/* emulator.c - a Thymio II as an Aseba node on a pseudo-terminal or TCP, running Debian's Aseba VM.
 */
#include "emulator.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* libasebavm is built with ASEBA_ASSERT: it calls AsebaAssert, declared under that name */
#define ASEBA_ASSERT
#include <common/consts.h>
#include <transport/buffer/vm-buffer.h>
#include <vm/natives.h>
#include <vm/vm.h>

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/util/clock.h"
#include "../../protocols/aseba.h"

#define EMU_BYTECODE 1534 /* the Thymio II's bytecode, stack and variables (firmware 14) */
#define EMU_STACK 32
#define EMU_VARIABLES 620
#define TICK_NS 10000000LL

/* The Thymio II's named variables, in memory order (firmware 14's description). */
static const AsebaVMDescription emu_description = {"thymio-II",
						   {{1, "_id"},
						    {1, "event.source"},
						    {32, "event.args"},
						    {2, "_fwversion"},
						    {1, "_productId"},
						    {5, "buttons._raw"},
						    {1, "button.backward"},
						    {1, "button.left"},
						    {1, "button.center"},
						    {1, "button.forward"},
						    {1, "button.right"},
						    {5, "buttons._mean"},
						    {5, "buttons._noise"},
						    {7, "prox.horizontal"},
						    {7, "prox.comm.rx._payloads"},
						    {7, "prox.comm.rx._intensities"},
						    {1, "prox.comm.rx"},
						    {1, "prox.comm.tx"},
						    {2, "prox.ground.ambiant"},
						    {2, "prox.ground.reflected"},
						    {2, "prox.ground.delta"},
						    {1, "motor.left.target"},
						    {1, "motor.right.target"},
						    {2, "_vbat"},
						    {2, "_imot"},
						    {1, "motor.left.speed"},
						    {1, "motor.right.speed"},
						    {1, "motor.left.pwm"},
						    {1, "motor.right.pwm"},
						    {2, "_integrator"},
						    {3, "acc"},
						    {3, "leds.top"},
						    {3, "leds.bottom.left"},
						    {3, "leds.bottom.right"},
						    {8, "leds.circle"},
						    {1, "temperature"},
						    {1, "rc5.address"},
						    {1, "rc5.command"},
						    {1, "mic.intensity"},
						    {1, "mic.threshold"},
						    {1, "mic._mean"},
						    {2, "timer.period"},
						    {1, "acc._tap"},
						    {1, "sound.freq"},
						    {0, NULL}}};

/* Addresses of the variables the world writes (computed from the table above at start). */
typedef struct emu_addr {
	uint16_t id, fw, product, buttons, prox, ground_delta, target, speed, acc, leds_top, temp,
	    timers, sound;
} emu_addr;

static const AsebaLocalEventDescription emu_events[] = {
    {"button.backward", "Backward button status changed"},
    {"button.left", "Left button status changed"},
    {"button.center", "Center button status changed"},
    {"button.forward", "Forward button status changed"},
    {"button.right", "Right button status changed"},
    {"buttons", "Buttons values updated"},
    {"prox", "Proximity values updated"},
    {"tap", "A tap is detected"},
    {"acc", "Accelerometer values updated"},
    {"motor", "Motor timer"},
    {"timer0", "Timer 0"},
    {"timer1", "Timer 1"},
    {NULL, NULL}};

enum { EV_BUTTONS = 5, EV_PROX = 6, EV_ACC = 8, EV_MOTOR = 9, EV_TIMER0 = 10, EV_TIMER1 = 11 };

static void native_leds_top(AsebaVMState *vm);
static void native_sound_freq(AsebaVMState *vm);

static const AsebaNativeFunctionDescription native_leds_top_desc = {
    "leds.top",
    "Set the top RGB LED (0..32 each)",
    {{1, "red"}, {1, "green"}, {1, "blue"}, {0, NULL}}};
static const AsebaNativeFunctionDescription native_sound_freq_desc = {
    "sound.freq",
    "Play a frequency (Hz) for a duration (1/60 s)",
    {{1, "Hz"}, {1, "ds"}, {0, NULL}}};

static const AsebaNativeFunctionDescription *const emu_natives_desc[] = {
    ASEBA_NATIVES_STD_DESCRIPTIONS, &native_leds_top_desc, &native_sound_freq_desc, NULL};

static const AsebaNativeFunctionPointer emu_natives[] = {ASEBA_NATIVES_STD_FUNCTIONS,
							 native_leds_top, native_sound_freq};

struct thymio_emu {
	lb_pty_board b; /* the pty (b.path: the TCP target in TCP mode) */
	int tcp, listen_fd;
	atomic_int io_fd; /* TCP: the client's socket, -1 if none */
	atomic_int stop;  /* TCP: the thread ends */
	pthread_t thread; /* TCP */
	AsebaVMState vm;  /* first touched under vm_lock only */
	uint16_t bytecode[EMU_BYTECODE];
	int16_t variables[EMU_VARIABLES];
	int16_t stack[EMU_STACK];
	emu_addr a;
	/* the frame AsebaGetBuffer hands to vm-buffer: type and payload */
	uint8_t in[ASEBA_MAX_PAYLOAD + 2];
	uint16_t in_len, in_source;
	int reboot;	  /* REBOOT received: reinitialise after the message */
	unsigned pending; /* local events due (1 << EV_*) */
	int timer_ms[2];  /* time since each timer last fired */
	atomic_int fault;
	uint64_t rng;
	/* what a probe sees */
	atomic_int probe_leds[3], probe_sound, probe_target[2], probe_running;
};

/* libasebavm's callbacks are global and vm-buffer keeps one static buffer: one VM at a time. */
static pthread_mutex_t vm_lock = PTHREAD_MUTEX_INITIALIZER;

/* The emulator a VM belongs to. */
static thymio_emu *emu_of(AsebaVMState *vm)
{
	return (thymio_emu *)((char *)vm - offsetof(thymio_emu, vm));
}

/* xorshift64: the garbage fault's bytes. */
static uint64_t next_rand(thymio_emu *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return e->rng;
}

/* Write all of buf to the host (the pty may be full or closed: what does not go is lost, as on
 * a USB line nobody reads). */
static void emu_write(thymio_emu *e, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int tries = 0, fd = e->tcp ? atomic_load(&e->io_fd) : e->b.master;

	while (fd >= 0 && off < len && tries < 50) {
		ssize_t n = e->tcp ? send(fd, buf + off, len - off, MSG_NOSIGNAL)
				   : write(fd, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {fd, POLLOUT, 0};
			poll(&p, 1, 10);
			tries++;
		} else {
			return;
		}
	}
}

/* vm-buffer's transport: a frame (length, source, then type and payload) to the host. */
void AsebaSendBuffer(AsebaVMState *vm, const uint8_t *data, uint16_t length)
{
	thymio_emu *e = emu_of(vm);
	uint8_t frame[ASEBA_MAX_FRAME + 8];
	uint16_t plen = length >= 2 ? (uint16_t)(length - 2) : 0;
	size_t n = 0;
	int fault = atomic_load(&e->fault);

	if (fault == THYMIO_EMU_SILENT || length < 2 || length > ASEBA_MAX_PAYLOAD + 2)
		return;
	if (fault == THYMIO_EMU_GARBAGE) {
		frame[n++] = (uint8_t)next_rand(e);
		frame[n++] = (uint8_t)next_rand(e);
	}
	frame[n++] = (uint8_t)(plen & 0xFF);
	frame[n++] = (uint8_t)(plen >> 8);
	frame[n++] = (uint8_t)(vm->nodeId & 0xFF);
	frame[n++] = (uint8_t)(vm->nodeId >> 8);
	memcpy(frame + n, data, length);
	n += length;
	emu_write(e, frame, n);
}

/* vm-buffer's transport: the frame waiting (once), as type and payload. */
uint16_t AsebaGetBuffer(AsebaVMState *vm, uint8_t *data, uint16_t maxLength, uint16_t *source)
{
	thymio_emu *e = emu_of(vm);
	uint16_t n = e->in_len;

	if (!n || n > maxLength)
		return 0;
	memcpy(data, e->in, n);
	*source = e->in_source;
	e->in_len = 0;
	return n;
}

/* vm-buffer's description callbacks: the Thymio II's variables, local events, natives. */
const AsebaVMDescription *AsebaGetVMDescription(AsebaVMState *vm)
{
	(void)vm;
	return &emu_description;
}

const AsebaLocalEventDescription *AsebaGetLocalEventsDescriptions(AsebaVMState *vm)
{
	(void)vm;
	return emu_events;
}

const AsebaNativeFunctionDescription *const *AsebaGetNativeFunctionsDescriptions(AsebaVMState *vm)
{
	(void)vm;
	return emu_natives_desc;
}

/* A native call from the bytecode: the id is the index in the description's natives. */
void AsebaNativeFunction(AsebaVMState *vm, uint16_t id)
{
	if (id < sizeof emu_natives / sizeof emu_natives[0])
		emu_natives[id](vm);
	else
		AsebaVMEmitNodeSpecificError(vm, "unknown native function");
}

/* leds.top(red, green, blue): the arguments are addresses of variables (natives.h). */
static void native_leds_top(AsebaVMState *vm)
{
	thymio_emu *e = emu_of(vm);

	for (int i = 0; i < 3; i++) {
		int16_t v = vm->variables[AsebaNativePopArg(vm)];
		vm->variables[e->a.leds_top + i] = v < 0 ? 0 : v > 32 ? 32 : v;
	}
}

/* sound.freq(Hz, ds): what the speaker plays is shown in the sound.freq variable. */
static void native_sound_freq(AsebaVMState *vm)
{
	thymio_emu *e = emu_of(vm);
	int16_t hz = vm->variables[AsebaNativePopArg(vm)];

	(void)AsebaNativePopArg(vm);
	vm->variables[e->a.sound] = hz;
}

/* Flash, bootloader, sleep: the emulated robot has none of them (as asebadummynode). */
void AsebaWriteBytecode(AsebaVMState *vm)
{
	(void)vm;
}

/* REBOOT (vm.c calls this): the emulated robot restarts once the message is handled. */
void AsebaResetIntoBootloader(AsebaVMState *vm)
{
	emu_of(vm)->reboot = 1; /* REBOOT: the robot restarts */
}

/* SUSPEND_TO_RAM: ignored (the emulated robot never sleeps). */
void AsebaPutVmToSleep(AsebaVMState *vm)
{
	(void)vm;
}

/* The VM found its bytecode wrong (stack, bounds): the firmware stops it with an error. */
void AsebaAssert(AsebaVMState *vm, AsebaAssertReason reason)
{
	char msg[48];

	snprintf(msg, sizeof msg, "VM assertion %d", (int)reason);
	AsebaVMEmitNodeSpecificError(vm, msg);
}

/* The address of a named variable of the description (0 if absent: never, for ours). */
static uint16_t var_addr(const char *name)
{
	uint16_t addr = 0;

	for (int i = 0; emu_description.variables[i].size; i++) {
		if (strcmp(emu_description.variables[i].name, name) == 0)
			return addr;
		addr += emu_description.variables[i].size;
	}
	return 0;
}

/* Power-on: an empty program, the variables zeroed but the firmware's own. */
static void emu_boot(thymio_emu *e)
{
	e->vm.nodeId = THYMIO_EMU_NODE_ID;
	e->vm.bytecode = e->bytecode;
	e->vm.bytecodeSize = EMU_BYTECODE;
	e->vm.variables = e->variables;
	e->vm.variablesSize = EMU_VARIABLES;
	e->vm.stack = e->stack;
	e->vm.stackSize = EMU_STACK;
	AsebaVMInit(&e->vm);
	e->variables[e->a.id] = THYMIO_EMU_NODE_ID;
	e->variables[e->a.fw] = 14;
	e->variables[e->a.product] = 8;
	e->variables[e->a.temp] = 245;
	e->reboot = 0;
	e->pending = 0;
	e->timer_ms[0] = e->timer_ms[1] = 0;
}

static void emu_mirror(thymio_emu *e);

/* Whether a command addresses variables or bytecode beyond the VM's (start + length). */
static int out_of_bounds(const aseba_frame *f)
{
	const uint8_t *p = f->payload;
	size_t start = f->len >= 4 ? (size_t)(p[2] | p[3] << 8) : 0;

	switch (f->type) {
	case ASEBA_MSG_GET_VARIABLES:
		return f->len >= 6 && start + (size_t)(p[4] | p[5] << 8) > EMU_VARIABLES;
	case ASEBA_MSG_SET_VARIABLES:
		return f->len >= 4 && start + (f->len - 4) / 2 > EMU_VARIABLES;
	case ASEBA_MSG_SET_BYTECODE: return f->len >= 4 && start + (f->len - 4) / 2 > EMU_BYTECODE;
	default: return 0;
	}
}

/* Handle one frame from the host as the firmware does (vm-buffer, vm.c). Under vm_lock. */
static void emu_frame(thymio_emu *e, const aseba_frame *f)
{
	if (f->len + 2 > sizeof e->in)
		return;
	e->in[0] = (uint8_t)(f->type & 0xFF);
	e->in[1] = (uint8_t)(f->type >> 8);
	memcpy(e->in + 2, f->payload, f->len);
	if (f->type >= 0x8000 && AsebaVMShouldDropPacket(&e->vm, f->source, e->in))
		return;
	if (out_of_bounds(f)) {
		/* vm.c only asserts, then reads or writes past its arrays: the firmware's assert
		 * (AsebaAssert) stops the VM with an error, and the message goes no further */
		AsebaVMEmitNodeSpecificError(&e->vm, "VM assertion: out of bounds");
		return;
	}
	e->in_len = (uint16_t)(f->len + 2);
	e->in_source = f->source;
	AsebaProcessIncomingEvents(&e->vm);
	e->in_len = 0;
	if (e->reboot)
		emu_boot(e);
	emu_mirror(e);
}

/* Whether the VM runs freely and may take a new event. */
static int emu_can_fire(const thymio_emu *e)
{
	return AsebaMaskIsClear(e->vm.flags, ASEBA_VM_STEP_BY_STEP_MASK) &&
	       AsebaMaskIsClear(e->vm.flags, ASEBA_VM_EVENT_ACTIVE_MASK);
}

/* One tick of the world (t: seconds since start, tick: its number): sensors, motors, events,
 * then the VM runs. Under vm_lock. */
static void emu_tick(thymio_emu *e, double t, unsigned long tick)
{
	int16_t *v = e->variables;
	int ev = -1;

	for (int i = 0; i < 7; i++)
		v[e->a.prox + i] = 0;
	/* an obstacle in front, coming and going every 4 s */
	v[e->a.prox + 2] = (int16_t)(t - 4 * floor(t / 4) < 2 ? 3000 + 1000 * sin(t * 3) : 0);
	v[e->a.ground_delta] = 720;
	v[e->a.ground_delta + 1] = 705;
	v[e->a.acc] = 0;
	v[e->a.acc + 1] = 0;
	v[e->a.acc + 2] = 22; /* 1 g is about 21.5 units */
	for (int m = 0; m < 2; m++) {
		int target = v[e->a.target + m], speed = v[e->a.speed + m];
		if (target > 500)
			target = 500;
		if (target < -500)
			target = -500;
		v[e->a.speed + m] = (int16_t)(speed + (target - speed) / 3);
	}
	/* events become pending at their rate (the firmware's flags), one starts when the VM is
	 * free, timers first */
	if (tick % 10 == 0)
		e->pending |= 1u << EV_PROX;
	if (tick % 5 == 2)
		e->pending |= 1u << EV_BUTTONS;
	if (tick % 6 == 3)
		e->pending |= 1u << EV_ACC;
	e->pending |= 1u << EV_MOTOR;
	for (int k = 0; k < 2; k++) {
		int period = v[e->a.timers + k];
		if (period <= 0) {
			e->timer_ms[k] = 0;
			continue;
		}
		e->timer_ms[k] += TICK_NS / 1000000;
		if (e->timer_ms[k] >= period) {
			e->timer_ms[k] = 0;
			e->pending |= 1u << (EV_TIMER0 + k);
		}
	}
	if (emu_can_fire(e)) {
		static const int order[] = {EV_TIMER0,	EV_TIMER1, EV_PROX,
					    EV_BUTTONS, EV_ACC,	   EV_MOTOR};
		for (size_t i = 0; i < sizeof order / sizeof order[0] && ev < 0; i++)
			if (e->pending & (1u << order[i]))
				ev = order[i];
		e->pending &= ~(1u << ev);
		AsebaVMSetupEvent(&e->vm, (uint16_t)(ASEBA_EVENT_LOCAL_EVENTS_START - ev));
	}
	AsebaVMRun(&e->vm, 1000);
	emu_mirror(e);
}

/* What a probe sees, from the VM's state. Under vm_lock. */
static void emu_mirror(thymio_emu *e)
{
	const int16_t *v = e->variables;

	for (int i = 0; i < 3; i++)
		atomic_store(&e->probe_leds[i], v[e->a.leds_top + i]);
	atomic_store(&e->probe_sound, v[e->a.sound]);
	atomic_store(&e->probe_target[0], v[e->a.target]);
	atomic_store(&e->probe_target[1], v[e->a.target + 1]);
	atomic_store(&e->probe_running,
		     AsebaMaskIsClear(e->vm.flags, ASEBA_VM_STEP_BY_STEP_MASK) ? 1 : 0);
}

/* Take bytes from the host: each complete frame goes to the VM. */
static void emu_input(thymio_emu *e, aseba_parser *parser, const uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		aseba_frame f;
		size_t used = 0;
		int rc = aseba_parse(parser, buf + off, n - off, &used, &f);
		off += used;
		if (rc == 1 && atomic_load(&e->fault) != THYMIO_EMU_SILENT) {
			pthread_mutex_lock(&vm_lock);
			emu_frame(e, &f);
			pthread_mutex_unlock(&vm_lock);
		}
		if (rc <= 0 && used == 0)
			break;
	}
}

/* Whether the thread must end. */
static int emu_stopping(thymio_emu *e)
{
	return e->tcp ? atomic_load(&e->stop) : lb_pty_board_stopping(&e->b);
}

/*
 * The robot's thread: the host's bytes (the pty's master, or the TCP client: a new client
 * replaces the previous one, as a cable moved to another computer), and the world's ticks.
 */
static void *emu_thread(void *arg)
{
	thymio_emu *e = arg;
	aseba_parser parser;
	int64_t t0 = lb_clock_ns(CLOCK_MONOTONIC), next_tick = t0;
	unsigned long tick = 0;

	memset(&parser, 0, sizeof parser);
	while (!emu_stopping(e)) {
		struct pollfd p[2] = {{e->tcp ? atomic_load(&e->io_fd) : e->b.master, POLLIN, 0},
				      {e->listen_fd, POLLIN, 0}};
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), wait_ns = next_tick - now;
		struct timespec ts;

		if (wait_ns < 0)
			wait_ns = 0;
		ts.tv_sec = wait_ns / 1000000000LL;
		ts.tv_nsec = wait_ns % 1000000000LL;
		if (ppoll(p, e->tcp ? 2 : 1, &ts, NULL) < 0 && errno != EINTR)
			break;
		if (e->tcp && (p[1].revents & POLLIN)) {
			int c = accept4(e->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (c >= 0) {
				int one = 1, old;
				/* each message goes at once, as on a USB line */
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				old = atomic_exchange(&e->io_fd, c);
				if (old >= 0)
					close(old);
				memset(&parser, 0, sizeof parser);
			}
		} else if (!e->tcp && (p[0].revents & POLLHUP)) {
			/* nobody has the port open: the robot keeps running, unheard */
			struct timespec nap = {0, 20000000};
			memset(&parser, 0, sizeof parser);
			nanosleep(&nap, NULL);
		} else if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			uint8_t buf[1024];
			ssize_t n = read(p[0].fd, buf, sizeof buf);
			if (n > 0) {
				emu_input(e, &parser, buf, (size_t)n);
			} else if (e->tcp && (n == 0 || (errno != EAGAIN && errno != EINTR))) {
				/* the client left */
				int old = atomic_exchange(&e->io_fd, -1);
				if (old >= 0)
					close(old);
			}
		}
		now = lb_clock_ns(CLOCK_MONOTONIC);
		if (now >= next_tick) {
			pthread_mutex_lock(&vm_lock);
			emu_tick(e, (double)(now - t0) / 1e9, tick++);
			pthread_mutex_unlock(&vm_lock);
			next_tick += TICK_NS;
			if (next_tick < now)
				next_tick = now + TICK_NS;
		}
	}
	return NULL;
}

/* Listen on 127.0.0.1:port (0: a free one) and start the thread; 0 or negative with err set. */
static int emu_start_tcp(thymio_emu *e, int port, lb_error *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof a;
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->listen_fd < 0 ||
	    setsockopt(e->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(e->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(e->listen_fd, 4) < 0 ||
	    getsockname(e->listen_fd, (struct sockaddr *)&a, &len) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "Thymio emulator: cannot listen on port %d: %s",
			     port, strerror(errno));
		if (e->listen_fd >= 0)
			close(e->listen_fd);
		return LB_EFAIL;
	}
	snprintf(e->b.path, sizeof e->b.path, "tcp:127.0.0.1;port=%d", ntohs(a.sin_port));
	if (pthread_create(&e->thread, NULL, emu_thread, e) != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "Thymio emulator: cannot start its thread");
		close(e->listen_fd);
		return LB_EFAIL;
	}
	return 0;
}

/* A robot on a pty (port < 0) or on TCP (see emulator.h); NULL with err set. */
static thymio_emu *emu_new(int port, lb_error *err)
{
	thymio_emu *e = calloc(1, sizeof *e);

	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	e->rng = 0x9E3779B97F4A7C15ULL;
	e->tcp = port >= 0;
	e->listen_fd = -1;
	atomic_store(&e->io_fd, -1);
	e->a.id = var_addr("_id");
	e->a.fw = var_addr("_fwversion");
	e->a.product = var_addr("_productId");
	e->a.buttons = var_addr("button.backward");
	e->a.prox = var_addr("prox.horizontal");
	e->a.ground_delta = var_addr("prox.ground.delta");
	e->a.target = var_addr("motor.left.target");
	e->a.speed = var_addr("motor.left.speed");
	e->a.acc = var_addr("acc");
	e->a.leds_top = var_addr("leds.top");
	e->a.temp = var_addr("temperature");
	e->a.sound = var_addr("sound.freq");
	e->a.timers = var_addr("timer.period");
	pthread_mutex_lock(&vm_lock);
	emu_boot(e);
	pthread_mutex_unlock(&vm_lock);
	if ((e->tcp ? emu_start_tcp(e, port, err)
		    : lb_pty_board_start(&e->b, 1, emu_thread, e, err)) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

/* See emulator.h. */
thymio_emu *thymio_emu_new(lb_error *err)
{
	return emu_new(-1, err);
}

/* See emulator.h: 0 picks a free port. */
thymio_emu *thymio_emu_new_tcp(int port, lb_error *err)
{
	if (port < 0 || port > 65535) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "port %d: 0 (any) or 1..65535", port);
		return NULL;
	}
	return emu_new(port, err);
}

/* See emulator.h. */
const char *thymio_emu_path(const thymio_emu *e)
{
	return e->b.path;
}

/* See emulator.h. */
void thymio_emu_set_fault(thymio_emu *e, thymio_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

/* See emulator.h. */
void thymio_emu_probe_state(thymio_emu *e, thymio_emu_probe *out)
{
	for (int i = 0; i < 3; i++)
		out->leds_top[i] = atomic_load(&e->probe_leds[i]);
	out->sound_freq = atomic_load(&e->probe_sound);
	out->motor_target[0] = atomic_load(&e->probe_target[0]);
	out->motor_target[1] = atomic_load(&e->probe_target[1]);
	out->running = atomic_load(&e->probe_running);
}

/* See emulator.h. */
void thymio_emu_destroy(thymio_emu **pe)
{
	thymio_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	if (e->tcp) {
		int fd = atomic_exchange(&e->io_fd, -1);
		atomic_store(&e->stop, 1);
		pthread_join(e->thread, NULL);
		close(e->listen_fd);
		if (fd >= 0)
			close(fd);
	} else {
		lb_pty_board_stop(&e->b);
	}
	free(e);
	*pe = NULL;
}
