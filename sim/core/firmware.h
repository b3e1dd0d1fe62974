/* The device's firmware as the API shows it (GET/POST /api/v1/firmware,
 * manual §5.2): its version, which selects behaviour (before 5.1.x the
 * energy registers and E_IMPORT/E_EXPORT were in kWh, manual §5.3), and a
 * simulated update that moves through its steps on the device clock. Pure.
 *
 * An update, once started: downloading (SC_FW_DOWNLOAD_MS, progress 0-100),
 * verifying (SC_FW_VERIFY_MS), installing (SC_FW_INSTALL_MS), then the
 * device restarts (the caller runs the restart) and comes back with the new
 * version. A second update while one runs, a malformed version or the
 * version already installed is refused. */
#ifndef SC_FIRMWARE_H
#define SC_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_FW_DOWNLOAD_MS 20000
#define SC_FW_VERIFY_MS 2000
#define SC_FW_INSTALL_MS 6000

struct sc_fw_version {
	int major, minor, patch;
};

/* "5.1.2" (1-3 parts, each 0-99). Returns 0 or SC_ERR_INVAL. */
int sc_fw_parse(const char *s, struct sc_fw_version *v);
int sc_fw_cmp(const struct sc_fw_version *a, const struct sc_fw_version *b);
/* Firmware before 5.1.0 served energy in kWh. */
bool sc_fw_energy_kwh(const struct sc_fw_version *v);
void sc_fw_format(const struct sc_fw_version *v, char *buf, size_t cap);

enum sc_fw_state {
	SC_FW_IDLE = 0,
	SC_FW_DOWNLOADING,
	SC_FW_VERIFYING,
	SC_FW_INSTALLING,
	SC_FW_REBOOTING, /* installed; the device restarts into it */
};

struct sc_fw {
	struct sc_fw_version version;  /* running */
	enum sc_fw_state state;
	struct sc_fw_version target;
	int64_t step_ms;               /* device time the current step began */
	/* The last update that ended. */
	bool have_last;
	struct sc_fw_version last_from, last_to;
	int64_t last_at_ms;
};

void sc_fw_init(struct sc_fw *f, const struct sc_fw_version *running);
const char *sc_fw_state_name(enum sc_fw_state s); /* "idle", "downloading", ... */

/* Starts an update to target at device time now. Returns 0, or
 * SC_ERR_INVAL (why says it) when refused. */
int sc_fw_start(struct sc_fw *f, const struct sc_fw_version *target, int64_t now_ms, char *why,
		size_t cap);
/* Moves the update on to device time now. Returns true once, when the
 * image is installed and the device must restart (state REBOOTING). */
bool sc_fw_step(struct sc_fw *f, int64_t now_ms);
/* The restart is over: the new version runs. */
void sc_fw_booted(struct sc_fw *f, int64_t now_ms);
/* Device time of the next step, or -1 when none is due. */
int64_t sc_fw_next_ms(const struct sc_fw *f);
/* 0-100 while downloading, 100 after. */
int sc_fw_progress(const struct sc_fw *f, int64_t now_ms);

#endif
