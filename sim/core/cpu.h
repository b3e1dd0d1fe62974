/* What the processor offers beyond the build's baseline, asked once. The
 * fast paths that need an extension (the CRC's carry-less multiply, the
 * P1 and TIC decoders' 32-byte compares) are chosen at run time with these;
 * each keeps a plain path for processors without it. */
#ifndef SC_CPU_H
#define SC_CPU_H

#include <stdbool.h>

/* AVX2. */
bool sc_cpu_avx2(void);
/* PCLMULQDQ with SSE2. */
bool sc_cpu_clmul(void);

#endif
