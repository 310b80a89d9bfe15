/* ziplib.h - the libzip functions the 3MF check uses, loaded on the first 3MF (dlopen), so that a
 * bridge that never checks a 3MF never maps libzip nor the libcrypto it pulls in. */
#ifndef LB_ZIPLIB_H
#define LB_ZIPLIB_H

#include <zip.h>

#include "../../util/error.h"

/* libzip's run-time name in Debian 12 (package libzip4). */
#define LB_ZIPLIB_SONAME "libzip.so.4"

/* The functions used, each a member of lb_ziplib of the same name and type. */
#define LB_ZIPLIB_FUNCS(X)                                                                         \
	X(zip_compression_method_supported)                                                        \
	X(zip_discard)                                                                             \
	X(zip_error_code_zip)                                                                      \
	X(zip_error_fini)                                                                          \
	X(zip_error_init)                                                                          \
	X(zip_error_init_with_code)                                                                \
	X(zip_error_strerror)                                                                      \
	X(zip_fclose)                                                                              \
	X(zip_file_get_error)                                                                      \
	X(zip_fopen_index)                                                                         \
	X(zip_fread)                                                                               \
	X(zip_get_error)                                                                           \
	X(zip_get_num_entries)                                                                     \
	X(zip_open_from_source)                                                                    \
	X(zip_source_filep_create)                                                                 \
	X(zip_source_free)                                                                         \
	X(zip_stat_index)

#define LB_ZIPLIB_MEMBER(f) __typeof__(f) *f;
typedef struct lb_ziplib {
	LB_ZIPLIB_FUNCS(LB_ZIPLIB_MEMBER)
} lb_ziplib;
#undef LB_ZIPLIB_MEMBER

/* libzip's functions, loaded once for the process's life (thread-safe); NULL with err set
 * (LB_ERR_INTERNAL: the library or one of its functions is missing, dlerror's words). */
const lb_ziplib *lb_ziplib_get(lb_error *err);

#endif
