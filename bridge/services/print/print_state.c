/* print_state.c - what the print service's requests and model jobs both do with its state: a job
 * as clients see it, a queue change published on bridge/queue/. */
#include "print_state.h"

/* v, or JSON null for NULL. */
static json_t *or_null(json_t *v)
{
	return v ? v : json_null();
}

json_t *print_job_view(print_state *st, long long id)
{
	json_t *job = st->printq ? lb_printq_job(st->printq, id) : NULL;

	if (job)
		json_object_set_new(job, "slicing", or_null(lb_slicing_status(st->slicing, id)));
	return job;
}

void print_queue_changed(lb_server *s, print_state *st, const char *event, long long id)
{
	json_t *job = print_job_view(st, id);

	srv_publish_json(s, "bridge/queue/", &st->queue_seq,
			 json_pack("{s:s,s:I,s:o}", "event", event, "id", (json_int_t)id, "job",
				   job ? job : json_null()));
}
