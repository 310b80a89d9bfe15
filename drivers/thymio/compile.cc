// compile.cc - Aseba programs compiled against a node's own description by Debian's Aseba compiler
// (libasebacompiler), behind a C interface that no exception crosses.
#include "compile.h"

#include "../../bridge/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <locale>
#include <new>
#include <sstream>
#include <string>

#include <compiler/compiler.h>

// UTF-8 to a wide string (code points; bad bytes become U+FFFD).
static std::wstring widen(const char *s, size_t n)
{
	std::wstring w;
	size_t i = 0;

	w.reserve(n);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp, more;
		if (c < 0x80) {
			cp = c, more = 0;
		} else if ((c & 0xE0) == 0xC0) {
			cp = c & 0x1F, more = 1;
		} else if ((c & 0xF0) == 0xE0) {
			cp = c & 0x0F, more = 2;
		} else if ((c & 0xF8) == 0xF0) {
			cp = c & 0x07, more = 3;
		} else {
			w.push_back(L'\uFFFD');
			i++;
			continue;
		}
		if (i + more >= n) {
			w.push_back(L'\uFFFD');
			break;
		}
		size_t k = 1;
		for (; k <= more; k++) {
			unsigned char d = (unsigned char)s[i + k];
			if ((d & 0xC0) != 0x80)
				break;
			cp = (cp << 6) | (d & 0x3F);
		}
		if (k <= more) {
			w.push_back(L'\uFFFD');
			i += k;
			continue;
		}
		w.push_back((wchar_t)cp);
		i += more + 1;
	}
	return w;
}

// A NUL-terminated UTF-8 string, widened.
static std::wstring widen(const char *s)
{
	return widen(s, strlen(s));
}

// A wide string as UTF-8 into out[cap] (truncated on a character boundary).
static void narrow(const std::wstring &w, char *out, size_t cap)
{
	size_t n = 0;

	for (wchar_t wc : w) {
		unsigned cp = (unsigned)wc;
		char b[4];
		size_t len;
		if (cp < 0x80)
			b[0] = (char)cp, len = 1;
		else if (cp < 0x800)
			b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), len = 2;
		else if (cp < 0x10000)
			b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
			b[2] = (char)(0x80 | (cp & 0x3F)), len = 3;
		else
			b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
			b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)),
			len = 4;
		if (n + len + 1 > cap)
			break;
		memcpy(out + n, b, len);
		n += len;
	}
	if (cap)
		out[n] = '\0';
}

// The compiler's view of a node: the description the node sent, item for item.
static void target_of(const aseba_desc *d, Aseba::TargetDescription &t)
{
	t.name = widen(aseba_desc_str(d, d->name));
	t.protocolVersion = d->protocol_version;
	t.bytecodeSize = d->bytecode_size;
	t.variablesSize = d->variables_size;
	t.stackSize = d->stack_size;
	for (unsigned i = 0; i < d->nvars; i++)
		t.namedVariables.emplace_back(widen(aseba_desc_str(d, d->vars[i].name)),
					      d->vars[i].size);
	for (unsigned i = 0; i < d->nevents; i++) {
		Aseba::TargetDescription::LocalEvent e;
		e.name = widen(aseba_desc_str(d, d->events[i].name));
		e.description = widen(aseba_desc_str(d, d->events[i].doc));
		t.localEvents.push_back(e);
	}
	for (unsigned i = 0; i < d->nnatives; i++) {
		Aseba::TargetDescription::NativeFunction f;
		const aseba_desc_native *n = &d->natives[i];
		f.name = widen(aseba_desc_str(d, n->name));
		f.description = widen(aseba_desc_str(d, n->doc));
		for (unsigned k = 0; k < n->nparams; k++) {
			const aseba_desc_param *p = &d->params[n->first_param + k];
			f.parameters.emplace_back(widen(aseba_desc_str(d, p->name)), p->size);
		}
		t.nativeFunctions.push_back(f);
	}
}

// The compile itself; may throw (the caller catches).
static int compile_cpp(const aseba_desc *d, const thymio_event_decl *events, size_t nevents,
		       const char *source, size_t max_words, thymio_compiled *out)
{
	Aseba::TargetDescription target;
	Aseba::CommonDefinitions common;
	Aseba::BytecodeVector bytecode;
	Aseba::Error error;
	unsigned allocated = 0;

	// the tokenizer builds std::locale("en_US.UTF-8"): check it first, for a clear message
	try {
		std::locale probe("en_US.UTF-8");
		(void)probe;
	} catch (const std::exception &) {
		snprintf(out->message, sizeof out->message,
			 "the Aseba compiler needs the en_US.UTF-8 locale: enable it in "
			 "/etc/locale.gen and run locale-gen (Debian package locales)");
		return LB_EFAIL;
	}
	target_of(d, target);
	for (size_t i = 0; i < nevents; i++)
		common.events.push_back(Aseba::NamedValue(widen(events[i].name), events[i].size));
	Aseba::Compiler compiler;
	compiler.setTargetDescription(&target);
	compiler.setCommonDefinitions(&common);
	std::wistringstream in(widen(source));
	if (!compiler.compile(in, bytecode, allocated, error)) {
		out->line = error.pos.valid ? error.pos.row + 1 : 0;
		out->column = error.pos.valid ? error.pos.column + 1 : 0;
		narrow(error.message, out->message, sizeof out->message);
		return 1;
	}
	if (bytecode.size() > max_words) {
		snprintf(out->message, sizeof out->message,
			 "the program takes %zu words of bytecode; the robot holds %zu",
			 bytecode.size(), max_words);
		return 1;
	}
	out->words = (uint16_t *)malloc((bytecode.size() ? bytecode.size() : 1) * sizeof(uint16_t));
	if (!out->words) {
		snprintf(out->message, sizeof out->message, "out of memory");
		return LB_EFAIL;
	}
	for (size_t i = 0; i < bytecode.size(); i++)
		out->words[i] = bytecode[i].bytecode;
	out->nwords = bytecode.size();
	return 0;
}

// See compile.h: every exception is caught here and becomes LB_EFAIL with a message.
extern "C" int thymio_compile(const aseba_desc *d, const thymio_event_decl *events, size_t nevents,
			      const char *source, size_t max_words, thymio_compiled *out)
{
	memset(out, 0, sizeof *out);
	try {
		return compile_cpp(d, events, nevents, source, max_words, out);
	} catch (const std::bad_alloc &) {
		snprintf(out->message, sizeof out->message, "out of memory while compiling");
	} catch (const std::exception &e) {
		snprintf(out->message, sizeof out->message, "the Aseba compiler failed: %s",
			 e.what());
	} catch (...) {
		snprintf(out->message, sizeof out->message, "the Aseba compiler failed");
	}
	free(out->words);
	out->words = NULL;
	return LB_EFAIL;
}
