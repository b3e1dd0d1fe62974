#include "action.h"

const char *const sc_net_field_names[SC_NET_FIELDS] = {
	"EthernetCable", "WifiInRange", "DhcpServer", "Gateway", "Internet",
};

const char *sc_action_kind_name(enum sc_action_kind k)
{
	switch (k) {
	case SC_ACT_BUTTON:
		return "button";
	case SC_ACT_METER:
		return "meter";
	case SC_ACT_NETWORK:
		return "network";
	case SC_ACT_BROKER:
		return "broker";
	case SC_ACT_POWER:
		return "power";
	case SC_ACT_TELEGRAM:
		return "telegram";
	case SC_ACT_NONE:
		break;
	}
	return "none";
}
