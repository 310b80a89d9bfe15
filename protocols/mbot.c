/* mbot.c - the Makeblock mCore (mBot) serial protocol as pure functions over byte buffers. */
#include "mbot.h"

#include <string.h>

#define BANNER_PREFIX "Version: "
#define BANNER_PREFIX_LEN 9

/* A short English description of an MBOT_ERR_* code. Never fails. */
const char *mbot_strerror(int err)
{
	switch (err) {
	case MBOT_ERR_RANGE: return "argument out of range";
	case MBOT_ERR_SPACE: return "output buffer too small";
	case MBOT_ERR_SHORT: return "truncated frame";
	case MBOT_ERR_HEADER: return "not an mBot frame (no ff 55)";
	case MBOT_ERR_LENGTH: return "bad length";
	case MBOT_ERR_TYPE: return "unknown value type";
	case MBOT_ERR_END: return "frame not ended by 0d 0a";
	case MBOT_ERR_VALUE: return "unexpected value";
	case MBOT_ERR_FULL: return "too many requests pending";
	default: return err >= 0 ? "no error" : "unknown error";
	}
}

/* Write a little-endian int16. Never fails. */
static void wr16(uint8_t *p, int v)
{
	p[0] = (uint8_t)((unsigned)v & 0xFF);
	p[1] = (uint8_t)(((unsigned)v >> 8) & 0xFF);
}

/* Whether action is one the firmware answers (GET, RUN, RESET, START). */
static int known_action(int action)
{
	return action == MBOT_GET || action == MBOT_RUN || action == MBOT_RESET ||
	       action == MBOT_START;
}

/* Any request; RANGE for an unknown action, a device above 255 or a frame above 48 bytes of len. */
int mbot_enc_request(uint8_t *buf, size_t cap, uint8_t idx, int action, int device,
		     const uint8_t *data, size_t n)
{
	size_t len, total;

	if (!known_action(action) || device > 255 || (n > 0 && !data))
		return MBOT_ERR_RANGE;
	if (device < 0 && n > 0)
		return MBOT_ERR_RANGE; /* data without a device would be read as the device */
	if (n > MBOT_REQ_LEN_MAX)
		return MBOT_ERR_RANGE;
	len = 2 + (device >= 0) + n;
	if (len > MBOT_REQ_LEN_MAX)
		return MBOT_ERR_RANGE;
	total = 3 + len;
	if (!buf || cap < total)
		return MBOT_ERR_SPACE;
	buf[0] = 0xFF;
	buf[1] = 0x55;
	buf[2] = (uint8_t)len;
	buf[3] = idx;
	buf[4] = (uint8_t)action;
	if (device >= 0)
		buf[5] = (uint8_t)device;
	if (n > 0)
		memcpy(buf + 5 + (device >= 0), data, n);
	return (int)total;
}

/* GET device [port]; RANGE unless device and port fit a byte (port < 0: none). */
int mbot_enc_get(uint8_t *buf, size_t cap, uint8_t idx, int device, int port)
{
	uint8_t d[1];

	if (device < 0 || device > 255 || port > 255)
		return MBOT_ERR_RANGE;
	if (port < 0)
		return mbot_enc_request(buf, cap, idx, MBOT_GET, device, NULL, 0);
	d[0] = (uint8_t)port;
	return mbot_enc_request(buf, cap, idx, MBOT_GET, device, d, 1);
}

/* GET device port slot; RANGE unless each fits a byte. */
int mbot_enc_get_slot(uint8_t *buf, size_t cap, uint8_t idx, int device, int port, int slot)
{
	uint8_t d[2];

	if (device < 0 || device > 255 || port < 0 || port > 255 || slot < 0 || slot > 255)
		return MBOT_ERR_RANGE;
	d[0] = (uint8_t)port;
	d[1] = (uint8_t)slot;
	return mbot_enc_request(buf, cap, idx, MBOT_GET, device, d, 2);
}

/* GET BUTTON_INNER on port 7 with s = 0 (mBlock's "pressed"): the reply is s ^ pressed. */
int mbot_enc_button(uint8_t *buf, size_t cap, uint8_t idx)
{
	return mbot_enc_get_slot(buf, cap, idx, MBOT_DEV_BUTTON_INNER, MBOT_PORT_ONBOARD, 0);
}

/* Whether v is a motor speed. */
static int speed_ok(int v)
{
	return v >= -MBOT_SPEED_MAX && v <= MBOT_SPEED_MAX;
}

/* RUN JOYSTICK m1 m2; RANGE unless both are in -255..255. */
int mbot_enc_motors(uint8_t *buf, size_t cap, uint8_t idx, int m1, int m2)
{
	uint8_t d[4];

	if (!speed_ok(m1) || !speed_ok(m2))
		return MBOT_ERR_RANGE;
	wr16(d, m1);
	wr16(d + 2, m2);
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_JOYSTICK, d, 4);
}

/* Wheel speeds, forward positive: M1 (left, mirrored) gets -left. RANGE as mbot_enc_motors. */
int mbot_enc_move(uint8_t *buf, size_t cap, uint8_t idx, int left, int right)
{
	if (!speed_ok(left) || !speed_ok(right))
		return MBOT_ERR_RANGE;
	return mbot_enc_motors(buf, cap, idx, -left, right);
}

/* RUN MOTOR port speed; RANGE unless port is M1/M2 and speed in -255..255. */
int mbot_enc_motor(uint8_t *buf, size_t cap, uint8_t idx, int port, int speed)
{
	uint8_t d[3];

	if ((port != MBOT_PORT_M1 && port != MBOT_PORT_M2) || !speed_ok(speed))
		return MBOT_ERR_RANGE;
	d[0] = (uint8_t)port;
	wr16(d + 1, speed);
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_MOTOR, d, 3);
}

/* Whether v is a colour component. */
static int byte_ok(int v)
{
	return v >= 0 && v <= 255;
}

/* RUN RGBLED; RANGE unless port 1..16, slot 1..2, led 0..32 and colours 0..255. */
int mbot_enc_rgb(uint8_t *buf, size_t cap, uint8_t idx, int port, int slot, int led, int r, int g,
		 int b)
{
	uint8_t d[6];

	if (port < 1 || port > 16 || slot < 1 || slot > 2 || led < 0 || led > 32 || !byte_ok(r) ||
	    !byte_ok(g) || !byte_ok(b))
		return MBOT_ERR_RANGE;
	d[0] = (uint8_t)port;
	d[1] = (uint8_t)slot;
	d[2] = (uint8_t)led;
	d[3] = (uint8_t)r;
	d[4] = (uint8_t)g;
	d[5] = (uint8_t)b;
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_RGBLED, d, 6);
}

/* The on-board LEDs; RANGE unless led is 0..2 and colours 0..255. */
int mbot_enc_led(uint8_t *buf, size_t cap, uint8_t idx, int led, int r, int g, int b)
{
	if (led < 0 || led > 2)
		return MBOT_ERR_RANGE;
	return mbot_enc_rgb(buf, cap, idx, MBOT_PORT_ONBOARD, MBOT_SLOT_ONBOARD_LED, led, r, g, b);
}

/* RUN SERVO; RANGE unless port 1..4, slot 1..2, angle 0..180. */
int mbot_enc_servo(uint8_t *buf, size_t cap, uint8_t idx, int port, int slot, int angle)
{
	uint8_t d[3];

	if (port < 1 || port > 4 || slot < 1 || slot > 2 || angle < 0 || angle > 180)
		return MBOT_ERR_RANGE;
	d[0] = (uint8_t)port;
	d[1] = (uint8_t)slot;
	d[2] = (uint8_t)angle;
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_SERVO, d, 3);
}

/* RUN TONE hz ms; RANGE unless hz in 0..MBOT_TONE_MAX_HZ and ms in 0..MBOT_TONE_MAX_MS. */
int mbot_enc_tone(uint8_t *buf, size_t cap, uint8_t idx, int hz, int ms)
{
	uint8_t d[4];

	if (hz < 0 || hz > MBOT_TONE_MAX_HZ || ms < 0 || ms > MBOT_TONE_MAX_MS)
		return MBOT_ERR_RANGE;
	wr16(d, hz);
	wr16(d + 2, ms);
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_TONE, d, 4);
}

/* RUN IR text; RANGE unless n is 1..MBOT_IR_MAX (the firmware reads len - 3 characters). */
int mbot_enc_ir_send(uint8_t *buf, size_t cap, uint8_t idx, const char *text, size_t n)
{
	if (!text || n < 1 || n > MBOT_IR_MAX)
		return MBOT_ERR_RANGE;
	return mbot_enc_request(buf, cap, idx, MBOT_RUN, MBOT_DEV_IR, (const uint8_t *)text, n);
}

/* RESET without a device byte. SPACE only. */
int mbot_enc_reset(uint8_t *buf, size_t cap, uint8_t idx)
{
	return mbot_enc_request(buf, cap, idx, MBOT_RESET, -1, NULL, 0);
}

/* START without a device byte. SPACE only. */
int mbot_enc_start(uint8_t *buf, size_t cap, uint8_t idx)
{
	return mbot_enc_request(buf, cap, idx, MBOT_START, -1, NULL, 0);
}

/* One request frame at buf; SHORT, HEADER or LENGTH as the header says. */
int mbot_parse_request(const uint8_t *buf, size_t len, mbot_request *out)
{
	size_t l;

	if (len >= 1 && buf[0] != 0xFF)
		return MBOT_ERR_HEADER;
	if (len >= 2 && buf[1] != 0x55)
		return MBOT_ERR_HEADER;
	if (len < 3)
		return MBOT_ERR_SHORT;
	l = buf[2];
	if (l < 2 || l > MBOT_REQ_LEN_MAX)
		return MBOT_ERR_LENGTH;
	if (len < 3 + l)
		return MBOT_ERR_SHORT;
	memset(out, 0, sizeof *out);
	out->idx = buf[3];
	out->action = buf[4];
	if (l >= 3) {
		out->device = buf[5];
		out->data = buf + 6;
		out->n = l - 3;
	} else {
		out->device = -1;
		out->data = buf + 5;
		out->n = 0;
	}
	return (int)(3 + l);
}

/* The int16 at data[off], 0 beyond the data. Never fails. */
int mbot_req_short(const mbot_request *r, size_t off)
{
	if (r->n < 2 || off > r->n - 2)
		return 0;
	return (int16_t)(uint16_t)(r->data[off] | (r->data[off + 1] << 8));
}

/* A little-endian IEEE float32 at p. Never fails. */
static float rdf32(const uint8_t *p)
{
	uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
		     ((uint32_t)p[3] << 24);
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* The start banner "Version: x\r\n" at buf: as mbot_decode_reply. */
static int decode_banner(const uint8_t *buf, size_t n, mbot_msg *out)
{
	size_t j;

	for (j = 0; j < n && j < BANNER_PREFIX_LEN; j++)
		if (buf[j] != (uint8_t)BANNER_PREFIX[j])
			return MBOT_ERR_HEADER;
	for (j = BANNER_PREFIX_LEN; j < n && buf[j] > 0x20 && buf[j] < 0x7F; j++)
		if (j - BANNER_PREFIX_LEN >= MBOT_BANNER_MAX)
			return MBOT_ERR_LENGTH;
	if (j >= n)
		return 0;
	if (buf[j] != '\r' || j == BANNER_PREFIX_LEN)
		return MBOT_ERR_LENGTH;
	if (j + 1 >= n)
		return 0;
	if (buf[j + 1] != '\n')
		return MBOT_ERR_END;
	memset(out, 0, sizeof *out);
	out->kind = MBOT_MSG_BANNER;
	out->text = (const char *)buf + BANNER_PREFIX_LEN;
	out->tlen = j - BANNER_PREFIX_LEN;
	out->len = j + 2;
	return (int)out->len;
}

/* Whether buf[at], buf[at + 1] are 0d 0a: 1, 0 if not, -1 if they are not all there yet. */
static int end_at(const uint8_t *buf, size_t n, size_t at)
{
	if (n < at + 2)
		return -1;
	return buf[at] == 0x0D && buf[at + 1] == 0x0A;
}

/* The robot's frame at buf: its length, 0 for more, or HEADER, TYPE, END, LENGTH. */
int mbot_decode_reply(const uint8_t *buf, size_t n, mbot_msg *out)
{
	size_t vlen, alt = 0;
	int e;
	mbot_msg m;

	if (n == 0)
		return 0;
	if (buf[0] == 'V')
		return decode_banner(buf, n, out);
	if (buf[0] != 0xFF || (n >= 2 && buf[1] != 0x55))
		return MBOT_ERR_HEADER;
	if (n < 4)
		return 0;
	memset(&m, 0, sizeof m);
	if (buf[2] == 0x0D && buf[3] == 0x0A) {
		m.kind = MBOT_MSG_ACK;
		m.len = 4;
		*out = m;
		return 4;
	}
	m.idx = buf[2];
	if (buf[3] == 0x0D) {
		e = end_at(buf, n, 3);
		if (e < 0)
			return 0;
		if (!e)
			return MBOT_ERR_END;
		m.kind = MBOT_MSG_EMPTY;
		m.len = 5;
		*out = m;
		return 5;
	}
	m.kind = MBOT_MSG_VALUE;
	m.type = buf[3];
	switch (m.type) {
	case MBOT_TYPE_BYTE: vlen = 1; break;
	case MBOT_TYPE_FLOAT: vlen = 4; break;
	case MBOT_TYPE_SHORT:
		vlen = 2;
		alt = 4;
		break;
	case MBOT_TYPE_DOUBLE:
		vlen = 4;
		alt = 8;
		break;
	case MBOT_TYPE_STRING:
		if (n < 5)
			return 0;
		vlen = 1 + (size_t)buf[4];
		break;
	default: return MBOT_ERR_TYPE;
	}
	e = end_at(buf, n, 4 + vlen);
	if (e < 0)
		return 0;
	if (!e && alt) {
		/* the mCore firmware's padded short (4 bytes) or double (8 bytes) */
		vlen = alt;
		m.padded = 1;
		e = end_at(buf, n, 4 + vlen);
		if (e < 0)
			return 0;
	}
	if (!e)
		return MBOT_ERR_END;
	switch (m.type) {
	case MBOT_TYPE_BYTE: m.number = buf[4]; break;
	case MBOT_TYPE_FLOAT:
	case MBOT_TYPE_DOUBLE: m.number = rdf32(buf + 4); break;
	case MBOT_TYPE_SHORT: m.number = (int16_t)(uint16_t)(buf[4] | (buf[5] << 8)); break;
	default:
		m.text = (const char *)buf + 5;
		m.tlen = buf[4];
		break;
	}
	m.len = 4 + vlen + 2;
	*out = m;
	return (int)m.len;
}

/* Drop the first k bytes held. Never fails. */
static void parser_drop(mbot_parser *p, size_t k)
{
	if (k >= p->n) {
		p->n = 0;
		return;
	}
	memmove(p->buf, p->buf + k, p->n - k);
	p->n -= k;
}

/* Drop the message last returned. Never fails. */
static void parser_settle(mbot_parser *p)
{
	if (p->consumed) {
		parser_drop(p, p->consumed);
		p->consumed = 0;
	}
}

/* Take what fits. Never fails. */
size_t mbot_parser_feed(mbot_parser *p, const uint8_t *data, size_t len)
{
	size_t room;

	parser_settle(p);
	room = sizeof p->buf - p->n;
	if (len > room)
		len = room;
	if (len)
		memcpy(p->buf + p->n, data, len);
	p->n += len;
	return len;
}

/* The next message, skipping and counting garbage. Never fails. */
int mbot_parser_next(mbot_parser *p, mbot_msg *m)
{
	parser_settle(p);
	for (;;) {
		size_t i = 0;
		int r;

		while (i < p->n && p->buf[i] != 0xFF && p->buf[i] != 'V')
			i++;
		p->garbage += i;
		parser_drop(p, i);
		if (p->n == 0)
			return 0;
		r = mbot_decode_reply(p->buf, p->n, m);
		if (r > 0) {
			p->consumed = (size_t)r;
			return 1;
		}
		if (r == 0 && p->n < sizeof p->buf)
			return 0;
		/* not a frame (or, impossibly, one larger than the buffer): resynchronise */
		p->garbage++;
		parser_drop(p, 1);
	}
}

/* Forget the bytes held. Never fails. */
void mbot_parser_reset(mbot_parser *p)
{
	p->n = 0;
	p->consumed = 0;
}

/* ff 55 0d 0a. SPACE only. */
int mbot_enc_ack(uint8_t *buf, size_t cap)
{
	if (!buf || cap < 4)
		return MBOT_ERR_SPACE;
	buf[0] = 0xFF;
	buf[1] = 0x55;
	buf[2] = 0x0D;
	buf[3] = 0x0A;
	return 4;
}

/* ff 55 idx 0d 0a. SPACE only. */
int mbot_enc_empty(uint8_t *buf, size_t cap, uint8_t idx)
{
	if (!buf || cap < 5)
		return MBOT_ERR_SPACE;
	buf[0] = 0xFF;
	buf[1] = 0x55;
	buf[2] = idx;
	buf[3] = 0x0D;
	buf[4] = 0x0A;
	return 5;
}

/* ff 55 idx type value 0d 0a; RANGE for a string type or a value the type cannot hold. */
int mbot_enc_value(uint8_t *buf, size_t cap, uint8_t idx, int type, double number, int padded)
{
	size_t vlen;
	uint8_t v[8] = {0};

	switch (type) {
	case MBOT_TYPE_BYTE:
		if (!(number >= 0 && number <= 255) || number != (double)(int)number)
			return MBOT_ERR_RANGE;
		v[0] = (uint8_t)(int)number;
		vlen = 1;
		break;
	case MBOT_TYPE_SHORT:
		if (!(number >= -32768 && number <= 32767) || number != (double)(int)number)
			return MBOT_ERR_RANGE;
		wr16(v, (int)number);
		vlen = padded ? 4 : 2;
		break;
	case MBOT_TYPE_FLOAT:
	case MBOT_TYPE_DOUBLE: {
		float f = (float)number;
		uint32_t u;
		memcpy(&u, &f, sizeof u);
		for (int i = 0; i < 4; i++)
			v[i] = (uint8_t)(u >> (8 * i));
		vlen = type == MBOT_TYPE_DOUBLE && padded ? 8 : 4;
		break;
	}
	default: return MBOT_ERR_RANGE;
	}
	if (!buf || cap < 6 + vlen)
		return MBOT_ERR_SPACE;
	buf[0] = 0xFF;
	buf[1] = 0x55;
	buf[2] = idx;
	buf[3] = (uint8_t)type;
	memcpy(buf + 4, v, vlen);
	buf[4 + vlen] = 0x0D;
	buf[5 + vlen] = 0x0A;
	return (int)(6 + vlen);
}

/* ff 55 idx 04 n text 0d 0a; RANGE above 255 characters. */
int mbot_enc_string(uint8_t *buf, size_t cap, uint8_t idx, const char *text, size_t n)
{
	if (n > 255 || (n > 0 && !text))
		return MBOT_ERR_RANGE;
	if (!buf || cap < 7 + n)
		return MBOT_ERR_SPACE;
	buf[0] = 0xFF;
	buf[1] = 0x55;
	buf[2] = idx;
	buf[3] = MBOT_TYPE_STRING;
	buf[4] = (uint8_t)n;
	if (n)
		memcpy(buf + 5, text, n);
	buf[5 + n] = 0x0D;
	buf[6 + n] = 0x0A;
	return (int)(7 + n);
}

/* "Version: x\r\n"; RANGE for an empty, long or non-printable version. */
int mbot_enc_banner(uint8_t *buf, size_t cap, const char *version, size_t n)
{
	if (!version || n < 1 || n > MBOT_BANNER_MAX)
		return MBOT_ERR_RANGE;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)version[i] <= 0x20 || (uint8_t)version[i] >= 0x7F)
			return MBOT_ERR_RANGE;
	if (!buf || cap < BANNER_PREFIX_LEN + n + 2)
		return MBOT_ERR_SPACE;
	memcpy(buf, BANNER_PREFIX, BANNER_PREFIX_LEN);
	memcpy(buf + BANNER_PREFIX_LEN, version, n);
	buf[BANNER_PREFIX_LEN + n] = '\r';
	buf[BANNER_PREFIX_LEN + n + 1] = '\n';
	return (int)(BANNER_PREFIX_LEN + n + 2);
}

/* The reply type of a GET of device. Never fails (0: unknown). */
int mbot_expected_type(int device)
{
	switch (device) {
	case MBOT_DEV_VERSION:
	case MBOT_DEV_IR: return MBOT_TYPE_STRING;
	case MBOT_DEV_ULTRASONIC:
	case MBOT_DEV_LIGHT:
	case MBOT_DEV_LINEFOLLOWER:
	case MBOT_DEV_ANALOG:
	case MBOT_DEV_TIMER: return MBOT_TYPE_FLOAT;
	case MBOT_DEV_IRREMOTE:
	case MBOT_DEV_IRREMOTECODE:
	case MBOT_DEV_BUTTON_INNER: return MBOT_TYPE_BYTE;
	default: return 0;
	}
}

/* Line follower value to sensors; VALUE unless 0..3 exactly. */
int mbot_line_decode(double value, int *left, int *right)
{
	int v;

	if (!(value == 0.0 || value == 1.0 || value == 2.0 || value == 3.0))
		return MBOT_ERR_VALUE;
	v = (int)value;
	*left = !(v & 2);
	*right = !(v & 1);
	return 0;
}

/* Whether seq a was issued before b (wrap-safe). */
static int seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Record a request; FULL or RANGE. */
int mbot_track_add(mbot_tracker *t, int action, int device, int64_t now_ms, int timeout_ms,
		   uint8_t *idx)
{
	int free_slot = -1;
	uint8_t cand = t->next_idx;

	if (!known_action(action) || timeout_ms < 0)
		return MBOT_ERR_RANGE;
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		if (!t->slot[i].used) {
			free_slot = i;
			break;
		}
	if (free_slot < 0)
		return MBOT_ERR_FULL;
	/* at most MBOT_MAX_PENDING - 1 indexes are taken, so this ends within 256 tries */
	for (int tries = 0; tries < 256; tries++, cand++) {
		int taken = cand == MBOT_IDX_EVENT;
		for (int i = 0; i < MBOT_MAX_PENDING && !taken; i++)
			taken = t->slot[i].used && t->slot[i].idx == cand;
		if (!taken)
			break;
	}
	mbot_pending *s = &t->slot[free_slot];
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->idx = cand;
	s->action = (uint8_t)action;
	s->device = device;
	s->seq = t->seq++;
	s->deadline_ms = now_ms + timeout_ms;
	t->next_idx = (uint8_t)(cand + 1);
	*idx = cand;
	return free_slot;
}

/* Match a message; 1 with *out, 0 when it answers nothing pending. */
int mbot_track_match(mbot_tracker *t, const mbot_msg *m, mbot_pending *out)
{
	int best = -1;

	if (m->kind == MBOT_MSG_BANNER) {
		for (int i = 0; i < MBOT_MAX_PENDING; i++)
			if (t->slot[i].used)
				t->slot[i].lost = 1;
		return 0;
	}
	for (int i = 0; i < MBOT_MAX_PENDING; i++) {
		const mbot_pending *s = &t->slot[i];
		if (!s->used)
			continue;
		if (m->kind == MBOT_MSG_ACK) {
			if (s->action != MBOT_GET &&
			    (best < 0 || seq_before(s->seq, t->slot[best].seq)))
				best = i;
		} else if (s->action == MBOT_GET && s->idx == m->idx) {
			best = i;
		}
	}
	if (best < 0)
		return 0;
	*out = t->slot[best];
	out->lost = 0;
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		if (t->slot[i].used && seq_before(t->slot[i].seq, out->seq))
			t->slot[i].lost = 1;
	memset(&t->slot[best], 0, sizeof t->slot[best]);
	return 1;
}

/* The oldest request lost or past its deadline; 1 with *out, or 0. */
int mbot_track_expire(mbot_tracker *t, int64_t now_ms, mbot_pending *out)
{
	int best = -1;

	for (int i = 0; i < MBOT_MAX_PENDING; i++) {
		const mbot_pending *s = &t->slot[i];
		if (!s->used || (!s->lost && s->deadline_ms > now_ms))
			continue;
		if (best < 0 || seq_before(s->seq, t->slot[best].seq))
			best = i;
	}
	if (best < 0)
		return 0;
	*out = t->slot[best];
	memset(&t->slot[best], 0, sizeof t->slot[best]);
	return 1;
}

/* The earliest deadline; 1, or 0 when nothing is pending. */
int mbot_track_next_deadline(const mbot_tracker *t, int64_t *deadline_ms)
{
	int found = 0;

	for (int i = 0; i < MBOT_MAX_PENDING; i++) {
		const mbot_pending *s = &t->slot[i];
		if (!s->used)
			continue;
		if (!found || s->deadline_ms < *deadline_ms)
			*deadline_ms = s->deadline_ms;
		found = 1;
	}
	return found;
}

/* Pending requests. Never fails. */
int mbot_track_count(const mbot_tracker *t)
{
	int n = 0;

	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		n += t->slot[i].used != 0;
	return n;
}
