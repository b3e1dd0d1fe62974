#include "reading.h"

#include <string.h>

static const char *const rq_names[SC_RQ_COUNT] = {
	[SC_RQ_P] = "P", [SC_RQ_P_PLUS] = "P+", [SC_RQ_P_MINUS] = "P-",
	[SC_RQ_E_IMPORT] = "E_IMPORT", [SC_RQ_E_EXPORT] = "E_EXPORT",
	[SC_RQ_U12] = "U12", [SC_RQ_U31] = "U31", [SC_RQ_U32] = "U32",
	[SC_RQ_Q] = "Q", [SC_RQ_Q_PLUS] = "Q+", [SC_RQ_Q_MINUS] = "Q-",
	[SC_RQ_EQ1] = "EQ1", [SC_RQ_EQ2] = "EQ2", [SC_RQ_EQ3] = "EQ3", [SC_RQ_EQ4] = "EQ4",
	[SC_RQ_PF] = "PF", [SC_RQ_S] = "S",
	[SC_RQ_PFAIL] = "PFAIL", [SC_RQ_LPFAIL] = "LPFAIL",
};

static const char *const pq_names[SC_PQ_COUNT] = {
	[SC_PQ_U] = "U", [SC_PQ_I] = "I", [SC_PQ_P] = "P",
	[SC_PQ_P_PLUS] = "P+", [SC_PQ_P_MINUS] = "P-",
	[SC_PQ_Q] = "Q", [SC_PQ_Q_PLUS] = "Q+", [SC_PQ_Q_MINUS] = "Q-",
	[SC_PQ_S] = "S", [SC_PQ_VSAGS] = "VSAGS", [SC_PQ_VSWELLS] = "VSWELLS",
};

const char *sc_rq_name(enum sc_rq q)
{
	return (unsigned)q < SC_RQ_COUNT ? rq_names[q] : "?";
}

const char *sc_pq_name(enum sc_pq q)
{
	return (unsigned)q < SC_PQ_COUNT ? pq_names[q] : "?";
}

int sc_rq_from_name(const char *name)
{
	for (int i = 0; i < SC_RQ_COUNT; i++)
		if (strcmp(rq_names[i], name) == 0)
			return i;
	return -1;
}

int sc_pq_from_name(const char *name)
{
	for (int i = 0; i < SC_PQ_COUNT; i++)
		if (strcmp(pq_names[i], name) == 0)
			return i;
	return -1;
}

static const char *const flavour_names[] = {
	[SC_FLAVOUR_UNKNOWN] = "unknown", [SC_FLAVOUR_DSMR42] = "dsmr42",
	[SC_FLAVOUR_DSMR50] = "dsmr50", [SC_FLAVOUR_EMUCS] = "emucs",
	[SC_FLAVOUR_TIC] = "tic",
};

const char *sc_flavour_name(enum sc_flavour f)
{
	return (unsigned)f <= SC_FLAVOUR_TIC ? flavour_names[f] : "unknown";
}

enum sc_flavour sc_flavour_from_name(const char *name)
{
	for (int i = SC_FLAVOUR_DSMR42; i <= SC_FLAVOUR_TIC; i++)
		if (strcmp(flavour_names[i], name) == 0)
			return (enum sc_flavour)i;
	return SC_FLAVOUR_UNKNOWN;
}
