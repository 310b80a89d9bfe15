/* printer.c - a Marlin/RepRap printer: connection, line streaming, job control, status. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/util/log.h"
#include "../../bridge/sdk/progress.h"
#include "printer.h"

#define CONNECT_NS 5000000000LL	    /* how long open may take (a board's bootloader: 1-2 s) */
#define START_WAIT_NS 300000000LL   /* how long "start" is awaited before asking anyway */
#define STATUS_EVERY_NS 500000000LL /* status while printing */
#define IDLE_STATUS_NS 2000000000LL
#define POSITION_NS 2000000000LL /* position polling (M114) */
#define POLL_NS 1000000000LL	 /* temperature polling when the firmware cannot auto-report */
#define PROGRESS_EVERY_NS 1000000000LL /* the queue records the acknowledged line this often */
#define PACE_AHEAD_NS 3000000LL	       /* paced links: bytes written ahead of the wire, in time */

static const char *const state_names[] = {"idle",   "printing",	  "pausing",
					  "paused", "cancelling", "halted"};

/* ---------------------------------------------------------------- small helpers */

/* Queue one of the driver's own commands (cleaned first); 0, or -1 when it is empty/too many. */
static int own_add(mk_priv *p, const char *cmd)
{
	char clean[GCODE_CMD_MAX + 1];
	int n = gcode_clean(cmd, strlen(cmd), clean, sizeof clean);

	if (n <= 0 || p->own_count == OWN_MAX)
		return -1;
	memcpy(p->own[(p->own_head + p->own_count) % OWN_MAX], clean, (size_t)n + 1);
	p->own_count++;
	return 0;
}

/* Queue a '|'- or newline-separated list of commands. */
static void own_add_list(mk_priv *p, const char *list)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, "|\n", &save); tok; tok = strtok_r(NULL, "|\n", &save))
		own_add(p, tok);
}

/* Publish a console line (direction "recv" or "send"). */
static void console(lb_device *dev, mk_priv *p, const char *dir, const char *text, int64_t t)
{
	json_t *o = json_pack("{s:s,s:s}", "dir", dir, "line", text);

	if (o)
		lb_stream_publish_json(dev, p->s_console, t, o);
	json_decref(o);
}

/* Tell the print queue about the job: state (or NULL for progress only) and error (or NULL). */
static void job_event(lb_device *dev, mk_priv *p, const char *state, const char *error)
{
	json_t *ev;

	if (!p->job.id)
		return;
	ev = json_pack("{s:I,s:I,s:I}", "job", (json_int_t)p->job.id, "line",
		       (json_int_t)p->snd.acked.file_line, "offset",
		       (json_int_t)p->snd.acked.offset);
	if (state)
		json_object_set_new(ev, "state", json_string(state));
	if (error)
		json_object_set_new(ev, "error", json_string(error));
	lb_device_event(dev, ev);
	json_decref(ev);
}

/* The printer's status as a new JSON object. */
static json_t *status_json(mk_priv *p, int64_t mono)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:{s:f,s:f},s:{s:f,s:f},s:i,s:I,s:I}", "state",
			      state_names[p->state], "message", p->message, "firmware", p->firmware,
			      "hotend", "actual", p->hotend, "target", p->hotend_target, "bed",
			      "actual", p->bed, "target", p->bed_target, "inflight",
			      mk_sender_inflight(&p->snd), "resends", (json_int_t)p->snd.resends,
			      "timeouts", (json_int_t)p->snd.timeouts);

	json_object_set_new(o, "position",
			    p->has_pos ? json_pack("{s:f,s:f,s:f,s:f}", "x", p->pos[0], "y",
						   p->pos[1], "z", p->pos[2], "e", p->pos[3])
				       : json_null());
	if (p->job.id) {
		mk_job *j = &p->job;
		double pct =
		    j->size > 0 ? 100.0 * (double)p->snd.acked.offset / (double)j->size : 0;
		int64_t end = p->state == ST_PAUSED ? j->paused_at : mono;
		double elapsed = (double)(end - j->started) / 1e9 - j->paused_s;
		double eta = -1;
		if (pct >= 1)
			eta = elapsed * (100 - pct) / pct;
		else if (j->est_s > 0)
			eta = j->est_s - elapsed;
		json_object_set_new(
		    o, "job",
		    json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "id", (json_int_t)j->id,
			      "name", j->name, "line", (json_int_t)p->snd.acked.file_line, "lines",
			      (json_int_t)j->lines, "offset", (json_int_t)p->snd.acked.offset,
			      "size", (json_int_t)j->size, "percent", pct, "elapsed_s", elapsed,
			      "eta_s", eta < 0 ? -1 : eta));
	} else {
		json_object_set_new(o, "job", json_null());
	}
	return o;
}

/* Publish the status now and schedule the next one. */
static void publish_status(lb_device *dev, mk_priv *p, const lb_now *now)
{
	json_t *o = status_json(p, now->mono);

	lb_stream_publish_json(dev, p->s_status, now->real, o);
	json_decref(o);
	p->next_status =
	    now->mono +
	    (p->state == ST_IDLE || p->state == ST_HALTED ? IDLE_STATUS_NS : STATUS_EVERY_NS);
}

/* Change state: the status goes out at once and the description follows. */
static void set_state(lb_device *dev, mk_priv *p, mk_state st, const lb_now *now)
{
	if (p->state == st)
		return;
	p->state = st;
	publish_status(dev, p, now);
	lb_device_changed(dev);
}

/*
 * Record the last acknowledged position in the job's progress file when it moved: one pwrite,
 * in the kernel once it returns, so a kill -9 of the bridge loses nothing (the queue reads it at
 * start-up). A failed write is logged once and the file dropped (progress events still go).
 */
static void progress_save(lb_device *dev, mk_priv *p)
{
	mk_job *j = &p->job;

	if (!j->id || !j->has_progress_fd ||
	    (p->snd.acked.file_line == j->saved_line && p->snd.acked.offset == j->saved_offset))
		return;
	if (lb_progress_write(j->progress_fd, p->snd.acked.file_line, p->snd.acked.offset) < 0) {
		lb_warn("printer %s: job %lld: cannot record progress: %s", lb_device_id(dev),
			j->id, strerror(errno));
		close(j->progress_fd);
		j->has_progress_fd = 0;
		return;
	}
	j->saved_line = p->snd.acked.file_line;
	j->saved_offset = p->snd.acked.offset;
}

/* Close the job's file and forget it. */
static void job_close(mk_priv *p)
{
	if (p->job.f)
		fclose(p->job.f);
	if (p->job.has_progress_fd)
		close(p->job.progress_fd);
	memset(&p->job, 0, sizeof p->job);
	p->pend_len = 0;
}

/* End the job with a final state (done, failed, cancelled, interrupted). */
static void job_end(lb_device *dev, mk_priv *p, const char *state, const char *error,
		    const lb_now *now)
{
	if (!p->job.id)
		return;
	lb_info("printer %s: job %lld %s%s%s", lb_device_id(dev), p->job.id, state,
		error ? ": " : "", error ? error : "");
	job_event(dev, p, state, error);
	job_close(p);
	if (p->state != ST_HALTED)
		set_state(dev, p, ST_IDLE, now);
	else
		publish_status(dev, p, now);
	lb_device_changed(dev);
}

/* Take temperatures from a reply. */
static void take_temps(mk_priv *p, const marlin_reply *r)
{
	for (int i = 0; i < r->ntemps; i++) {
		const marlin_temp *t = &r->temps[i];
		if (strcmp(t->name, "T") == 0 || strcmp(t->name, "T0") == 0) {
			p->hotend = t->actual;
			if (t->target >= 0)
				p->hotend_target = t->target;
		} else if (strcmp(t->name, "B") == 0) {
			p->bed = t->actual;
			if (t->target >= 0)
				p->bed_target = t->target;
		}
	}
}

/* Publish the temperatures as numeric streams. */
static void publish_temps(lb_device *dev, mk_priv *p, const lb_now *now)
{
	float h = (float)p->hotend, b = (float)p->bed;

	lb_stream_publish(dev, p->s_hotend, now->mono, now->real, &h, 1);
	lb_stream_publish(dev, p->s_bed, now->mono, now->real, &b, 1);
}

/* Append bytes to the output buffer (written once per run). */
static void out_add(mk_priv *p, const char *buf, int n)
{
	if (n > 0 && p->nout + (size_t)n <= sizeof p->out) {
		memcpy(p->out + p->nout, buf, (size_t)n);
		p->nout += (size_t)n;
	}
}

/*
 * Write what is buffered; 0 or LB_EGONE. Paced (a serial link at p->baud): only what the link
 * carries in the next PACE_AHEAD_NS is written; the rest waits here, where an emergency stop can
 * still drop it, instead of in the port's buffers ahead of M112. *next: when to write more (or
 * -1).
 */
static int flush_out(mk_priv *p, int64_t now, int64_t *next)
{
	size_t n = p->nout;
	int rc = 0;

	*next = -1;
	if (!n)
		return 0;
	if (p->pace) {
		int64_t busy = p->wire_at > now ? p->wire_at - now : 0;
		int64_t room = PACE_AHEAD_NS - busy;
		size_t allowed = room > 0 ? (size_t)(room * p->baud / 10 / 1000000000LL) : 0;
		if (allowed < n) {
			/* whole lines only: a line cut here could be finished after a board reset
			 * or an emergency stop, and run as a bare command */
			n = allowed;
			while (n > 0 && p->out[n - 1] != '\n')
				n--;
			if (n == 0 &&
			    busy == 0) { /* a line longer than the room: the wire is idle */
				const char *nl = memchr(p->out, '\n', p->nout);
				n = nl ? (size_t)(nl - p->out) + 1 : p->nout;
			}
		}
		if (n) {
			p->wire_at = now + busy + (int64_t)n * 10 * 1000000000LL / p->baud;
			rc = lb_serial_write(p->port, p->out, n, 1000);
			memmove(p->out, p->out + n, p->nout - n);
			p->nout -= n;
		}
		if (p->nout) {
			/* when the next line fits in the room */
			const char *nl = memchr(p->out, '\n', p->nout);
			size_t len = nl ? (size_t)(nl - p->out) + 1 : p->nout;
			int64_t line_ns = (int64_t)len * 10 * 1000000000LL / p->baud;
			*next =
			    p->wire_at - (line_ns < PACE_AHEAD_NS ? PACE_AHEAD_NS - line_ns : 0);
			if (*next <= now)
				*next = now + 1;
		}
		return rc == LB_EGONE ? LB_EGONE : 0;
	}
	rc = lb_serial_write(p->port, p->out, n, 1000);
	p->nout = 0;
	return rc == LB_EGONE ? LB_EGONE : 0;
}

/* ---------------------------------------------------------------- connecting */

/* Push one command now, outside the job (open only). */
static int send_now(mk_priv *p, const char *cmd, int64_t mono)
{
	char frame[GCODE_FRAME_MAX];
	mk_tag tag = {-1, 0, GCODE_CLASS_QUICK};
	int n = mk_sender_push(&p->snd, cmd, strlen(cmd), &tag, mono, frame, sizeof frame);

	return n > 0 ? lb_serial_write(p->port, frame, (size_t)n, 1000) : LB_EFAIL;
}

/*
 * The next complete line from the firmware (1, *line and *len inside p->split), from the bytes
 * already read or, if there are none, from the port; 0 when nothing more is there now,
 * LB_EGONE when the port went away. Bytes read beyond the line wait in p->rx for the next call.
 */
static int next_line(mk_priv *p, const char **line, size_t *len)
{
	for (;;) {
		ssize_t n;
		while (p->rx_off < p->rx_len) {
			size_t used;
			int got = marlin_next_line(&p->split, p->rx + p->rx_off,
						   p->rx_len - p->rx_off, &used, line, len);
			p->rx_off += used;
			if (got)
				return 1;
		}
		p->rx_off = p->rx_len = 0;
		n = lb_serial_read(p->port, p->rx, sizeof p->rx);
		if (n <= 0)
			return n < 0 ? LB_EGONE : 0;
		p->rx_len = (size_t)n;
	}
}

/* The next reply parsed into r, waiting until the deadline (monotonic ns): 1, 0 at the deadline,
 * LB_EGONE. */
static int wait_reply(mk_priv *p, int64_t deadline, marlin_reply *r)
{
	for (;;) {
		const char *line;
		size_t len;
		struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
		int64_t now;
		int got = next_line(p, &line, &len);
		if (got) {
			if (got == 1)
				marlin_parse(line, len, r);
			return got;
		}
		now = lb_now_read().mono;
		if (now >= deadline)
			return 0;
		poll(&pf, 1, (int)((deadline - now) / 1000000) + 1);
	}
}

/* Read replies until an ok (1), "start" (2: the board restarted), a fatal error (-1), or the
 * deadline (0); firmware name and capabilities are taken on the way. */
static int wait_ok(mk_priv *p, int64_t deadline)
{
	marlin_reply r;
	char why[8];
	int got;

	while ((got = wait_reply(p, deadline, &r)) == 1) {
		if (r.kind == MARLIN_FIRMWARE) {
			snprintf(p->firmware, sizeof p->firmware, "%s", r.text);
		} else if (r.kind == MARLIN_CAP) {
			if (strcmp(r.text, "AUTOREPORT_TEMP") == 0)
				p->autoreport = r.cap_value;
			else if (strcmp(r.text, "EMERGENCY_PARSER") == 0)
				p->emergency_parser = r.cap_value;
		} else if (r.kind == MARLIN_OK) {
			take_temps(p, &r);
			if (r.buffer >= 0) {
				p->advanced_ok = 1; /* "ok N.. P.. B..": it says its free slots */
				if (r.buffer + 1 > p->max_free_slots)
					p->max_free_slots = r.buffer + 1;
			}
			mk_sender_on_reply(&p->snd, &r, lb_now_read().mono, why, sizeof why);
			return 1;
		} else if (r.kind == MARLIN_START) {
			return 2; /* the board (re)started: what was sent is lost */
		} else if (r.kind == MARLIN_RESEND || r.kind == MARLIN_ERROR ||
			   r.kind == MARLIN_FATAL) {
			snprintf(p->last_error, sizeof p->last_error, "%s", r.text);
			if (r.kind == MARLIN_FATAL)
				return -1;
		}
	}
	return got == 0 ? 0 : -1;
}

/* Wait until the deadline for "start" (a board that resets when its port opens); 1 when it came,
 * 0 otherwise. Its boot chatter that follows is left to the next reads, which skip it. */
static int wait_start(mk_priv *p, int64_t deadline)
{
	marlin_reply r;

	while (wait_reply(p, deadline, &r) == 1)
		if (r.kind == MARLIN_START)
			return 1;
	return 0;
}

/*
 * The handshake (see printer.h): line numbers reset with M110, answered. A board that resets when
 * its port opens says "start" after its bootloader, and loses what came before: M110 goes again
 * then, and every second until CONNECT_NS. The firmware's name and capabilities (M115) are asked
 * next but read as the device runs, so that opening takes one round trip. 0 or negative with err
 * set.
 */
int mk_connect(lb_device *dev, mk_priv *p, const lb_now *now, lb_error *err)
{
	const char *path =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path"));
	int64_t deadline = lb_now_read().mono + CONNECT_NS;
	int r = 0;

	wait_start(p, lb_now_read().mono + START_WAIT_NS);
	while (r != 1) {
		int64_t t = lb_now_read().mono; /* the handshake's own clock: see printer.h */
		if (t >= deadline)
			return lb_error_set(
			    err, LB_ERR_DEVICE,
			    "%s: no answer to M110 (line numbers) within %lld s: %s", path,
			    CONNECT_NS / 1000000000LL,
			    p->last_error[0]
				? p->last_error
				: "check the baud rate and that the printer runs Marlin "
				  "or RepRap firmware");
		mk_sender_reset(&p->snd, 0, 1, 0, p->quiet_ns);
		if (send_now(p, "M110 N0", t) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "%s: cannot write to the port",
					    path);
		r = wait_ok(p, t + 1000000000LL < deadline ? t + 1000000000LL : deadline);
	}
	mk_sender_reset(&p->snd, p->snd.next_n,
			p->inflight_cfg > 0			  ? p->inflight_cfg
			: p->advanced_ok && p->max_free_slots > 0 ? p->max_free_slots
								  : 4,
			p->rx_buffer, p->quiet_ns);
	own_add(p, "M115"); /* firmware and capabilities: see on_line */
	/* from here on the time passed in counts (the device thread's, or a test's): what the
	 * handshake heard on the real clock is taken as heard at the open */
	p->snd.last_rx = p->snd.last_tx = now->mono;
	p->next_status = now->mono;
	p->next_poll = now->mono + POLL_NS;
	p->next_pos = now->mono;
	return 0;
}

/* ---------------------------------------------------------------- streaming */

/* Read the next command of the job's file into p->pend (skipping blanks and comments); 1, 0 at
 * the end of the file, or -1 on a line the printer cannot take (with why). */
static int job_next(mk_priv *p, char *why, size_t cap)
{
	char raw[1024];

	while (fgets(raw, sizeof raw, p->job.f)) {
		size_t len = strlen(raw);
		int n;
		p->job.line++;
		p->job.offset += (long long)len;
		if (len == sizeof raw - 1 && raw[len - 1] != '\n') {
			snprintf(why, cap, "line %ld of the file is too long", p->job.line);
			return -1;
		}
		n = gcode_clean(raw, len, p->pend, sizeof p->pend);
		if (n < 0) {
			snprintf(why, cap,
				 "line %ld of the file is too long or holds control bytes",
				 p->job.line);
			return -1;
		}
		if (n == 0)
			continue;
		n = gcode_strip_frame(p->pend); /* the file's own numbering: the sender's goes on */
		if (n < 0) {
			snprintf(why, cap,
				 "line %ld of the file: its line number and checksum do not match",
				 p->job.line);
			return -1;
		}
		{
			gcode_code code;
			if (gcode_code_parse(p->pend, &code) == 0 && code.letter == 'M' &&
			    code.number == 110)
				continue; /* the file's numbering: the link's is the bridge's */
			p->pend_tag.file_line = p->job.line;
			p->pend_tag.offset = p->job.offset;
			p->pend_tag.cls = gcode_code_parse(p->pend, &code) == 0
					      ? gcode_classify(&code)
					      : GCODE_CLASS_QUICK;
		}
		p->pend_len = n;
		return 1;
	}
	if (ferror(p->job.f)) {
		snprintf(why, cap, "cannot read the file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Put on the wire what the window allows: resends first, then the driver's own commands, then
 * the job's lines. */
static void fill(lb_device *dev, mk_priv *p, const lb_now *now)
{
	char frame[GCODE_FRAME_MAX], why[160];
	int n;

	while ((n = mk_sender_resend_next(&p->snd, now->mono, frame, sizeof frame)) > 0)
		out_add(p, frame, n);
	if (p->m110_pending == 2) {
		if (mk_sender_inflight(&p->snd) > 0)
			return; /* Marlin renumbers when M110 runs: nothing more until its ok */
		p->m110_pending = 0;
	}
	while (p->own_count &&
	       mk_sender_can_push(&p->snd, strlen(p->own[p->own_head]), now->mono)) {
		char *cmd = p->own[p->own_head];
		gcode_code code;
		mk_tag tag = {-1, 0, GCODE_CLASS_QUICK};
		if (gcode_code_parse(cmd, &code) == 0)
			tag.cls = gcode_classify(&code);
		n = mk_sender_push(&p->snd, cmd, strlen(cmd), &tag, now->mono, frame, sizeof frame);
		out_add(p, frame, n);
		p->own_head = (p->own_head + 1) % OWN_MAX;
		p->own_count--;
		if (code.letter == 'M' && code.number == 110) {
			p->m110_pending = 2;
			return;
		}
	}
	if (p->state != ST_PRINTING || !p->job.id || p->own_count)
		return;
	while (p->nout + GCODE_FRAME_MAX < sizeof p->out) {
		if (!p->pend_len && !p->job.eof) {
			int r = job_next(p, why, sizeof why);
			if (r < 0) {
				job_end(dev, p, "failed", why, now);
				return;
			}
			if (r == 0)
				p->job.eof = 1;
		}
		if (!p->pend_len || !mk_sender_can_push(&p->snd, (size_t)p->pend_len, now->mono))
			break;
		n = mk_sender_push(&p->snd, p->pend, (size_t)p->pend_len, &p->pend_tag, now->mono,
				   frame, sizeof frame);
		if (n < 0) {
			snprintf(why, sizeof why, "line %ld of the file is too long to send",
				 p->pend_tag.file_line);
			job_end(dev, p, "failed", why, now);
			return;
		}
		out_add(p, frame, n);
		p->pend_len = 0;
	}
}

/* Everything sent has been acknowledged. */
static int drained(const mk_priv *p)
{
	return mk_sender_inflight(&p->snd) == 0 && p->snd.send_n == p->snd.next_n && !p->own_count;
}

/* The firmware stopped: the job fails with its message. */
static void halted(lb_device *dev, mk_priv *p, const char *why, const lb_now *now)
{
	snprintf(p->message, sizeof p->message, "%s", why);
	lb_warn("printer %s halted: %s", lb_device_id(dev), why);
	p->own_count = 0;
	set_state(dev, p, ST_HALTED, now);
	job_end(dev, p, "failed", why, now);
}

/* Handle one line from the firmware. */
static void on_line(lb_device *dev, mk_priv *p, const char *line, size_t len, const lb_now *now)
{
	marlin_reply r;
	char why[200] = "";
	mk_event ev;

	marlin_parse(line, len, &r);
	if (p->state == ST_HALTED && r.kind != MARLIN_START) {
		if (r.kind != MARLIN_OK && r.kind != MARLIN_TEMP)
			console(dev, p, "recv", r.text, now->real);
		return;
	}
	switch (r.kind) {
	case MARLIN_OK:
	case MARLIN_TEMP:
		take_temps(p, &r);
		if (r.ntemps)
			publish_temps(dev, p, now);
		break;
	case MARLIN_START:
		if (p->job.id) {
			snprintf(why, sizeof why,
				 "the printer restarted (reset) during the print, after line %ld",
				 p->snd.acked.file_line);
			job_end(dev, p, "interrupted", why, now);
		}
		snprintf(p->message, sizeof p->message, "the printer restarted");
		p->nout =
		    0; /* lines not yet written were numbered for the board before its reset */
		/* numbering starts again */
		mk_sender_reset(&p->snd, 0, p->snd.window_lines, p->rx_buffer, p->quiet_ns);
		/* lines sent before the reset may still be arriving: let the board refuse them
		 * before M110 goes, so they are not taken for answers to the new numbering */
		p->snd.hold_until = now->mono + p->quiet_ns;
		p->own_count = 0;
		own_add(p, "M110 N0");
		own_add(p, "M115");
		set_state(dev, p, ST_IDLE, now);
		console(dev, p, "recv", "start", now->real);
		return;
	case MARLIN_ERROR:
		snprintf(p->last_error, sizeof p->last_error, "%s", r.text);
		console(dev, p, "recv", r.text, now->real);
		return;
	case MARLIN_FATAL:
		console(dev, p, "recv", r.text, now->real);
		halted(dev, p, r.text, now);
		return;
	case MARLIN_POSITION:
		memcpy(p->pos, r.pos, sizeof p->pos);
		p->has_pos = 1;
		break;
	case MARLIN_FIRMWARE:
		snprintf(p->firmware, sizeof p->firmware, "%s", r.text);
		lb_info("printer %s: %s", lb_device_id(dev), p->firmware);
		lb_device_changed(dev);
		console(dev, p, "recv", line, now->real);
		break;
	case MARLIN_CAP:
		if (strcmp(r.text, "AUTOREPORT_TEMP") == 0 && r.cap_value && !p->autoreport) {
			p->autoreport = 1; /* temperatures every second, unasked */
			own_add(p, "M155 S1");
			lb_device_changed(dev); /* the description shows it at once */
		} else if (strcmp(r.text, "EMERGENCY_PARSER") == 0) {
			p->emergency_parser = r.cap_value;
		}
		console(dev, p, "recv", line, now->real);
		break;
	case MARLIN_OTHER:
	case MARLIN_UNKNOWN_COMMAND:
	case MARLIN_BUSY:
	case MARLIN_WAIT:
	case MARLIN_RESEND:
		if (r.kind != MARLIN_WAIT && r.kind != MARLIN_RESEND)
			console(dev, p, "recv", r.kind == MARLIN_OTHER ? r.text : line, now->real);
		break;
	}
	ev = mk_sender_on_reply(&p->snd, &r, now->mono, why, sizeof why);
	progress_save(dev, p);
	if (ev == MK_ACK && r.buffer >= 0 && p->inflight_cfg == 0 && p->advanced_ok &&
	    r.buffer + 1 > p->max_free_slots) {
		/* the firmware has more command slots than thought */
		p->max_free_slots = r.buffer + 1;
		if (p->max_free_slots <= MK_WINDOW_MAX)
			p->snd.window_lines = p->max_free_slots;
	}
	if (ev == MK_REWIND)
		lb_dbg("printer %s: resend from line %ld (%s)", lb_device_id(dev), r.line,
		       p->last_error);
	if (ev == MK_FAIL) {
		if (strstr(why, "rejected") && p->last_error[0]) {
			size_t l = strlen(why);
			snprintf(why + l, sizeof why - l, " (%s)", p->last_error);
		}
		snprintf(p->message, sizeof p->message, "%.*s", (int)sizeof p->message - 1, why);
		p->snd.send_n = p->snd.next_n; /* nothing more to resend */
		job_end(dev, p, "failed", why, now);
	}
}

/* Read and handle what the firmware printed (at most 64 lines, so that a chatty board cannot
 * hold the thread); 0 or LB_EGONE. */
static int read_port(lb_device *dev, mk_priv *p, const lb_now *now)
{
	const char *line;
	size_t len;
	int got = 0;

	for (int k = 0; k < 64 && (got = next_line(p, &line, &len)) == 1; k++)
		on_line(dev, p, line, len, now);
	return got == LB_EGONE ? LB_EGONE : 0;
}

/* Pausing and cancelling wait for the lines in flight, then send their G-code. */
static void advance_transitions(lb_device *dev, mk_priv *p, const lb_now *now)
{
	if (p->state == ST_PAUSING && drained(p)) {
		own_add_list(p, p->pause_gcode);
		p->job.paused_at = now->mono;
		set_state(dev, p, ST_PAUSED, now);
		job_event(dev, p, "paused", NULL);
	} else if (p->state == ST_CANCELLING && drained(p)) {
		own_add_list(p, p->cancel_gcode);
		job_end(dev, p, "cancelled", NULL, now);
	} else if (p->state == ST_CANCELLING && p->emergency_parser &&
		   now->mono - p->m108_at >= 1000000000LL) {
		/* a second heating wait already in the firmware's buffer (a slicer's M190 then
		 * M109) would hold the cancel again: M108 each second until the lines drain */
		lb_serial_write(p->port, "M108\n", 5, 100);
		p->m108_at = now->mono;
	} else if (p->state == ST_PRINTING && p->job.eof && !p->pend_len && drained(p)) {
		job_end(dev, p, "done", NULL, now);
	}
}

int mk_printer_run(lb_device *dev, mk_priv *p, const lb_now *now, const zmq_pollitem_t *items,
		   int nitems, int64_t *deadline)
{
	int64_t t, t_out;

	/* a wake-up for the pacing alone needs no read */
	if ((nitems < 1 || (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) ||
	     p->rx_off < p->rx_len) &&
	    read_port(dev, p, now) == LB_EGONE)
		return LB_EGONE;
	if (p->state != ST_HALTED) {
		if (mk_sender_check_timeout(&p->snd, p->timeouts, now->mono, &t)) {
			lb_warn("printer %s: no answer in time, assuming a lost ok",
				lb_device_id(dev));
			progress_save(dev, p);
		}
		if (now->mono >= p->next_pos) {
			if (p->own_count < 2)
				own_add(p, "M114");
			p->next_pos = now->mono + POSITION_NS;
		}
		if (!p->autoreport && now->mono >= p->next_poll) {
			if (p->own_count == 0)
				own_add(p, "M105");
			p->next_poll = now->mono + POLL_NS;
			p->next_pos = now->mono;
		}
		fill(dev, p, now);
		advance_transitions(dev, p, now);
		fill(dev, p, now);
	}
	if (flush_out(p, now->mono, &t_out) == LB_EGONE)
		return LB_EGONE;
	if (p->job.id && now->mono - p->job.last_progress >= PROGRESS_EVERY_NS) {
		job_event(dev, p, NULL, NULL);
		p->job.last_progress = now->mono;
	}
	if (now->mono >= p->next_status)
		publish_status(dev, p, now);
	/* next wake-up: the status, the poll, the sender's timeouts */
	*deadline = p->next_status;
	if (t_out >= 0 && t_out < *deadline)
		*deadline = t_out;
	if (p->rx_off < p->rx_len)
		*deadline = now->mono; /* lines read but not handled yet */
	if (!p->autoreport && p->next_poll < *deadline)
		*deadline = p->next_poll;
	if (p->state != ST_HALTED && p->next_pos < *deadline)
		*deadline = p->next_pos;
	mk_sender_check_timeout(&p->snd, p->timeouts, now->mono, &t);
	if (t >= 0 && t < *deadline)
		*deadline = t;
	return 0;
}

/* ---------------------------------------------------------------- actions */

/*
 * Emergency stop: M112 on the wire at once (unless m112_sent: the halt hook wrote it from the
 * main thread already), ahead of anything queued, then heaters off, the job failed, the printer
 * halted. 0, or LB_EFAIL with err set when M112 could not be written (the rest is done).
 */
static int estop_finish(lb_device *dev, mk_priv *p, int m112_sent, const lb_now *now, lb_error *err)
{
	static const char stop[] = "\nM112\n"; /* after a line the pacing may have cut */
	static const char heaters[] = "M104 S0\nM140 S0\n";
	int rc = 0;

	p->nout = 0;
	if (!p->port) /* reset closed it: the printer is restarting anyway */
		rc = m112_sent ? 0 : lb_error_set(err, LB_ERR_DEVICE, "the printer is resetting");
	else if (!m112_sent && lb_serial_write(p->port, stop, sizeof stop - 1, 100) < 0)
		rc = lb_error_set(err, LB_ERR_DEVICE, "cannot write M112 to the printer");
	if (p->port)
		lb_serial_write(p->port, heaters, sizeof heaters - 1, 100);
	lb_warn("printer %s: EMERGENCY STOP%s", lb_device_id(dev),
		m112_sent ? " (M112 written by the halt)" : "");
	p->own_count = 0;
	mk_sender_reset(&p->snd, p->snd.next_n, p->snd.window_lines, p->rx_buffer, p->quiet_ns);
	snprintf(p->message, sizeof p->message, "emergency stop (M112): reset the printer");
	p->state = ST_HALTED;
	job_end(dev, p, "failed", "emergency stop", now);
	publish_status(dev, p, now);
	return rc;
}

/* The estop action (device.call): the whole emergency stop in the device thread. */
static int estop(lb_device *dev, mk_priv *p, lb_error *err)
{
	lb_now now = lb_now_read();

	return estop_finish(dev, p, 0, &now, err);
}

void mk_printer_halted(lb_device *dev, mk_priv *p, int m112_sent, const lb_now *now)
{
	lb_error err = {0};

	if (estop_finish(dev, p, m112_sent, now, &err) < 0)
		lb_err("printer %s: %s", lb_device_id(dev), err.message);
}

/* print {job, path, progress, name, size, lines, time_s}: start streaming a file, recording each
 * acknowledged position in the progress file when given. */
static int start_print(lb_device *dev, mk_priv *p, const json_t *args, lb_error *err)
{
	const char *path = json_string_value(json_object_get(args, "path"));
	const char *name = json_string_value(json_object_get(args, "name"));
	const char *progress = json_string_value(json_object_get(args, "progress"));
	json_int_t id = json_integer_value(json_object_get(args, "job"));
	lb_now now = lb_now_read();

	if (p->state != ST_IDLE || p->job.id)
		return lb_error_set(err, LB_ERR_DEVICE, "printer %s is %s", lb_device_id(dev),
				    state_names[p->state]);
	if (!path || id <= 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "print needs job and path");
	memset(&p->job, 0, sizeof p->job);
	p->job.f = fopen(path, "r");
	if (!p->job.f)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot open %s: %s", path,
				    strerror(errno));
	p->job.id = id;
	snprintf(p->job.name, sizeof p->job.name, "%s", name ? name : "");
	p->job.size = json_integer_value(json_object_get(args, "size"));
	p->job.lines = (long)json_integer_value(json_object_get(args, "lines"));
	p->job.est_s = json_is_number(json_object_get(args, "time_s"))
			   ? json_number_value(json_object_get(args, "time_s"))
			   : -1;
	p->job.started = p->job.last_progress = now.mono;
	p->snd.acked = (mk_tag){0, 0, GCODE_CLASS_QUICK};
	if (progress) {
		/* the queue's progress file: every acknowledged line goes there */
		int fd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd < 0 || lb_progress_write(fd, 0, 0) < 0) {
			lb_warn("printer %s: job %lld: cannot record progress in %s: %s",
				lb_device_id(dev), (long long)id, progress, strerror(errno));
			if (fd >= 0)
				close(fd);
		} else {
			p->job.progress_fd = fd;
			p->job.has_progress_fd = 1;
		}
	}
	p->message[0] = '\0';
	lb_info("printer %s: printing job %lld (%s)", lb_device_id(dev), (long long)id,
		p->job.name);
	set_state(dev, p, ST_PRINTING, &now);
	job_event(dev, p, "printing", NULL);
	return 0;
}

/* gcode {lines}: commands typed by a person (console), sent between the job's lines. */
static int manual_gcode(lb_device *dev, mk_priv *p, const json_t *args, lb_error *err)
{
	const char *lines = json_string_value(json_object_get(args, "lines"));
	lb_now now = lb_now_read();
	char buf[1024], *save = NULL;
	int n = 0;

	if (!lines)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "gcode needs lines (a string)");
	if (p->state == ST_HALTED)
		return lb_error_set(err, LB_ERR_DEVICE, "the printer is halted (%s): reset it",
				    p->message);
	snprintf(buf, sizeof buf, "%s", lines);
	/* the whole batch or nothing: every line obeys the safety policy first */
	for (char *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		char clean[GCODE_CMD_MAX + 1], why[160];
		int len = gcode_clean(tok, strlen(tok), clean, sizeof clean);
		if (len < 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "a command is too long or holds control bytes");
		if (len > 0 && gcode_policy_check(&p->policy, clean, why, sizeof why) < 0)
			return lb_error_set(err, LB_ERR_FORBIDDEN, "%s%s%s", why,
					    p->policy_error[0] ? ": " : "", p->policy_error);
	}
	snprintf(buf, sizeof buf, "%s", lines);
	save = NULL;
	for (char *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		if (own_add(p, tok) == 0) {
			console(dev, p, "send", tok, now.real);
			n++;
		}
	}
	(void)dev;
	return n ? 0 : lb_error_set(err, LB_ERR_INVALID_PARAMS, "no command to send");
}

int mk_printer_call(lb_device *dev, mk_priv *p, const char *action, const json_t *args,
		    lb_error *err)
{
	lb_now now = lb_now_read();

	if (strcmp(action, "estop") == 0)
		return estop(dev, p, err);
	if (strcmp(action, "print") == 0)
		return start_print(dev, p, args, err);
	if (strcmp(action, "gcode") == 0)
		return manual_gcode(dev, p, args, err);
	if (strcmp(action, "pause") == 0) {
		if (p->state != ST_PRINTING)
			return lb_error_set(err, LB_ERR_DEVICE,
					    "nothing to pause: the printer is %s",
					    state_names[p->state]);
		set_state(dev, p, ST_PAUSING, &now);
		return 0;
	}
	if (strcmp(action, "resume") == 0) {
		if (p->state != ST_PAUSED)
			return lb_error_set(err, LB_ERR_DEVICE, "not paused: the printer is %s",
					    state_names[p->state]);
		own_add_list(p, p->resume_gcode);
		p->job.paused_s += (double)(now.mono - p->job.paused_at) / 1e9;
		set_state(dev, p, ST_PRINTING, &now);
		job_event(dev, p, "printing", NULL);
		return 0;
	}
	if (strcmp(action, "cancel") == 0) {
		if (!p->job.id)
			return lb_error_set(err, LB_ERR_DEVICE, "no job on printer %s",
					    lb_device_id(dev));
		/* a heating or user wait (M109, M190, M0) would hold the cancel: M108 breaks it
		 * (emergency parser) */
		if (p->emergency_parser)
			lb_serial_write(p->port, "M108\n", 5, 100);
		p->m108_at = now.mono;
		set_state(dev, p, ST_CANCELLING, &now);
		return 0;
	}
	if (strcmp(action, "reset") == 0) {
		/* reopen the port: boards reset when it opens; the bridge finds it again */
		lb_serial_pulse_dtr(p->port);
		p->state = ST_HALTED;
		snprintf(p->message, sizeof p->message, "resetting");
		lb_serial_destroy(&p->port);
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "printer action '%s' unknown (print, pause, resume, cancel, estop, "
			    "gcode, reset)",
			    action);
}

json_t *mk_printer_config(lb_device *dev, mk_priv *p)
{
	json_t *st = status_json(p, lb_now_read().mono);

	json_object_set_new(st, "port",
			    json_string(json_string_value(
				json_object_get(lb_device_get_spec(dev)->params, "path"))));
	json_object_set_new(st, "window_lines", json_integer(p->snd.window_lines));
	json_object_set_new(st, "window_bytes", json_integer(p->rx_buffer));
	json_object_set_new(st, "autoreport", json_boolean(p->autoreport));
	json_object_set_new(st, "advanced_ok", json_boolean(p->advanced_ok));
	json_object_set_new(st, "pacing", json_string(p->pacing));
	return st;
}

void mk_printer_abandon(lb_device *dev, mk_priv *p)
{
	if (p->job.id) {
		/* the port is going away with the job unfinished */
		job_event(dev, p, "interrupted", "the printer was disconnected during the print");
		job_close(p);
	}
}
