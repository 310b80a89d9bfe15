/* watch.c - the smallest C client of labbridge: print live sensor samples with their units.
 *
 * Build:  make build/watch   (or: cc watch.c -o watch $(pkg-config --cflags --libs libzmq jansson))
 * Run:    build/watch [PREFIX] [--count N]      e.g.  build/watch sensor/sim-temp-1/ --count 20
 *
 * With `make run` in another terminal. The stream endpoint is $LABBRIDGE_PUB, or
 * tcp://127.0.0.1:5555. Each message is: topic, a JSON header, and the samples as packed
 * little-endian floats (bridge/PROTOCOL.md).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
	const char *ep = getenv("LABBRIDGE_PUB"), *prefix = "sensor/";
	long count = 20, printed = 0;
	void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
	int zero = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = atol(argv[++i]);
		else
			prefix = argv[i];
	}
	if (!ep || !*ep)
		ep = "tcp://127.0.0.1:5555";
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_connect(sub, ep);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)); /* a kind, device or stream */

	while (printed < count) {
		zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
		zmq_msg_t topic, header, samples;
		json_t *h;

		if (zmq_poll(&it, 1, 5000) <= 0) {
			fprintf(stderr, "watch: nothing on %s within 5 s: is labbridge running?\n",
				ep);
			break;
		}
		zmq_msg_init(&topic), zmq_msg_init(&header), zmq_msg_init(&samples);
		zmq_msg_recv(&topic, sub, 0);
		zmq_msg_recv(&header, sub, 0);
		if (zmq_msg_more(&header))
			zmq_msg_recv(&samples, sub, 0);
		h = json_loadb(zmq_msg_data(&header), zmq_msg_size(&header), 0, NULL);
		/* json events (a stream's end) have no samples; this example shows f32 streams */
		if (h && strcmp(json_string_value(json_object_get(h, "type")), "f32") == 0) {
			const float *v = zmq_msg_data(&samples); /* little-endian, like the host */
			size_t n = zmq_msg_size(&samples) / sizeof(float);
			for (size_t i = 0; i < n && printed < count; i++, printed++)
				printf("%.*s  %g %s\n", (int)zmq_msg_size(&topic),
				       (const char *)zmq_msg_data(&topic), v[i],
				       json_string_value(json_object_get(h, "unit")));
		}
		json_decref(h);
		zmq_msg_close(&topic), zmq_msg_close(&header), zmq_msg_close(&samples);
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return printed == count ? 0 : 1;
}
