/* Calendar arithmetic on the proleptic Gregorian calendar, without the C
 * library's time zone state, and the EU summer-time rule the meters follow. */
#ifndef SC_CIVIL_H
#define SC_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

struct sc_civil {
	int year, month, day;     /* month 1-12, day 1-31 */
	int hour, minute, second;
};

/* Days since 1970-01-01 of a date (valid for any year in int range). */
int64_t sc_days_from_civil(int year, int month, int day);
/* Epoch seconds of a civil time taken as UTC. */
int64_t sc_civil_to_epoch(const struct sc_civil *c);
/* Civil UTC time of epoch seconds. */
void sc_epoch_to_civil(int64_t epoch, struct sc_civil *c);
/* True when the fields name a real date and time. */
bool sc_civil_valid(const struct sc_civil *c);
/* EU rule: summer time from the last Sunday of March 01:00 UTC to the last
 * Sunday of October 01:00 UTC. */
bool sc_eu_summer_time(int64_t epoch);

#endif
