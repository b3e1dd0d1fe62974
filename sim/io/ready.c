/* Readiness: the ready file and systemd's notification (ready.h). */
#include "ready.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "statefile.h"

int sc_ready_clear(const char *path, char *why, size_t cap)
{
	if (path && unlink(path) != 0 && errno != ENOENT) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void add_port(cJSON *o, const char *key, int port)
{
	if (port > 0)
		cJSON_AddNumberToObject(o, key, port);
	else
		cJSON_AddNullToObject(o, key);
}

int sc_ready_announce(const char *path, const struct sc_ready *r, char *why, size_t cap)
{
	if (path) {
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		cJSON_AddNumberToObject(o, "pid", (double)getpid());
		cJSON_AddStringToObject(o, "serial", r->serial);
		cJSON_AddNumberToObject(o, "devices", r->devices);
		add_port(o, "modbus", r->modbus_port);
		add_port(o, "http", r->http_port);
		add_port(o, "https", r->https_port);
		char *text = cJSON_Print(o);
		cJSON_Delete(o);
		if (!text) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		size_t n = strlen(text);
		text[n] = '\n'; /* cJSON_Print's NUL becomes the last line's end */
		int rc = sc_write_file_atomic(path, text, n + 1, 0644, why, cap);
		free(text);
		if (rc != 0)
			return -1;
	}
	int rc = sd_notifyf(0, "READY=1\nMAINPID=%ld\nSTATUS=%s", (long)getpid(),
			    r->status ? r->status : "ready");
	if (rc < 0) {
		snprintf(why, cap, "NOTIFY_SOCKET: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

void sc_ready_withdraw(const char *path)
{
	sd_notify(0, "STOPPING=1");
	if (path)
		unlink(path);
}
