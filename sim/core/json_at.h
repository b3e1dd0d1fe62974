/* A value in a parsed JSON document by dotted path: "Status.Meter.State",
 * "l1.U", "MQTT.Enabled". The one lookup the API checks, the harness and
 * sc-ctl share. */
#ifndef SC_JSON_AT_H
#define SC_JSON_AT_H

#include <cjson/cJSON.h>

/* The value, or NULL when a key along the path is missing or longer than
 * 95 characters (doc may be NULL). */
const cJSON *sc_json_at(const cJSON *doc, const char *path);

#endif
