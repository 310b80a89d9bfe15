/* watch.c - a minimal labbridge client in C: print N live samples with their units.
 *
 * Try it against the simulated lab:
 *
 *     make run                                # terminal 1: the bridge with simulated sensors
 *     make build/watch                        # terminal 2 (or the gcc line below)
 *     build/watch                             # 20 samples of every sensor
 *     build/watch sensor/sim-temp-1/ 50       # 50 samples of one device (also: --count 50)
 *
 *     gcc -std=c11 -Wall examples/c/watch.c -o watch $(pkg-config --cflags --libs libzmq jansson)
 *
 * The stream endpoint is $LABBRIDGE_PUB, or tcp://127.0.0.1:5555. Exits 0 after N samples, 1 if
 * nothing arrives for 5 s. The message format is in bridge/PROTOCOL.md; in short, each message
 * has 2 or 3 frames:
 *   1. the topic, e.g. "sensor/sim-temp-1/temperature/" (we subscribe to a prefix of it);
 *   2. a JSON header: {"seq":..,"t_host":..,"type":"f32","count":5,"rate":100,"unit":"°C",...};
 *   3. for numeric types, `count` packed little-endian samples of `type`.
 */
#define _POSIX_C_SOURCE 200809L /* localtime_r with -std=c11 */

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* Decode sample i of the given type from len little-endian bytes (any host byte order).
 * Returns 0 and sets *value, or -1 for a type we do not know or a sample beyond len. */
static int decode(const char *type, const unsigned char *p, size_t len, size_t i, double *value)
{
	static const struct {
		const char *name;
		unsigned size;
	} types[] = {{"f32", 4}, {"f64", 8}, {"i16", 2}, {"u16", 2}, {"i32", 4}, {"u8", 1}};
	uint64_t raw = 0;

	for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
		unsigned n = types[t].size;

		if (strcmp(type, types[t].name) != 0)
			continue;
		if (len / n <= i)
			return -1;	       /* a short samples frame: never read past its end */
		for (unsigned b = n; b-- > 0;) /* little-endian: the last byte is the highest */
			raw = raw << 8 | p[i * n + b];
		if (t == 0) { /* f32: reinterpret the 32 bits as a float */
			uint32_t u = (uint32_t)raw;
			float f;
			memcpy(&f, &u, sizeof f);
			*value = f;
		} else if (t == 1) { /* f64 */
			double d;
			memcpy(&d, &raw, sizeof d);
			*value = d;
		} else if (t == 2) { /* i16: sign-extend */
			*value = (double)((int32_t)raw - (raw >= 0x8000 ? 0x10000 : 0));
		} else if (t == 4) { /* i32 */
			*value = (double)((int64_t)raw - (raw >= 0x80000000u ? 0x100000000 : 0));
		} else { /* u16, u8 */
			*value = (double)raw;
		}
		return 0;
	}
	return -1;
}

/* Print the samples of one message (at most `left`); returns how many were printed. */
static long print_samples(const char *topic, json_t *header, zmq_msg_t *samples, long left)
{
	const char *type = json_string_value(json_object_get(header, "type"));
	const char *unit = json_string_value(json_object_get(header, "unit"));
	json_int_t count = json_integer_value(json_object_get(header, "count"));
	int64_t t_host = json_integer_value(json_object_get(header, "t_host"));
	double rate = json_number_value(json_object_get(header, "rate"));
	long printed = 0;

	for (json_int_t i = 0; i < count && printed < left; i++) {
		double v;
		/* sample i was measured at t_host + i / rate (ns since 1970, the bridge's clock) */
		int64_t t = t_host + (rate > 0 ? (int64_t)(i * 1e9 / rate) : 0);
		time_t secs = (time_t)(t / 1000000000);
		struct tm tm;
		char when[16];

		if (decode(type, zmq_msg_data(samples), zmq_msg_size(samples), (size_t)i, &v) < 0)
			break;
		localtime_r(&secs, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		printf("%s.%03d  %s  %.6g %s\n", when, (int)(t / 1000000 % 1000), topic, v,
		       unit ? unit : "");
		printed++;
	}
	return printed;
}

int main(int argc, char **argv)
{
	const char *endpoint = getenv("LABBRIDGE_PUB"), *prefix = "sensor/";
	long count = 20, printed = 0;
	int zero = 0, status = 1;
	void *ctx = zmq_ctx_new();
	void *sub = zmq_socket(ctx, ZMQ_SUB);

	/* arguments: [PREFIX] [N], or --count N anywhere */
	for (int i = 1, npos = 0; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = atol(argv[++i]);
		else if (npos++ == 0)
			prefix = argv[i];
		else
			count = atol(argv[i]);
	}
	if (count <= 0) {
		fprintf(stderr, "usage: watch [PREFIX] [N | --count N]   (N > 0)\n");
		goto done;
	}
	if (!endpoint || !*endpoint)
		endpoint = "tcp://127.0.0.1:5555";

	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero); /* do not wait at exit */
	if (zmq_connect(sub, endpoint) != 0) {
		fprintf(stderr, "watch: bad endpoint %s: %s\n", endpoint,
			zmq_strerror(zmq_errno()));
		goto done;
	}
	/* A prefix ending in '/' selects a whole kind, device or stream (sensor/sim-1/ does not
	 * match sensor/sim-10/). */
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));

	while (printed < count) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		zmq_msg_t frame[3];
		int nframes = 0, more = 1;

		if (zmq_poll(&item, 1, 5000) <= 0) {
			fprintf(stderr,
				"watch: nothing on '%s' from %s for 5 s - is labbridge running"
				" (make run)?\n",
				prefix, endpoint);
			goto done;
		}
		/* read the frames of one message: topic, header, samples (extra ones are dropped)
		 */
		while (more) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, sub, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			more = zmq_msg_more(&m);
			if (nframes < 3)
				frame[nframes++] = m;
			else
				zmq_msg_close(&m);
		}
		if (nframes >= 2) {
			char topic[256];
			json_t *header =
			    json_loadb(zmq_msg_data(&frame[1]), zmq_msg_size(&frame[1]), 0, NULL);
			const char *type = json_string_value(json_object_get(header, "type"));
			size_t len = zmq_msg_size(&frame[0]);

			snprintf(topic, sizeof topic, "%.*s", (int)(len < 255 ? len : 255),
				 (const char *)zmq_msg_data(&frame[0]));
			if (type && strcmp(type, "json") == 0) {
				/* an event, e.g. {"event":"end","reason":"unplugged"}: show it,
				 * don't count it */
				char *text =
				    json_dumps(json_object_get(header, "data"), JSON_ENCODE_ANY);
				printf("%s  %s\n", topic, text ? text : "?");
				free(text);
			} else if (type && nframes == 3) {
				printed += print_samples(topic, header, &frame[2], count - printed);
			}
			json_decref(header);
		}
		for (int i = 0; i < nframes; i++)
			zmq_msg_close(&frame[i]);
		fflush(stdout);
	}
	status = 0;
done:
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return status;
}
