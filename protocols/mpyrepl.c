/* mpyrepl.c - MicroPython raw REPL and raw-paste: a pure state machine fed bytes and time. */
#include "mpyrepl.h"

#include <string.h>

/* The banner with its prompt: what entering and a soft reset end with. */
static const char mp_banner[] = MPY_BANNER ">";
#define MP_BANNER_LEN (sizeof mp_banner - 1)
/* "MPY: soft reboot\r\n" on current ports, "soft reboot\r\n" on older ones: the common tail. */
static const char mp_reboot[] = "soft reboot\r\n";
#define MP_REBOOT_LEN (sizeof mp_reboot - 1)
/* Bytes an old firmware may print before its banner, in answer to "\x05A\x01". */
#define MP_SKIP_MAX 256

mpy_config mpy_config_default(void)
{
	mpy_config c = {
	    .enter_retry_ms = 500,
	    .enter_timeout_ms = 10000,
	    .settle_ms = 100,
	    .reply_ms = 2000,
	    .credit_ms = 5000,
	    .output_ms = 0,
	    .reboot_ms = 10000,
	    .raw_chunk = 256,
	    .raw_pace_ms = 10,
	    .use_raw_paste = 1,
	};
	return c;
}

/* v clamped to [lo, hi]. */
static uint32_t mp_clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void mpy_init(mpy_repl *m, const mpy_config *cfg)
{
	memset(m, 0, sizeof *m);
	m->cfg = cfg ? *cfg : mpy_config_default();
	m->cfg.enter_retry_ms = mp_clamp(m->cfg.enter_retry_ms, 1, 3600000);
	m->cfg.enter_timeout_ms = mp_clamp(m->cfg.enter_timeout_ms, 1, 3600000);
	m->cfg.settle_ms = mp_clamp(m->cfg.settle_ms, 1, 3600000);
	m->cfg.reply_ms = mp_clamp(m->cfg.reply_ms, 1, 3600000);
	m->cfg.credit_ms = mp_clamp(m->cfg.credit_ms, 1, 3600000);
	m->cfg.output_ms = mp_clamp(m->cfg.output_ms, 0, 3600000);
	m->cfg.reboot_ms = mp_clamp(m->cfg.reboot_ms, 1, 3600000);
	m->cfg.raw_chunk = mp_clamp(m->cfg.raw_chunk, 1, 65536);
	m->cfg.raw_pace_ms = mp_clamp(m->cfg.raw_pace_ms, 0, 60000);
	m->cfg.use_raw_paste = !!m->cfg.use_raw_paste;
	m->state = MPY_S_CLOSED;
	m->paste = -1;
	m->deadline = INT64_MAX;
	m->resend_at = INT64_MAX;
	m->pace_at = INT64_MIN;
}

/* now + ms without overflow. */
static int64_t mp_after(int64_t now, uint32_t ms)
{
	return now > INT64_MAX - (int64_t)ms ? INT64_MAX : now + (int64_t)ms;
}

/* Append n control bytes to the tx queue; dropped (returns -1) when they do not fit. */
static int mp_queue(mpy_repl *m, const char *b, size_t n)
{
	if (m->ntx + n > sizeof m->tx)
		return -1;
	memcpy(m->tx + m->ntx, b, n);
	m->ntx += n;
	return 0;
}

/* Enter state s with a deadline ms from now (0: none). */
static void mp_state(mpy_repl *m, mpy_state s, int64_t now, uint32_t ms)
{
	m->state = s;
	m->error = 0;
	m->deadline = ms ? mp_after(now, ms) : INT64_MAX;
}

/* Drop the program under way. */
static void mp_drop_code(mpy_repl *m)
{
	m->code = NULL;
	m->code_len = m->code_off = 0;
	m->credit = 0;
}

/* Go to MPY_S_FAILED with code; fills *ev with the ERROR event. */
static void mp_fail(mpy_repl *m, int code, mpy_event *ev)
{
	m->state = MPY_S_FAILED;
	m->error = code;
	m->deadline = INT64_MAX;
	mp_drop_code(m);
	ev->type = MPY_EV_ERROR;
	ev->error = code;
}

/*
 * Advance a partial match *st of pat[0..plen) by c (the longest prefix of pat that ends the
 * bytes seen, found by brute force: the patterns are short). Returns 1 when pat completes (and
 * *st goes back to 0), else 0.
 */
static int mp_match(const char *pat, size_t plen, unsigned *st, uint8_t c)
{
	size_t k = *st < plen ? *st : 0;

	if ((uint8_t)pat[k] == c) {
		k++;
	} else {
		size_t cand;
		for (cand = k; cand > 0; cand--)
			if ((uint8_t)pat[cand - 1] == c &&
			    memcmp(pat, pat + k - cand + 1, cand - 1) == 0)
				break;
		k = cand;
	}
	if (k == plen) {
		*st = 0;
		return 1;
	}
	*st = (unsigned)k;
	return 0;
}

int mpy_enter(mpy_repl *m, int64_t now)
{
	m->ntx = 0;
	mp_queue(m, "\r\x03\x03\r\x01", 5);
	mp_drop_code(m);
	m->ctrl_a = 1;
	m->rx_total = 0;
	m->m_banner = m->m_reboot = 0;
	m->error = 0;
	m->pending = MPY_EV_NONE;
	mp_state(m, MPY_S_ENTERING, now, m->cfg.enter_timeout_ms);
	m->enter_end = m->deadline;
	m->resend_at = mp_after(now, m->cfg.enter_retry_ms);
	return 0;
}

int mpy_exec(mpy_repl *m, const uint8_t *code, size_t len, int64_t now)
{
	if (m->state != MPY_S_PROMPT)
		return MPY_E_STATE;
	if (!code || len == 0 || len > MPY_CODE_MAX)
		return MPY_E_INVALID;
	for (size_t i = 0; i < len; i++)
		if (code[i] >= 0x01 && code[i] <= 0x04)
			return MPY_E_INVALID;
	m->code = code;
	m->code_len = len;
	m->code_off = 0;
	m->credit = 0;
	m->stderr_len = 0;
	m->skipped = 0;
	m->got_o = 0;
	m->m_banner = m->m_reboot = 0;
	if (m->cfg.use_raw_paste && m->paste != 0) {
		mp_queue(m,
			 "\x05"
			 "A\x01",
			 3);
		mp_state(m, MPY_S_PASTE_REQ, now, m->cfg.reply_ms);
	} else {
		mp_state(m, MPY_S_RAW_SEND, now, 0);
		m->pace_at = now;
	}
	return 0;
}

size_t mpy_code_chunk(const mpy_repl *m, int64_t now, const uint8_t **p)
{
	size_t left = m->code_len - m->code_off, n = 0;

	*p = NULL;
	if (m->ntx || !m->code || !left)
		return 0;
	if (m->state == MPY_S_PASTE_SEND)
		n = m->credit < left ? m->credit : left;
	else if (m->state == MPY_S_RAW_SEND && now >= m->pace_at)
		n = m->cfg.raw_chunk < left ? m->cfg.raw_chunk : left;
	if (n)
		*p = m->code + m->code_off;
	return n;
}

int mpy_code_sent(mpy_repl *m, size_t n, int64_t now)
{
	const uint8_t *p;

	if (m->state != MPY_S_PASTE_SEND && m->state != MPY_S_RAW_SEND)
		return MPY_E_STATE;
	if (n > mpy_code_chunk(m, now, &p))
		return MPY_E_INVALID;
	if (n == 0)
		return 0;
	m->code_off += n;
	if (m->state == MPY_S_PASTE_SEND) {
		m->credit -= n;
		if (m->credit == 0)
			m->deadline = mp_after(now, m->cfg.credit_ms);
	} else {
		m->pace_at = mp_after(now, m->cfg.raw_pace_ms);
	}
	if (m->code_off == m->code_len) {
		mp_queue(m, "\x04", 1);
		mp_state(m, m->state == MPY_S_PASTE_SEND ? MPY_S_PASTE_END : MPY_S_RAW_OK, now,
			 m->cfg.reply_ms);
	}
	return 0;
}

size_t mpy_tx(const mpy_repl *m, const uint8_t **p)
{
	*p = m->tx;
	return m->ntx;
}

void mpy_tx_done(mpy_repl *m, size_t n)
{
	if (n > m->ntx)
		n = m->ntx;
	memmove(m->tx, m->tx + n, m->ntx - n);
	m->ntx -= n;
}

/* Whether bytes in state s are unframed text. */
static int mp_text_state(mpy_state s)
{
	return s == MPY_S_CLOSED || s == MPY_S_ENTERING || s == MPY_S_SETTLING ||
	       s == MPY_S_PROMPT || s == MPY_S_REBOOTING || s == MPY_S_FRIENDLY ||
	       s == MPY_S_FAILED;
}

/*
 * Text states: scan data[0..len) for the banner (and "soft reboot"); returns the bytes
 * consumed, with *ev a TEXT slice of them and m->pending the event a match raised.
 */
static size_t mp_feed_text(mpy_repl *m, const uint8_t *data, size_t len, int64_t now, mpy_event *ev)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (m->state == MPY_S_ENTERING) {
			m->rx_total++;
			if (mp_match(mp_banner, MP_BANNER_LEN, &m->m_banner, c)) {
				if (m->ctrl_a > 1) {
					int64_t end = m->enter_end;
					mp_state(m, MPY_S_SETTLING, now, m->cfg.settle_ms);
					if (m->deadline > end)
						m->deadline = end;
				} else {
					mp_state(m, MPY_S_PROMPT, now, 0);
					m->pending = MPY_EV_PROMPT;
					i++;
					break;
				}
			}
		} else if (m->state == MPY_S_SETTLING) {
			/* quiet wanted, but a chatty board settles at the entering deadline */
			int64_t quiet = mp_after(now, m->cfg.settle_ms);
			mp_match(mp_banner, MP_BANNER_LEN, &m->m_banner, c);
			m->deadline = quiet < m->enter_end ? quiet : m->enter_end;
		} else if (m->state == MPY_S_REBOOTING) {
			if (mp_match(mp_reboot, MP_REBOOT_LEN, &m->m_reboot, c)) {
				m->m_banner = 0;
				m->pending = MPY_EV_SOFT_REBOOT;
				i++;
				break;
			}
			if (mp_match(mp_banner, MP_BANNER_LEN, &m->m_banner, c)) {
				mp_state(m, MPY_S_PROMPT, now, 0);
				m->pending = MPY_EV_PROMPT;
				i++;
				break;
			}
		}
	}
	ev->type = MPY_EV_TEXT;
	ev->data = data;
	ev->len = i;
	return i;
}

/* STDOUT/STDERR: the run of bytes up to the next "\x04" as one slice event. */
static size_t mp_feed_output(mpy_repl *m, const uint8_t *data, size_t len, int64_t now,
			     mpy_event *ev)
{
	const uint8_t *eot = memchr(data, 0x04, len);
	size_t run = eot ? (size_t)(eot - data) : len;

	if (m->cfg.output_ms)
		m->deadline = mp_after(now, m->cfg.output_ms);
	if (run) {
		ev->type = m->state == MPY_S_STDOUT ? MPY_EV_STDOUT : MPY_EV_STDERR;
		ev->data = data;
		ev->len = run;
		if (m->state == MPY_S_STDERR)
			m->stderr_len += run;
		return run;
	}
	/* data[0] is the "\x04" */
	if (m->state == MPY_S_STDOUT) {
		mp_state(m, MPY_S_STDERR, now, m->cfg.output_ms);
		return 1;
	}
	mp_state(m, MPY_S_END_PROMPT, now, m->cfg.reply_ms);
	mp_drop_code(m);
	ev->type = MPY_EV_DONE;
	ev->error = m->stderr_len > 0;
	return 1;
}

size_t mpy_feed(mpy_repl *m, const uint8_t *data, size_t len, int64_t now, mpy_event *ev)
{
	size_t i = 0;

	memset(ev, 0, sizeof *ev);
	if (m->pending != MPY_EV_NONE) {
		ev->type = m->pending;
		m->pending = MPY_EV_NONE;
		return 0;
	}
	while (i < len) {
		uint8_t c = data[i];

		if (mp_text_state(m->state))
			return i + mp_feed_text(m, data + i, len - i, now, ev);
		switch (m->state) {
		case MPY_S_STDOUT:
		case MPY_S_STDERR:
			i += mp_feed_output(m, data + i, len - i, now, ev);
			if (ev->type != MPY_EV_NONE)
				return i;
			break;
		case MPY_S_PASTE_REQ:
			if (c == 'R') {
				mp_state(m, MPY_S_PASTE_R, now, m->cfg.reply_ms);
				i++;
			} else if (m->paste == 1) {
				/* a board that did raw-paste does not lose it: stray bytes (the end
				 * of an earlier answer, noise), not old firmware */
				mp_fail(m, MPY_E_PROTOCOL, ev);
				return i + 1;
			} else {
				/* old firmware: the banner again; this byte is its start */
				m->m_banner = 0;
				m->skipped = 0;
				mp_state(m, MPY_S_OLD_BANNER, now, m->cfg.reply_ms);
			}
			break;
		case MPY_S_PASTE_R:
			if (c == 0x01) {
				mp_state(m, MPY_S_PASTE_WIN, now, m->cfg.reply_ms);
				m->win_lo = 0;
				m->skipped = 0;
				i++;
				break;
			}
			if (c == 0x00) {
				m->paste = 0;
				mp_state(m, MPY_S_NOPASTE, now, m->cfg.reply_ms);
				i++;
				break;
			}
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		case MPY_S_PASTE_WIN:
			if (m->skipped == 0) {
				m->win_lo = c;
				m->skipped = 1;
				i++;
				break;
			}
			m->window = (uint32_t)m->win_lo | (uint32_t)c << 8;
			if (m->window == 0) {
				mp_fail(m, MPY_E_WINDOW, ev);
				return i + 1;
			}
			m->paste = 1;
			m->credit = m->window;
			if (m->credit > m->code_len - m->code_off)
				m->credit = m->code_len - m->code_off;
			mp_state(m, MPY_S_PASTE_SEND, now, m->cfg.credit_ms);
			ev->type = MPY_EV_PASTE_OK;
			ev->credit = m->window;
			return i + 1;
		case MPY_S_PASTE_SEND:
			if (c == 0x01) {
				size_t left = m->code_len - m->code_off;
				m->credit += m->window;
				if (m->credit > left)
					m->credit = left;
				m->deadline = mp_after(now, m->cfg.credit_ms);
				ev->type = MPY_EV_CREDIT;
				ev->credit = m->window;
				return i + 1;
			}
			if (c == 0x04) {
				/* the board ended early: acknowledge, then its result follows */
				mp_queue(m, "\x04", 1);
				mp_drop_code(m);
				mp_state(m, MPY_S_STDOUT, now, m->cfg.output_ms);
				ev->type = MPY_EV_ABORTED;
				return i + 1;
			}
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		case MPY_S_PASTE_END:
			if (c == 0x01) { /* credit for bytes already sent */
				i++;
				break;
			}
			if (c == 0x04) {
				mp_drop_code(m);
				mp_state(m, MPY_S_STDOUT, now, m->cfg.output_ms);
				ev->type = MPY_EV_ACCEPTED;
				return i + 1;
			}
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		case MPY_S_NOPASTE:
			if (c == '>') {
				mp_state(m, MPY_S_RAW_SEND, now, 0);
				m->pace_at = now;
				ev->type = MPY_EV_PASTE_UNSUPPORTED;
				return i + 1;
			}
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		case MPY_S_OLD_BANNER:
			if (mp_match(mp_banner, MP_BANNER_LEN, &m->m_banner, c)) {
				m->paste = 0;
				mp_state(m, MPY_S_RAW_SEND, now, 0);
				m->pace_at = now;
				ev->type = MPY_EV_PASTE_UNSUPPORTED;
				return i + 1;
			}
			if (++m->skipped > MP_SKIP_MAX + MP_BANNER_LEN) {
				mp_fail(m, MPY_E_PROTOCOL, ev);
				return i + 1;
			}
			i++;
			break;
		case MPY_S_RAW_OK:
			if (!m->got_o && c == 'O') {
				m->got_o = 1;
				i++;
				break;
			}
			if (m->got_o && c == 'K') {
				mp_drop_code(m);
				mp_state(m, MPY_S_STDOUT, now, m->cfg.output_ms);
				ev->type = MPY_EV_ACCEPTED;
				return i + 1;
			}
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		case MPY_S_END_PROMPT:
			if (c == '>') {
				mp_state(m, MPY_S_PROMPT, now, 0);
				ev->type = MPY_EV_PROMPT;
				return i + 1;
			}
			/* sys.exit(): the board soft-resets instead of prompting */
			m->m_banner = m->m_reboot = 0;
			mp_state(m, MPY_S_REBOOTING, now, m->cfg.reboot_ms);
			break;
		default: /* RAW_SEND: the board has nothing to say while it reads */
			mp_fail(m, MPY_E_PROTOCOL, ev);
			return i + 1;
		}
	}
	return i;
}

int mpy_tick(mpy_repl *m, int64_t now, mpy_event *ev)
{
	memset(ev, 0, sizeof *ev);
	switch (m->state) {
	case MPY_S_CLOSED:
	case MPY_S_PROMPT:
	case MPY_S_FRIENDLY:
	case MPY_S_FAILED:
	case MPY_S_RAW_SEND: return 0;
	case MPY_S_ENTERING:
		if (now >= m->deadline) {
			mp_fail(m, m->rx_total ? MPY_E_NO_PROMPT : MPY_E_SILENT, ev);
			return 1;
		}
		if (now >= m->resend_at) {
			if (mp_queue(m, "\r\x03\x03\r\x01", 5) == 0)
				m->ctrl_a++;
			m->resend_at = mp_after(now, m->cfg.enter_retry_ms);
		}
		return 0;
	case MPY_S_SETTLING:
		if (now < m->deadline)
			return 0;
		mp_state(m, MPY_S_PROMPT, now, 0);
		ev->type = MPY_EV_PROMPT;
		return 1;
	case MPY_S_NOPASTE:
		if (now < m->deadline)
			return 0;
		/* tolerated: plain raw mode without the ">" */
		mp_state(m, MPY_S_RAW_SEND, now, 0);
		m->pace_at = now;
		ev->type = MPY_EV_PASTE_UNSUPPORTED;
		return 1;
	case MPY_S_PASTE_SEND:
		if (m->credit > 0 || now < m->deadline)
			return 0;
		mp_fail(m, MPY_E_TIMEOUT, ev);
		return 1;
	default:
		if (now < m->deadline)
			return 0;
		mp_fail(m, MPY_E_TIMEOUT, ev);
		return 1;
	}
}

int64_t mpy_deadline(const mpy_repl *m)
{
	switch (m->state) {
	case MPY_S_ENTERING: return m->resend_at < m->deadline ? m->resend_at : m->deadline;
	case MPY_S_RAW_SEND: return m->code_off < m->code_len ? m->pace_at : INT64_MAX;
	case MPY_S_PASTE_SEND: return m->credit > 0 ? INT64_MAX : m->deadline;
	case MPY_S_CLOSED:
	case MPY_S_PROMPT:
	case MPY_S_FRIENDLY:
	case MPY_S_FAILED: return INT64_MAX;
	default: return m->deadline;
	}
}

int mpy_interrupt(mpy_repl *m, int64_t now)
{
	switch (m->state) {
	case MPY_S_STDOUT:
	case MPY_S_STDERR:
	case MPY_S_END_PROMPT: mp_queue(m, "\x03\x03", 2); return 0;
	case MPY_S_PASTE_SEND:
		mp_queue(m, "\x03", 1);
		mp_drop_code(m);
		mp_state(m, MPY_S_PASTE_END, now, m->cfg.reply_ms);
		return 0;
	case MPY_S_RAW_SEND:
		mp_queue(m, "\x03", 1);
		mp_drop_code(m);
		mp_state(m, MPY_S_PROMPT, now, 0);
		return 0;
	case MPY_S_PROMPT: mp_queue(m, "\x03", 1); return 0;
	default: return mpy_enter(m, now);
	}
}

int mpy_soft_reset(mpy_repl *m, int64_t now)
{
	if (m->state != MPY_S_PROMPT)
		return MPY_E_STATE;
	mp_queue(m, "\x04", 1);
	m->m_banner = m->m_reboot = 0;
	mp_state(m, MPY_S_REBOOTING, now, m->cfg.reboot_ms);
	return 0;
}

int mpy_exit(mpy_repl *m, int64_t now)
{
	mp_queue(m, "\r\x02", 2);
	mp_drop_code(m);
	m->pending = MPY_EV_NONE;
	mp_state(m, MPY_S_FRIENDLY, now, 0);
	return 0;
}

size_t mpy_py_open_write(char *out, size_t cap, const char *path)
{
	static const char head[] = "f=open('", tail[] = "','wb')\nw=f.write\n";
	size_t n = 0, plen = 0;

	if (!path)
		return 0;
	while (plen <= MPY_PATH_MAX && path[plen]) {
		char c = path[plen++];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '/' || c == '-'))
			return 0;
	}
	if (plen == 0 || plen > MPY_PATH_MAX)
		return 0;
	if (sizeof head - 1 + plen + sizeof tail > cap)
		return 0;
	memcpy(out, head, sizeof head - 1);
	n = sizeof head - 1;
	memcpy(out + n, path, plen);
	n += plen;
	memcpy(out + n, tail, sizeof tail); /* with its NUL */
	return n + sizeof tail - 1;
}

size_t mpy_py_write_chunk(char *out, size_t cap, const uint8_t *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap < 8 || (n && !data))
		return 0;
	memcpy(out, "w(b'", 4);
	o = 4;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = data[i];
		int plain = c >= 0x20 && c < 0x7f && c != '\\' && c != '\'';
		if (o + (plain ? 1 : 4) + 4 > cap) /* this byte, then "')\n" and the NUL */
			return 0;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o + 4 > cap)
		return 0;
	memcpy(out + o, "')\n", 4); /* with its NUL */
	return o + 3;
}

const char *mpy_waiting_for(const mpy_repl *m)
{
	switch (m->state) {
	case MPY_S_CLOSED: return "nothing (not started)";
	case MPY_S_ENTERING: return "the raw REPL banner \"raw REPL; CTRL-B to exit\" and \">\"";
	case MPY_S_SETTLING: return "quiet after the raw REPL banner";
	case MPY_S_PROMPT: return "a program to run (at the raw prompt)";
	case MPY_S_PASTE_REQ:
		return "the answer to the raw-paste request (\"R\\x01\" or \"R\\x00\")";
	case MPY_S_PASTE_R: return "the second byte of the raw-paste answer";
	case MPY_S_PASTE_WIN: return "the raw-paste window size";
	case MPY_S_PASTE_SEND: return "raw-paste window credit (\\x01)";
	case MPY_S_PASTE_END: return "the board's \\x04 ending raw-paste";
	case MPY_S_NOPASTE: return "\">\" after \"R\\x00\"";
	case MPY_S_OLD_BANNER: return "the raw REPL banner (firmware without raw-paste)";
	case MPY_S_RAW_SEND: return "the program to be sent (plain raw mode)";
	case MPY_S_RAW_OK: return "\"OK\" after the program";
	case MPY_S_STDOUT: return "program output until \\x04";
	case MPY_S_STDERR: return "error output until \\x04";
	case MPY_S_END_PROMPT: return "\">\" after the program";
	case MPY_S_REBOOTING: return "the raw REPL banner after a soft reboot";
	case MPY_S_FRIENDLY: return "nothing (friendly REPL)";
	case MPY_S_FAILED: return "nothing (failed: enter the raw REPL again)";
	}
	return "?";
}

const char *mpy_strerror(int code)
{
	switch (code) {
	case 0: return "no error";
	case MPY_E_STATE: return "not possible in the REPL's current state";
	case MPY_E_INVALID:
		return "the program is empty, too long, or holds control bytes 0x01-0x04";
	case MPY_E_SILENT:
		return "the board sent nothing: check the cable and baud rate; a board that ran "
		       "out "
		       "of memory may be wedged and needs a hard reset (unplug it or press reset)";
	case MPY_E_NO_PROMPT:
		return "the board talks but gives no raw REPL prompt: it may not run MicroPython, "
		       "or its program ignores Ctrl-C; press reset";
	case MPY_E_TIMEOUT: return "the board stopped answering: interrupt it or press reset";
	case MPY_E_PROTOCOL:
		return "the board sent bytes the raw REPL protocol does not allow (line noise or "
		       "another program on the port): enter the raw REPL again";
	case MPY_E_WINDOW: return "the board announced a raw-paste window of 0 bytes";
	}
	return "unknown error";
}
