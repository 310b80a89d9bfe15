/* yesno.c - the yes/no words of the configuration file and the command line. */
#include "yesno.h"

#include <string.h>

int lb_yesno(const char *s)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	if (!s)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0)
			return 1;
		if (strcmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}
