/* fuzz_profile.c - libFuzzer harness: printer profiles, presets and quotas read from any
 * configuration, and the fit check's scale suggestion (a scale it suggests fits). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/services/print/profile.h"
#include "../../bridge/util/config.h"

/*
 * Input: lines "[section]", "key = value" (as in labbridge.conf, set with lb_config_set) and
 * "@fit X Y Z SCALE ROTATE" (a model's size and a fit check).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL, section[128] = "print";
	json_t *cfg = lb_config_empty(), *arr;
	lb_profile_buf *pb = malloc(sizeof *pb);
	lb_preset_buf ps;
	lb_error err;
	lb_quota q;
	char why[128];
	int ok;

	if (!text || !cfg || !pb)
		goto done;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");
		model_info mi = {{0, 0, 0}, {0, 0, 0}, 12, 1, 1, 0};
		double s, r;
		int turn = -1;

		if (line[0] == '[' && strchr(line, ']')) {
			snprintf(section, sizeof section, "%.*s",
				 (int)(strchr(line, ']') - line - 1), line + 1);
		} else if (sscanf(line, "@fit %lf %lf %lf %lf %lf", &mi.size[0], &mi.size[1],
				  &mi.size[2], &s, &r) == 5) {
			const lb_printer_profile *pr = lb_printer_profile_at(abs((int)r) % 5);
			const char *sug;
			if (lb_profile_check_fit_ex(pr, &mi, s, r, &turn, &err) == 0) {
				if (turn != 0 && turn != 1)
					abort();
			} else if (!err.message[0]) {
				abort();
			} else if ((sug = strstr(err.message, "(scale ")) &&
				   lb_profile_check_fit_ex(pr, &mi, atoi(sug + 7), r, &turn,
							   &err) != 0) {
				abort(); /* the scale suggested does not fit */
			}
		} else if (eq && section[0] != '_') {
			*eq = '\0';
			if (line[0] && line[0] != '_')
				lb_config_set(cfg, section, line, eq + 3);
		}
	}
	ok = lb_print_config_check(cfg, &err) == 0;
	if (!ok && !err.message[0])
		abort();
	if (ok && (lb_profile_config(cfg, NULL, 0, pb, &err) < 0 ||
		   lb_profile_config(cfg, "printer-x", 0, pb, &err) < 0 ||
		   lb_preset_config(cfg, lb_preset_default(cfg), &ps, &err) < 0 ||
		   lb_preset_allowed(cfg, lb_preset_default(cfg), 0, &err) < 0 ||
		   lb_quota_config(cfg, &q, &err) < 0))
		abort(); /* checked at start, then refused */
	arr = lb_presets_offered(cfg, 0, &err);
	if (ok && !json_array_size(arr))
		abort();
	json_decref(arr);
	json_decref(lb_presets_offered(cfg, 1, &err));
	json_decref(lb_profile_names(cfg));
	lb_preset_allowed(cfg, "fin", 0, &err);
	if (ok) {
		arr = json_array();
		lb_quota_check(&q, arr, "unix:a", 3600, 10, 0, why, sizeof why);
		json_decref(arr);
	}
done:
	free(text);
	free(pb);
	json_decref(cfg);
	return 0;
}
