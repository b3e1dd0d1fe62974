/* Reading a whole file in the Criterion tests (sim/tests, hil/tests). */
#ifndef SC_TESTS_SLURP_H
#define SC_TESTS_SLURP_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The bytes of the regular file at path, NUL-terminated (heap, caller
 * frees); their count in *len unless len is NULL. A file that is absent,
 * not a regular file or not read whole fails the test: a test that needs a
 * file never passes or skips without it. */
static inline char *slurp(const char *path, size_t *len)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "cannot find %s", path);
	cr_assert(S_ISREG(st.st_mode), "%s is not a file", path);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	size_t size = (size_t)st.st_size;
	char *s = malloc(size + 1);
	cr_assert_not_null(s);
	size_t got = fread(s, 1, size, f);
	fclose(f);
	cr_assert_eq(got, size, "short read of %s: %zu of %zu bytes", path, got, size);
	s[got] = '\0';
	if (len)
		*len = got;
	return s;
}

#endif
