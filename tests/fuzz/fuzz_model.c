/* fuzz_model.c - libFuzzer harness: the 3D model sniffer and the G-code command test on any bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/gcode.h"
#include "../../protocols/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model_format f = model_sniff(data, size, (long long)size);
	model_format g = model_sniff(data, size, -1);
	char *cmd;

	if (f < MODEL_NONE || f > MODEL_OBJ || g < MODEL_NONE || g > MODEL_OBJ)
		abort();
	if (!model_format_name(f) || (f != MODEL_NONE && !model_format_name(f)[0]))
		abort();
	/* a G-code command line is never taken for an ASCII STL (an OBJ's "g 3" can be both) */
	cmd = malloc(size + 1);
	if (!cmd)
		return 0;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	if (gcode_is_command(cmd) && size > 0 && !memchr(data, '\n', size) && g == MODEL_STL_ASCII)
		abort();
	free(cmd);
	{
		model_info mi;
		int r = model_info_parse((const char *)data, size, &mi);
		for (int i = 0; i < 3; i++)
			if (r == 0 && !(mi.size[i] >= 0))
				abort();
		if (mi.manifold < -1 || mi.manifold > 1)
			abort();
	}
	return 0;
}
