#include "regmap.h"

#include <string.h>

#define T(a, n, u, q, w, p1, tic) {a, n, u, false, q, 0, w, p1, tic}
#define PH(a, n, u, q, p, w, p1, tic) {a, n, u, true, q, p, w, p1, tic}

/* SMART-CONNECT.md §6, manual §5.3. */
static const struct sc_regdef defs[] = {
	PH(0x8006, "voltage_l1", "V", SC_PQ_U, 0,
	   "voltage L1 to neutral",
	   "1-0:32.7.0",
	   "URMS1"),
	PH(0x8008, "voltage_l2", "V", SC_PQ_U, 1,
	   "voltage L2 to neutral",
	   "1-0:52.7.0",
	   "URMS2"),
	PH(0x800A, "voltage_l3", "V", SC_PQ_U, 2,
	   "voltage L3 to neutral",
	   "1-0:72.7.0",
	   "URMS3"),
	PH(0x800E, "current_l1", "A", SC_PQ_I, 0,
	   "current L1, without a sign",
	   "1-0:31.7.0",
	   "IRMS1"),
	PH(0x8010, "current_l2", "A", SC_PQ_I, 1,
	   "current L2, without a sign",
	   "1-0:51.7.0",
	   "IRMS2"),
	PH(0x8012, "current_l3", "A", SC_PQ_I, 2,
	   "current L3, without a sign",
	   "1-0:71.7.0",
	   "IRMS3"),
	T(0x8016, "active_power", "W", SC_RQ_P,
	   "total active power: + import from the grid, - export",
	   "1-0:1.7.0 - 1-0:2.7.0",
	   "SINSTS - SINSTI"),
	T(0x8018, "reactive_power", "var", SC_RQ_Q,
	   "total reactive power",
	   "1-0:3.7.0 - 1-0:4.7.0",
	   ""),
	T(0x801A, "apparent_power", "VA", SC_RQ_S,
	   "total apparent power (P1: the sum of the phases' active power, P1 carries no VA)",
	   "|1-0:21.7.0 - 1-0:22.7.0| + |1-0:41.7.0 - 1-0:42.7.0| + |1-0:61.7.0 - 1-0:62.7.0|",
	   "SINSTS"),
	T(0x801C, "power_factor", "", SC_RQ_PF,
	   "power factor P / sqrt(P^2 + Q^2), -1..1",
	   "1-0:1.7.0, 1-0:2.7.0, 1-0:3.7.0, 1-0:4.7.0",
	   ""),
	PH(0x801E, "active_power_l1", "W", SC_PQ_P, 0,
	   "active power L1: + import, - export",
	   "1-0:21.7.0 - 1-0:22.7.0",
	   "SINSTS1; SINSTS on a single-phase meter"),
	PH(0x8020, "active_power_l2", "W", SC_PQ_P, 1,
	   "active power L2: + import, - export",
	   "1-0:41.7.0 - 1-0:42.7.0",
	   "SINSTS2"),
	PH(0x8022, "active_power_l3", "W", SC_PQ_P, 2,
	   "active power L3: + import, - export",
	   "1-0:61.7.0 - 1-0:62.7.0",
	   "SINSTS3"),
	PH(0x8024, "reactive_power_l1", "var", SC_PQ_Q, 0,
	   "reactive power L1",
	   "1-0:23.7.0 - 1-0:24.7.0",
	   ""),
	PH(0x8026, "reactive_power_l2", "var", SC_PQ_Q, 1,
	   "reactive power L2",
	   "1-0:43.7.0 - 1-0:44.7.0",
	   ""),
	PH(0x8028, "reactive_power_l3", "var", SC_PQ_Q, 2,
	   "reactive power L3",
	   "1-0:63.7.0 - 1-0:64.7.0",
	   ""),
	PH(0x802A, "apparent_power_l1", "VA", SC_PQ_S, 0,
	   "apparent power L1",
	   "",
	   "SINSTS1; SINSTS on a single-phase meter"),
	PH(0x802C, "apparent_power_l2", "VA", SC_PQ_S, 1,
	   "apparent power L2",
	   "",
	   "SINSTS2"),
	PH(0x802E, "apparent_power_l3", "VA", SC_PQ_S, 2,
	   "apparent power L3",
	   "",
	   "SINSTS3"),
	T(0x8100, "energy_import", "Wh", SC_RQ_E_IMPORT,
	   "active energy imported, all tariffs",
	   "1-0:1.8.0, else 1-0:1.8.1 + 1-0:1.8.2 + 1-0:1.8.3 + 1-0:1.8.4",
	   "EAST"),
	T(0x8106, "energy_export", "Wh", SC_RQ_E_EXPORT,
	   "active energy exported, all tariffs",
	   "1-0:2.8.0, else 1-0:2.8.1 + 1-0:2.8.2 + 1-0:2.8.3 + 1-0:2.8.4",
	   "EAIT"),
	T(0x8C00, "reactive_demand", "var", SC_RQ_Q_PLUS,
	   "total reactive power imported",
	   "1-0:3.7.0",
	   ""),
	T(0x8C02, "reactive_delivery", "var", SC_RQ_Q_MINUS,
	   "total reactive power exported",
	   "1-0:4.7.0",
	   ""),
	PH(0x8C04, "reactive_demand_l1", "var", SC_PQ_Q_PLUS, 0,
	   "reactive power imported, L1",
	   "1-0:23.7.0",
	   ""),
	PH(0x8C06, "reactive_delivery_l1", "var", SC_PQ_Q_MINUS, 0,
	   "reactive power exported, L1",
	   "1-0:24.7.0",
	   ""),
	PH(0x8C08, "reactive_demand_l2", "var", SC_PQ_Q_PLUS, 1,
	   "reactive power imported, L2",
	   "1-0:43.7.0",
	   ""),
	PH(0x8C0A, "reactive_delivery_l2", "var", SC_PQ_Q_MINUS, 1,
	   "reactive power exported, L2",
	   "1-0:44.7.0",
	   ""),
	PH(0x8C0C, "reactive_demand_l3", "var", SC_PQ_Q_PLUS, 2,
	   "reactive power imported, L3",
	   "1-0:63.7.0",
	   ""),
	PH(0x8C0E, "reactive_delivery_l3", "var", SC_PQ_Q_MINUS, 2,
	   "reactive power exported, L3",
	   "1-0:64.7.0",
	   ""),
	T(0x8C10, "reactive_energy_q1", "varh", SC_RQ_EQ1,
	   "reactive energy, quadrant Q1",
	   "1-0:5.8.0",
	   "ERQ1"),
	T(0x8C12, "reactive_energy_q2", "varh", SC_RQ_EQ2,
	   "reactive energy, quadrant Q2",
	   "1-0:6.8.0",
	   "ERQ2"),
	T(0x8C14, "reactive_energy_q3", "varh", SC_RQ_EQ3,
	   "reactive energy, quadrant Q3",
	   "1-0:7.8.0",
	   "ERQ3"),
	T(0x8C16, "reactive_energy_q4", "varh", SC_RQ_EQ4,
	   "reactive energy, quadrant Q4",
	   "1-0:8.8.0",
	   "ERQ4"),
	PH(0x8C18, "voltage_sags_l1", "", SC_PQ_VSAGS, 0,
	   "number of voltage sags on L1",
	   "1-0:32.32.0",
	   ""),
	PH(0x8C1A, "voltage_sags_l2", "", SC_PQ_VSAGS, 1,
	   "number of voltage sags on L2",
	   "1-0:52.32.0",
	   ""),
	PH(0x8C1C, "voltage_sags_l3", "", SC_PQ_VSAGS, 2,
	   "number of voltage sags on L3",
	   "1-0:72.32.0",
	   ""),
	PH(0x8C1E, "voltage_swells_l1", "", SC_PQ_VSWELLS, 0,
	   "number of voltage swells on L1",
	   "1-0:32.36.0",
	   ""),
	PH(0x8C20, "voltage_swells_l2", "", SC_PQ_VSWELLS, 1,
	   "number of voltage swells on L2",
	   "1-0:52.36.0",
	   ""),
	PH(0x8C22, "voltage_swells_l3", "", SC_PQ_VSWELLS, 2,
	   "number of voltage swells on L3",
	   "1-0:72.36.0",
	   ""),
	T(0x8C24, "power_failures", "", SC_RQ_PFAIL,
	   "number of power failures",
	   "0-0:96.7.21",
	   ""),
	T(0x8C26, "long_power_failures", "", SC_RQ_LPFAIL,
	   "number of long power failures",
	   "0-0:96.7.9",
	   ""),
	T(0x8C28, "active_power_demand", "W", SC_RQ_P_PLUS,
	   "total active power imported",
	   "1-0:1.7.0",
	   ""),
	T(0x8C2A, "active_power_delivery", "W", SC_RQ_P_MINUS,
	   "total active power exported",
	   "1-0:2.7.0",
	   ""),
	PH(0x8C2C, "active_power_demand_l1", "W", SC_PQ_P_PLUS, 0,
	   "active power imported, L1",
	   "1-0:21.7.0",
	   ""),
	PH(0x8C2E, "active_power_delivery_l1", "W", SC_PQ_P_MINUS, 0,
	   "active power exported, L1",
	   "1-0:22.7.0",
	   ""),
	PH(0x8C30, "active_power_demand_l2", "W", SC_PQ_P_PLUS, 1,
	   "active power imported, L2",
	   "1-0:41.7.0",
	   ""),
	PH(0x8C32, "active_power_delivery_l2", "W", SC_PQ_P_MINUS, 1,
	   "active power exported, L2",
	   "1-0:42.7.0",
	   ""),
	PH(0x8C34, "active_power_demand_l3", "W", SC_PQ_P_PLUS, 2,
	   "active power imported, L3",
	   "1-0:61.7.0",
	   ""),
	PH(0x8C36, "active_power_delivery_l3", "W", SC_PQ_P_MINUS, 2,
	   "active power exported, L3",
	   "1-0:62.7.0",
	   ""),
};

#define NDEFS (sizeof defs / sizeof defs[0])

const char *const *sc_regmap_templates(size_t *n)
{
	static const char *const names[] = {"PhoenixContact-EMPro"};
	*n = sizeof names / sizeof names[0];
	return names;
}

const struct sc_regdef *sc_regmap_defs(size_t *count)
{
	*count = NDEFS;
	return defs;
}

const struct sc_regdef *sc_regmap_def_at(uint16_t addr)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (defs[i].addr == addr)
			return &defs[i];
	return NULL;
}

const struct sc_regdef *sc_regmap_def_named(const char *name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

void sc_float_to_words(float v, enum sc_word_order o, uint16_t out[2])
{
	uint32_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint16_t hi = (uint16_t)(bits >> 16), lo = (uint16_t)bits;
	if (o == SC_WORDS_ABCD) {
		out[0] = hi;
		out[1] = lo;
	} else {
		out[0] = lo;
		out[1] = hi;
	}
}

float sc_words_to_float(const uint16_t w[2], enum sc_word_order o)
{
	uint32_t bits = o == SC_WORDS_ABCD ? (uint32_t)w[0] << 16 | w[1]
					   : (uint32_t)w[1] << 16 | w[0];
	float v;
	memcpy(&v, &bits, sizeof v);
	return v;
}

bool sc_regmap_value(const struct sc_regdef *d, const struct sc_reading *r,
		     const struct sc_regmap_opts *o, double *out)
{
	const struct sc_opt *v = d->phase ? &r->ph[d->ph][d->q] : &r->q[d->q];
	if (!v->set)
		return false;
	*out = v->v;
	/* Firmware before 5.1.x reported energy in kWh (manual §5.3). */
	if (o && o->energy_kwh && !d->phase && (d->q == SC_RQ_E_IMPORT || d->q == SC_RQ_E_EXPORT))
		*out /= 1000.0;
	return true;
}

void sc_regmap_build(struct sc_regmap *m, const struct sc_reading *r,
		     const struct sc_regmap_opts *o)
{
	static const struct sc_regmap_opts defaults = {SC_WORDS_CDAB, false};
	if (!o)
		o = &defaults;
	memset(m, 0, sizeof *m);
	if (!r)
		return;
	for (size_t i = 0; i < NDEFS; i++) {
		double v;
		if (sc_regmap_value(&defs[i], r, o, &v))
			sc_float_to_words((float)v, o->order, &m->w[defs[i].addr - SC_REGMAP_BASE]);
	}
}

int sc_regmap_check(unsigned addr, unsigned count)
{
	if (count == 0 || count > SC_MODBUS_MAX_READ)
		return 0x03;
	if (addr < SC_REGMAP_BASE || addr + count > SC_REGMAP_END)
		return 0x02;
	return 0;
}

int sc_regmap_read(const struct sc_regmap *m, unsigned addr, unsigned count, uint16_t *out)
{
	int ex = sc_regmap_check(addr, count);
	if (ex)
		return ex;
	memcpy(out, &m->w[addr - SC_REGMAP_BASE], count * sizeof *out);
	return 0;
}

const char *const sc_regmap_key[SC_REGMAP_NKEY] = {
	"active_power", "energy_import", "energy_export", "voltage_l1", "voltage_l2", "voltage_l3",
	"current_l1", "current_l2", "current_l3", "active_power_l1", "active_power_l2",
	"active_power_l3", "apparent_power", "power_factor",
};
