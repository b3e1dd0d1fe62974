/* Mapping rules: P1 objects -> the device's reading (power_instant).
 *
 * This file is the one place where a P1 object becomes a device quantity.
 * Sources: SMART-CONNECT.md §6-§7, P1-DSMR.md.
 *
 *   ts        0-0:1.0.0 as UTC epoch (S = UTC+2, W = UTC+1)
 *   P+, P-    1-0:1.7.0, 1-0:2.7.0 in W
 *   P         P+ - P- (negative = export)
 *   E_IMPORT  1-0:1.8.0 when sent, else the sum of 1-0:1.8.1..1.8.4, in Wh
 *   E_EXPORT  1-0:2.8.0 when sent, else the sum of 1-0:2.8.1..2.8.4, in Wh
 *             (never a total added to its own tariffs)
 *   Q+, Q-    1-0:3.7.0, 1-0:4.7.0 in var; Q = Q+ - Q-   (non-NL meters only)
 *   EQ1..EQ4  1-0:5.8.0 .. 8.8.0 in varh                  (non-NL meters only)
 *   PFAIL     0-0:96.7.21      LPFAIL  0-0:96.7.9
 *   lN.U      1-0:32/52/72.7.0 (absent on DSMR 4.2: no voltages)
 *   lN.I      1-0:31/51/71.7.0
 *   lN.P+     1-0:21/41/61.7.0   lN.P-  1-0:22/42/62.7.0   lN.P = P+ - P-
 *   lN.Q+/Q-  1-0:23/43/63.7.0, 24/44/64.7.0; lN.Q = Q+ - Q- (when sent)
 *   lN.VSAGS  1-0:32/52/72.32.0  lN.VSWELLS 1-0:32/52/72.36.0
 *   S         sum of |lN.P| over the phases sent (absent when no phase P is):
 *             P1 carries no apparent power
 *   PF        P / sqrt(P^2 + Q^2), Q taken as 0 when absent, limited to -1..1;
 *             absent when P is absent or P and Q are both 0. This is the one
 *             PF rule. It reproduces the manual's example (SMART-CONNECT.md §7,
 *             manual §5.4: an exporting DSMR meter with P = -4023, phase P
 *             -2735/-959/-364, S = 4058, PF = -1), which P / S (-0.991) does
 *             not; P1 meters without reactive power thus give PF = +-1, and
 *             PF does not depend on phase powers rounded apart from P
 *   U12, U31, U32, lN.S: absent (not in P1)
 * Other quantities are set only when every object they come from was sent. */
#include "p1.h"

#include <math.h>
#include <string.h>

static void copy_opt(struct sc_reading *r, enum sc_rq q, const struct sc_p1_val *v)
{
	if (v->set)
		sc_reading_set(r, q, v->v);
}

static void copy_ph(struct sc_reading *r, int ph, enum sc_pq q, const struct sc_p1_val *v)
{
	if (v->set)
		sc_reading_set_ph(r, ph, q, v->v);
}

/* Total when sent, else the sum of the tariff registers that were sent. */
static void energy(struct sc_reading *r, enum sc_rq q, const struct sc_p1_val *total,
		   const struct sc_p1_val *tariffs)
{
	if (total->set) {
		sc_reading_set(r, q, total->v);
		return;
	}
	double sum = 0;
	bool any = false;
	for (int i = 0; i < SC_P1_MAX_TARIFFS; i++) {
		if (tariffs[i].set) {
			sum += tariffs[i].v;
			any = true;
		}
	}
	if (any)
		sc_reading_set(r, q, sum);
}

/* Net = plus - minus, set when both are. */
static void net(struct sc_opt *out, const struct sc_opt *plus, const struct sc_opt *minus)
{
	if (plus->set && minus->set) {
		out->v = plus->v - minus->v;
		out->set = true;
	}
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void sc_p1_to_reading(const struct sc_p1_telegram *tg, const char *raw, struct sc_reading *r)
{
	memset(r, 0, sizeof *r);

	if (tg->time.set) {
		r->ts = tg->time.epoch;
		r->ts_set = true;
	}
	copy_opt(r, SC_RQ_P_PLUS, &tg->power_import);
	copy_opt(r, SC_RQ_P_MINUS, &tg->power_export);
	net(&r->q[SC_RQ_P], &r->q[SC_RQ_P_PLUS], &r->q[SC_RQ_P_MINUS]);
	energy(r, SC_RQ_E_IMPORT, &tg->import_total, tg->import_tariff);
	energy(r, SC_RQ_E_EXPORT, &tg->export_total, tg->export_tariff);
	copy_opt(r, SC_RQ_Q_PLUS, &tg->reactive_import);
	copy_opt(r, SC_RQ_Q_MINUS, &tg->reactive_export);
	net(&r->q[SC_RQ_Q], &r->q[SC_RQ_Q_PLUS], &r->q[SC_RQ_Q_MINUS]);
	for (int i = 0; i < 4; i++)
		copy_opt(r, (enum sc_rq)(SC_RQ_EQ1 + i), &tg->reactive_energy_quadrant[i]);
	copy_opt(r, SC_RQ_PFAIL, &tg->power_failures);
	copy_opt(r, SC_RQ_LPFAIL, &tg->long_power_failures);

	double s = 0;
	bool s_set = false;
	int phases = 0;
	for (int ph = 0; ph < SC_PHASES; ph++) {
		struct sc_opt *o = r->ph[ph];
		copy_ph(r, ph, SC_PQ_U, &tg->voltage[ph]);
		copy_ph(r, ph, SC_PQ_I, &tg->current[ph]);
		copy_ph(r, ph, SC_PQ_P_PLUS, &tg->phase_import[ph]);
		copy_ph(r, ph, SC_PQ_P_MINUS, &tg->phase_export[ph]);
		net(&o[SC_PQ_P], &o[SC_PQ_P_PLUS], &o[SC_PQ_P_MINUS]);
		copy_ph(r, ph, SC_PQ_Q_PLUS, &tg->phase_reactive_import[ph]);
		copy_ph(r, ph, SC_PQ_Q_MINUS, &tg->phase_reactive_export[ph]);
		net(&o[SC_PQ_Q], &o[SC_PQ_Q_PLUS], &o[SC_PQ_Q_MINUS]);
		copy_ph(r, ph, SC_PQ_VSAGS, &tg->sags[ph]);
		copy_ph(r, ph, SC_PQ_VSWELLS, &tg->swells[ph]);
		if (o[SC_PQ_P].set) {
			s += fabs(o[SC_PQ_P].v);
			s_set = true;
		}
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			if (o[q].set && q != SC_PQ_VSAGS && q != SC_PQ_VSWELLS) {
				phases = ph + 1;
				break;
			}
		}
	}
	if (s_set)
		sc_reading_set(r, SC_RQ_S, s);
	if (r->q[SC_RQ_P].set) {
		double p = r->q[SC_RQ_P].v, q = r->q[SC_RQ_Q].set ? r->q[SC_RQ_Q].v : 0.0;
		if (p != 0.0 || q != 0.0)
			sc_reading_set(r, SC_RQ_PF, fmax(-1.0, fmin(1.0, p / sqrt(p * p + q * q))));
	}

	/* Identity. */
	if (tg->emucs_version > 0) {
		r->flavour = SC_FLAVOUR_EMUCS;
		r->version = tg->emucs_version;
	} else {
		r->flavour = tg->version != 0 && tg->version < 50 ? SC_FLAVOUR_DSMR42
								: SC_FLAVOUR_DSMR50;
		r->version = tg->version;
	}
	memcpy(r->maker, tg->maker, sizeof r->maker);
	copy_text(r->meter_id, sizeof r->meter_id, raw + tg->equipment_id.off,
		  tg->equipment_id.len);
	r->tariff = tg->tariff;
	r->phases = phases == 0 ? 0 : phases == 1 ? 1 : 3;

	/* Gas: the first M-Bus channel whose device type is gas (3), whatever
	 * its number (P1-DSMR.md: select by device type, never by channel),
	 * and only a reading in m3: a gas meter's value in another unit is not
	 * a gas volume. */
	for (int i = 0; i < SC_P1_MAX_MBUS; i++) {
		const struct sc_p1_mbus *m = &tg->mbus[i];
		if (m->channel && m->device_type == 3 && m->reading.set &&
		    m->reading.unit == SC_UNIT_M3 && m->reading_time.set) {
			r->gas_m3.v = m->reading.v;
			r->gas_m3.set = true;
			r->gas_ts = m->reading_time.epoch;
			break;
		}
	}
}
