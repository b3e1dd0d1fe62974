#include "civil.h"

/* Howard Hinnant's days_from_civil / civil_from_days algorithms. */
int64_t sc_days_from_civil(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t sc_civil_to_epoch(const struct sc_civil *c)
{
	return sc_days_from_civil(c->year, c->month, c->day) * 86400 +
	       (int64_t)c->hour * 3600 + (int64_t)c->minute * 60 + c->second;
}

void sc_epoch_to_civil(int64_t epoch, struct sc_civil *c)
{
	int64_t days = epoch / 86400;
	int64_t secs = epoch % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	c->year = (int)(yoe + era * 400 + (m <= 2));
	c->month = (int)m;
	c->day = (int)d;
	c->hour = (int)(secs / 3600);
	c->minute = (int)(secs / 60 % 60);
	c->second = (int)(secs % 60);
}

static int days_in_month(int year, int month)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return dim[month - 1];
}

bool sc_civil_valid(const struct sc_civil *c)
{
	return c->month >= 1 && c->month <= 12 && c->day >= 1 &&
	       c->day <= days_in_month(c->year, c->month) && c->hour >= 0 && c->hour <= 23 &&
	       c->minute >= 0 && c->minute <= 59 && c->second >= 0 && c->second <= 59;
}

/* Epoch of 01:00 UTC on the last Sunday of a month. */
static int64_t last_sunday_0100(int year, int month)
{
	int last = days_in_month(year, month);
	int64_t days = sc_days_from_civil(year, month, last);
	/* 1970-01-01 was a Thursday: weekday 0 = Sunday is (days + 4) % 7. */
	int64_t wd = ((days + 4) % 7 + 7) % 7;
	return (days - wd) * 86400 + 3600;
}

bool sc_eu_summer_time(int64_t epoch)
{
	struct sc_civil c;
	sc_epoch_to_civil(epoch, &c);
	return epoch >= last_sunday_0100(c.year, 3) && epoch < last_sunday_0100(c.year, 10);
}
