/* How the runner compares what a device serves with what the oracle
 * expects, and how it lists the differences: pure functions, no I/O. */
#ifndef SC_COMPARE_H
#define SC_COMPARE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* A value a device may hold as float32 (an embedded unit does): got equals
 * want when both round to the same float32, or when got is within one
 * float32 step (ulp) of want's float32. NaN equals nothing; infinities,
 * and values beyond float32's range, only themselves. */
bool sc_cmp_f32(double want, double got);

/* A list of items in a fixed buffer that never cuts an item: an item that
 * does not fit (with room kept for the tail) is counted, and
 * sc_list_end appends " (N more)". Items are joined by ", ". */
struct sc_list {
	char *buf;      /* the caller's, NUL-terminated at every step */
	size_t cap;
	size_t used;
	int n;          /* items written */
	int more;       /* items left out */
};

void sc_list_init(struct sc_list *l, char *buf, size_t cap);
/* Appends item (whole, or counted as left out). */
void sc_list_add(struct sc_list *l, const char *item);
/* Appends " (N more)" when items were left out. */
void sc_list_end(struct sc_list *l);

/* Copies src into dst (cap bytes) whole when it fits; else cut at the last
 * ", " that leaves room for " (N more)", N counting the items cut off
 * (the ", " separated parts). dst is always NUL-terminated. */
void sc_text_fit(char *dst, size_t cap, const char *src);

/* The oracle's expected power_instant (want) against a received one (got):
 * every field compared, each difference added to diffs as "KEY GOT (want
 * WANT)" ("l1.U 231 (want 230)", "l2 missing"). Numbers pass within float32
 * rounding of the oracle's (a unit may hold them as float32); ts is the
 * meter's, or with ts_window > 0 the unit's own clock: within ts_window
 * seconds of wall, the real time the message arrived (s since 1970). */
void sc_cmp_payload(const cJSON *want, const cJSON *got, struct sc_list *diffs, double ts_window,
		    double wall);

/* The device's counters (the twin's Status.Counters) are of two sorts:
 * event counts, which only go up while the device runs (telegrams_*,
 * mqtt_*, *_ping_*, heap_failed_allocs), and gauges, which say how things
 * stand (uptime, heap_free, heap_min_free, heap_largest_free). True for a
 * gauge. */
bool sc_counter_is_gauge(const char *name);

/* The counters as a run sees them: now (an object of numbers) with every
 * event count less its value in base, the counters read at the start of
 * the run; gauges as they are. When the device restarted since base (its
 * uptime is below base's, or an event count went down) the counts started
 * over, so they are given as they are. base NULL: all as they are. Returns
 * a new object the caller frees with cJSON_Delete, NULL if out of memory
 * or now is not an object. */
cJSON *sc_counters_since(const cJSON *now, const cJSON *base);

#endif
