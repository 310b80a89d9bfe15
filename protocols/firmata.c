/* firmata.c - the Firmata 2.x wire protocol as pure functions over byte buffers. */
#include "firmata.h"

#include <string.h>

/* Number of data bytes that follow a status byte, or -1 if it starts no known message. */
static int data_bytes_for(const firmata_parser *p, uint8_t status)
{
	if (p->from_host && status == FIRMATA_PROTOCOL_VERSION)
		return 0;
	switch (status & 0xF0) {
	case FIRMATA_DIGITAL_MESSAGE:
	case FIRMATA_ANALOG_MESSAGE: return 2;
	case FIRMATA_REPORT_ANALOG:
	case FIRMATA_REPORT_DIGITAL: return 1;
	default: break;
	}
	if (status == FIRMATA_PROTOCOL_VERSION || status == FIRMATA_SET_PIN_MODE ||
	    status == FIRMATA_SET_DIGITAL_PIN_VALUE)
		return 2;
	return -1;
}

int firmata_feed(firmata_parser *p, uint8_t byte, firmata_msg *msg)
{
	if (p->in_sysex) {
		if (byte == FIRMATA_END_SYSEX) {
			p->in_sysex = 0;
			if (p->overflow || p->nsysex == 0) {
				p->errors++;
				p->overflow = 0;
				return 0;
			}
			memset(msg, 0, sizeof *msg);
			msg->type = FIRMATA_MSG_SYSEX;
			msg->command = p->sysex[0];
			msg->data = p->sysex + 1;
			msg->len = p->nsysex - 1;
			return 1;
		}
		if (byte & 0x80) {
			/* a status byte inside sysex: the sysex was cut; restart on this byte */
			p->in_sysex = 0;
			p->errors++;
		} else {
			if (p->nsysex < FIRMATA_MAX_SYSEX)
				p->sysex[p->nsysex++] = byte;
			else
				p->overflow = 1;
			return 0;
		}
	}
	if (byte & 0x80) {
		if (p->status && p->ndata)
			p->errors++; /* previous message was cut */
		p->ndata = 0;
		if (byte == FIRMATA_START_SYSEX) {
			p->in_sysex = 1;
			p->nsysex = 0;
			p->overflow = 0;
			p->status = 0;
			return 0;
		}
		if (p->from_host &&
		    (byte == FIRMATA_SYSTEM_RESET || byte == FIRMATA_PROTOCOL_VERSION)) {
			memset(msg, 0, sizeof *msg);
			msg->type = byte == FIRMATA_SYSTEM_RESET ? FIRMATA_MSG_RESET
								 : FIRMATA_MSG_VERSION_QUERY;
			p->status = 0;
			return 1;
		}
		if (data_bytes_for(p, byte) < 0) {
			p->status = 0;
			if (byte != FIRMATA_SYSTEM_RESET && byte != FIRMATA_END_SYSEX)
				p->errors++;
			return 0;
		}
		p->status = byte;
		return 0;
	}
	if (!p->status) {
		p->errors++; /* a data byte with no message: noise, or we joined mid-message */
		return 0;
	}
	p->data[p->ndata++] = byte;
	if (p->ndata < data_bytes_for(p, p->status))
		return 0;
	p->ndata = 0;
	memset(msg, 0, sizeof *msg);
	switch (p->status & 0xF0) {
	case FIRMATA_ANALOG_MESSAGE:
		msg->type = FIRMATA_MSG_ANALOG;
		msg->pin = p->status & 0x0F;
		msg->value = p->data[0] | (p->data[1] << 7);
		return 1; /* running status: the next two data bytes are another value */
	case FIRMATA_DIGITAL_MESSAGE:
		msg->type = FIRMATA_MSG_DIGITAL;
		msg->pin = p->status & 0x0F;
		msg->value = p->data[0] | (p->data[1] << 7);
		return 1;
	default: break;
	}
	if (p->status == FIRMATA_PROTOCOL_VERSION) {
		msg->type = FIRMATA_MSG_VERSION;
		msg->major = p->data[0];
		msg->minor = p->data[1];
		p->status = 0;
		return 1;
	}
	if (p->from_host) {
		msg->pin = p->data[0];
		msg->value = p->data[1];
		switch (p->status & 0xF0) {
		case FIRMATA_REPORT_ANALOG:
			msg->type = FIRMATA_MSG_REPORT_ANALOG;
			msg->pin = p->status & 0x0F;
			msg->value = p->data[0];
			return 1;
		case FIRMATA_REPORT_DIGITAL:
			msg->type = FIRMATA_MSG_REPORT_DIGITAL;
			msg->pin = p->status & 0x0F;
			msg->value = p->data[0];
			return 1;
		default: break;
		}
		msg->type = p->status == FIRMATA_SET_PIN_MODE ? FIRMATA_MSG_PIN_MODE
							      : FIRMATA_MSG_DIGITAL_WRITE;
		p->status = 0;
		return 1;
	}
	/* host-to-board messages echoed or misrouted: ignore */
	p->status = 0;
	return 0;
}

/* Decode 7-bit LSB/MSB pairs into a NUL-terminated string; non-ASCII becomes '?'. */
static int decode_pairs(const uint8_t *data, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	if (cap == 0 || (len & 1))
		return -1;
	for (size_t i = 0; i + 1 < len && n + 1 < cap; i += 2) {
		unsigned c = (unsigned)(data[i] & 0x7F) | ((unsigned)(data[i + 1] & 0x7F) << 7);
		out[n++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
	}
	out[n] = '\0';
	return 0;
}

int firmata_decode_firmware(const uint8_t *data, size_t len, int *major, int *minor, char *name,
			    size_t namecap)
{
	if (len < 2)
		return -1;
	*major = data[0];
	*minor = data[1];
	return decode_pairs(data + 2, len - 2, name, namecap);
}

int firmata_decode_string(const uint8_t *data, size_t len, char *out, size_t cap)
{
	return decode_pairs(data, len, out, cap);
}

int firmata_decode_capabilities(const uint8_t *data, size_t len, firmata_pin *pins, int max)
{
	int npins = 0;
	size_t i = 0;

	while (i < len) {
		firmata_pin pin;
		memset(&pin, 0, sizeof pin);
		pin.analog_channel = 127;
		while (i < len && data[i] != 0x7F) {
			if (i + 1 >= len)
				return -1; /* a mode without its resolution */
			if (data[i] < 32) {
				pin.modes |= 1u << data[i];
				if (data[i] < 16)
					pin.resolution[data[i]] = data[i + 1];
			}
			i += 2;
		}
		if (i >= len)
			return -1; /* pin list not terminated by 0x7F */
		i++;
		if (npins < max)
			pins[npins] = pin;
		npins++;
	}
	return npins < max ? npins : max;
}

int firmata_decode_analog_mapping(const uint8_t *data, size_t len, firmata_pin *pins, int npins)
{
	for (size_t i = 0; i < len && (int)i < npins; i++)
		pins[i].analog_channel = data[i] & 0x7F;
	return 0;
}

size_t firmata_enc_query(uint8_t *buf, uint8_t sysex_command)
{
	if (sysex_command & 0x80)
		return 0;
	buf[0] = FIRMATA_START_SYSEX;
	buf[1] = sysex_command;
	buf[2] = FIRMATA_END_SYSEX;
	return 3;
}

size_t firmata_enc_version_query(uint8_t *buf)
{
	buf[0] = FIRMATA_PROTOCOL_VERSION;
	return 1;
}

size_t firmata_enc_report_analog(uint8_t *buf, int channel, int on)
{
	if (channel < 0 || channel > 15)
		return 0;
	buf[0] = (uint8_t)(FIRMATA_REPORT_ANALOG | channel);
	buf[1] = on ? 1 : 0;
	return 2;
}

size_t firmata_enc_report_digital(uint8_t *buf, int port, int on)
{
	if (port < 0 || port > 15)
		return 0;
	buf[0] = (uint8_t)(FIRMATA_REPORT_DIGITAL | port);
	buf[1] = on ? 1 : 0;
	return 2;
}

size_t firmata_enc_pin_mode(uint8_t *buf, int pin, int mode)
{
	if (pin < 0 || pin > 127 || mode < 0 || mode > 127)
		return 0;
	buf[0] = FIRMATA_SET_PIN_MODE;
	buf[1] = (uint8_t)pin;
	buf[2] = (uint8_t)mode;
	return 3;
}

size_t firmata_enc_digital_write(uint8_t *buf, int pin, int value)
{
	if (pin < 0 || pin > 127)
		return 0;
	buf[0] = FIRMATA_SET_DIGITAL_PIN_VALUE;
	buf[1] = (uint8_t)pin;
	buf[2] = value ? 1 : 0;
	return 3;
}

size_t firmata_enc_analog_write(uint8_t *buf, int pin, int value)
{
	return firmata_enc_analog(buf, pin, value);
}

size_t firmata_enc_analog_out(uint8_t *buf, int pin, int value)
{
	size_t n = 0;

	if (pin < 0 || pin > 127 || value < 0 || value >= (1 << 21))
		return 0;
	if (pin < 16 && value < (1 << 14))
		return firmata_enc_analog(buf, pin, value);
	buf[n++] = FIRMATA_START_SYSEX;
	buf[n++] = FIRMATA_EXTENDED_ANALOG;
	buf[n++] = (uint8_t)pin;
	buf[n++] = (uint8_t)(value & 0x7F);
	buf[n++] = (uint8_t)((value >> 7) & 0x7F);
	if (value >= (1 << 14))
		buf[n++] = (uint8_t)((value >> 14) & 0x7F);
	buf[n++] = FIRMATA_END_SYSEX;
	return n;
}

size_t firmata_enc_servo_config(uint8_t *buf, int pin, int min_us, int max_us)
{
	if (pin < 0 || pin > 127 || min_us < 0 || min_us > 16383 || max_us < 0 || max_us > 16383)
		return 0;
	buf[0] = FIRMATA_START_SYSEX;
	buf[1] = FIRMATA_SERVO_CONFIG;
	buf[2] = (uint8_t)pin;
	buf[3] = (uint8_t)(min_us & 0x7F);
	buf[4] = (uint8_t)(min_us >> 7);
	buf[5] = (uint8_t)(max_us & 0x7F);
	buf[6] = (uint8_t)(max_us >> 7);
	buf[7] = FIRMATA_END_SYSEX;
	return 8;
}

size_t firmata_enc_pin_state_query(uint8_t *buf, int pin)
{
	if (pin < 0 || pin > 127)
		return 0;
	buf[0] = FIRMATA_START_SYSEX;
	buf[1] = FIRMATA_PIN_STATE_QUERY;
	buf[2] = (uint8_t)pin;
	buf[3] = FIRMATA_END_SYSEX;
	return 4;
}

int firmata_decode_pin_state(const uint8_t *data, size_t len, int *pin, int *mode, long *state)
{
	long v = 0;

	if (len < 2 || len > 7)
		return -1;
	*pin = data[0] & 0x7F;
	*mode = data[1] & 0x7F;
	for (size_t i = 2; i < len; i++)
		v |= (long)(data[i] & 0x7F) << (7 * (i - 2));
	*state = v;
	return 0;
}

size_t firmata_enc_pin_state(uint8_t *buf, int pin, int mode, long state)
{
	size_t n = 0;

	if (pin < 0 || pin > 127 || mode < 0 || mode > 127 || state < 0 || state >= (1L << 35))
		return 0;
	buf[n++] = FIRMATA_START_SYSEX;
	buf[n++] = FIRMATA_PIN_STATE_RESPONSE;
	buf[n++] = (uint8_t)pin;
	buf[n++] = (uint8_t)mode;
	do {
		buf[n++] = (uint8_t)(state & 0x7F);
		state >>= 7;
	} while (state);
	buf[n++] = FIRMATA_END_SYSEX;
	return n;
}

size_t firmata_enc_sampling_interval(uint8_t *buf, int ms)
{
	if (ms < 1 || ms > 16383)
		return 0;
	buf[0] = FIRMATA_START_SYSEX;
	buf[1] = FIRMATA_SAMPLING_INTERVAL;
	buf[2] = (uint8_t)(ms & 0x7F);
	buf[3] = (uint8_t)((ms >> 7) & 0x7F);
	buf[4] = FIRMATA_END_SYSEX;
	return 5;
}

size_t firmata_enc_reset(uint8_t *buf)
{
	buf[0] = FIRMATA_SYSTEM_RESET;
	return 1;
}

size_t firmata_enc_analog(uint8_t *buf, int channel, int value)
{
	if (channel < 0 || channel > 15 || value < 0 || value > 16383)
		return 0;
	buf[0] = (uint8_t)(FIRMATA_ANALOG_MESSAGE | channel);
	buf[1] = (uint8_t)(value & 0x7F);
	buf[2] = (uint8_t)((value >> 7) & 0x7F);
	return 3;
}

size_t firmata_enc_digital(uint8_t *buf, int port, int value)
{
	if (port < 0 || port > 15 || value < 0 || value > 255)
		return 0;
	buf[0] = (uint8_t)(FIRMATA_DIGITAL_MESSAGE | port);
	buf[1] = (uint8_t)(value & 0x7F);
	buf[2] = (uint8_t)((value >> 7) & 0x7F);
	return 3;
}

size_t firmata_enc_version(uint8_t *buf, int major, int minor)
{
	if (major < 0 || major > 127 || minor < 0 || minor > 127)
		return 0;
	buf[0] = FIRMATA_PROTOCOL_VERSION;
	buf[1] = (uint8_t)major;
	buf[2] = (uint8_t)minor;
	return 3;
}

size_t firmata_enc_firmware(uint8_t *buf, size_t cap, int major, int minor, const char *name)
{
	size_t n = strlen(name), len = 5 + 2 * n;

	if (len > cap || major < 0 || major > 127 || minor < 0 || minor > 127)
		return 0;
	buf[0] = FIRMATA_START_SYSEX;
	buf[1] = FIRMATA_REPORT_FIRMWARE;
	buf[2] = (uint8_t)major;
	buf[3] = (uint8_t)minor;
	for (size_t i = 0; i < n; i++) {
		buf[4 + 2 * i] = (uint8_t)name[i] & 0x7F;
		buf[5 + 2 * i] = (uint8_t)((uint8_t)name[i] >> 7);
	}
	buf[len - 1] = FIRMATA_END_SYSEX;
	return len;
}

size_t firmata_enc_digital_port(uint8_t *buf, int port, int value)
{
	return firmata_enc_digital(buf, port, value);
}

firmata_features firmata_features_of(int major, int minor)
{
	firmata_features f = {.min_interval_ms = 10};

	if (major != 2 || minor < 4)
		return f; /* 2.3: no immediate report, no F5, no pull-up mode */
	f.report_on_enable = 1;
	if (minor >= 5) {
		f.min_interval_ms = 1;
		f.set_pin_value = 1;
		f.pullup_mode = 1;
	}
	return f;
}

int firmata_parse_pin(const char *s, size_t len)
{
	size_t i = 0, end = len;
	int pin = 0, digits = 0;

	while (i < end && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	if (i < end && (s[i] == 'D' || s[i] == 'd'))
		i++;
	for (; i < end; i++) {
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return -1;
		pin = pin * 10 + (s[i] - '0');
	}
	return digits && pin < FIRMATA_MAX_PINS ? pin : -1;
}

int firmata_parse_pin_list(const char *s, uint32_t mask[FIRMATA_MAX_PINS / 32])
{
	size_t i = 0, n = strlen(s);
	int count = 0;

	while (i < n) {
		size_t start, end;
		int pin;
		while (i < n && (s[i] == ',' || s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n)
			break;
		start = i;
		while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
			i++;
		end = i;
		pin = firmata_parse_pin(s + start, end - start);
		if (pin < 0)
			return -1 - (int)(start < 0x7FFFFFFF ? start : 0x7FFFFFFE);
		if (!(mask[pin / 32] & (1u << (pin % 32))))
			count++;
		mask[pin / 32] |= 1u << (pin % 32);
	}
	return count;
}
