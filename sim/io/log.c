#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum sc_log_level threshold = SC_LOG_INFO;
static const char *prog_name = "sc-sim";
static const char *const names[] = {"error", "warn", "info", "debug"};

void sc_log_set_level(enum sc_log_level level)
{
	threshold = level;
}

void sc_log_set_prog(const char *prog)
{
	prog_name = prog;
}

int sc_log_level_from_name(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

void sc_log(enum sc_log_level level, const char *fmt, ...)
{
	if (level > threshold)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line, so lines of one process never interleave. */
	fprintf(stderr, "%s: %s: %s\n", prog_name, names[level], line);
}
