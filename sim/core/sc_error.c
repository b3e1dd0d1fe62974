#include "sc_error.h"

const char *sc_strerror(int err)
{
	switch (err) {
	case SC_OK: return "success";
	case SC_ERR_INVAL: return "invalid argument";
	case SC_ERR_NOMEM: return "out of memory";
	case SC_ERR_RANGE: return "value out of range";
	case SC_ERR_IO: return "input/output error";
	case SC_ERR_CRC: return "CRC mismatch";
	case SC_ERR_FRAMING: return "framing error";
	case SC_ERR_OVERFLOW: return "telegram too large";
	case SC_ERR_UNSUPPORTED: return "unsupported";
	case SC_ERR_SYNTAX: return "malformed object";
	case SC_ERR_USAGE: return "usage error";
	}
	return "unknown error";
}
