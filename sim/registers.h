/* sc-telegram registers: the register reference, from the core's register
 * map (regmap.h), as text, JSON, CSV or the Markdown table of
 * docs/reference/registers.md. */
#ifndef SC_REGISTERS_CMD_H
#define SC_REGISTERS_CMD_H

int sc_cmd_registers(int argc, char **argv);

#endif
