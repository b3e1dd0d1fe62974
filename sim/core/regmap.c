#include "regmap.h"

#include <string.h>

#define T(a, n, u, q) {a, n, u, false, q, 0}
#define PH(a, n, u, q, p) {a, n, u, true, q, p}

/* SMART-CONNECT.md §6, manual §5.3. */
static const struct sc_regdef defs[] = {
	PH(0x8006, "voltage_l1", "V", SC_PQ_U, 0),
	PH(0x8008, "voltage_l2", "V", SC_PQ_U, 1),
	PH(0x800A, "voltage_l3", "V", SC_PQ_U, 2),
	PH(0x800E, "current_l1", "A", SC_PQ_I, 0),
	PH(0x8010, "current_l2", "A", SC_PQ_I, 1),
	PH(0x8012, "current_l3", "A", SC_PQ_I, 2),
	T(0x8016, "active_power", "W", SC_RQ_P),
	T(0x8018, "reactive_power", "var", SC_RQ_Q),
	T(0x801A, "apparent_power", "VA", SC_RQ_S),
	T(0x801C, "power_factor", "", SC_RQ_PF),
	PH(0x801E, "active_power_l1", "W", SC_PQ_P, 0),
	PH(0x8020, "active_power_l2", "W", SC_PQ_P, 1),
	PH(0x8022, "active_power_l3", "W", SC_PQ_P, 2),
	PH(0x8024, "reactive_power_l1", "var", SC_PQ_Q, 0),
	PH(0x8026, "reactive_power_l2", "var", SC_PQ_Q, 1),
	PH(0x8028, "reactive_power_l3", "var", SC_PQ_Q, 2),
	PH(0x802A, "apparent_power_l1", "VA", SC_PQ_S, 0),
	PH(0x802C, "apparent_power_l2", "VA", SC_PQ_S, 1),
	PH(0x802E, "apparent_power_l3", "VA", SC_PQ_S, 2),
	T(0x8100, "energy_import", "Wh", SC_RQ_E_IMPORT),
	T(0x8106, "energy_export", "Wh", SC_RQ_E_EXPORT),
	T(0x8C00, "reactive_demand", "var", SC_RQ_Q_PLUS),
	T(0x8C02, "reactive_delivery", "var", SC_RQ_Q_MINUS),
	PH(0x8C04, "reactive_demand_l1", "var", SC_PQ_Q_PLUS, 0),
	PH(0x8C06, "reactive_delivery_l1", "var", SC_PQ_Q_MINUS, 0),
	PH(0x8C08, "reactive_demand_l2", "var", SC_PQ_Q_PLUS, 1),
	PH(0x8C0A, "reactive_delivery_l2", "var", SC_PQ_Q_MINUS, 1),
	PH(0x8C0C, "reactive_demand_l3", "var", SC_PQ_Q_PLUS, 2),
	PH(0x8C0E, "reactive_delivery_l3", "var", SC_PQ_Q_MINUS, 2),
	T(0x8C10, "reactive_energy_q1", "varh", SC_RQ_EQ1),
	T(0x8C12, "reactive_energy_q2", "varh", SC_RQ_EQ2),
	T(0x8C14, "reactive_energy_q3", "varh", SC_RQ_EQ3),
	T(0x8C16, "reactive_energy_q4", "varh", SC_RQ_EQ4),
	PH(0x8C18, "voltage_sags_l1", "", SC_PQ_VSAGS, 0),
	PH(0x8C1A, "voltage_sags_l2", "", SC_PQ_VSAGS, 1),
	PH(0x8C1C, "voltage_sags_l3", "", SC_PQ_VSAGS, 2),
	PH(0x8C1E, "voltage_swells_l1", "", SC_PQ_VSWELLS, 0),
	PH(0x8C20, "voltage_swells_l2", "", SC_PQ_VSWELLS, 1),
	PH(0x8C22, "voltage_swells_l3", "", SC_PQ_VSWELLS, 2),
	T(0x8C24, "power_failures", "", SC_RQ_PFAIL),
	T(0x8C26, "long_power_failures", "", SC_RQ_LPFAIL),
	T(0x8C28, "active_power_demand", "W", SC_RQ_P_PLUS),
	T(0x8C2A, "active_power_delivery", "W", SC_RQ_P_MINUS),
	PH(0x8C2C, "active_power_demand_l1", "W", SC_PQ_P_PLUS, 0),
	PH(0x8C2E, "active_power_delivery_l1", "W", SC_PQ_P_MINUS, 0),
	PH(0x8C30, "active_power_demand_l2", "W", SC_PQ_P_PLUS, 1),
	PH(0x8C32, "active_power_delivery_l2", "W", SC_PQ_P_MINUS, 1),
	PH(0x8C34, "active_power_demand_l3", "W", SC_PQ_P_PLUS, 2),
	PH(0x8C36, "active_power_delivery_l3", "W", SC_PQ_P_MINUS, 2),
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
