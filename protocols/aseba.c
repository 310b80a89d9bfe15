/* aseba.c - the Aseba protocol of the Thymio II (and Aseba simulators) as pure functions over
 * bytes. */
#include "aseba.h"

#include <string.h>

const char *aseba_strerror(int code)
{
	switch (code) {
	case ASEBA_E_OVERSIZE: return "frame longer than the 516-byte Aseba maximum";
	case ASEBA_E_TRUNCATED: return "message ends inside a field";
	case ASEBA_E_TRAILING: return "bytes left after the message's last field";
	case ASEBA_E_ODD: return "odd number of bytes where 16-bit words are expected";
	case ASEBA_E_RANGE: return "argument out of range or buffer too small";
	case ASEBA_E_ORDER: return "description item out of order or beyond the announced count";
	case ASEBA_E_TOO_MANY: return "description larger than the bridge accepts";
	case ASEBA_E_BAD_DESC: return "description contradicts itself";
	default: return "unknown error";
	}
}

aseba_features aseba_features_of(uint16_t v)
{
	aseba_features f = {0};

	if (v < ASEBA_MIN_PROTOCOL || v > 100)
		return f;
	f.supported = 1;
	f.get_description = v <= 4;
	f.list_nodes = v >= 5;
	f.device_info = v >= 6;
	f.changed_variables = v >= 7;
	f.fragments = v >= 8;
	return f;
}

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] | (b[1] << 8));
}

static void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v & 0xFF);
	b[1] = (uint8_t)(v >> 8);
}

int aseba_parse(aseba_parser *p, const uint8_t *data, size_t n, size_t *used, aseba_frame *f)
{
	size_t i = 0;

	while (i < n) {
		if (p->skip) {
			size_t k = n - i < p->skip ? n - i : p->skip;
			p->skip -= k;
			i += k;
			continue;
		}
		if (p->nheader < ASEBA_HEADER_SIZE) {
			p->header[p->nheader++] = data[i++];
			if (p->nheader < ASEBA_HEADER_SIZE)
				continue;
			p->want = rd16(p->header);
			p->npayload = 0;
			if (p->want > ASEBA_MAX_PAYLOAD) {
				p->skip = p->want;
				p->nheader = 0;
				p->errors++;
				*used = i;
				return ASEBA_E_OVERSIZE;
			}
		} else {
			size_t k = p->want - p->npayload;
			if (k > n - i)
				k = n - i;
			memcpy(p->payload + p->npayload, data + i, k);
			p->npayload += k;
			i += k;
		}
		if (p->nheader == ASEBA_HEADER_SIZE && p->npayload == p->want) {
			f->source = rd16(p->header + 2);
			f->type = rd16(p->header + 4);
			f->payload = p->payload;
			f->len = p->want;
			p->nheader = 0;
			p->frames++;
			*used = i;
			return 1;
		}
	}
	*used = i;
	return 0;
}

/* A bounded reader over a payload. */
typedef struct rd {
	const uint8_t *b;
	size_t len, pos;
	int err;
} rd;

static uint16_t get16(rd *r)
{
	if (r->err || r->len - r->pos < 2) {
		r->err = ASEBA_E_TRUNCATED;
		return 0;
	}
	r->pos += 2;
	return rd16(r->b + r->pos - 2);
}

static aseba_str getstr(rd *r)
{
	aseba_str s = {"", 0};
	size_t n;

	if (r->err || r->pos >= r->len) {
		r->err = ASEBA_E_TRUNCATED;
		return s;
	}
	n = r->b[r->pos];
	if (r->len - r->pos - 1 < n) {
		r->err = ASEBA_E_TRUNCATED;
		return s;
	}
	s.s = (const char *)r->b + r->pos + 1;
	s.len = n;
	r->pos += 1 + n;
	return s;
}

/* The rest of the payload as words; an odd remainder is ASEBA_E_ODD. */
static void getwords(rd *r, aseba_msg *m)
{
	if (r->err)
		return;
	if ((r->len - r->pos) & 1) {
		r->err = ASEBA_E_ODD;
		return;
	}
	m->words = r->b + r->pos;
	m->nwords = (r->len - r->pos) / 2;
	r->pos = r->len;
}

static void getrest(rd *r, aseba_msg *m)
{
	m->data = r->b + r->pos;
	m->ndata = r->len - r->pos;
	r->pos = r->len;
}

int16_t aseba_word(const aseba_msg *m, size_t i)
{
	return (int16_t)rd16(m->words + 2 * i);
}

int aseba_decode(const aseba_frame *f, aseba_msg *m)
{
	rd r = {f->payload, f->len, 0, 0};

	memset(m, 0, sizeof *m);
	m->source = f->source;
	m->type = f->type;
	if (f->type <= ASEBA_MSG_USER_MAX) {
		getwords(&r, m);
		return r.err;
	}
	switch (f->type) {
	case ASEBA_MSG_DESCRIPTION:
		m->name = getstr(&r);
		m->version = get16(&r);
		m->bytecode_size = get16(&r);
		m->stack_size = get16(&r);
		m->variables_size = get16(&r);
		m->n_variables = get16(&r);
		m->n_events = get16(&r);
		m->n_natives = get16(&r);
		break;
	case ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION:
		m->var_size = get16(&r);
		m->name = getstr(&r);
		break;
	case ASEBA_MSG_LOCAL_EVENT_DESCRIPTION:
		m->name = getstr(&r);
		m->doc = getstr(&r);
		break;
	case ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION: {
		uint16_t np;
		m->name = getstr(&r);
		m->doc = getstr(&r);
		np = get16(&r);
		if (!r.err && np > ASEBA_MAX_NATIVE_PARAMS)
			r.err = ASEBA_E_TRUNCATED; /* cannot fit in 516 bytes */
		for (size_t i = 0; !r.err && i < np; i++) {
			m->params[i].size = (int16_t)get16(&r);
			m->params[i].name = getstr(&r);
		}
		if (!r.err)
			m->nparams = np;
		break;
	}
	case ASEBA_MSG_DISCONNECTED: break;
	case ASEBA_MSG_VARIABLES:
		m->start = get16(&r);
		getwords(&r, m);
		break;
	case ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS:
		m->pc = get16(&r);
		m->size = get16(&r);
		m->index = get16(&r);
		break;
	case ASEBA_MSG_DIVISION_BY_ZERO:
	case ASEBA_MSG_EVENT_EXECUTION_KILLED: m->pc = get16(&r); break;
	case ASEBA_MSG_NODE_SPECIFIC_ERROR:
		m->pc = get16(&r);
		m->name = getstr(&r);
		break;
	case ASEBA_MSG_EXECUTION_STATE_CHANGED:
		m->pc = get16(&r);
		m->flags = get16(&r);
		break;
	case ASEBA_MSG_BREAKPOINT_SET_RESULT:
		m->pc = get16(&r);
		m->success = get16(&r);
		break;
	case ASEBA_MSG_NODE_PRESENT:
	case ASEBA_MSG_LIST_NODES:
	case ASEBA_MSG_GET_DESCRIPTION: m->version = get16(&r); break;
	case ASEBA_MSG_DEVICE_INFO:
		if (r.len < 2) {
			r.err = ASEBA_E_TRUNCATED;
			break;
		}
		m->info = r.b[0];
		m->ndata = r.b[1];
		if (r.len - 2 < m->ndata) {
			r.err = ASEBA_E_TRUNCATED;
			break;
		}
		m->data = r.b + 2;
		r.pos = 2 + m->ndata;
		break;
	case ASEBA_MSG_CHANGED_VARIABLES: getrest(&r, m); break;
	case ASEBA_MSG_SET_BYTECODE:
	case ASEBA_MSG_SET_VARIABLES:
		m->dest = get16(&r);
		m->start = get16(&r);
		getwords(&r, m);
		break;
	case ASEBA_MSG_RESET:
	case ASEBA_MSG_RUN:
	case ASEBA_MSG_PAUSE:
	case ASEBA_MSG_STEP:
	case ASEBA_MSG_STOP:
	case ASEBA_MSG_GET_EXECUTION_STATE:
	case ASEBA_MSG_BREAKPOINT_CLEAR_ALL:
	case ASEBA_MSG_WRITE_BYTECODE:
	case ASEBA_MSG_REBOOT:
	case ASEBA_MSG_SUSPEND_TO_RAM:
	case ASEBA_MSG_GET_CHANGED_VARIABLES: m->dest = get16(&r); break;
	case ASEBA_MSG_BREAKPOINT_SET:
	case ASEBA_MSG_BREAKPOINT_CLEAR:
		m->dest = get16(&r);
		m->pc = get16(&r);
		break;
	case ASEBA_MSG_GET_VARIABLES:
		m->dest = get16(&r);
		m->start = get16(&r);
		m->length = get16(&r);
		break;
	case ASEBA_MSG_GET_NODE_DESCRIPTION:
		m->dest = get16(&r);
		m->version = get16(&r);
		break;
	case ASEBA_MSG_GET_NODE_DESCRIPTION_FRAGMENT:
		m->dest = get16(&r);
		m->version = get16(&r);
		m->fragment = (int16_t)get16(&r);
		break;
	case ASEBA_MSG_GET_DEVICE_INFO:
		m->dest = get16(&r);
		m->info = get16(&r);
		break;
	case ASEBA_MSG_SET_DEVICE_INFO:
		m->dest = get16(&r);
		m->info = get16(&r);
		m->ndata = get16(&r);
		if (!r.err && r.len - r.pos < m->ndata)
			r.err = ASEBA_E_TRUNCATED;
		if (!r.err) {
			m->data = r.b + r.pos;
			r.pos += m->ndata;
		}
		break;
	default: getrest(&r, m); break;
	}
	if (!r.err && r.pos != r.len)
		r.err = ASEBA_E_TRAILING;
	return r.err;
}

int aseba_changed_next(const aseba_msg *m, size_t *pos, uint16_t *start, const uint8_t **values,
		       size_t *count)
{
	size_t n;

	if (*pos >= m->ndata)
		return 0;
	if (m->ndata - *pos < 4)
		return ASEBA_E_TRUNCATED;
	*start = rd16(m->data + *pos);
	n = rd16(m->data + *pos + 2);
	if ((m->ndata - *pos - 4) / 2 < n)
		return ASEBA_E_TRUNCATED;
	*values = m->data + *pos + 4;
	*count = n;
	*pos += 4 + 2 * n;
	return 1;
}

/* A bounded writer: a frame being built in buf[0..cap). */
typedef struct wr {
	uint8_t *b;
	size_t cap, len;
	int bad;
} wr;

static wr begin(uint8_t *buf, size_t cap, uint16_t source, uint16_t type)
{
	wr w = {buf, cap, ASEBA_HEADER_SIZE, cap < ASEBA_HEADER_SIZE};

	if (!w.bad) {
		wr16(buf + 2, source);
		wr16(buf + 4, type);
	}
	return w;
}

static void put16(wr *w, uint16_t v)
{
	if (w->bad || w->cap - w->len < 2 || w->len - ASEBA_HEADER_SIZE + 2 > ASEBA_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	wr16(w->b + w->len, v);
	w->len += 2;
}

static void putbytes(wr *w, const void *p, size_t n)
{
	if (w->bad || w->cap - w->len < n || w->len - ASEBA_HEADER_SIZE + n > ASEBA_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	if (n)
		memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void put8(wr *w, uint8_t v)
{
	putbytes(w, &v, 1);
}

static void putstrn(wr *w, const char *s, size_t n)
{
	if (n > 255) {
		w->bad = 1;
		return;
	}
	put8(w, (uint8_t)n);
	putbytes(w, s, n);
}

static void putstr(wr *w, const char *s)
{
	putstrn(w, s ? s : "", s ? strlen(s) : 0);
}

/* Raw little-endian words (as they came in a payload). */
static void putraw(wr *w, const uint8_t *words, size_t nwords)
{
	putbytes(w, words, 2 * nwords);
}

static size_t finish(wr *w)
{
	if (w->bad)
		return 0;
	wr16(w->b, (uint16_t)(w->len - ASEBA_HEADER_SIZE));
	return w->len;
}

size_t aseba_enc_list_nodes(uint8_t *buf, size_t cap, uint16_t source, uint16_t version)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_LIST_NODES);
	put16(&w, version);
	return finish(&w);
}

size_t aseba_enc_get_description(uint8_t *buf, size_t cap, uint16_t source, uint16_t version)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_GET_DESCRIPTION);
	put16(&w, version);
	return finish(&w);
}

size_t aseba_enc_get_node_description(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				      uint16_t version)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_GET_NODE_DESCRIPTION);
	put16(&w, dest);
	put16(&w, version);
	return finish(&w);
}

size_t aseba_enc_get_node_description_fragment(uint8_t *buf, size_t cap, uint16_t source,
					       uint16_t dest, uint16_t version, int16_t fragment)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_GET_NODE_DESCRIPTION_FRAGMENT);
	put16(&w, dest);
	put16(&w, version);
	put16(&w, (uint16_t)fragment);
	return finish(&w);
}

size_t aseba_enc_cmd(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t dest)
{
	wr w;

	switch (type) {
	case ASEBA_MSG_RESET:
	case ASEBA_MSG_RUN:
	case ASEBA_MSG_PAUSE:
	case ASEBA_MSG_STEP:
	case ASEBA_MSG_STOP:
	case ASEBA_MSG_GET_EXECUTION_STATE:
	case ASEBA_MSG_BREAKPOINT_CLEAR_ALL:
	case ASEBA_MSG_WRITE_BYTECODE:
	case ASEBA_MSG_REBOOT:
	case ASEBA_MSG_SUSPEND_TO_RAM:
	case ASEBA_MSG_GET_CHANGED_VARIABLES: break;
	default: return 0;
	}
	w = begin(buf, cap, source, type);
	put16(&w, dest);
	return finish(&w);
}

size_t aseba_enc_breakpoint(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t dest,
			    uint16_t pc)
{
	wr w;

	if (type != ASEBA_MSG_BREAKPOINT_SET && type != ASEBA_MSG_BREAKPOINT_CLEAR)
		return 0;
	w = begin(buf, cap, source, type);
	put16(&w, dest);
	put16(&w, pc);
	return finish(&w);
}

size_t aseba_enc_get_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			       uint16_t start, uint16_t length)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_GET_VARIABLES);
	put16(&w, dest);
	put16(&w, start);
	put16(&w, length);
	return finish(&w);
}

/* A command of type to dest: start, then n words (at most max; signed values are written as
 * their two's complement, which is what int16 on the wire is). 0 when it does not fit. */
static size_t enc_words(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t dest,
			uint16_t start, const uint16_t *words, size_t n, size_t max)
{
	wr w;

	if (n > max || (size_t)start + n > 0x10000 || (n && !words))
		return 0;
	w = begin(buf, cap, source, type);
	put16(&w, dest);
	put16(&w, start);
	for (size_t i = 0; i < n; i++)
		put16(&w, words[i]);
	return finish(&w);
}

size_t aseba_enc_set_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			       uint16_t start, const int16_t *values, size_t n)
{
	/* int16_t and uint16_t may alias each other (C11 6.5p7) */
	return enc_words(buf, cap, source, ASEBA_MSG_SET_VARIABLES, dest, start,
			 (const uint16_t *)values, n, ASEBA_MAX_SET_WORDS);
}

size_t aseba_enc_set_bytecode(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			      uint16_t start, const uint16_t *words, size_t n)
{
	return enc_words(buf, cap, source, ASEBA_MSG_SET_BYTECODE, dest, start, words, n,
			 ASEBA_BYTECODE_CHUNK);
}

size_t aseba_bytecode_chunks(size_t nwords)
{
	return nwords == 0 ? 1 : (nwords + ASEBA_BYTECODE_CHUNK - 1) / ASEBA_BYTECODE_CHUNK;
}

size_t aseba_enc_bytecode_chunk(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				const uint16_t *program, size_t nwords, size_t i)
{
	size_t start = i * ASEBA_BYTECODE_CHUNK, n;

	if (nwords > 0x10000 || i >= aseba_bytecode_chunks(nwords))
		return 0;
	n = nwords - start < ASEBA_BYTECODE_CHUNK ? nwords - start : ASEBA_BYTECODE_CHUNK;
	return aseba_enc_set_bytecode(buf, cap, source, dest, (uint16_t)start,
				      n ? program + start : NULL, n);
}

size_t aseba_enc_get_device_info(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				 uint16_t info)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_GET_DEVICE_INFO);
	put16(&w, dest);
	put16(&w, info);
	return finish(&w);
}

size_t aseba_enc_set_device_info(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				 uint16_t info, const uint8_t *data, size_t n)
{
	wr w;

	if (n > 255 || (n && !data))
		return 0;
	w = begin(buf, cap, source, ASEBA_MSG_SET_DEVICE_INFO);
	put16(&w, dest);
	put16(&w, info);
	put16(&w, (uint16_t)n);
	putbytes(&w, data, n);
	return finish(&w);
}

size_t aseba_enc_user_event(uint8_t *buf, size_t cap, uint16_t source, uint16_t type,
			    const int16_t *args, size_t n)
{
	wr w;

	if (type > ASEBA_MSG_USER_MAX || n > ASEBA_MAX_EVENT_ARGS || (n && !args))
		return 0;
	w = begin(buf, cap, source, type);
	for (size_t i = 0; i < n; i++)
		put16(&w, (uint16_t)args[i]);
	return finish(&w);
}

size_t aseba_enc_node_present(uint8_t *buf, size_t cap, uint16_t source, uint16_t version)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_NODE_PRESENT);
	put16(&w, version);
	return finish(&w);
}

size_t aseba_enc_description(uint8_t *buf, size_t cap, uint16_t source, const char *name,
			     uint16_t version, uint16_t bytecode_size, uint16_t stack_size,
			     uint16_t variables_size, uint16_t n_variables, uint16_t n_events,
			     uint16_t n_natives)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_DESCRIPTION);
	putstr(&w, name);
	put16(&w, version);
	put16(&w, bytecode_size);
	put16(&w, stack_size);
	put16(&w, variables_size);
	put16(&w, n_variables);
	put16(&w, n_events);
	put16(&w, n_natives);
	return finish(&w);
}

size_t aseba_enc_named_variable(uint8_t *buf, size_t cap, uint16_t source, uint16_t size,
				const char *name)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION);
	put16(&w, size);
	putstr(&w, name);
	return finish(&w);
}

size_t aseba_enc_local_event(uint8_t *buf, size_t cap, uint16_t source, const char *name,
			     const char *doc)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_LOCAL_EVENT_DESCRIPTION);
	putstr(&w, name);
	putstr(&w, doc);
	return finish(&w);
}

size_t aseba_enc_native_function(uint8_t *buf, size_t cap, uint16_t source, const char *name,
				 const char *doc, const int16_t *sizes, const char *const *names,
				 size_t nparams)
{
	wr w;

	if (nparams > ASEBA_MAX_NATIVE_PARAMS || (nparams && (!sizes || !names)))
		return 0;
	w = begin(buf, cap, source, ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION);
	putstr(&w, name);
	putstr(&w, doc);
	put16(&w, (uint16_t)nparams);
	for (size_t i = 0; i < nparams; i++) {
		put16(&w, (uint16_t)sizes[i]);
		putstr(&w, names[i]);
	}
	return finish(&w);
}

size_t aseba_enc_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t start,
			   const int16_t *values, size_t n)
{
	wr w;

	if (n > ASEBA_MAX_EVENT_ARGS - 1 || (n && !values))
		return 0;
	w = begin(buf, cap, source, ASEBA_MSG_VARIABLES);
	put16(&w, start);
	for (size_t i = 0; i < n; i++)
		put16(&w, (uint16_t)values[i]);
	return finish(&w);
}

size_t aseba_enc_execution_state(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				 uint16_t flags)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_EXECUTION_STATE_CHANGED);
	put16(&w, pc);
	put16(&w, flags);
	return finish(&w);
}

size_t aseba_enc_array_out_of_bounds(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				     uint16_t size, uint16_t index)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS);
	put16(&w, pc);
	put16(&w, size);
	put16(&w, index);
	return finish(&w);
}

size_t aseba_enc_pc_error(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t pc)
{
	wr w;

	if (type != ASEBA_MSG_DIVISION_BY_ZERO && type != ASEBA_MSG_EVENT_EXECUTION_KILLED)
		return 0;
	w = begin(buf, cap, source, type);
	put16(&w, pc);
	return finish(&w);
}

size_t aseba_enc_node_specific_error(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				     const char *message)
{
	wr w = begin(buf, cap, source, ASEBA_MSG_NODE_SPECIFIC_ERROR);
	put16(&w, pc);
	putstr(&w, message);
	return finish(&w);
}

size_t aseba_enc_device_info(uint8_t *buf, size_t cap, uint16_t source, uint8_t info,
			     const uint8_t *data, size_t n)
{
	wr w;

	if (n > 255 || (n && !data))
		return 0;
	w = begin(buf, cap, source, ASEBA_MSG_DEVICE_INFO);
	put8(&w, info);
	put8(&w, (uint8_t)n);
	putbytes(&w, data, n);
	return finish(&w);
}

size_t aseba_encode(uint8_t *buf, size_t cap, const aseba_msg *m)
{
	wr w = begin(buf, cap, m->source, m->type);

	if (m->type <= ASEBA_MSG_USER_MAX) {
		putraw(&w, m->words, m->nwords);
		return finish(&w);
	}
	switch (m->type) {
	case ASEBA_MSG_DESCRIPTION:
		putstrn(&w, m->name.s, m->name.len);
		put16(&w, m->version);
		put16(&w, m->bytecode_size);
		put16(&w, m->stack_size);
		put16(&w, m->variables_size);
		put16(&w, m->n_variables);
		put16(&w, m->n_events);
		put16(&w, m->n_natives);
		break;
	case ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION:
		put16(&w, m->var_size);
		putstrn(&w, m->name.s, m->name.len);
		break;
	case ASEBA_MSG_LOCAL_EVENT_DESCRIPTION:
		putstrn(&w, m->name.s, m->name.len);
		putstrn(&w, m->doc.s, m->doc.len);
		break;
	case ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION:
		putstrn(&w, m->name.s, m->name.len);
		putstrn(&w, m->doc.s, m->doc.len);
		put16(&w, (uint16_t)m->nparams);
		for (size_t i = 0; i < m->nparams && i < ASEBA_MAX_NATIVE_PARAMS; i++) {
			put16(&w, (uint16_t)m->params[i].size);
			putstrn(&w, m->params[i].name.s, m->params[i].name.len);
		}
		break;
	case ASEBA_MSG_DISCONNECTED: break;
	case ASEBA_MSG_VARIABLES:
		put16(&w, m->start);
		putraw(&w, m->words, m->nwords);
		break;
	case ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS:
		put16(&w, m->pc);
		put16(&w, m->size);
		put16(&w, m->index);
		break;
	case ASEBA_MSG_DIVISION_BY_ZERO:
	case ASEBA_MSG_EVENT_EXECUTION_KILLED: put16(&w, m->pc); break;
	case ASEBA_MSG_NODE_SPECIFIC_ERROR:
		put16(&w, m->pc);
		putstrn(&w, m->name.s, m->name.len);
		break;
	case ASEBA_MSG_EXECUTION_STATE_CHANGED:
		put16(&w, m->pc);
		put16(&w, m->flags);
		break;
	case ASEBA_MSG_BREAKPOINT_SET_RESULT:
		put16(&w, m->pc);
		put16(&w, m->success);
		break;
	case ASEBA_MSG_NODE_PRESENT:
	case ASEBA_MSG_LIST_NODES:
	case ASEBA_MSG_GET_DESCRIPTION: put16(&w, m->version); break;
	case ASEBA_MSG_DEVICE_INFO:
		if (m->ndata > 255)
			return 0;
		put8(&w, (uint8_t)m->info);
		put8(&w, (uint8_t)m->ndata);
		putbytes(&w, m->data, m->ndata);
		break;
	case ASEBA_MSG_SET_BYTECODE:
	case ASEBA_MSG_SET_VARIABLES:
		put16(&w, m->dest);
		put16(&w, m->start);
		putraw(&w, m->words, m->nwords);
		break;
	case ASEBA_MSG_RESET:
	case ASEBA_MSG_RUN:
	case ASEBA_MSG_PAUSE:
	case ASEBA_MSG_STEP:
	case ASEBA_MSG_STOP:
	case ASEBA_MSG_GET_EXECUTION_STATE:
	case ASEBA_MSG_BREAKPOINT_CLEAR_ALL:
	case ASEBA_MSG_WRITE_BYTECODE:
	case ASEBA_MSG_REBOOT:
	case ASEBA_MSG_SUSPEND_TO_RAM:
	case ASEBA_MSG_GET_CHANGED_VARIABLES: put16(&w, m->dest); break;
	case ASEBA_MSG_BREAKPOINT_SET:
	case ASEBA_MSG_BREAKPOINT_CLEAR:
		put16(&w, m->dest);
		put16(&w, m->pc);
		break;
	case ASEBA_MSG_GET_VARIABLES:
		put16(&w, m->dest);
		put16(&w, m->start);
		put16(&w, m->length);
		break;
	case ASEBA_MSG_GET_NODE_DESCRIPTION:
		put16(&w, m->dest);
		put16(&w, m->version);
		break;
	case ASEBA_MSG_GET_NODE_DESCRIPTION_FRAGMENT:
		put16(&w, m->dest);
		put16(&w, m->version);
		put16(&w, (uint16_t)m->fragment);
		break;
	case ASEBA_MSG_GET_DEVICE_INFO:
		put16(&w, m->dest);
		put16(&w, m->info);
		break;
	case ASEBA_MSG_SET_DEVICE_INFO:
		if (m->ndata > 0xFFFF)
			return 0;
		put16(&w, m->dest);
		put16(&w, m->info);
		put16(&w, (uint16_t)m->ndata);
		putbytes(&w, m->data, m->ndata);
		break;
	default: /* CHANGED_VARIABLES, bootloader, unknown: the raw payload */
		putbytes(&w, m->data, m->ndata);
		break;
	}
	return finish(&w);
}

/* Description accumulator. */

void aseba_desc_init(aseba_desc *d, uint16_t node)
{
	memset(d, 0, sizeof *d);
	d->node = node;
	d->pool[0] = '\0';
	d->npool = 1; /* offset 0 is the empty string */
}

/* Copy s into the pool; returns its offset, or 0 with *err set when the pool is full. */
static uint32_t intern(aseba_desc *d, aseba_str s, int *err)
{
	uint32_t off = d->npool;

	if (s.len == 0)
		return 0;
	if (ASEBA_DESC_POOL - d->npool < s.len + 1) {
		*err = ASEBA_E_TOO_MANY;
		return 0;
	}
	memcpy(d->pool + off, s.s, s.len);
	d->pool[off + s.len] = '\0';
	d->npool += (uint32_t)s.len + 1;
	return off;
}

/* Forget what was collected and wait for a new DESCRIPTION; returns err. */
static int desc_fail(aseba_desc *d, int err)
{
	aseba_desc_init(d, d->node);
	return err;
}

static int desc_check_complete(aseba_desc *d)
{
	if (d->nvars == d->want_vars && d->nevents == d->want_events &&
	    d->nnatives == d->want_natives) {
		d->complete = 1;
		return 1;
	}
	return 0;
}

/* Whether a string from the device holds a NUL (it could not be used as a C string). */
static int has_nul(aseba_str s)
{
	return s.len > 0 && memchr(s.s, '\0', s.len) != NULL;
}

/* Whether a name (from the device) is usable: not empty, no NUL inside. */
static int good_name(aseba_str s)
{
	return s.len > 0 && !has_nul(s);
}

int aseba_desc_feed(aseba_desc *d, const aseba_msg *m)
{
	int err = 0;

	if (m->source != d->node)
		return 0;
	switch (m->type) {
	case ASEBA_MSG_DESCRIPTION:
		aseba_desc_init(d, d->node);
		if (m->n_variables > ASEBA_DESC_MAX_VARS || m->n_events > ASEBA_DESC_MAX_EVENTS ||
		    m->n_natives > ASEBA_DESC_MAX_NATIVES)
			return desc_fail(d, ASEBA_E_TOO_MANY);
		if (has_nul(m->name))
			return desc_fail(d, ASEBA_E_BAD_DESC);
		d->name = intern(d, m->name, &err);
		d->have_head = 1;
		d->protocol_version = m->version;
		d->bytecode_size = m->bytecode_size;
		d->stack_size = m->stack_size;
		d->variables_size = m->variables_size;
		d->want_vars = m->n_variables;
		d->want_events = m->n_events;
		d->want_natives = m->n_natives;
		return desc_check_complete(d);
	case ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION: {
		aseba_desc_var *v;
		if (!d->have_head || d->complete || d->nvars >= d->want_vars)
			return desc_fail(d, ASEBA_E_ORDER);
		if (!good_name(m->name) || d->next_offset + m->var_size > d->variables_size)
			return desc_fail(d, ASEBA_E_BAD_DESC);
		v = &d->vars[d->nvars];
		v->name = intern(d, m->name, &err);
		if (err)
			return desc_fail(d, err);
		v->offset = (uint16_t)d->next_offset;
		v->size = m->var_size;
		d->next_offset += m->var_size;
		d->nvars++;
		return desc_check_complete(d);
	}
	case ASEBA_MSG_LOCAL_EVENT_DESCRIPTION: {
		aseba_desc_event *e;
		if (!d->have_head || d->complete || d->nevents >= d->want_events)
			return desc_fail(d, ASEBA_E_ORDER);
		if (!good_name(m->name) || has_nul(m->doc))
			return desc_fail(d, ASEBA_E_BAD_DESC);
		e = &d->events[d->nevents];
		e->name = intern(d, m->name, &err);
		e->doc = intern(d, m->doc, &err);
		if (err)
			return desc_fail(d, err);
		d->nevents++;
		return desc_check_complete(d);
	}
	case ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION: {
		aseba_desc_native *f;
		if (!d->have_head || d->complete || d->nnatives >= d->want_natives)
			return desc_fail(d, ASEBA_E_ORDER);
		if (!good_name(m->name) || has_nul(m->doc))
			return desc_fail(d, ASEBA_E_BAD_DESC);
		if ((size_t)(ASEBA_DESC_MAX_PARAMS - d->nparams) < m->nparams)
			return desc_fail(d, ASEBA_E_TOO_MANY);
		f = &d->natives[d->nnatives];
		f->name = intern(d, m->name, &err);
		f->doc = intern(d, m->doc, &err);
		f->first_param = d->nparams;
		f->nparams = (uint16_t)m->nparams;
		for (size_t i = 0; i < m->nparams; i++) {
			if (!good_name(m->params[i].name) || m->params[i].size == 0)
				return desc_fail(d, ASEBA_E_BAD_DESC);
			d->params[d->nparams + i].size = m->params[i].size;
			d->params[d->nparams + i].name = intern(d, m->params[i].name, &err);
		}
		if (err)
			return desc_fail(d, err);
		d->nparams += (uint16_t)m->nparams;
		d->nnatives++;
		return desc_check_complete(d);
	}
	default: return 0;
	}
}

const char *aseba_desc_str(const aseba_desc *d, uint32_t off)
{
	return off < d->npool ? d->pool + off : "";
}

int aseba_desc_find_var(const aseba_desc *d, const char *name, uint16_t *offset, uint16_t *size)
{
	for (int i = 0; i < d->nvars; i++) {
		if (strcmp(d->pool + d->vars[i].name, name) == 0) {
			if (offset)
				*offset = d->vars[i].offset;
			if (size)
				*size = d->vars[i].size;
			return i;
		}
	}
	return -1;
}

int aseba_desc_var_at(const aseba_desc *d, uint16_t addr)
{
	for (int i = 0; i < d->nvars; i++)
		if (addr >= d->vars[i].offset && addr - d->vars[i].offset < d->vars[i].size)
			return i;
	return -1;
}

int aseba_desc_find_event(const aseba_desc *d, const char *name)
{
	for (int i = 0; i < d->nevents; i++)
		if (strcmp(d->pool + d->events[i].name, name) == 0)
			return i;
	return -1;
}

int aseba_desc_find_native(const aseba_desc *d, const char *name)
{
	for (int i = 0; i < d->nnatives; i++)
		if (strcmp(d->pool + d->natives[i].name, name) == 0)
			return i;
	return -1;
}
