/* Standard-mode TIC labels with their fixed data lengths (Enedis-NOI-CPT_54E
 * V3 §6.2, TIC.md). The checksum is weak (permutations and pairs of spaces
 * pass), so the parser also enforces these lengths. */
#include <string.h>

#include "tic.h"

struct label_def {
	const char *name;
	int len;
	bool horodate;
};

static const struct label_def labels[] = {
	{"ADSC", 12, false},    {"VTIC", 2, false},     {"DATE", 0, true},
	{"NGTF", 16, false},    {"LTARF", 16, false},   {"EAST", 9, false},
	{"EASF01", 9, false},   {"EASF02", 9, false},   {"EASF03", 9, false},
	{"EASF04", 9, false},   {"EASF05", 9, false},   {"EASF06", 9, false},
	{"EASF07", 9, false},   {"EASF08", 9, false},   {"EASF09", 9, false},
	{"EASF10", 9, false},   {"EASD01", 9, false},   {"EASD02", 9, false},
	{"EASD03", 9, false},   {"EASD04", 9, false},   {"EAIT", 9, false},
	{"ERQ1", 9, false},     {"ERQ2", 9, false},     {"ERQ3", 9, false},
	{"ERQ4", 9, false},     {"IRMS1", 3, false},    {"IRMS2", 3, false},
	{"IRMS3", 3, false},    {"URMS1", 3, false},    {"URMS2", 3, false},
	{"URMS3", 3, false},    {"PREF", 2, false},     {"PCOUP", 2, false},
	{"SINSTS", 5, false},   {"SINSTS1", 5, false},  {"SINSTS2", 5, false},
	{"SINSTS3", 5, false},  {"SMAXSN", 5, true},    {"SMAXSN1", 5, true},
	{"SMAXSN2", 5, true},   {"SMAXSN3", 5, true},   {"SMAXSN-1", 5, true},
	{"SMAXSN1-1", 5, true}, {"SMAXSN2-1", 5, true}, {"SMAXSN3-1", 5, true},
	{"SINSTI", 5, false},   {"SMAXIN", 5, true},    {"SMAXIN-1", 5, true},
	{"CCASN", 5, true},     {"CCASN-1", 5, true},   {"CCAIN", 5, true},
	{"CCAIN-1", 5, true},   {"UMOY1", 3, true},     {"UMOY2", 3, true},
	{"UMOY3", 3, true},     {"STGE", 8, false},     {"DPM1", 2, true},
	{"DPM2", 2, true},      {"DPM3", 2, true},      {"FPM1", 2, true},
	{"FPM2", 2, true},      {"FPM3", 2, true},      {"MSG1", 32, false},
	{"MSG2", 16, false},    {"PRM", 14, false},     {"RELAIS", 3, false},
	{"NTARF", 2, false},    {"NJOURF", 2, false},   {"NJOURF+1", 2, false},
	{"PJOURF+1", 98, false}, {"PPOINTE", 98, false},
	/* Pilot meters (ADSC types 67/68) use these in place of SINSTS, SMAXSN. */
	{"SINST1", 5, false},   {"SMAXN", 5, true},     {"SMAXN-1", 5, true},
};

const char *sc_tic_label_at(size_t i, int *len, bool *has_horodate)
{
	if (i >= sizeof labels / sizeof labels[0])
		return NULL;
	if (len)
		*len = labels[i].len;
	if (has_horodate)
		*has_horodate = labels[i].horodate;
	return labels[i].name;
}

int sc_tic_label_length(const char *label, size_t len, bool *has_horodate)
{
	if (len == 0)
		return -1;
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
		if (labels[i].name[0] == label[0] && strlen(labels[i].name) == len &&
		    memcmp(labels[i].name, label, len) == 0) {
			if (has_horodate)
				*has_horodate = labels[i].horodate;
			return labels[i].len;
		}
	}
	return -1;
}
