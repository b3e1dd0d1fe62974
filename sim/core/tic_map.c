/* Mapping rules: TIC standard-mode labels -> the device's reading.
 *
 * The one place where a TIC label becomes a device quantity, beside the P1
 * rules in p1_map.c. Sources: TIC.md "Power semantics", SMART-CONNECT.md §6.
 * TIC carries apparent power (VA) and no signed per-phase power; the device
 * uses VA as W and reports export as a negative total while every phase
 * reads 0 W (manual §5.3):
 *
 *   ts         DATE horodate (H = UTC+1, E = UTC+2) as UTC epoch
 *   P          SINSTS - SINSTI (SINSTI counts 0 when not sent: consumer meters)
 *   S          SINSTS
 *   E_IMPORT   EAST (Wh)         E_EXPORT  EAIT (Wh, producer meters only)
 *   EQ1..EQ4   ERQ1..ERQ4 (varh, producer meters only)
 *   lN.P       SINSTSn on three-phase meters, SINSTS on L1 of single-phase
 *              ones: never negative, 0 on a phase while exporting
 *   lN.S       the same value
 *   lN.U       URMSn (V)         lN.I  IRMSn (A)
 *   everything else is absent (null): P+ and P- (total and per phase), Q,
 *   Q+, Q-, PF, U12/U31/U32, VSAGS, VSWELLS, PFAIL, LPFAIL. TIC.md's mapping
 *   lists no P+ / P-, so they stay null until the lab harness shows what a
 *   production unit serves there.
 *
 * Summing and netting three-phase meters (tic_gen.h, sc_tic_total) need
 * no rule of their own: P = SINSTS - SINSTI is the net in both, S is the
 * SINSTS the meter sends (0 on a netting meter exporting in total), lN.P
 * its SINSTSn; so on a netting meter P is not the sum of lN.P while the
 * phases flow both ways, which is what the meter sends.
 *
 * Three-phase or not (r->phases, and so which phases get values) is the
 * frame's three_phase (tic.h): the ADSC meter type OR any three-phase-only
 * label. A three-phase meter whose frame lacks SINSTSn leaves lN.P/lN.S
 * unset rather than borrowing SINSTS.
 *
 * Which Modbus registers this feeds follows from regmap.c: 0x8006-0x800A
 * (URMS), 0x800E-0x8012 (IRMS), 0x8016 (P), 0x801A (SINSTS), 0x801E-0x8022
 * and 0x802A-0x802E (SINSTSn), 0x8100 (EAST), 0x8106 (EAIT), 0x8C10-0x8C16
 * (ERQ1-4); every other register reads 0 (0x8C28/0x8C2A, P+/P-, included). */
#include <string.h>

#include "tic.h"

static void set_num(struct sc_reading *r, enum sc_rq q, const struct sc_tic_num *n)
{
	if (n->set)
		sc_reading_set(r, q, n->v);
}

static void copy_span(char *dst, size_t cap, const char *raw, struct sc_tic_span s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(dst, raw + s.off, n);
	dst[n] = '\0';
}

void sc_tic_to_reading(const struct sc_tic_frame *f, const char *raw, struct sc_reading *r)
{
	memset(r, 0, sizeof *r);
	if (f->date.set) {
		r->ts = f->date.epoch;
		r->ts_set = true;
	}
	if (f->sinsts.set) {
		double injected = f->sinsti.set ? f->sinsti.v : 0;
		sc_reading_set(r, SC_RQ_P, (double)f->sinsts.v - injected);
		sc_reading_set(r, SC_RQ_S, f->sinsts.v);
	}
	set_num(r, SC_RQ_E_IMPORT, &f->east);
	set_num(r, SC_RQ_E_EXPORT, &f->eait);
	for (int i = 0; i < 4; i++)
		set_num(r, (enum sc_rq)(SC_RQ_EQ1 + i), &f->erq[i]);

	int phases = f->three_phase ? 3 : 1;
	for (int ph = 0; ph < phases; ph++) {
		const struct sc_tic_num *s = f->three_phase ? &f->sinsts_ph[ph] : &f->sinsts;
		if (s->set) {
			sc_reading_set_ph(r, ph, SC_PQ_P, s->v);
			sc_reading_set_ph(r, ph, SC_PQ_S, s->v);
		}
		if (f->urms[ph].set)
			sc_reading_set_ph(r, ph, SC_PQ_U, f->urms[ph].v);
		if (f->irms[ph].set)
			sc_reading_set_ph(r, ph, SC_PQ_I, f->irms[ph].v);
	}

	r->flavour = SC_FLAVOUR_TIC;
	r->version = 0;
	for (size_t i = 0; i < f->vtic.len; i++) {
		char ch = raw[f->vtic.off + i];
		if (ch >= '0' && ch <= '9')
			r->version = r->version * 10 + (ch - '0');
	}
	copy_span(r->meter_id, sizeof r->meter_id, raw, f->adsc);
	r->tariff = f->ntarf.set ? (int)f->ntarf.v : 0;
	r->phases = f->three_phase ? 3 : 1;
}
