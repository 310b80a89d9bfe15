/* compile.h - Aseba (AESL) programs compiled in the bridge by Debian's Aseba compiler (C API). */
#ifndef LB_THYMIO_COMPILE_H
#define LB_THYMIO_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../../protocols/aseba.h" /* C declarations, also from C++ */

/* A global (user) event the program may emit or handle: its id is its index in the list. */
typedef struct thymio_event_decl {
	char name[64];
	int size; /* int16 arguments, 0..ASEBA_MAX_EVENT_ARGS */
} thymio_event_decl;

/* What a compile gives: the bytecode, or where and why the source is wrong. */
typedef struct thymio_compiled {
	uint16_t *words; /* malloc'd (free() it); NULL when the compile failed */
	size_t nwords;
	unsigned line, column; /* 1-based; 0 when the compiler gave no position */
	char message[256];     /* the compiler's message (UTF-8), or why it could not run */
} thymio_compiled;

/*
 * Compile source (UTF-8, NUL-terminated) for the node described by d (complete), with the global
 * events[0..nevents) declared (the IDE's event list), refusing more than max_words of bytecode.
 * Returns 0 with out->words set; 1 when the program is wrong (out->line, column, message: the
 * compiler's); negative (LB_EFAIL) when the compiler could not run (no en_US.UTF-8 locale, out of
 * memory: out->message says which). No C++ exception crosses this function.
 */
int thymio_compile(const aseba_desc *d, const thymio_event_decl *events, size_t nevents,
		   const char *source, size_t max_words, thymio_compiled *out);

#ifdef __cplusplus
}
#endif

#endif
