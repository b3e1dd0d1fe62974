/* Seeded synthetic meter: see meter.h for the contract.
 *
 * Randomness is counter-based: every random draw is splitmix64 of (seed,
 * stream, key), so an instantaneous value is a pure function of the seed and
 * the time it is drawn for, and counters depend only on the times advanced
 * through. No state besides struct sc_meter, no rand(), no time(). */
#include "meter.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "sc_error.h"

#define PI 3.14159265358979323846

/* Random streams; each value a separate sequence. */
enum stream {
	ST_PARAM = 1,
	ST_INIT,
	ST_LOAD_NOISE,
	ST_APPLIANCE,
	ST_APPLIANCE_OFFSET,
	ST_CLOUD_DAY,
	ST_CLOUD,
	ST_PV_NOISE,
	ST_EV,
	ST_V_DRIFT,
	ST_V_NOISE,
	ST_TEMP_DAY,
	ST_GAS_MOD,
	ST_GAS_WATER,
	ST_GAS_COOK,
	ST_SAG,
	ST_SWELL,
	ST_PFAIL,
	ST_FAILLOG,
	ST_DEMAND,
	ST_TEMPO,   /* appended: the streams above keep their numbers */
	ST_FR_INIT,
};

/* splitmix64 (Steele, Lea, Flood 2014) finaliser. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t draw(const struct sc_meter *m, enum stream s, int64_t a, int64_t b)
{
	uint64_t h = mix64(m->cfg.seed ^ mix64((uint64_t)s * 0x100000001B3ULL));
	h = mix64(h ^ (uint64_t)a);
	return mix64(h ^ mix64((uint64_t)b + 0x632BE59BD9B4E019ULL));
}

/* Uniform in [0, 1). */
static double unit(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static double u01(const struct sc_meter *m, enum stream s, int64_t a, int64_t b)
{
	return unit(draw(m, s, a, b));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double gauss_bump(double x, double mu, double sigma)
{
	double z = (x - mu) / sigma;
	return exp(-0.5 * z * z);
}

/* ---- profiles ---- */

static const char *const profile_names[SC_PROFILE_COUNT] = {
	[SC_PROFILE_HOUSEHOLD] = "household",
	[SC_PROFILE_PV] = "pv",
	[SC_PROFILE_EV] = "ev",
	[SC_PROFILE_PV_EV] = "pv-ev",
};

const char *sc_profile_name(enum sc_profile p)
{
	return (unsigned)p < SC_PROFILE_COUNT ? profile_names[p] : "?";
}

int sc_profile_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_PROFILE_COUNT; i++)
		if (strcmp(profile_names[i], name) == 0)
			return i;
	return -1;
}

static bool has_pv(const struct sc_meter *m)
{
	return m->cfg.profile == SC_PROFILE_PV || m->cfg.profile == SC_PROFILE_PV_EV;
}

static bool has_ev(const struct sc_meter *m)
{
	return m->cfg.profile == SC_PROFILE_EV || m->cfg.profile == SC_PROFILE_PV_EV;
}

/* ---- local time (CET/CEST, EU rule) ---- */

int64_t sc_meter_utc_offset(int64_t epoch)
{
	return sc_eu_summer_time(epoch) ? 7200 : 3600;
}

struct local {
	struct sc_civil c;
	int64_t day;  /* local days since 1970-01-01 */
	int wday;     /* 0 = Sunday */
	double hour;  /* fractional local hour 0..24 */
};

static void local_time(int64_t t, struct local *l)
{
	sc_epoch_to_civil(t + sc_meter_utc_offset(t), &l->c);
	l->day = sc_days_from_civil(l->c.year, l->c.month, l->c.day);
	/* 1970-01-01 was a Thursday. */
	l->wday = (int)(((l->day + 4) % 7 + 7) % 7);
	l->hour = l->c.hour + l->c.minute / 60.0 + l->c.second / 3600.0;
}

/* UTC epoch of a local wall-clock time given as seconds since the local
 * epoch; in the autumn overlap the summer-time reading wins. */
static int64_t local_to_utc(int64_t local)
{
	if (sc_eu_summer_time(local - 7200))
		return local - 7200;
	return local - 3600;
}

int64_t sc_meter_local_to_utc(int64_t local)
{
	return local_to_utc(local);
}

/* Local midnight on the 1st of a month, as UTC epoch. */
static int64_t month_start(int year, int month)
{
	while (month < 1) {
		month += 12;
		year--;
	}
	while (month > 12) {
		month -= 12;
		year++;
	}
	return local_to_utc(sc_days_from_civil(year, month, 1) * 86400);
}

/* Dutch tariff times (most grid operators): low 23:00-07:00 on weekdays and
 * all weekend; 1 = low, 2 = normal. Public holidays are not modelled. */
static int tariff_at(int64_t t)
{
	struct local l;
	local_time(t, &l);
	if (l.wday == 0 || l.wday == 6 || l.c.hour < 7 || l.c.hour >= 23)
		return 1;
	return 2;
}

/* ---- French calendars (meter.h) ---- */

bool sc_meter_fr_offpeak(int64_t t)
{
	struct local l;
	local_time(t, &l);
	return l.c.hour >= 22 || l.c.hour < 6;
}

bool sc_meter_fr_high_season(int64_t t)
{
	struct local l;
	local_time(t, &l);
	return l.c.month >= 11 || l.c.month <= 3;
}

int64_t sc_meter_tempo_day(int64_t t)
{
	/* A Tempo day starts at 06:00 local: shift local time back 6 hours. */
	return floor_div(t + sc_meter_utc_offset(t) - 6 * 3600, 86400);
}

enum sc_tempo_colour sc_meter_tempo_colour(const struct sc_meter *m, int64_t tempo_day)
{
	struct sc_civil c;
	sc_epoch_to_civil(tempo_day * 86400, &c);
	int wday = (int)(((tempo_day + 4) % 7 + 7) % 7); /* 0 = Sunday */
	if (wday == 0)
		return SC_TEMPO_BLUE;
	double u = u01(m, ST_TEMPO, tempo_day, 0);
	bool winter = c.month >= 11 || c.month <= 3;
	if (winter && wday != 6 && u < 0.20)
		return SC_TEMPO_RED;
	if (u >= 0.20 && u < 0.34)
		return SC_TEMPO_WHITE;
	return SC_TEMPO_BLUE;
}

int sc_meter_fr_cell(enum sc_tempo_colour c, bool high_season, bool offpeak)
{
	int col = c >= SC_TEMPO_BLUE && c <= SC_TEMPO_RED ? (int)c - 1 : 0;
	return (col * 2 + (high_season ? 1 : 0)) * 2 + (offpeak ? 1 : 0);
}

/* The cell energy at t is booked into; constant between multiples of 300 s
 * (every boundary is a full local hour). */
static int fr_cell_at(const struct sc_meter *m, int64_t t)
{
	return sc_meter_fr_cell(sc_meter_tempo_colour(m, sc_meter_tempo_day(t)),
				sc_meter_fr_high_season(t), sc_meter_fr_offpeak(t));
}

/* ---- household load ---- */

struct appliance {
	double w;
	int64_t dur;   /* seconds a run lasts; runs start on a per-appliance grid */
	double p[4];   /* chance a slot is a run: night, morning, day, evening */
};

/* Slot probabilities by time of day, tuned so that an average household
 * uses some 3,500 kWh a year (NL average 2,700-3,500; CBS). */
static const struct appliance appliances[] = {
	{100, 1200, {0.40, 0.40, 0.40, 0.40}},      /* fridge compressor */
	{80, 1500, {0.35, 0.35, 0.35, 0.35}},       /* freezer */
	{2000, 180, {0.001, 0.02, 0.006, 0.012}},   /* kettle */
	{1100, 240, {0.0, 0.015, 0.008, 0.015}},    /* microwave */
	{2000, 1800, {0.0, 0.0, 0.01, 0.06}},       /* cooking plate / oven */
	{2000, 1200, {0.0, 0.01, 0.012, 0.005}},    /* washing machine heating */
	{2400, 2700, {0.0, 0.003, 0.01, 0.005}},    /* tumble dryer */
	{1800, 1800, {0.005, 0.003, 0.005, 0.025}}, /* dishwasher */
	{1300, 900, {0.0, 0.003, 0.008, 0.003}},    /* vacuum cleaner */
	{120, 3600, {0.02, 0.15, 0.20, 0.60}},      /* TV, computers */
	{100, 3600, {0.05, 0.40, 0.08, 0.70}},      /* lights */
	{1800, 300, {0.0, 0.015, 0.002, 0.003}},    /* hair dryer */
};
#define N_APPLIANCES (sizeof appliances / sizeof appliances[0])
_Static_assert(N_APPLIANCES <= sizeof ((struct sc_meter_model *)0)->appliance_phase /
				       sizeof(int),
	       "appliance_phase too small");

static int day_part(double hour)
{
	if (hour < 6.0 || hour >= 23.0)
		return 0;
	if (hour < 9.0)
		return 1;
	if (hour < 17.0)
		return 2;
	return 3;
}

/* Daily shape of the small loads: low at night, morning and evening peaks. */
static double daily_shape(double hour)
{
	return 0.3 + 0.7 * gauss_bump(hour, 7.5, 1.0) + 0.5 * gauss_bump(hour, 12.5, 1.5) +
	       1.2 * gauss_bump(hour, 19.5, 2.0);
}

static void household_load(const struct sc_meter *m, int64_t t, const struct local *l,
			    double load[SC_METER_PHASES], double *reactive_base)
{
	const struct sc_meter_model *md = &m->model;
	double shape = daily_shape(l->hour);
	for (int ph = 0; ph < m->phases; ph++) {
		double noise = (u01(m, ST_LOAD_NOISE, t, ph) - 0.5) * 0.06;
		load[ph] = (md->base_w + md->activity * 80.0 * shape) * md->share[ph] * (1.0 + noise);
	}
	for (size_t a = 0; a < N_APPLIANCES; a++) {
		const struct appliance *ap = &appliances[a];
		int64_t off = (int64_t)(draw(m, ST_APPLIANCE_OFFSET, (int64_t)a, 0) %
					(uint64_t)ap->dur);
		int64_t slot = floor_div(t + off, ap->dur);
		struct local sl;
		local_time(slot * ap->dur - off, &sl);
		double p = ap->p[day_part(sl.hour)] * md->activity;
		if (u01(m, ST_APPLIANCE, (int64_t)a, slot) < p) {
			int ph = md->appliance_phase[a];
			load[ph < m->phases ? ph : 0] += ap->w;
		}
	}
	*reactive_base = 30.0;
}

/* ---- solar ---- */

/* Clear-sky output fraction at 52 N 5 E (NL/BE) from the sun's elevation:
 * declination by Cooper's formula, hour angle from UTC plus longitude. */
static double solar_clear(int64_t t)
{
	struct sc_civil c;
	sc_epoch_to_civil(t, &c);
	double doy = (double)(sc_days_from_civil(c.year, c.month, c.day) -
			      sc_days_from_civil(c.year, 1, 1) + 1);
	double dec = 23.44 * PI / 180.0 * sin(2.0 * PI * (284.0 + doy) / 365.0);
	double lat = 52.0 * PI / 180.0;
	double solar_hour = c.hour + c.minute / 60.0 + c.second / 3600.0 + 5.0 / 15.0;
	double ha = (solar_hour - 12.0) * 15.0 * PI / 180.0;
	double sinh = sin(lat) * sin(dec) + cos(lat) * cos(dec) * cos(ha);
	if (sinh <= 0.0)
		return 0.0;
	return pow(sinh / 0.88, 1.3);
}

static double pv_output(const struct sc_meter *m, int64_t t)
{
	double clear = solar_clear(t);
	if (clear <= 0.0)
		return 0.0;
	int64_t day = floor_div(t, 86400);
	double cloudiness = pow(u01(m, ST_CLOUD_DAY, day, 0), 0.8);
	/* Passing clouds: value noise on 2-minute knots, interpolated. */
	int64_t k = floor_div(t, 120);
	double f = (double)(t - k * 120) / 120.0;
	double v = u01(m, ST_CLOUD, k, 0) * (1.0 - f) + u01(m, ST_CLOUD, k + 1, 0) * f;
	double cloud = 1.0 - cloudiness * (0.2 + 0.7 * v);
	double noise = 1.0 + (u01(m, ST_PV_NOISE, t, 0) - 0.5) * 0.02;
	double w = m->model.pv_wp * 0.85 * clear * cloud * noise;
	return clamp(w, 0.0, m->model.pv_wp * 0.95);
}

/* ---- EV ---- */

/* Sessions start on about half of the days between 17:00 and 21:00 local
 * and charge 6-36 kWh at constant power; one may run past midnight. */
static double ev_power(const struct sc_meter *m, int64_t t, const struct local *l)
{
	for (int64_t d = l->day - 1; d <= l->day; d++) {
		if (u01(m, ST_EV, d, 0) >= 0.5)
			continue;
		int64_t start_local = d * 86400 + 17 * 3600 +
				      (int64_t)(u01(m, ST_EV, d, 1) * 240.0) * 60;
		double wh = 6000.0 + u01(m, ST_EV, d, 2) * 30000.0;
		int64_t dur = (int64_t)(wh / m->model.ev_w * 3600.0);
		int64_t start = local_to_utc(start_local);
		if (t >= start && t < start + dur)
			return m->model.ev_w;
	}
	return 0.0;
}

/* ---- gas ---- */

static double gas_rate_at(const struct sc_meter *m, int64_t t, const struct local *l)
{
	double doy = (double)(l->day - sc_days_from_civil(l->c.year, 1, 1));
	double temp = 10.5 - 7.5 * cos(2.0 * PI * (doy - 20.0) / 365.25) +
		      3.0 * sin(2.0 * PI * (l->hour - 9.0) / 24.0) +
		      (u01(m, ST_TEMP_DAY, l->day, 0) - 0.5) * 6.0;
	double setpoint = (l->hour >= 6.5 && l->hour < 22.5) ? 20.0 : 15.0;
	/* Heating starts some 4 K below the set point (internal gains). */
	double need = m->model.gas_k * (setpoint - 4.0 - temp);
	double rate = need > 0.0 ? need * (0.7 + 0.6 * u01(m, ST_GAS_MOD, floor_div(t, 300), 0))
				 : 0.0;
	/* Hot water: showers in the morning and evening. */
	double pw = (l->hour >= 6.5 && l->hour < 8.5) ? 0.25
		    : (l->hour >= 20.0 && l->hour < 23.0) ? 0.10
		    : (l->hour >= 8.5 && l->hour < 20.0) ? 0.02 : 0.0;
	if (u01(m, ST_GAS_WATER, floor_div(t, 600), 0) < pw)
		rate += 1.6;
	if (l->hour >= 17.0 && l->hour < 19.5 && u01(m, ST_GAS_COOK, floor_div(t, 1800), 0) < 0.3)
		rate += 0.25;
	return rate;
}

/* ---- values set by hand (meter.h) ---- */

static const char *const key_names[SC_MK_COUNT] = {
	[SC_MK_P] = "P",
	[SC_MK_L1_P] = "l1.P", [SC_MK_L2_P] = "l2.P", [SC_MK_L3_P] = "l3.P",
	[SC_MK_L1_I] = "l1.I", [SC_MK_L2_I] = "l2.I", [SC_MK_L3_I] = "l3.I",
	[SC_MK_L1_U] = "l1.U", [SC_MK_L2_U] = "l2.U", [SC_MK_L3_U] = "l3.U",
	[SC_MK_E_IMPORT] = "E_IMPORT", [SC_MK_E_EXPORT] = "E_EXPORT",
	[SC_MK_TARIFF] = "tariff",
};

const char *sc_meter_key_name(enum sc_meter_key k)
{
	return (unsigned)k < SC_MK_COUNT ? key_names[k] : "?";
}

int sc_meter_key_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_MK_COUNT; i++)
		if (strcmp(key_names[i], name) == 0)
			return i;
	return -1;
}

bool sc_meter_manual(const struct sc_meter *m)
{
	for (int k = 0; k < SC_MK_COUNT; k++)
		if (m->hand.held[k])
			return true;
	return false;
}

/* A held key's value at t: a ramp's point, or the value. */
static double hand_value(const struct sc_meter_hand *h, int k, int64_t t)
{
	if (h->secs[k] <= 0 || (double)(t - h->t0[k]) >= h->secs[k])
		return h->to[k];
	if (t <= h->t0[k])
		return h->from[k];
	return h->from[k] + (h->to[k] - h->from[k]) * (double)(t - h->t0[k]) / h->secs[k];
}

/* The held values over the generated ones just drawn at m->t. */
static void apply_hand(struct sc_meter *m)
{
	struct sc_meter_hand *h = &m->hand;
	int64_t t = m->t;
	if (h->held[SC_MK_TARIFF])
		m->tariff = (int)h->to[SC_MK_TARIFF];
	double p[SC_METER_PHASES] = {0, 0, 0};
	double held_sum = 0, free_share = 0;
	int nfree = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		h->manual[ph] = h->held[SC_MK_L1_P + ph];
		if (h->manual[ph]) {
			p[ph] = hand_value(h, SC_MK_L1_P + ph, t);
			held_sum += p[ph];
		} else {
			free_share += m->model.share[ph];
			nfree++;
		}
	}
	if (h->held[SC_MK_P] && nfree > 0) {
		/* The rest of the total over the free phases, as the model
		 * splits its base load. */
		double rest = hand_value(h, SC_MK_P, t) - held_sum;
		/* Whole watts on every free phase but the last, which takes
		 * what is left: a whole total stays whole once the meter
		 * rounds each phase to the watt. */
		double given = 0;
		int last = -1;
		for (int ph = 0; ph < m->phases; ph++) {
			if (h->manual[ph])
				continue;
			p[ph] = floor((free_share > 0 ? rest * m->model.share[ph] / free_share
						      : rest / nfree) + 0.5);
			given += p[ph];
			last = ph;
		}
		for (int ph = 0; ph < m->phases; ph++)
			h->manual[ph] = true;
		p[last] += rest - given;
	}
	for (int ph = 0; ph < m->phases; ph++) {
		double gen_u = m->voltage[ph];
		if (h->held[SC_MK_L1_U + ph])
			m->voltage[ph] = hand_value(h, SC_MK_L1_U + ph, t);
		if (h->manual[ph]) {
			m->import_w[ph] = p[ph] > 0 ? p[ph] : 0.0;
			m->export_w[ph] = p[ph] < 0 ? -p[ph] : 0.0;
			m->current[ph] = m->voltage[ph] > 0 ? fabs(p[ph]) / m->voltage[ph] : 0.0;
		} else if (m->voltage[ph] > 0) {
			/* The same apparent power at another voltage. */
			m->current[ph] *= gen_u / m->voltage[ph];
		}
	}
}

/* ---- instantaneous values ---- */

static void draw_instant(struct sc_meter *m)
{
	int64_t t = m->t;
	struct local l;
	local_time(t, &l);
	double load[SC_METER_PHASES] = {0, 0, 0};
	double q_base = 0;
	household_load(m, t, &l, load, &q_base);

	double gen[SC_METER_PHASES] = {0, 0, 0};
	if (has_pv(m)) {
		double pv = pv_output(m, t);
		if (m->model.pv_phase < 0 && m->phases == 3) {
			for (int ph = 0; ph < 3; ph++)
				gen[ph] = pv / 3.0;
		} else {
			gen[m->phases == 3 ? m->model.pv_phase : 0] = pv;
		}
	}
	double ev[SC_METER_PHASES] = {0, 0, 0};
	if (has_ev(m)) {
		double w = ev_power(m, t, &l);
		if (m->phases == 3) {
			for (int ph = 0; ph < 3; ph++)
				ev[ph] = w / 3.0;
		} else {
			ev[0] = w;
		}
	}

	/* Grid voltage: per-meter offset, a slow drift on 5-minute knots, a
	 * little noise, a drop with import and a rise with export. */
	int64_t k = floor_div(t, 300);
	double f = (double)(t - k * 300) / 300.0;
	double drift = (u01(m, ST_V_DRIFT, k, 0) * (1.0 - f) + u01(m, ST_V_DRIFT, k + 1, 0) * f -
			0.5) * 4.0;
	for (int ph = 0; ph < SC_METER_PHASES; ph++) {
		if (ph >= m->phases) {
			m->voltage[ph] = m->current[ph] = m->import_w[ph] = m->export_w[ph] = 0;
			continue;
		}
		double net = load[ph] + ev[ph] - gen[ph];
		m->import_w[ph] = net > 0 ? net : 0.0;
		m->export_w[ph] = net < 0 ? -net : 0.0;
		double v = 230.0 + m->model.v_offset[ph] + drift +
			   (u01(m, ST_V_NOISE, t, ph) - 0.5) * 0.8 - 0.6 * m->import_w[ph] / 1000.0 +
			   1.5 * m->export_w[ph] / 1000.0;
		m->voltage[ph] = clamp(v, 200.0, 260.0);
		double q = q_base + 0.15 * load[ph];
		m->current[ph] = sqrt(net * net + q * q) / m->voltage[ph];
	}
	m->gas_rate = gas_rate_at(m, t, &l);
	m->tariff = tariff_at(t);
	apply_hand(m);
}

double sc_meter_net_w(const struct sc_meter *m)
{
	double net = 0;
	for (int ph = 0; ph < SC_METER_PHASES; ph++)
		net += m->import_w[ph] - m->export_w[ph];
	return net;
}

double sc_meter_va(const struct sc_meter *m, int phase)
{
	if (phase < 0 || phase >= m->phases)
		return 0.0;
	return m->voltage[phase] * m->current[phase];
}

bool sc_meter_phase_exports(const struct sc_meter *m, int phase)
{
	return phase >= 0 && phase < m->phases && m->export_w[phase] > 0;
}

/* Daily peaks of apparent power: the state at m->t is one sample. */
static void fr_sample(struct sc_meter *m)
{
	struct sc_meter_fr *fr = &m->fr;
	double drawn[1 + SC_METER_PHASES] = {0, 0, 0, 0};
	double injected = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		double s = sc_meter_va(m, ph);
		if (sc_meter_phase_exports(m, ph)) {
			injected += s;
		} else {
			drawn[0] += s;
			drawn[1 + ph] = s;
		}
	}
	for (int k = 0; k <= m->phases && k <= SC_METER_PHASES; k++) {
		if (fr->smax_drawn_ts[k] == 0 || drawn[k] > fr->smax_drawn[k]) {
			fr->smax_drawn[k] = drawn[k];
			fr->smax_drawn_ts[k] = m->t;
		}
	}
	if (fr->smax_injected_ts == 0 || injected > fr->smax_injected) {
		fr->smax_injected = injected;
		fr->smax_injected_ts = m->t;
	}
}

/* Work of the French registers due at a multiple of 300 s. */
static void fr_boundary(struct sc_meter *m, int64_t b)
{
	struct sc_meter_fr *fr = &m->fr;
	if (b % 600 == 0) {
		int64_t from = fr->umoy_start > m->cfg.start ? fr->umoy_start : m->cfg.start;
		if (b > from)
			for (int ph = 0; ph < m->phases; ph++)
				fr->umoy[ph] = fr->umoy_vs[ph] / (double)(b - from);
		fr->umoy_end = b;
		fr->umoy_start = b;
		memset(fr->umoy_vs, 0, sizeof fr->umoy_vs);
	}
	if (b % 1800 == 0) {
		int64_t from = fr->curve_start > m->cfg.start ? fr->curve_start : m->cfg.start;
		double el = b > from ? (double)(b - from) : 1800.0;
		fr->curve_import_w[1] = fr->curve_import_w[0];
		fr->curve_export_w[1] = fr->curve_export_w[0];
		fr->curve_end[1] = fr->curve_end[0];
		fr->curve_import_w[0] = fr->curve_import_wh * 3600.0 / el;
		fr->curve_export_w[0] = fr->curve_export_wh * 3600.0 / el;
		fr->curve_end[0] = b;
		fr->curve_start = b;
		fr->curve_import_wh = fr->curve_export_wh = 0;
	}
	int64_t day = floor_div(b + sc_meter_utc_offset(b), 86400);
	if (day != fr->day) {
		/* Local midnight: today's peaks become the day before's. A day
		 * without a sample keeps time 0. */
		memcpy(fr->smax_drawn_prev, fr->smax_drawn, sizeof fr->smax_drawn);
		memcpy(fr->smax_drawn_prev_ts, fr->smax_drawn_ts, sizeof fr->smax_drawn_ts);
		fr->smax_injected_prev = fr->smax_injected;
		fr->smax_injected_prev_ts = fr->smax_injected_ts;
		memset(fr->smax_drawn, 0, sizeof fr->smax_drawn);
		memset(fr->smax_drawn_ts, 0, sizeof fr->smax_drawn_ts);
		fr->smax_injected = 0;
		fr->smax_injected_ts = 0;
		fr->day = day;
	}
}

/* ---- rare events ---- */

static void add_failure(struct sc_meter *m, int64_t end, int64_t dur)
{
	if (m->faillog_count == SC_METER_FAILLOG) {
		memmove(&m->faillog[0], &m->faillog[1],
			sizeof m->faillog[0] * (SC_METER_FAILLOG - 1));
		m->faillog_count--;
	}
	m->faillog[m->faillog_count].end = end;
	m->faillog[m->faillog_count].duration_s = dur;
	m->faillog_count++;
}

/* Events of the hour ending at b: a sag about every 17 days per phase, a
 * swell every 60 days, a power failure every 4 months, 30% of them long
 * (over 3 minutes, DSMR 5.0.2 96.7.9). */
static void hour_events(struct sc_meter *m, int64_t b)
{
	for (int ph = 0; ph < m->phases; ph++) {
		if (u01(m, ST_SAG, b, ph) < 1.0 / 400.0)
			m->sags[ph]++;
		if (u01(m, ST_SWELL, b, ph) < 1.0 / 1500.0)
			m->swells[ph]++;
	}
	if (u01(m, ST_PFAIL, b, 0) < 1.0 / 3000.0) {
		m->power_failures++;
		if (u01(m, ST_PFAIL, b, 1) < 0.3) {
			m->long_power_failures++;
			int64_t end = b - (int64_t)(draw(m, ST_FAILLOG, b, 0) % 3600);
			int64_t dur = 181 + (int64_t)(draw(m, ST_FAILLOG, b, 1) % 36000);
			add_failure(m, end, dur);
		}
	}
}

static void push_demand_month(struct sc_meter *m, int64_t month, int64_t when, double w)
{
	if (m->demand_hist_count == SC_METER_DEMAND_HIST) {
		memmove(&m->demand_hist[0], &m->demand_hist[1],
			sizeof m->demand_hist[0] * (SC_METER_DEMAND_HIST - 1));
		m->demand_hist_count--;
	}
	struct sc_meter_demand *d = &m->demand_hist[m->demand_hist_count++];
	d->month = month;
	d->when = when;
	d->w = when ? w : 0.0;
}

/* Work due at a multiple of 300 s. */
static void boundary(struct sc_meter *m, int64_t b)
{
	m->gas_5min_m3 = m->gas_m3;
	m->gas_5min_ts = b;
	if (b % 3600 == 0) {
		m->gas_hour_m3 = m->gas_m3;
		m->gas_hour_ts = b;
		hour_events(m, b);
	}
	if (b % 900 == 0) {
		/* The quarter [b-900, b) closes: its average demand. */
		m->demand_last_w = m->quarter_wh * 4.0;
		if (m->demand_last_w > m->month_max_w) {
			m->month_max_w = m->demand_last_w;
			m->month_max_ts = b;
		}
		m->quarter_start = b;
		m->quarter_wh = 0;
		struct local l;
		local_time(b, &l);
		if (l.c.day == 1 && l.c.hour == 0 && l.c.minute == 0 && l.c.second == 0) {
			push_demand_month(m, b, m->month_max_ts, m->month_max_w);
			m->month_max_w = 0;
			m->month_max_ts = 0;
		}
	}
}

static void update_demand_avg(struct sc_meter *m)
{
	int64_t from = m->quarter_start > m->cfg.start ? m->quarter_start : m->cfg.start;
	int64_t el = m->t - from;
	m->demand_avg_w = el > 0 ? m->quarter_wh * 3600.0 / (double)el : m->demand_last_w;
}

void sc_meter_advance(struct sc_meter *m, int64_t t)
{
	if (t <= m->t)
		return;
	int64_t a = m->t;
	double net = sc_meter_net_w(m);
	double gas_rate = m->gas_rate;
	while (a < t) {
		int64_t b = floor_div(a, 300) * 300 + 300;
		if (b > t)
			b = t;
		/* Tariff changes only on full hours, so it is constant on [a, b);
		 * one set by hand holds throughout. */
		int tar = (m->hand.held[SC_MK_TARIFF] ? (int)m->hand.to[SC_MK_TARIFF] : tariff_at(a)) - 1;
		double wh = net * (double)(b - a) / 3600.0;
		if (wh > 0) {
			m->import_wh[tar] += wh;
			m->quarter_wh += wh;
			m->fr.import_wh[fr_cell_at(m, a)] += wh;
			m->fr.curve_import_wh += wh;
		} else if (wh < 0) {
			m->export_wh[tar] -= wh;
			m->fr.curve_export_wh -= wh;
		}
		for (int ph = 0; ph < m->phases; ph++)
			m->fr.umoy_vs[ph] += m->voltage[ph] * (double)(b - a);
		m->gas_m3 += gas_rate * (double)(b - a) / 3600.0;
		if (b % 300 == 0) {
			boundary(m, b);
			fr_boundary(m, b);
		}
		a = b;
	}
	m->t = t;
	draw_instant(m);
	update_demand_avg(m);
	fr_sample(m);
}

/* ---- init ---- */

static void init_model(struct sc_meter *m)
{
	struct sc_meter_model *md = &m->model;
	md->base_w = 50.0 + u01(m, ST_PARAM, 0, 0) * 100.0;
	md->activity = 0.7 + u01(m, ST_PARAM, 1, 0) * 0.7;
	double sum = 0;
	for (int ph = 0; ph < SC_METER_PHASES; ph++) {
		md->share[ph] = 0.2 + u01(m, ST_PARAM, 2, ph);
		sum += md->share[ph];
	}
	for (int ph = 0; ph < SC_METER_PHASES; ph++)
		md->share[ph] = m->phases == 3 ? md->share[ph] / sum : (ph == 0 ? 1.0 : 0.0);
	for (size_t a = 0; a < N_APPLIANCES; a++)
		md->appliance_phase[a] =
			m->phases == 3 ? (int)(draw(m, ST_PARAM, 3, (int64_t)a) % 3) : 0;
	md->pv_wp = 0;
	md->pv_phase = 0;
	if (has_pv(m)) {
		md->pv_wp = 2500.0 + u01(m, ST_PARAM, 4, 0) * 5500.0;
		/* Up to 4.6 kW may be fed in on one phase (NL rule); bigger systems
		 * use three-phase inverters. */
		if (m->phases == 3)
			md->pv_phase = md->pv_wp > 4600.0 ? -1
							 : (int)(draw(m, ST_PARAM, 5, 0) % 3);
	}
	md->ev_w = 0;
	if (has_ev(m)) {
		if (m->phases == 3)
			md->ev_w = 11000.0; /* 16 A x 3 x 230 V */
		else
			md->ev_w = u01(m, ST_PARAM, 6, 0) < 0.5 ? 3700.0 : 7400.0;
	}
	md->gas_k = 0.012 + u01(m, ST_PARAM, 7, 0) * 0.018;
	for (int ph = 0; ph < SC_METER_PHASES; ph++)
		md->v_offset[ph] = -4.0 + u01(m, ST_PARAM, 8, ph) * 10.0;
}

static void init_demand(struct sc_meter *m)
{
	int64_t s = m->cfg.start;
	m->quarter_start = floor_div(s, 900) * 900;
	m->quarter_wh = 0;
	struct local l;
	local_time(s, &l);
	int64_t ms = month_start(l.c.year, l.c.month);
	m->month_max_w = 0;
	m->month_max_ts = 0;
	if (s - ms >= 900) {
		int64_t n = (s - ms) / 900;
		m->month_max_ts = ms + 900 * (1 + (int64_t)(draw(m, ST_DEMAND, 0, 0) % (uint64_t)n));
		m->month_max_w = 1500.0 + u01(m, ST_DEMAND, 0, 1) * 5000.0;
	}
	/* Up to 13 past months, oldest first; a month without a peak now and then
	 * (the meter was installed or off). */
	int count = (int)(draw(m, ST_DEMAND, 1, 0) % (SC_METER_DEMAND_HIST + 1));
	m->demand_hist_count = 0;
	for (int k = count; k >= 1; k--) {
		int64_t stamp = month_start(l.c.year, l.c.month - (k - 1));
		int64_t prev = month_start(l.c.year, l.c.month - k);
		int64_t quarters = (stamp - prev) / 900;
		int64_t when = prev + 900 * (1 + (int64_t)(draw(m, ST_DEMAND, 2, k) %
							   (uint64_t)(quarters - 1)));
		double w = 1500.0 + u01(m, ST_DEMAND, 3, k) * 6000.0;
		if (u01(m, ST_DEMAND, 4, k) < 0.05)
			when = 0;
		push_demand_month(m, stamp, when, w);
	}
}

/* French registers at start: the initial import split over the 12 cells
 * with seeded plausible shares, and seeded plausible peaks, load-curve points
 * and mean voltages for the periods before start. */
static void init_fr(struct sc_meter *m)
{
	struct sc_meter_fr *fr = &m->fr;
	int64_t s = m->cfg.start;
	double imp = m->import_wh[0] + m->import_wh[1];
	double hc = 0.30 + u01(m, ST_FR_INIT, 0, 0) * 0.15;
	double high = 0.50 + u01(m, ST_FR_INIT, 1, 0) * 0.15;
	/* Shares of blue, white, red days in each season (RTE: 300/43/22 a year,
	 * red days only November-March). */
	static const double colour_low[3] = {0.87, 0.13, 0.0};
	static const double colour_high[3] = {0.70, 0.17, 0.13};
	for (int col = 0; col < 3; col++) {
		for (int hs = 0; hs < 2; hs++) {
			double season = hs ? high * colour_high[col] : (1.0 - high) * colour_low[col];
			for (int op = 0; op < 2; op++) {
				int cell = sc_meter_fr_cell((enum sc_tempo_colour)(col + 1), hs, op);
				fr->import_wh[cell] = imp * season * (op ? hc : 1.0 - hc);
			}
		}
	}

	struct local l;
	local_time(s, &l);
	fr->day = l.day;
	int64_t midnight = local_to_utc(l.day * 86400);
	int64_t prev_midnight = local_to_utc((l.day - 1) * 86400);
	double scale = m->phases == 3 ? 1.6 : 1.0;
	/* The day before: a peak at a seeded time of that day. */
	double peak = (1500.0 + u01(m, ST_FR_INIT, 2, 0) * 5000.0) * scale;
	fr->smax_drawn_prev[0] = peak;
	fr->smax_drawn_prev_ts[0] =
		prev_midnight + (int64_t)(draw(m, ST_FR_INIT, 3, 0) % (uint64_t)(midnight -
										   prev_midnight));
	for (int ph = 0; ph < m->phases; ph++) {
		fr->smax_drawn_prev[1 + ph] =
			m->phases == 1 ? peak : peak * (0.35 + 0.5 * u01(m, ST_FR_INIT, 4, ph));
		fr->smax_drawn_prev_ts[1 + ph] =
			m->phases == 1 ? fr->smax_drawn_prev_ts[0]
				       : prev_midnight + (int64_t)(draw(m, ST_FR_INIT, 5, ph) %
								   (uint64_t)(midnight - prev_midnight));
	}
	/* Today before start, if any of it has passed. */
	if (s - midnight >= 300) {
		double today = (800.0 + u01(m, ST_FR_INIT, 6, 0) * 4000.0) * scale;
		int64_t when = midnight + (int64_t)(draw(m, ST_FR_INIT, 7, 0) % (uint64_t)(s - midnight));
		fr->smax_drawn[0] = today;
		fr->smax_drawn_ts[0] = when;
		for (int ph = 0; ph < m->phases; ph++) {
			fr->smax_drawn[1 + ph] =
				m->phases == 1 ? today : today * (0.35 + 0.5 * u01(m, ST_FR_INIT, 8, ph));
			fr->smax_drawn_ts[1 + ph] = when;
		}
	}
	if (has_pv(m)) {
		/* Injection peaks around midday. */
		fr->smax_injected_prev = m->model.pv_wp * (0.3 + 0.6 * u01(m, ST_FR_INIT, 9, 0));
		fr->smax_injected_prev_ts = local_to_utc((l.day - 1) * 86400 + 11 * 3600 +
							 (int64_t)(draw(m, ST_FR_INIT, 10, 0) % 14400));
		int64_t when = local_to_utc(l.day * 86400 + 11 * 3600 +
					    (int64_t)(draw(m, ST_FR_INIT, 11, 0) % 14400));
		if (when < s) {
			fr->smax_injected = m->model.pv_wp * (0.3 + 0.6 * u01(m, ST_FR_INIT, 12, 0));
			fr->smax_injected_ts = when;
		}
	}

	double net = sc_meter_net_w(m);
	fr->curve_start = floor_div(s, 1800) * 1800;
	for (int k = 0; k < 2; k++) {
		double f = 0.7 + 0.6 * u01(m, ST_FR_INIT, 13, k);
		fr->curve_import_w[k] = net > 0 ? net * f : 150.0 * f;
		fr->curve_export_w[k] = net < 0 ? -net * f : 0.0;
		fr->curve_end[k] = fr->curve_start - 1800 * k;
	}
	fr->umoy_start = floor_div(s, 600) * 600;
	fr->umoy_end = fr->umoy_start;
	for (int ph = 0; ph < m->phases; ph++)
		fr->umoy[ph] = m->voltage[ph] + (u01(m, ST_FR_INIT, 14, ph) - 0.5);
}

void sc_meter_init(struct sc_meter *m, const struct sc_meter_config *cfg)
{
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	m->phases = cfg->phases == 1 ? 1 : 3;
	m->cfg.phases = m->phases;
	if ((unsigned)m->cfg.profile >= SC_PROFILE_COUNT)
		m->cfg.profile = SC_PROFILE_HOUSEHOLD;
	m->t = cfg->start;
	m->serial = (uint32_t)(draw(m, ST_INIT, 0, 0) >> 32);
	init_model(m);

	double imp = cfg->import_wh > 0 ? cfg->import_wh
					: 1.5e6 + u01(m, ST_INIT, 1, 0) * 2.5e7;
	double exp_wh = cfg->export_wh;
	if (exp_wh <= 0)
		exp_wh = has_pv(m) ? 3e5 + u01(m, ST_INIT, 2, 0) * 1.5e7 : 0.0;
	double low = 0.40 + u01(m, ST_INIT, 3, 0) * 0.15;
	m->import_wh[0] = imp * low;
	m->import_wh[1] = imp - m->import_wh[0];
	double elow = 0.2 + u01(m, ST_INIT, 4, 0) * 0.2; /* PV exports mostly on normal hours */
	m->export_wh[0] = exp_wh * elow;
	m->export_wh[1] = exp_wh - m->export_wh[0];
	m->gas_m3 = 50.0 + u01(m, ST_INIT, 5, 0) * 9000.0;

	m->power_failures = (uint32_t)(draw(m, ST_INIT, 6, 0) % 21);
	uint32_t lmax = m->power_failures < 12 ? m->power_failures : 12;
	m->long_power_failures = lmax ? (uint32_t)(draw(m, ST_INIT, 7, 0) % (lmax + 1)) : 0;
	uint32_t nlog = m->long_power_failures < SC_METER_FAILLOG ? m->long_power_failures
								   : SC_METER_FAILLOG;
	/* Past long failures spread over the year before start, oldest first. */
	int64_t when = cfg->start - 365 * 86400;
	for (uint32_t i = 0; i < nlog; i++) {
		when += 3600 + (int64_t)(draw(m, ST_INIT, 8, i) % (uint64_t)(30 * 86400));
		add_failure(m, when, 181 + (int64_t)(draw(m, ST_INIT, 9, i) % 36000));
	}
	for (int ph = 0; ph < m->phases; ph++) {
		m->sags[ph] = (uint32_t)(draw(m, ST_INIT, 10, ph) % 31);
		m->swells[ph] = (uint32_t)(draw(m, ST_INIT, 11, ph) % 6);
	}

	m->gas_5min_ts = floor_div(cfg->start, 300) * 300;
	m->gas_5min_m3 = m->gas_m3;
	m->gas_hour_ts = floor_div(cfg->start, 3600) * 3600;
	m->gas_hour_m3 = m->gas_m3;

	init_demand(m);
	draw_instant(m);
	m->demand_last_w = sc_meter_net_w(m) > 0 ? sc_meter_net_w(m) : 0.0;
	update_demand_avg(m);
	init_fr(m);
	fr_sample(m);
}

/* ---- sc_meter_set ---- */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int refuse(char *why, size_t cap, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return err;
}

static bool is_phase_key(int k, int base)
{
	return k >= base && k < base + SC_METER_PHASES;
}

/* Energy counters replaced by a total: split in the present proportions,
 * whole Wh in every register but the one in force, which takes the rest,
 * so the registers printed (truncated to the Wh) sum to the total. */
static void split_total(double *reg, int n, int cur, double total)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += reg[i];
	double rest = total;
	for (int i = 0; i < n; i++) {
		if (i == cur)
			continue;
		reg[i] = sum > 0 ? floor(reg[i] * total / sum) : 0.0;
		rest -= reg[i];
	}
	reg[cur] = rest;
}

/* Which request key sets phase ph's power (current: or its current, which
 * a voltage given changes), for messages. */
static const char *phase_source(const struct sc_meter_set *req, const struct sc_meter_hand *h,
				int ph, bool current)
{
	if (req->given[SC_MK_L1_I + ph] || (req->ramp && (int)req->ramp_key == SC_MK_L1_I + ph))
		return key_names[SC_MK_L1_I + ph];
	if (current &&
	    (req->given[SC_MK_L1_U + ph] || (req->ramp && (int)req->ramp_key == SC_MK_L1_U + ph)))
		return key_names[SC_MK_L1_U + ph];
	if (h->held[SC_MK_L1_P + ph])
		return key_names[SC_MK_L1_P + ph];
	return key_names[SC_MK_P];
}

/* The meter state at time t with the trial values held: what it would
 * print, checked against the meter's limits. */
static int check_state(const struct sc_meter *m, const struct sc_meter_hand *trial,
		       const struct sc_meter_set *req, const struct sc_meter_limits *lim, int64_t t,
		       bool power_asked, char *why, size_t cap)
{
	struct sc_meter c = *m;
	c.hand = *trial;
	c.t = t;
	draw_instant(&c);
	double net = 0;
	for (int ph = 0; ph < c.phases; ph++) {
		double p = c.import_w[ph] - c.export_w[ph];
		net += p;
		if (!c.hand.manual[ph])
			continue;
		const char *k = phase_source(req, &c.hand, ph, false);
		bool own = c.hand.held[SC_MK_L1_P + ph];
		if (own && p < -0.5 && !lim->phase_export)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %.0f W: a %s meter has no negative per-phase power "
				      "(export shows as a negative total: set P instead)",
				      k, p, lim->meter);
		if (fabs(p) > lim->max_w + 0.5)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %.0f W on L%d is beyond what a %s meter prints (%.0f W)",
				      k, p, ph + 1, lim->meter, lim->max_w);
		if (c.current[ph] > lim->max_a + lim->a_step / 2) {
			k = phase_source(req, &c.hand, ph, true);
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %.0f W at %.1f V on L%d is %.1f A, beyond the meter's %.0f A",
				      k, p, c.voltage[ph], ph + 1, c.current[ph], lim->max_a);
		}
	}
	if (power_asked && fabs(net) > lim->max_w + 0.5)
		return refuse(why, cap, SC_ERR_RANGE,
			      "P: the phases sum to %.0f W, beyond what a %s meter prints (%.0f W)",
			      net, lim->meter, lim->max_w);
	if (power_asked && net < -0.5 && !lim->export)
		return refuse(why, cap, SC_ERR_RANGE,
			      "P: %.0f W: this %s meter shows no export (a consumer-mode meter)",
			      net, lim->meter);
	return SC_OK;
}

/* One key's value alone: a number the meter can hold. */
static int check_value(const struct sc_meter *m, int k, double v,
		       const struct sc_meter_limits *lim, char *why, size_t cap)
{
	const char *name = key_names[k];
	if (!isfinite(v))
		return refuse(why, cap, SC_ERR_INVAL, "%s: not a number", name);
	for (int base = SC_MK_L1_P; base <= SC_MK_L1_U; base += SC_METER_PHASES)
		if (is_phase_key(k, base) && k - base >= m->phases)
			return refuse(why, cap, SC_ERR_RANGE, "%s: the meter has one phase", name);
	if (k == SC_MK_P || is_phase_key(k, SC_MK_L1_P)) {
		if (fabs(v) > lim->max_w + 0.5)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %g W is beyond what a %s meter prints (%.0f W)", name, v,
				      lim->meter, lim->max_w);
	} else if (is_phase_key(k, SC_MK_L1_I)) {
		if (v < 0 || v > lim->max_a + lim->a_step / 2)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %g A is outside 0-%.0f A (the meter's rating)", name, v,
				      lim->max_a);
	} else if (is_phase_key(k, SC_MK_L1_U)) {
		if (v < 1 || v > lim->max_v)
			return refuse(why, cap, SC_ERR_RANGE, "%s: %g V is outside 1-%g V", name, v,
				      lim->max_v);
	} else if (k == SC_MK_E_IMPORT || k == SC_MK_E_EXPORT) {
		if (v < 0 || v >= lim->max_wh)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: %g Wh is outside 0-%.0f Wh (the register's digits)", name,
				      v, lim->max_wh - 1);
		if (k == SC_MK_E_EXPORT && !lim->export)
			return refuse(why, cap, SC_ERR_RANGE,
				      "E_EXPORT: this %s meter has no export register (consumer mode)",
				      lim->meter);
	} else if (k == SC_MK_TARIFF) {
		if (!lim->tariff)
			return refuse(why, cap, SC_ERR_RANGE,
				      "tariff: a %s meter's tariff follows its calendar", lim->meter);
		if (v != 1 && v != 2)
			return refuse(why, cap, SC_ERR_RANGE, "tariff: %g is not 1 or 2", v);
	}
	return SC_OK;
}

/* The voltage phase ph has at m->t under trial (held or drawn). */
static double voltage_now(const struct sc_meter *m, const struct sc_meter_hand *trial, int ph)
{
	if (trial->held[SC_MK_L1_U + ph])
		return hand_value(trial, SC_MK_L1_U + ph, m->t);
	return m->voltage[ph];
}

static void hold(struct sc_meter_hand *h, int k, double v)
{
	h->held[k] = true;
	h->from[k] = h->to[k] = v;
	h->secs[k] = 0;
	h->t0[k] = 0;
}

static int set_on(struct sc_meter *m, const struct sc_meter_set *req,
		  const struct sc_meter_limits *lim, bool power_asked, char *why, size_t cap);

int sc_meter_set(struct sc_meter *m, const struct sc_meter_set *req,
		 const struct sc_meter_limits *lim, int64_t now, char *why, size_t cap)
{
	if (req->profile) {
		bool any = req->ramp;
		for (int k = 0; k < SC_MK_COUNT; k++)
			any |= req->given[k];
		if (any)
			return refuse(why, cap, SC_ERR_INVAL,
				      "profile: the generated day comes back alone, without keys");
		sc_meter_advance(m, now);
		memset(&m->hand, 0, sizeof m->hand);
		draw_instant(m);
		return SC_OK;
	}
	bool power_asked = req->given[SC_MK_P];
	for (int k = 0; k < SC_MK_COUNT; k++) {
		if (!req->given[k])
			continue;
		int rc = check_value(m, k, req->value[k], lim, why, cap);
		if (rc)
			return rc;
		power_asked |= is_phase_key(k, SC_MK_L1_P) || is_phase_key(k, SC_MK_L1_I);
	}
	int rk = (int)req->ramp_key;
	if (req->ramp) {
		if ((unsigned)rk >= SC_MK_COUNT || rk >= SC_MK_E_IMPORT)
			return refuse(why, cap, SC_ERR_INVAL,
				      "%s: only powers, currents and voltages ramp",
				      sc_meter_key_name(req->ramp_key));
		if (req->given[rk])
			return refuse(why, cap, SC_ERR_INVAL, "%s: set and ramped at once",
				      key_names[rk]);
		int rc = check_value(m, rk, req->value[rk], lim, why, cap);
		if (!rc)
			rc = check_value(m, rk, req->ramp_to, lim, why, cap);
		if (rc)
			return rc;
		if (!isfinite(req->ramp_s) || req->ramp_s <= 0 || req->ramp_s > 7 * 86400.0)
			return refuse(why, cap, SC_ERR_RANGE,
				      "%s: a ramp lasts more than 0 and at most 604800 s",
				      key_names[rk]);
		power_asked |= rk < SC_MK_L1_U;
	}

	/* Worked out on a copy moved to now: a refusal leaves m as it was. */
	struct sc_meter probe = *m;
	sc_meter_advance(&probe, now);
	int rc = set_on(&probe, req, lim, power_asked, why, cap);
	if (rc == SC_OK)
		*m = probe;
	return rc;
}

static int set_on(struct sc_meter *m, const struct sc_meter_set *req,
		  const struct sc_meter_limits *lim, bool power_asked, char *why, size_t cap)
{
	int rk = (int)req->ramp_key;
	struct sc_meter_hand trial = m->hand;
	bool p_now = req->given[SC_MK_P] || (req->ramp && rk == SC_MK_P);
	if (p_now) {
		/* A new total re-spreads: the phase powers not given with it go. */
		for (int ph = 0; ph < m->phases; ph++) {
			bool with = req->given[SC_MK_L1_P + ph] || req->given[SC_MK_L1_I + ph] ||
				    (req->ramp && (rk == SC_MK_L1_P + ph || rk == SC_MK_L1_I + ph));
			if (!with)
				trial.held[SC_MK_L1_P + ph] = false;
		}
	}
	for (int ph = 0; ph < m->phases; ph++)
		if (req->given[SC_MK_L1_U + ph])
			hold(&trial, SC_MK_L1_U + ph, req->value[SC_MK_L1_U + ph]);
	if (req->given[SC_MK_P])
		hold(&trial, SC_MK_P, req->value[SC_MK_P]);
	for (int ph = 0; ph < m->phases; ph++) {
		int kp = SC_MK_L1_P + ph, ki = SC_MK_L1_I + ph;
		if (req->given[ki]) {
			double u = voltage_now(m, &trial, ph);
			double from_i = u * req->value[ki];
			if (req->given[kp] &&
			    fabs(fabs(req->value[kp]) - from_i) > u * lim->a_step / 2 + 0.5)
				return refuse(why, cap, SC_ERR_INVAL,
					      "%s: %g A at %.1f V is %.0f W, not %s=%g W", key_names[ki],
					      req->value[ki], u, from_i, key_names[kp], req->value[kp]);
			if (!req->given[kp])
				hold(&trial, kp, from_i);
		}
		if (req->given[kp])
			hold(&trial, kp, req->value[kp]);
	}
	if (req->ramp) {
		int k = rk;
		double from = req->value[rk], to = req->ramp_to;
		if (is_phase_key(rk, SC_MK_L1_I)) {
			/* A current ramp is the power ramp it takes at the voltage now. */
			int ph = rk - SC_MK_L1_I;
			double u = voltage_now(m, &trial, ph);
			k = SC_MK_L1_P + ph;
			from *= u;
			to *= u;
		}
		trial.held[k] = true;
		trial.from[k] = from;
		trial.to[k] = to;
		trial.t0[k] = m->t;
		trial.secs[k] = req->ramp_s;
	}
	/* Every phase held: the total is their sum. */
	int rc;
	bool all = true;
	double sum = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		all &= trial.held[SC_MK_L1_P + ph];
		sum += trial.held[SC_MK_L1_P + ph] ? hand_value(&trial, SC_MK_L1_P + ph, m->t) : 0;
	}
	if (all && trial.held[SC_MK_P]) {
		if (req->given[SC_MK_P] && fabs(req->value[SC_MK_P] - sum) > 0.5 * m->phases)
			return refuse(why, cap, SC_ERR_INVAL,
				      "P: %g W is not the sum of the phases given (%.0f W)",
				      req->value[SC_MK_P], sum);
		trial.held[SC_MK_P] = false;
	}
	if (req->given[SC_MK_TARIFF])
		hold(&trial, SC_MK_TARIFF,
		     lim->tariff_inverted ? 3 - req->value[SC_MK_TARIFF] : req->value[SC_MK_TARIFF]);

	/* Checked now and where each ramp ends (the limits are linear in each
	 * ramp: its ends are the extremes). */
	rc = check_state(m, &trial, req, lim, m->t, power_asked, why, cap);
	for (int k = 0; !rc && k < SC_MK_COUNT; k++)
		if (trial.held[k] && trial.secs[k] > 0 &&
		    (double)(m->t - trial.t0[k]) < trial.secs[k])
			rc = check_state(m, &trial, req, lim, trial.t0[k] + (int64_t)ceil(trial.secs[k]),
					 power_asked, why, cap);
	if (rc)
		return rc;

	m->hand = trial;
	draw_instant(m);
	if (req->given[SC_MK_E_IMPORT]) {
		double wh = req->value[SC_MK_E_IMPORT];
		split_total(m->import_wh, 2, m->tariff - 1, wh);
		split_total(m->fr.import_wh, SC_METER_FR_CELLS, fr_cell_at(m, m->t), wh);
	}
	if (req->given[SC_MK_E_EXPORT])
		split_total(m->export_wh, 2, m->tariff - 1, req->value[SC_MK_E_EXPORT]);
	return SC_OK;
}
