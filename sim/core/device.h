/* The device: what a Smart Connect keeps from the telegrams it receives.
 * Meter bytes go in; out come the last good reading, the Modbus register
 * image built from it, the last raw telegram and the counters. Pure: the
 * caller passes the device time in and gets told about every telegram
 * through a callback (for its log). */
#ifndef SC_DEVICE_H
#define SC_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "reading.h"
#include "regmap.h"
#include "telegram.h"

struct sc_device_config {
	enum sc_protocol protocol;  /* SC_PROTO_P1, SC_PROTO_TIC, or AUTO from the first bytes */
	unsigned p1_flags;          /* SC_P1_NO_CRC, SC_P1_ANY_VERSION, SC_P1_STRICT */
	struct sc_regmap_opts regs; /* word order, kWh energy of firmware < 5.1 */
	/* No telegram for this long (device time) and the meter counts as
	 * silent: the last values stay served, the link state says "no data".
	 * 0 = three times the meter's cadence (30 s for DSMR 4.x, 6 s for TIC,
	 * 3 s else). */
	int64_t no_data_ms;
	/* Called for every telegram, good or not, and for garbage (may be NULL). */
	void (*on_event)(void *arg, const struct sc_tg_event *ev);
	void *on_event_arg;
	/* Called with every byte received, before it is parsed (may be NULL):
	 * the P1 ext port repeats them. */
	void (*on_bytes)(void *arg, const void *data, size_t len);
	void *on_bytes_arg;
};

struct sc_device_counters {
	uint64_t telegrams_pass;       /* parsed and served */
	uint64_t telegrams_fail;       /* complete but rejected: CRC, syntax, bad groups,
					* unsupported meter */
	uint64_t telegrams_frame_fail; /* broken framing: cut short, too long */
	uint64_t garbage_bytes;        /* bytes outside any telegram */
	uint64_t bytes;                /* every byte received */
};

struct sc_device {
	struct sc_device_config cfg;
	struct sc_tg_stream *stream;
	bool have_reading;
	struct sc_reading reading;   /* the last good telegram's */
	int64_t reading_ms;          /* device time it arrived */
	struct sc_regmap image;      /* what Modbus serves: the last good telegram's */
	uint64_t generation;         /* +1 for every good telegram */
	struct sc_device_counters counters;
	bool cut;                    /* the meter cable is out: nothing arrives */
	char last_raw[SC_P1_BUF_SIZE]; /* the last telegram as received, good or not */
	size_t last_raw_len;
	/* The last telegram rejected: its kind ("crc", "unsupported" ...), why,
	 * and the device time it came (0 = none yet). */
	char last_fail_kind[16];
	char last_fail_detail[160];
	int64_t last_fail_ms;
	uint64_t last_fail_at;       /* where in that telegram the fault was found */
	struct sc_tg_event ev;       /* scratch */
};

/* What the device knows of its meter link at a given time. */
enum sc_meter_link {
	SC_LINK_NEVER = 0, /* no good telegram since start */
	SC_LINK_OK,        /* the last one is recent */
	SC_LINK_NO_DATA,   /* the meter went quiet: last values kept */
};

/* Returns SC_OK or SC_ERR_NOMEM. Before the first telegram every register
 * reads 0 (SMART-CONNECT.md §6 Decision). */
int sc_device_init(struct sc_device *d, const struct sc_device_config *cfg);
void sc_device_free(struct sc_device *d);

/* Meter bytes received at device time now_ms (dropped while cut). */
void sc_device_feed(struct sc_device *d, const void *data, size_t len, int64_t now_ms);
/* The device restarts (power cycle, soft reset, firmware update): what it
 * kept in RAM is gone. The last reading, the register image (every register
 * reads 0 again, as at a first start), the last telegram and what was
 * rejected are cleared; the link is "never" until the first good telegram
 * after the restart. The counters are the caller's to clear (they start over
 * with the device's). The line's parser keeps its place: bytes arriving
 * across the restart finish the telegram they belong to. */
void sc_device_restart(struct sc_device *d);
/* The meter input ended (file at its end, serial port gone): reports a
 * telegram cut short. The last values stay served. */
void sc_device_input_end(struct sc_device *d, int64_t now_ms);

/* The meter's nominal cadence: 10 s for DSMR 4.x, 1 s for DSMR 5 and
 * e-MUCS, 2 s for TIC (from the last good telegram; 1 s before the first). */
int64_t sc_device_cadence_ms(const struct sc_device *d);
/* The silence after which the link counts as "no data" (no_data_ms, or its
 * default from the cadence). */
int64_t sc_device_no_data_ms(const struct sc_device *d);
enum sc_meter_link sc_device_link(const struct sc_device *d, int64_t now_ms);
/* "never", "ok", "no-data". */
const char *sc_meter_link_name(enum sc_meter_link l);

#endif
