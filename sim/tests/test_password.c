#include <criterion/criterion.h>
#include <string.h>

#include "password.h"
#include "sc_error.h"

/* The label's alphabet: lower-case letters and digits without i, l, o, 0, 1. */
static bool on_label(char c)
{
	return c && strchr("abcdefghjkmnpqrstuvwxyz23456789", c) != NULL;
}

Test(password, eight_label_characters)
{
	char pw[16], why[128];
	memset(pw, 'X', sizeof pw);
	cr_assert_eq(sc_password_new(pw, sizeof pw, why, sizeof why), SC_OK);
	cr_assert_eq(strlen(pw), SC_PASSWORD_LEN);
	for (int i = 0; i < SC_PASSWORD_LEN; i++)
		cr_assert(on_label(pw[i]), "character %d is '%c'", i, pw[i]);
}

Test(password, differs_between_calls)
{
	/* 31^8 passwords: two equal in a row is a broken random source. */
	char a[9], b[9], why[128];
	cr_assert_eq(sc_password_new(a, sizeof a, why, sizeof why), SC_OK);
	cr_assert_eq(sc_password_new(b, sizeof b, why, sizeof why), SC_OK);
	cr_assert_str_neq(a, b);
}

Test(password, refuses_a_short_buffer)
{
	char pw[8], why[128] = "";
	cr_assert_eq(sc_password_new(pw, sizeof pw, why, sizeof why), SC_ERR_INVAL);
	cr_assert_neq(why[0], '\0');
}
