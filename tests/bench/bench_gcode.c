/* bench_gcode.c - printer codec speed: G-code frames/s, clean+policy lines/s, Marlin replies/s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../protocols/gcode.c"
#include "../../protocols/marlin.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	static const char *const file[] = {
	    "G1 X108.5 Y127.3 E480.88219 ; perimeter",
	    "G1 F1500 X110.231 Y128.012 E0.04321",
	    "M104 S215",
	    ";LAYER_CHANGE",
	    "G0 X10 Y10 Z0.3 (travel)",
	};
	static const char *const replies[] = {
	    "ok",
	    "ok N1645 P15 B3",
	    "ok T:210.0 /210.0 B:60.0 /60.0 @:0 B@:0",
	    " T:21.3 /0.0 B:20.9 /0.0 @:0 B@:0",
	    "echo:busy: processing",
	};
	const char *cmd = "G1 X108.5 Y127.3 E480.88219";
	size_t cl = strlen(cmd), fl[5], rl[5], bytes = 0, frames = 0, checked = 0, parsed = 0,
	       expect;
	gcode_policy pol = {.max_hotend = 250, .max_bed = 100};
	char frame[GCODE_FRAME_MAX], out[GCODE_CMD_MAX + 1], why[128];
	double t0, t_frame, t_check, t_parse, sum = 0;
	marlin_reply r;

	gcode_policy_forbid(&pol, "M500 M502 M997 M303", why, sizeof why);
	for (int i = 0; i < 5; i++) {
		fl[i] = strlen(file[i]);
		rl[i] = strlen(replies[i]);
	}
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int len = gcode_frame(frame, sizeof frame, (long)i, cmd, cl);
		if (len > 0) {
			frames++;
			bytes += (size_t)len;
		}
	}
	t_frame = now_s() - t0;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		int len = gcode_clean(file[i % 5], fl[i % 5], out, sizeof out);
		if (len > 0 && gcode_policy_check(&pol, out, why, sizeof why) == 0)
			checked++;
	}
	t_check = now_s() - t0;
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (marlin_parse(replies[i % 5], rl[i % 5], &r) != MARLIN_OTHER)
			parsed++;
		sum += r.ntemps ? r.temps[0].actual : r.line;
	}
	t_parse = now_s() - t0;
	/* at 250000 baud a printer takes about 600 numbered lines/s: the reference for every figure
	 */
	printf(
	    "{\"bench\":\"gcode_frame\",\"frames\":%zu,\"frames_per_s\":%.0f,\"bytes_per_s\":%.0f,"
	    "\"wire_lines_per_s\":600,\"checksum\":%zu}\n",
	    frames, frames / t_frame, bytes / t_frame, bytes % 1000);
	printf("{\"bench\":\"gcode_clean_policy\",\"lines\":%zu,\"lines_per_s\":%.0f,"
	       "\"wire_lines_per_s\":600}\n",
	       n, n / t_check);
	printf("{\"bench\":\"marlin_parse\",\"replies\":%zu,\"replies_per_s\":%.0f,"
	       "\"wire_lines_per_s\":600,\"checksum\":%.1f}\n",
	       n, n / t_parse, sum);
	/* every file line but the comment-only one (index 3) is checked and allowed */
	expect = n / 5 * 4 + (n % 5 > 3 ? n % 5 - 1 : n % 5);
	return frames == n && checked == expect && parsed == n ? 0 : 1;
}
