/* One error space for the whole core: every function that can fail on
 * untrusted input returns 0 or one of these negative codes. Library error
 * codes are translated into this space once, in their adapter. */
#ifndef SC_ERROR_H
#define SC_ERROR_H

enum sc_err {
	SC_OK = 0,
	SC_ERR_INVAL = -1,       /* argument or input value not acceptable */
	SC_ERR_NOMEM = -2,       /* allocation failed */
	SC_ERR_RANGE = -3,       /* number out of range or too many digits */
	SC_ERR_IO = -4,          /* read or write failed */
	SC_ERR_CRC = -5,         /* telegram CRC does not match its content */
	SC_ERR_FRAMING = -6,     /* telegram structure broken (truncated, bad trailer) */
	SC_ERR_OVERFLOW = -7,    /* telegram larger than the buffer */
	SC_ERR_UNSUPPORTED = -8, /* recognised but not supported (DSMR < 4.2) */
	SC_ERR_SYNTAX = -9,      /* an object inside a telegram is malformed */
	SC_ERR_USAGE = -10,      /* command line not understood */
};

/* Static text for a code; never NULL. */
const char *sc_strerror(int err);

#endif
