#include "firmware.h"

#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "sc_error.h"

int sc_fw_parse(const char *s, struct sc_fw_version *v)
{
	int parts[3] = {0, 0, 0};
	int n = 0;
	const char *p = s;
	for (;;) {
		size_t len = 0;
		while (p[len] >= '0' && p[len] <= '9')
			len++;
		uint64_t x;
		if (len == 0 || len > 2 || sc_parse_uint(p, len, 99, &x) != SC_OK)
			return SC_ERR_INVAL;
		parts[n++] = (int)x;
		p += len;
		if (*p == '\0')
			break;
		if (*p != '.' || n == 3)
			return SC_ERR_INVAL;
		p++;
	}
	v->major = parts[0];
	v->minor = parts[1];
	v->patch = parts[2];
	return SC_OK;
}

int sc_fw_cmp(const struct sc_fw_version *a, const struct sc_fw_version *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

bool sc_fw_energy_kwh(const struct sc_fw_version *v)
{
	/* Manual §5.3 footnote: "since V5.1.x this changed to Wh". */
	static const struct sc_fw_version wh = {5, 1, 0};
	return sc_fw_cmp(v, &wh) < 0;
}

void sc_fw_format(const struct sc_fw_version *v, char *buf, size_t cap)
{
	snprintf(buf, cap, "%d.%d.%d", v->major, v->minor, v->patch);
}

void sc_fw_init(struct sc_fw *f, const struct sc_fw_version *running)
{
	memset(f, 0, sizeof *f);
	f->version = *running;
}

const char *sc_fw_state_name(enum sc_fw_state s)
{
	switch (s) {
	case SC_FW_DOWNLOADING:
		return "downloading";
	case SC_FW_VERIFYING:
		return "verifying";
	case SC_FW_INSTALLING:
		return "installing";
	case SC_FW_REBOOTING:
		return "rebooting";
	case SC_FW_IDLE:
		break;
	}
	return "idle";
}

int sc_fw_start(struct sc_fw *f, const struct sc_fw_version *target, int64_t now_ms, char *why,
		size_t cap)
{
	if (f->state != SC_FW_IDLE) {
		snprintf(why, cap, "an update is already %s", sc_fw_state_name(f->state));
		return SC_ERR_INVAL;
	}
	if (sc_fw_cmp(target, &f->version) == 0) {
		char v[16];
		sc_fw_format(target, v, sizeof v);
		snprintf(why, cap, "version %s is already installed", v);
		return SC_ERR_INVAL;
	}
	f->target = *target;
	f->state = SC_FW_DOWNLOADING;
	f->step_ms = now_ms;
	return SC_OK;
}

static int64_t step_length(enum sc_fw_state s)
{
	switch (s) {
	case SC_FW_DOWNLOADING:
		return SC_FW_DOWNLOAD_MS;
	case SC_FW_VERIFYING:
		return SC_FW_VERIFY_MS;
	case SC_FW_INSTALLING:
		return SC_FW_INSTALL_MS;
	default:
		return -1;
	}
}

bool sc_fw_step(struct sc_fw *f, int64_t now_ms)
{
	for (;;) {
		int64_t len = step_length(f->state);
		if (len < 0 || now_ms < f->step_ms + len)
			return false;
		f->step_ms += len;
		f->state = (enum sc_fw_state)(f->state + 1);
		if (f->state == SC_FW_REBOOTING)
			return true;
	}
}

void sc_fw_booted(struct sc_fw *f, int64_t now_ms)
{
	if (f->state != SC_FW_REBOOTING)
		return;
	f->have_last = true;
	f->last_from = f->version;
	f->last_to = f->target;
	f->last_at_ms = now_ms;
	f->version = f->target;
	f->state = SC_FW_IDLE;
}

int64_t sc_fw_next_ms(const struct sc_fw *f)
{
	int64_t len = step_length(f->state);
	return len < 0 ? -1 : f->step_ms + len;
}

int sc_fw_progress(const struct sc_fw *f, int64_t now_ms)
{
	if (f->state == SC_FW_IDLE)
		return 0;
	if (f->state != SC_FW_DOWNLOADING)
		return 100;
	int64_t p = (now_ms - f->step_ms) * 100 / SC_FW_DOWNLOAD_MS;
	return p < 0 ? 0 : p > 100 ? 100 : (int)p;
}
