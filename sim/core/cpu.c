#include "cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* 0 not asked yet, 1 no, 2 yes: asking twice at once gives the same answer. */
static int avx2_known, clmul_known;

bool sc_cpu_avx2(void)
{
	if (!avx2_known)
		avx2_known = __builtin_cpu_supports("avx2") ? 2 : 1;
	return avx2_known == 2;
}

bool sc_cpu_clmul(void)
{
	if (!clmul_known)
		clmul_known = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2") ? 2 : 1;
	return clmul_known == 2;
}
#else
bool sc_cpu_avx2(void)
{
	return false;
}

bool sc_cpu_clmul(void)
{
	return false;
}
#endif
