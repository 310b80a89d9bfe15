/* service.c - the registry of services (linker section) and the methods they declare. */
#include "service.h"

#include <string.h>

/* The linker gathers every LB_REGISTER_SERVICE pointer into this section and names its ends. */
extern const lb_service *__start_lb_service_list[] __attribute__((weak));
extern const lb_service *__stop_lb_service_list[] __attribute__((weak));

const lb_service *const *lb_services(size_t *n)
{
	if (!__start_lb_service_list) {
		*n = 0;
		return NULL;
	}
	*n = (size_t)(__stop_lb_service_list - __start_lb_service_list);
	return (const lb_service *const *)__start_lb_service_list;
}

const lb_method *lb_service_internal(const char *name)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->internal; m && m->name; m++)
			if (strcmp(m->name, name) == 0)
				return m;
	return NULL;
}

const lb_method *lb_service_method(const char *name, const lb_service **svc)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++)
			if (strcmp(m->name, name) == 0) {
				if (svc)
					*svc = v[i];
				return m;
			}
	return NULL;
}
