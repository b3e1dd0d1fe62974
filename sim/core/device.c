#include "device.h"

#include <string.h>

#include "cursor.h"
#include "sc_error.h"

int sc_device_init(struct sc_device *d, const struct sc_device_config *cfg)
{
	memset(d, 0, sizeof *d);
	d->cfg = *cfg;
	d->stream = sc_tg_stream_new(cfg->protocol, cfg->p1_flags);
	if (!d->stream)
		return SC_ERR_NOMEM;
	sc_regmap_build(&d->image, NULL, &d->cfg.regs);
	return SC_OK;
}

void sc_device_free(struct sc_device *d)
{
	if (d) {
		sc_tg_stream_free(d->stream);
		d->stream = NULL;
	}
}

/* As much of src as fits, NUL-terminated. */
static void handle(struct sc_device *d, int64_t now_ms)
{
	struct sc_tg_event *ev = &d->ev;
	switch (ev->kind) {
	case SC_TG_NONE:
		return;
	case SC_TG_GARBAGE:
		d->counters.garbage_bytes += ev->length;
		break;
	case SC_TG_FAILED:
		if (strcmp(ev->name, "framing") == 0 || strcmp(ev->name, "overflow") == 0)
			d->counters.telegrams_frame_fail++;
		else
			d->counters.telegrams_fail++;
		sc_str_copy(d->last_fail_kind, sizeof d->last_fail_kind, ev->name);
		sc_str_copy(d->last_fail_detail, sizeof d->last_fail_detail, ev->detail);
		d->last_fail_ms = now_ms;
		d->last_fail_at = ev->error_offset >= ev->offset ? ev->error_offset - ev->offset : 0;
		break;
	case SC_TG_OK:
		d->counters.telegrams_pass++;
		d->reading = ev->reading;
		/* A telegram without a usable timestamp is stamped on arrival. */
		if (!d->reading.ts_set) {
			d->reading.ts = now_ms / 1000;
			d->reading.ts_set = true;
		}
		d->reading_ms = now_ms;
		d->have_reading = true;
		sc_regmap_build(&d->image, &d->reading, &d->cfg.regs);
		d->generation++;
		break;
	}
	if (ev->raw && ev->raw_len <= sizeof d->last_raw && ev->kind != SC_TG_GARBAGE) {
		memcpy(d->last_raw, ev->raw, ev->raw_len);
		d->last_raw_len = ev->raw_len;
	}
	if (d->cfg.on_event)
		d->cfg.on_event(d->cfg.on_event_arg, ev);
}

void sc_device_feed(struct sc_device *d, const void *data, size_t len, int64_t now_ms)
{
	const char *p = data;
	if (d->cut)
		return;
	d->counters.bytes += len;
	if (d->cfg.on_bytes)
		d->cfg.on_bytes(d->cfg.on_bytes_arg, data, len);
	while (len > 0) {
		size_t used = sc_tg_feed(d->stream, p, len, &d->ev);
		p += used;
		len -= used;
		handle(d, now_ms);
	}
}

void sc_device_input_end(struct sc_device *d, int64_t now_ms)
{
	while (sc_tg_finish(d->stream, &d->ev) != SC_TG_NONE)
		handle(d, now_ms);
}

void sc_device_restart(struct sc_device *d)
{
	d->have_reading = false;
	memset(&d->reading, 0, sizeof d->reading);
	d->reading_ms = 0;
	sc_regmap_build(&d->image, NULL, &d->cfg.regs);
	/* Modbus serves a new image: readers keyed on the generation rebuild. */
	d->generation++;
	d->last_raw_len = 0;
	d->last_fail_kind[0] = d->last_fail_detail[0] = '\0';
	d->last_fail_ms = 0;
	d->last_fail_at = 0;
}

int64_t sc_device_cadence_ms(const struct sc_device *d)
{
	/* P1-DSMR.md: DSMR 4.x every 10 s; DSMR 5.0 and e-MUCS every second.
	 * A Linky in standard mode sends frame after frame, each taking 0.9-1.5
	 * s on the 9600 baud line (TIC.md): 2 s is its cadence with room. */
	if (d->have_reading && d->reading.flavour == SC_FLAVOUR_DSMR42)
		return 10000;
	if (d->have_reading && d->reading.flavour == SC_FLAVOUR_TIC)
		return 2000;
	return 1000;
}

int64_t sc_device_no_data_ms(const struct sc_device *d)
{
	return d->cfg.no_data_ms > 0 ? d->cfg.no_data_ms : 3 * sc_device_cadence_ms(d);
}

enum sc_meter_link sc_device_link(const struct sc_device *d, int64_t now_ms)
{
	if (!d->have_reading)
		return SC_LINK_NEVER;
	return now_ms - d->reading_ms >= sc_device_no_data_ms(d) ? SC_LINK_NO_DATA : SC_LINK_OK;
}

const char *sc_meter_link_name(enum sc_meter_link l)
{
	switch (l) {
	case SC_LINK_OK:
		return "ok";
	case SC_LINK_NO_DATA:
		return "no-data";
	case SC_LINK_NEVER:
		break;
	}
	return "never";
}
