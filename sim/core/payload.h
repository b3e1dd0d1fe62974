/* MQTT/JSON payloads of the device (SMART-CONNECT.md §7). */
#ifndef SC_PAYLOAD_H
#define SC_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "reading.h"

/* power_instant as a cJSON object: ts, P, P+, P-, E_IMPORT, E_EXPORT, U12,
 * U31, U32, Q, Q+, Q-, EQ1..EQ4, PF, S, PFAIL, LPFAIL, l1, l2, l3 (objects
 * with U, I, P, P+, P-, Q, Q+, Q-, S, VSAGS, VSWELLS); absent values are
 * null. ts is null when the reading has none. Caller frees with
 * cJSON_Delete; NULL when out of memory. */
cJSON *sc_payload_power_instant(const struct sc_reading *r);

/* The same, printed compactly into buf (NUL-terminated). Returns the length,
 * or a negative sc_err (SC_ERR_RANGE when buf is too small). */
int sc_payload_power_instant_text(const struct sc_reading *r, char *buf, size_t cap);

/* What the firmware changes in power_instant: before 5.1.x E_IMPORT and
 * E_EXPORT were sent in kWh, since then in Wh. The manual puts the same
 * footnote on these two keys (§5.4) as on the energy registers (§5.3):
 * "In eerdere versies werden deze waarden onjuist weergegeven in kWh.
 * Sinds de release van V5.1.x is dit veranderd naar Wh." */
struct sc_payload_opts {
	bool energy_kwh; /* firmware before 5.1: E_IMPORT, E_EXPORT in kWh */
};

/* sc_payload_power_instant and sc_payload_power_instant_text as the
 * firmware o sends them (NULL: as 5.1 and later, energy in Wh). */
cJSON *sc_payload_power_instant_as(const struct sc_reading *r, const struct sc_payload_opts *o);
int sc_payload_power_instant_text_as(const struct sc_reading *r, const struct sc_payload_opts *o,
				     char *buf, size_t cap);

/* Fill a reading from a power_instant object (the inverse, for clients that
 * read what a device published). Unknown keys are ignored; returns SC_OK or
 * SC_ERR_INVAL when a known key has a value that is neither number nor null. */
int sc_payload_parse_power_instant(const cJSON *obj, struct sc_reading *r);

#endif
