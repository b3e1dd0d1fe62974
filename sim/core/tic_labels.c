/* Standard-mode TIC labels with their data lengths (Enedis-NOI-CPT_54E V3
 * §6.2, TIC.md), and the one rule on them. The checksum is weak
 * (permutations and pairs of spaces pass), so the parser also checks each
 * group's data length:
 *   - numeric and code labels (indexes, powers, voltages, currents, STGE,
 *     ADSC, PRM, ...): exactly the length TIC.md gives. They carry every
 *     value the device maps, and a wrong length is how a damaged digit
 *     that the checksum lets through shows.
 *   - text labels (NGTF, LTARF, MSG1, MSG2, PJOURF+1, PPOINTE): at most
 *     that length. Meters in the field do not always pad them: a
 *     producer-only Linky sends NGTF as "PRODUCTEUR", 10 characters where
 *     TIC.md gives 16. They feed nothing of the device's reading. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tic.h"

struct label_def {
	const char *name;
	int len;
	bool horodate;
	bool text; /* data may be shorter than len (see above) */
};

static const struct label_def labels[] = {
	{"ADSC", 12, false, false},
	{"VTIC", 2, false, false},
	{"DATE", 0, true, false},
	{"NGTF", 16, false, true},
	{"LTARF", 16, false, true},
	{"EAST", 9, false, false},
	{"EASF01", 9, false, false},
	{"EASF02", 9, false, false},
	{"EASF03", 9, false, false},
	{"EASF04", 9, false, false},
	{"EASF05", 9, false, false},
	{"EASF06", 9, false, false},
	{"EASF07", 9, false, false},
	{"EASF08", 9, false, false},
	{"EASF09", 9, false, false},
	{"EASF10", 9, false, false},
	{"EASD01", 9, false, false},
	{"EASD02", 9, false, false},
	{"EASD03", 9, false, false},
	{"EASD04", 9, false, false},
	{"EAIT", 9, false, false},
	{"ERQ1", 9, false, false},
	{"ERQ2", 9, false, false},
	{"ERQ3", 9, false, false},
	{"ERQ4", 9, false, false},
	{"IRMS1", 3, false, false},
	{"IRMS2", 3, false, false},
	{"IRMS3", 3, false, false},
	{"URMS1", 3, false, false},
	{"URMS2", 3, false, false},
	{"URMS3", 3, false, false},
	{"PREF", 2, false, false},
	{"PCOUP", 2, false, false},
	{"SINSTS", 5, false, false},
	{"SINSTS1", 5, false, false},
	{"SINSTS2", 5, false, false},
	{"SINSTS3", 5, false, false},
	{"SMAXSN", 5, true, false},
	{"SMAXSN1", 5, true, false},
	{"SMAXSN2", 5, true, false},
	{"SMAXSN3", 5, true, false},
	{"SMAXSN-1", 5, true, false},
	{"SMAXSN1-1", 5, true, false},
	{"SMAXSN2-1", 5, true, false},
	{"SMAXSN3-1", 5, true, false},
	{"SINSTI", 5, false, false},
	{"SMAXIN", 5, true, false},
	{"SMAXIN-1", 5, true, false},
	{"CCASN", 5, true, false},
	{"CCASN-1", 5, true, false},
	{"CCAIN", 5, true, false},
	{"CCAIN-1", 5, true, false},
	{"UMOY1", 3, true, false},
	{"UMOY2", 3, true, false},
	{"UMOY3", 3, true, false},
	{"STGE", 8, false, false},
	{"DPM1", 2, true, false},
	{"DPM2", 2, true, false},
	{"DPM3", 2, true, false},
	{"FPM1", 2, true, false},
	{"FPM2", 2, true, false},
	{"FPM3", 2, true, false},
	{"MSG1", 32, false, true},
	{"MSG2", 16, false, true},
	{"PRM", 14, false, false},
	{"RELAIS", 3, false, false},
	{"NTARF", 2, false, false},
	{"NJOURF", 2, false, false},
	{"NJOURF+1", 2, false, false},
	{"PJOURF+1", 98, false, true},
	{"PPOINTE", 98, false, true},
	/* Pilot meters (ADSC types 67/68) use these in place of SINSTS, SMAXSN. */
	{"SINST1", 5, false, false},
	{"SMAXN", 5, true, false},
	{"SMAXN-1", 5, true, false},
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

#define NLABELS (sizeof labels / sizeof labels[0])

/* An index of the table by a hash of the name, built once: open addressing
 * in a power of two of slots, at most a third full, so that a lookup (one
 * per group, the parser's most frequent call) reads one or two slots
 * instead of scanning the table. slot[] holds a label's position + 1, 0
 * where empty; name_len[] its name's length. */
#define NSLOTS_BITS 8
#define NSLOTS (1u << NSLOTS_BITS)
static uint8_t slot[NSLOTS];
static uint8_t name_len[NLABELS];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

/* From the length, the first and the last three bytes: labels of one
 * family (EASF01-EASF10, EASD01-EASD04, SMAXSN1-1 to SMAXSN3-1) differ
 * near their end. */
static unsigned label_hash(const char *label, size_t len)
{
	const unsigned char *u = (const unsigned char *)label;
	size_t n2 = len > 1 ? len - 2 : 0, n3 = len > 2 ? len - 3 : 0;
	uint32_t h = ((uint32_t)u[0] | (uint32_t)u[len - 1] << 8 | (uint32_t)u[n2] << 16 |
		      (uint32_t)u[n3] << 24) ^ (uint32_t)len << 28;
	return (h * 0x85ebca6bu) >> (32 - NSLOTS_BITS);
}

static void build_index(void)
{
	_Static_assert(NLABELS < 255 && NLABELS * 3 <= NSLOTS, "label index too small");
	for (size_t i = 0; i < NLABELS; i++) {
		name_len[i] = (uint8_t)strlen(labels[i].name);
		unsigned k = label_hash(labels[i].name, name_len[i]);
		while (slot[k])
			k = (k + 1) & (NSLOTS - 1);
		slot[k] = (uint8_t)(i + 1);
	}
}

static bool same_name(const char *name, const char *label, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] != label[i])
			return false;
	return true;
}

/* The label's position in the table, -1 when it is not there. */
static inline int find_label(const char *label, size_t len)
{
	if (len == 0)
		return -1;
	pthread_once(&index_once, build_index);
	for (unsigned k = label_hash(label, len); slot[k]; k = (k + 1) & (NSLOTS - 1)) {
		int i = slot[k] - 1;
		if (name_len[i] == len && same_name(labels[i].name, label, len))
			return i;
	}
	return -1;
}

int sc_tic_label_lookup(const char *label, size_t len, bool *has_horodate, int *min_len)
{
	int i = find_label(label, len);
	if (i < 0)
		return -1;
	if (has_horodate)
		*has_horodate = labels[i].horodate;
	if (min_len)
		*min_len = labels[i].text ? 0 : labels[i].len;
	return labels[i].len;
}

int sc_tic_label_length(const char *label, size_t len, bool *has_horodate)
{
	return sc_tic_label_lookup(label, len, has_horodate, NULL);
}
