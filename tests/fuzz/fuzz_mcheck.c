/* fuzz_mcheck.c - libFuzzer harness: the model file check (sniff, binary STL, text, 3MF through
 * libzip) on any bytes, as a file in memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../bridge/services/print/mcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	lb_model_limits lim = {5000, 1 << 20, 200};
	lb_error err = {0, ""};
	json_t *meta = NULL;
	int rc;

	if (fd < 0) {
		fd = memfd_create("fuzz_mcheck", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = lb_model_check_file(path, &lim, &meta, &err);
	if (rc == 0) {
		json_t *m = json_object_get(meta, "model");
		json_int_t faces = json_integer_value(json_object_get(m, "faces"));
		if (!json_string_value(json_object_get(m, "format")) ||
		    !json_string_value(json_object_get(m, "ext")) || faces < 1 ||
		    faces > lim.max_faces || !json_is_integer(json_object_get(m, "vertices")))
			abort();
		json_decref(meta);
	} else if (rc != LB_EFAIL || meta || !err.message[0] ||
		   (err.code != LB_ERR_INVALID_PARAMS && err.code != LB_ERR_INTERNAL)) {
		abort();
	}
	return 0;
}
