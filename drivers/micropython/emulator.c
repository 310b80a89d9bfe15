/* emulator.c - a MicroPython board's raw REPL on a pseudo-terminal, running programs in python3. */
#include "emulator.h"

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/util/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PYTHON "/usr/bin/python3"
#define BOOT_NS 150000000LL	  /* input lost while the board boots after the port opens */
#define GARBAGE_NS 50000000LL	  /* GARBAGE: noise this often */
#define LINE_MAX_BYTES (1u << 20) /* the program a board takes */
#define STDERR_MAX (64u * 1024)	  /* the traceback kept */
#define WRITE_WAIT_MS 10000	  /* a host that does not read for this long: output dropped */
#define BANNER "raw REPL; CTRL-B to exit\r\n"
#define BOOT                                                                                       \
	"MicroPython v1.22.0 on 2026-12-01; labbridge emulated board (python3)\r\n"                \
	"Type \"help()\" for more information.\r\n"

/*
 * The program runner: a micro:bit-like `microbit` module whose hardware state is kept in the
 * file $LB_MPY_HW, MicroPython's time extras, then the program read from fd 3, run as
 * "<stdin>" in globals kept from program to program (as a board keeps them until a soft reset),
 * its exception printed as MicroPython does (no source lines). Programs come on fd 3 (uint32 LE
 * length, text); fd 4 says 's' when one starts, then '0' (ended), '1' (raised) or '2'
 * (sys.exit(): a soft reset), after flushing its output. SIGINT raises KeyboardInterrupt only
 * while a program runs, and not twice within 200 ms: a "\x03\x03" never interrupts the
 * runner's own handling of the first.
 */
static const char runner[] =
    "import sys,os,json,time,types,signal\n"
    "_P=os.environ.get('LB_MPY_HW')\n"
    "try:\n"
    " with open(_P) as _f:_hw=json.load(_f)\n"
    "except Exception:_hw={'i2c':{},'pins':{},'display':''}\n"
    "def _save():\n"
    " if _P:\n"
    "  with open(_P+'.tmp','w') as f:json.dump(_hw,f)\n"
    "  os.replace(_P+'.tmp',_P)\n"
    "_t0=time.monotonic()\n"
    "m=types.ModuleType('microbit')\n"
    "class _I2C:\n"
    " def init(s,*a,**k):pass\n"
    " def scan(s):return [16]\n"
    " def write(s,addr,buf,repeat=False):\n"
    "  b=bytes(buf);_hw['i2c']['%d:%d'%(addr,b[0])]=list(b[1:]);_save()\n"
    " def read(s,addr,n,repeat=False):return bytes(n)\n"
    "class _Pin:\n"
    " def __init__(s,n):s.n=n\n"
    " def _set(s,v):_hw['pins']['pin%d'%s.n]=int(v);_save()\n"
    " def write_analog(s,v):s._set(v)\n"
    " def write_digital(s,v):s._set(v)\n"
    " def read_digital(s):return 0\n"
    " def read_analog(s):return 0\n"
    " def set_analog_period(s,p):pass\n"
    " def is_touched(s):return False\n"
    "class _Image:\n"
    " def __init__(s,n):s.n=n\n"
    " def __str__(s):return 'Image.'+s.n\n"
    "for _n in ('HEART','HAPPY','SAD','YES','NO','SMILE','CONFUSED','ANGRY','ASLEEP',\n"
    " 'SURPRISED','SILLY','FABULOUS','MEH','ARROW_N','ARROW_S','ARROW_E','ARROW_W',\n"
    " 'SQUARE','TRIANGLE','DIAMOND','SKULL','GHOST','DUCK','HOUSE','TORTOISE','BUTTERFLY'):\n"
    " setattr(_Image,_n,_Image(_n))\n"
    "class _Display:\n"
    " def show(s,x,*a,**k):_hw['display']=str(x);_save()\n"
    " def scroll(s,x,*a,**k):_hw['display']=str(x);_save()\n"
    " def clear(s):_hw['display']='';_save()\n"
    "class _Button:\n"
    " def is_pressed(s):return False\n"
    " def was_pressed(s):return False\n"
    " def get_presses(s):return 0\n"
    "m.i2c=_I2C();m.display=_Display();m.Image=_Image\n"
    "m.button_a=_Button();m.button_b=_Button()\n"
    "m.sleep=lambda ms:time.sleep(ms/1000)\n"
    "m.running_time=lambda:int((time.monotonic()-_t0)*1000)\n"
    "m.temperature=lambda:21\n"
    "for _n in range(21):setattr(m,'pin%d'%_n,_Pin(_n))\n"
    "m._hw=_hw\n"
    "sys.modules['microbit']=m\n"
    "time.sleep_ms=lambda ms:time.sleep(ms/1000)\n"
    "time.sleep_us=lambda us:time.sleep(us/1e6)\n"
    "time.ticks_ms=lambda:int(time.monotonic()*1000)\n"
    "time.ticks_diff=lambda a,b:a-b\n"
    "sys.modules['utime']=time\n"
    "import struct\n"
    "_in=os.fdopen(3,'rb',buffering=0);_st=os.fdopen(4,'wb',buffering=0)\n"
    "def _readn(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=_in.read(n-len(b))\n"
    "  if not c:os._exit(0)\n"
    "  b+=c\n"
    " return b\n"
    "_g={'__name__':'__main__'}\n"
    "_q=[float('inf')]\n"
    "def _h(n,f):\n"
    " t=time.monotonic()\n"
    " if t>=_q[0]:\n"
    "  _q[0]=t+0.2\n"
    "  raise KeyboardInterrupt\n"
    "signal.signal(signal.SIGINT,_h)\n"
    "while True:\n"
    " _src=_readn(struct.unpack('<I',_readn(4))[0]);_r=b'0'\n"
    " try:\n"
    "  _q[0]=0;_st.write(b's')\n"
    "  exec(compile(_src,'<stdin>','exec'),_g)\n"
    " except SystemExit:_r=b'2'\n"
    " except BaseException as e:\n"
    "  _q[0]=float('inf');_r=b'1'\n"
    "  sys.stdout.flush();w=sys.stderr.write\n"
    "  w('Traceback (most recent call last):\\n')\n"
    "  tb=e.__traceback__.tb_next\n"
    "  while tb:\n"
    "   c=tb.tb_frame.f_code;w('  File \"%s\", line %d, in %s\\n'%(c.co_filename,"
    "tb.tb_lineno,c.co_name));tb=tb.tb_next\n"
    "  if isinstance(e,SyntaxError):\n"
    "   w('  File \"%s\", line %s\\nSyntaxError: %s\\n'%(e.filename,e.lineno,e.msg))\n"
    "  else:w('%s: %s\\n'%(type(e).__name__,e))\n"
    " _q[0]=float('inf')\n"
    " sys.stdout.flush();sys.stderr.flush();_st.write(_r)\n";

typedef enum { M_FRIENDLY, M_RAW, M_PASTE, M_RUNNING } emu_mode;

struct mpy_emu {
	lb_pty_board b;
	int paste; /* raw-paste known */
	atomic_int fault;
	atomic_uint noise_ppm;
	atomic_uint noise_seed; /* a new seed to take (0: none) */
	atomic_ulong programs, overruns, noise_events, dropped;
	atomic_int credit_delay_ms;	 /* a slow board: each window's "\x01" this late */
	atomic_int baud;		 /* the link's speed for what the host sends (0: a pty's) */
	char dir[64], hw[96], flash[96]; /* the hardware state file, the board's file system */
	/* board thread only */
	emu_mode mode;
	uint8_t *line;
	size_t nline, capline;
	size_t consumed, allowed; /* raw-paste: bytes taken, bytes the host may send */
	pid_t child;		  /* the interpreter: its globals live until a soft reset */
	int out_fd, err_fd;	  /* its stdout and stderr */
	int prog_fd, st_fd; /* programs to it (length, text); its status ('s', then '0'-'2') */
	int started;	    /* the program runs (its 's' came) */
	char *errbuf;
	size_t nerr;
	uint64_t rng;
	int interrupted;     /* a Ctrl-C reached the program */
	int int_pending;     /* a Ctrl-C came before the program started */
	int pending_credits; /* windows consumed, their "\x01" not sent yet */
	int64_t credit_at;
};

/* Write all of buf to the host, waiting up to WRITE_WAIT_MS for room; dropped after it. */
static void emit(mpy_emu *e, const void *buf, size_t n)
{
	const char *p = buf;
	int64_t end = lb_clock_ns(CLOCK_MONOTONIC) + WRITE_WAIT_MS * 1000000LL;

	if (atomic_load(&e->fault) == MPY_EMU_SILENT)
		return;
	while (n > 0) {
		ssize_t w = write(e->b.master, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
		    lb_clock_ns(CLOCK_MONOTONIC) >= end || lb_pty_board_stopping(&e->b)) {
			atomic_fetch_add(&e->dropped, n); /* a host that does not read: lost */
			return;
		}
		struct pollfd pf = {e->b.master, POLLOUT, 0};
		poll(&pf, 1, 10);
	}
}

static void emits(mpy_emu *e, const char *s)
{
	emit(e, s, strlen(s));
}

/* Program text with "\n" as "\r\n", as MicroPython's stdout writes it. */
static void emit_crlf(mpy_emu *e, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n') {
			emit(e, s + start, i - start);
			emit(e, "\r\n", 2);
			start = i + 1;
		}
	emit(e, s + start, n - start);
}

static uint64_t rnd(mpy_emu *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return e->rng;
}

/* Kill the interpreter (a reset: its globals are gone). */
static void kill_program(mpy_emu *e)
{
	if (e->child > 0) {
		kill(e->child, SIGKILL);
		waitpid(e->child, NULL, 0);
	}
	e->child = -1;
	for (int *fd = &e->out_fd; fd <= &e->st_fd; fd++) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	e->nerr = 0;
	e->started = 0;
}

/* Start the interpreter; 0, or -1 (nothing left open). */
static int spawn_python(mpy_emu *e)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, prog[2] = {-1, -1}, st[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, deflt;
	char env_hw[160];
	char *const argv[] = {PYTHON, "-I", "-S", "-u", "-c", (char *)runner, NULL};
	char *envp[] = {env_hw, "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};
	int ok = 0;

	snprintf(env_hw, sizeof env_hw, "LB_MPY_HW=%s", e->hw);
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(prog, O_CLOEXEC) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0)
		goto done;
	/* the bridge's threads block signals: the interpreter gets a clean mask and defaults */
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGCHLD);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &deflt);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_addchdir_np(&fa, e->flash); /* open('main.py') lands there */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_adddup2(&fa, prog[0], 3);
	posix_spawn_file_actions_adddup2(&fa, st[1], 4);
	ok = posix_spawn(&e->child, PYTHON, &fa, &at, argv, envp) == 0;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
done:
	/* the child's ends are closed here; ours too when it did not start */
	{
		int theirs[4] = {out[1], err[1], prog[0], st[1]},
		    ours[4] = {out[0], err[0], prog[1], st[0]};
		for (int i = 0; i < 4; i++) {
			if (theirs[i] >= 0)
				close(theirs[i]);
			if (!ok && ours[i] >= 0)
				close(ours[i]);
		}
	}
	if (!ok) {
		e->child = -1;
		return -1;
	}
	e->out_fd = out[0];
	e->err_fd = err[0];
	e->prog_fd = prog[1];
	e->st_fd = st[0];
	fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(e->err_fd, F_SETFL, O_NONBLOCK);
	fcntl(e->st_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Raw REPL's answer after the program: "\x04", the traceback, "\x04", then ">" (or the soft
 * reboot that sys.exit() makes). */
static void finish_program(mpy_emu *e, int reboot)
{
	emit(e, "\x04", 1);
	emit_crlf(e, e->errbuf, e->nerr);
	emit(e, "\x04", 1);
	e->nerr = 0;
	e->nline = 0;
	e->started = 0;
	e->mode = M_RAW;
	if (reboot) {
		kill_program(e); /* a soft reset: fresh globals */
		emits(e, "MPY: soft reboot\r\n" BANNER ">");
	} else {
		emits(e, ">");
	}
}

/* Run line[0..nline) in the interpreter (started if needed). */
static void start_program(mpy_emu *e)
{
	uint32_t len = (uint32_t)e->nline;
	uint8_t hdr[4] = {len & 0xff, len >> 8 & 0xff, len >> 16 & 0xff, len >> 24};
	int ok = 1;

	atomic_fetch_add(&e->programs, 1);
	e->mode = M_RUNNING;
	e->interrupted = e->int_pending = e->started = 0;
	e->nerr = 0;
	if (e->child < 0 && spawn_python(e) < 0) {
		static const char msg[] = "Traceback (most recent call last):\n"
					  "OSError: the emulator cannot start " PYTHON "\n";
		memcpy(e->errbuf, msg, sizeof msg - 1);
		e->nerr = sizeof msg - 1;
		finish_program(e, 0);
		return;
	}
	/* the interpreter waits for it: a blocking write it reads at once */
	for (size_t o = 0; ok && o < 4 + e->nline;) {
		const uint8_t *p = o < 4 ? hdr + o : e->line + (o - 4);
		size_t n = o < 4 ? 4 - o : e->nline - (o - 4);
		ssize_t w = write(e->prog_fd, p, n);
		if (w > 0)
			o += (size_t)w;
		else if (w < 0 && errno != EINTR)
			ok = 0;
	}
	if (!ok) { /* it died: the status pipe's end says so */
		kill_program(e);
		finish_program(e, 0);
	}
}

/* Read what the interpreter's stdout (relayed) and stderr (kept) hold now; returns 1 when
 * stdout ended (the interpreter died). */
static int drain_output(mpy_emu *e, int rounds)
{
	char buf[4096];
	int dead = 0;
	ssize_t n = -1;

	/* rounds > 0: at most that many reads of stdout, so a program printing without end does
	 * not keep the board from reading the host's Ctrl-C; 0: all of it (the program ended) */
	while (e->out_fd >= 0 && (n = read(e->out_fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			dead = errno != EAGAIN && errno != EINTR;
			break;
		}
		emit_crlf(e, buf, (size_t)n);
		if (rounds && --rounds == 0)
			break;
	}
	if (n == 0)
		dead = 1;
	while (e->err_fd >= 0 && (n = read(e->err_fd, buf, sizeof buf)) > 0) {
		size_t k = (size_t)n < STDERR_MAX - e->nerr ? (size_t)n : STDERR_MAX - e->nerr;
		memcpy(e->errbuf + e->nerr, buf, k);
		e->nerr += k;
	}
	return dead;
}

/* The interpreter's status: started, or done (then the answer is finished). */
static void program_status(mpy_emu *e)
{
	char st[16];
	ssize_t n = read(e->st_fd, st, sizeof st);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* died: what it said, then a reset interpreter next time */
		static const char msg[] = "KeyboardInterrupt: \n";
		drain_output(e, 0);
		if (e->nerr == 0 && e->interrupted) {
			memcpy(e->errbuf, msg, sizeof msg - 1);
			e->nerr = sizeof msg - 1;
		}
		kill_program(e);
		finish_program(e, 0);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (st[i] == 's') {
			e->started = 1;
			if (e->int_pending) {
				kill(e->child, SIGINT);
				e->interrupted = 1;
				e->int_pending = 0;
			}
		} else if (st[i] >= '0' && st[i] <= '2') {
			drain_output(e, 0); /* written before the status */
			finish_program(e, st[i] == '2');
			return;
		}
	}
}

/* Append c to the raw REPL's line (bounded). */
static void line_add(mpy_emu *e, uint8_t c)
{
	if (e->nline == e->capline) {
		size_t cap = e->capline ? 2 * e->capline : 4096;
		uint8_t *l;
		if (cap > LINE_MAX_BYTES || !(l = realloc(e->line, cap)))
			return; /* a board out of memory drops it */
		e->line = l;
		e->capline = cap;
	}
	e->line[e->nline++] = c;
}

/* The port was opened: the board resets (DTR) and boots. */
static void board_reset(mpy_emu *e)
{
	kill_program(e);
	e->mode = M_FRIENDLY;
	e->nline = 0;
}

/* One byte from the host, in the board's current mode. */
static void board_byte(mpy_emu *e, uint8_t c)
{
	switch (e->mode) {
	case M_FRIENDLY:
		if (c == 0x01) {
			emits(e, "\r\n" BANNER ">");
			e->mode = M_RAW;
			e->nline = 0;
		} else if (c == 0x02) {
			emits(e, "\r\n" BOOT ">>> ");
		} else if (c == 0x03) {
			emits(e, "\r\n>>> ");
		} else if (c == 0x04) {
			kill_program(e);
			emits(e, "\r\nMPY: soft reboot\r\n" BOOT ">>> ");
		} else if (c == '\r') {
			emits(e, "\r\n>>> "); /* the friendly REPL is not emulated: a new prompt */
		} else if (c >= 0x20 && c < 0x7f) {
			emit(e, &c, 1);
		}
		return;
	case M_RAW:
		if (c == 0x01) {
			if (e->paste && e->nline == 2 && e->line[0] == 0x05) {
				if (e->line[1] == 'A') {
					uint8_t hello[5] = {'R', 0x01, MPY_EMU_WINDOW & 0xff,
							    MPY_EMU_WINDOW >> 8, 0x01};
					emit(e, hello, sizeof hello);
					e->mode = M_PASTE;
					e->consumed = 0;
					e->pending_credits = 0;
					e->allowed = 2 * MPY_EMU_WINDOW;
				} else {
					emits(e, "R\x00>");
				}
				e->nline = 0;
				return;
			}
			emits(e, BANNER ">");
			e->nline = 0;
		} else if (c == 0x02) {
			emits(e, "\r\n" BOOT ">>> ");
			e->mode = M_FRIENDLY;
		} else if (c == 0x03) {
			e->nline = 0;
		} else if (c == 0x04) {
			emits(e, "OK");
			if (e->nline == 0) {
				kill_program(e); /* soft reset: fresh globals */
				emits(e, "\r\nMPY: soft reboot\r\n" BANNER ">");
			} else {
				start_program(e);
			}
		} else {
			line_add(e, c);
		}
		return;
	case M_PASTE:
		if (c == 0x04) {
			emit(e, "\x04", 1);
			start_program(e);
		} else if (c == 0x03) {
			static const char ki[] = "\x04\x04KeyboardInterrupt: \r\n\x04>";
			emit(e, ki, sizeof ki - 1);
			e->mode = M_RAW;
			e->nline = 0;
		} else if (e->consumed >= e->allowed) {
			atomic_fetch_add(&e->overruns, 1); /* the UART's buffer is full: lost */
		} else {
			line_add(e, c);
			if (++e->consumed % MPY_EMU_WINDOW == 0) {
				int delay = atomic_load(&e->credit_delay_ms);
				if (delay == 0) {
					e->allowed += MPY_EMU_WINDOW;
					emit(e, "\x01", 1);
				} else if (e->pending_credits++ == 0) {
					e->credit_at =
					    lb_clock_ns(CLOCK_MONOTONIC) + delay * 1000000LL;
				}
			}
		}
		return;
	case M_RUNNING:
		if (c == 0x03 && e->child > 0 && !e->interrupted) {
			if (e->started) {
				kill(e->child, SIGINT);
				e->interrupted = 1; /* "\x03\x03" in one burst: one interrupt */
			} else {
				e->int_pending = 1;
			}
		}
		return; /* anything else waits in a stdin nobody reads */
	}
}

/* Bytes from the host, through the line noise if any. */
static void host_bytes(mpy_emu *e, const uint8_t *buf, size_t n)
{
	unsigned ppm = atomic_load(&e->noise_ppm), seed = atomic_exchange(&e->noise_seed, 0);

	if (seed)
		e->rng = seed;
	if (e->mode == M_RUNNING)
		e->interrupted = 0; /* a new burst may interrupt again */
	for (size_t i = 0; i < n; i++) {
		uint8_t c = buf[i];
		if (ppm && rnd(e) % 1000000 < ppm) {
			uint64_t r = rnd(e);
			atomic_fetch_add(&e->noise_events, 1);
			if (r % 4 == 0)
				continue; /* dropped */
			if (r % 4 == 1)
				board_byte(e, c); /* doubled */
			else
				c ^= (uint8_t)(1u << (r >> 8) % 8); /* a bit flipped */
		}
		board_byte(e, c);
	}
}

static void *emu_thread(void *arg)
{
	mpy_emu *e = arg;
	int open_ = 0;
	int64_t boot_end = 0, next_garbage = 0, next_rx = 0;

	while (!lb_pty_board_stopping(&e->b)) {
		int baud = atomic_load(&e->baud);
		int64_t t = lb_clock_ns(CLOCK_MONOTONIC);
		int throttled = baud > 0 && t < next_rx; /* the UART has not received more yet */
		struct pollfd pf[4] = {{e->b.master, throttled ? 0 : POLLIN, 0},
				       {e->out_fd, POLLIN, 0},
				       {e->err_fd, POLLIN, 0},
				       {e->st_fd, POLLIN, 0}};
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC);
		int timeout = e->mode == M_PASTE && e->pending_credits ? 1 : 20;

		if (throttled && (next_rx - t) / 1000000 + 1 < timeout)
			timeout = (int)((next_rx - t) / 1000000) + 1;
		uint8_t buf[512];

		if (e->child > 0 && e->mode != M_RUNNING && waitpid(e->child, NULL, WNOHANG) > 0) {
			e->child = -1; /* died between programs: reaped; a new one next time */
			kill_program(e);
			continue;
		}
		if (poll(pf, 4, timeout) < 0 && errno != EINTR)
			break;
		now = lb_clock_ns(CLOCK_MONOTONIC);
		if (pf[0].revents & POLLHUP) {
			if (open_)
				board_reset(e); /* nobody listens: the next open resets the board */
			open_ = 0;
			struct timespec ts = {0, 20000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (!open_) {
			open_ = 1; /* the port was opened: DTR resets the board */
			board_reset(e);
			boot_end = now + BOOT_NS;
		}
		if (boot_end && now >= boot_end) {
			boot_end = 0;
			emits(e, BOOT ">>> ");
		}
		if (e->mode == M_RUNNING && (pf[1].revents || pf[2].revents))
			drain_output(e, 8); /* relayed as it comes; a death shows on the status */
		if (e->mode == M_RUNNING && e->st_fd >= 0 && pf[3].revents)
			program_status(e);
		else if (e->mode != M_RUNNING && e->child > 0 &&
			 ((pf[1].revents | pf[2].revents | pf[3].revents) & (POLLHUP | POLLERR)))
			kill_program(e); /* it died between programs: a new one next time */
		if (pf[0].revents & POLLIN) {
			size_t cap = sizeof buf;
			int64_t per = baud > 0 ? 10000000000LL / baud : 0, from = next_rx;
			ssize_t n;
			if (baud > 0) { /* 10 bits a byte: what the link carried since next_rx */
				if (from < now - 64 * per)
					from =
					    now - 64 * per; /* a 64-byte FIFO: no more saved up */
				cap = (size_t)((now - from) / per) + 1;
				if (cap > sizeof buf)
					cap = sizeof buf;
			}
			n = read(e->b.master, buf, cap);
			if (baud > 0 && n > 0)
				next_rx = from + (int64_t)n * per; /* the link's time for those */
			if (n > 0 && !boot_end && atomic_load(&e->fault) != MPY_EMU_SILENT)
				host_bytes(e, buf, (size_t)n);
		}
		if (e->mode == M_PASTE && e->pending_credits && now >= e->credit_at) {
			e->allowed += MPY_EMU_WINDOW; /* a slow board has consumed a window */
			emit(e, "\x01", 1);
			e->pending_credits--;
			e->credit_at = now + atomic_load(&e->credit_delay_ms) * 1000000LL;
		}
		if (atomic_load(&e->fault) == MPY_EMU_GARBAGE && now >= next_garbage) {
			static const uint8_t junk[] = {0xfe, 0x13, '#', 0x00, 0xff, '?', 0x1b, '['};
			emit(e, junk, sizeof junk);
			next_garbage = now + GARBAGE_NS;
		}
	}
	kill_program(e);
	return NULL;
}

mpy_emu *mpy_emu_new(int paste, lb_error *err)
{
	mpy_emu *e = calloc(1, sizeof *e);
	const char *tmp = getenv("TMPDIR");

	if (!e || !(e->errbuf = malloc(STDERR_MAX))) {
		free(e);
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	e->paste = paste;
	e->child = -1;
	e->out_fd = e->err_fd = e->prog_fd = e->st_fd = -1;
	e->rng = 0x9E3779B97F4A7C15ULL;
	snprintf(e->dir, sizeof e->dir, "%s/lb-mpy-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(e->dir)) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot make %s: %s", e->dir, strerror(errno));
		goto fail;
	}
	snprintf(e->hw, sizeof e->hw, "%s/hw.json", e->dir);
	snprintf(e->flash, sizeof e->flash, "%s/flash", e->dir);
	if (mkdir(e->flash, 0700) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot make %s: %s", e->flash, strerror(errno));
		rmdir(e->dir);
		goto fail;
	}
	if (lb_pty_board_start(&e->b, 1, emu_thread, e, err) < 0) {
		rmdir(e->flash);
		rmdir(e->dir);
		goto fail;
	}
	return e;
fail:
	free(e->errbuf);
	free(e);
	return NULL;
}

const char *mpy_emu_path(const mpy_emu *e)
{
	return e->b.path;
}

void mpy_emu_set_fault(mpy_emu *e, mpy_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

void mpy_emu_set_baud(mpy_emu *e, int baud)
{
	atomic_store(&e->baud, baud < 0 ? 0 : baud);
}

void mpy_emu_set_credit_delay(mpy_emu *e, int ms)
{
	atomic_store(&e->credit_delay_ms, ms < 0 ? 0 : ms);
}

void mpy_emu_set_noise(mpy_emu *e, uint32_t ppm, uint32_t seed)
{
	atomic_store(&e->noise_seed, seed ? seed : 1);
	atomic_store(&e->noise_ppm, ppm);
}

/* The files programs wrote on the board ({name: text}, up to 64 KB each), or NULL. */
static json_t *flash_files(const mpy_emu *e)
{
	json_t *files = json_object();
	DIR *d = opendir(e->flash);
	struct dirent *de;

	while (files && d && (de = readdir(d)) != NULL) {
		char path[384], *buf;
		FILE *f;
		size_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", e->flash, de->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		if ((buf = malloc(65536))) {
			n = fread(buf, 1, 65536, f);
			json_object_set_new(files, de->d_name, json_stringn(buf, n));
			free(buf);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return files;
}

json_t *mpy_emu_probe(mpy_emu *e)
{
	json_t *hw = json_load_file(e->hw, 0, NULL);

	if (!hw)
		hw = json_pack("{s:{},s:{},s:s}", "i2c", "pins", "display", "");
	return json_pack("{s:o,s:o*,s:I,s:I,s:I,s:b,s:I}", "hw", hw, "files", flash_files(e),
			 "programs", (json_int_t)atomic_load(&e->programs), "overruns",
			 (json_int_t)atomic_load(&e->overruns), "noise_events",
			 (json_int_t)atomic_load(&e->noise_events), "paste", e->paste, "dropped",
			 (json_int_t)atomic_load(&e->dropped));
}

void mpy_emu_destroy(mpy_emu **pe)
{
	mpy_emu *e;
	char tmp[128];

	if (!pe || !*pe)
		return;
	e = *pe;
	lb_pty_board_stop(&e->b);
	unlink(e->hw);
	snprintf(tmp, sizeof tmp, "%s.tmp", e->hw);
	unlink(tmp);
	{
		DIR *d = opendir(e->flash);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char path[384];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", e->flash, de->d_name);
			unlink(path);
		}
		if (d)
			closedir(d);
	}
	rmdir(e->flash);
	rmdir(e->dir);
	free(e->line);
	free(e->errbuf);
	free(e);
	*pe = NULL;
}
