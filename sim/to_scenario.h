/* sc-telegram to-scenario: a capture turned into a replay scenario. */
#ifndef SC_TO_SCENARIO_H
#define SC_TO_SCENARIO_H

int sc_cmd_to_scenario(int argc, char **argv);

#endif
