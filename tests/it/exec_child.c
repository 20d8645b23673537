/* The steps systemd 252's exec_child() (src/core/execute.c) takes between fork and
 * execve for a service, for what decides the new process's capabilities, in the same
 * order and with the same system calls: the bounding set (capability_bounding_set_drop),
 * the ambient set made inheritable and raised (capability_ambient_set_apply, which
 * skips what the bounding set no longer has), the groups (enforce_groups), the uid with
 * SECBIT_KEEP_CAPS when AmbientCapabilities= or SecureBits= is set (enforce_user), the
 * ambient set again, SecureBits=, then no_new_privs when asked or when an option
 * implies it and CAP_SYS_ADMIN is not in the effective set at that moment
 * (context_has_no_new_privileges). Built and run by tests/it/runtime.rs, as root.
 *
 * exec_child BSET AMBIENT USER UID GID SECUREBITS NNP IMPLIES SETUID PROGRAM [ARG...]
 *   BSET, AMBIENT: hex masks; USER: the account name for initgroups, or "-";
 *   UID, GID: numbers, or "-" for no User=; NNP: NoNewPrivileges=; IMPLIES: an option
 *   that implies it is set; SETUID: 0 for ExecStart=! (no user switch).
 * Exit 218 (EXIT_CAPABILITIES) and the like, as systemd's, when a step fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#endif
#define SECURE_KEEP_CAPS 4

struct caps {
	struct __user_cap_data_struct d[2];
};

static unsigned last_cap(void) {
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	unsigned n = 40;
	if (f) {
		if (fscanf(f, "%u", &n) != 1)
			n = 40;
		fclose(f);
	}
	return n > 63 ? 63 : n;
}

static void get(struct caps *c) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	if (syscall(SYS_capget, &h, c->d) < 0) {
		perror("capget");
		exit(218);
	}
}

static int set(struct caps *c) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return syscall(SYS_capset, &h, c->d);
}

static uint64_t field(struct caps *c, int which) {
	uint32_t lo = which == 0 ? c->d[0].effective : which == 1 ? c->d[0].permitted : c->d[0].inheritable;
	uint32_t hi = which == 0 ? c->d[1].effective : which == 1 ? c->d[1].permitted : c->d[1].inheritable;
	return (uint64_t)lo | (uint64_t)hi << 32;
}

static void put(struct caps *c, int which, uint64_t v) {
	uint32_t *lo = which == 0 ? &c->d[0].effective : which == 1 ? &c->d[0].permitted : &c->d[0].inheritable;
	uint32_t *hi = which == 0 ? &c->d[1].effective : which == 1 ? &c->d[1].permitted : &c->d[1].inheritable;
	*lo = (uint32_t)v;
	*hi = (uint32_t)(v >> 32);
}

/* capability_gain_cap_setpcap: raise CAP_SETPCAP in the effective set, ignoring a
 * failure; `before` gets the sets as they were. */
static void gain_setpcap(struct caps *before) {
	get(before);
	struct caps t = *before;
	put(&t, 0, field(&t, 0) | 1ULL << CAP_SETPCAP);
	(void)set(&t);
}

/* capability_bounding_set_drop(keep, false) */
static void bounding_drop(uint64_t keep) {
	struct caps before, after;
	gain_setpcap(&before);
	after = before;
	for (unsigned i = 0; i <= last_cap(); i++) {
		if (keep & 1ULL << i)
			continue;
		if (prctl(PR_CAPBSET_DROP, i) < 0 && prctl(PR_CAPBSET_READ, i) != 0)
			exit(218);
		put(&after, 2, field(&after, 2) & ~(1ULL << i));
	}
	if (set(&after) < 0 && memcmp(&before, &after, sizeof before) != 0)
		exit(218);
}

/* capability_ambient_set_apply(set, also_inherit) */
static void ambient_apply(uint64_t s, int also_inherit) {
	for (unsigned i = 0; i <= last_cap(); i++)
		if ((s & 1ULL << i) && prctl(PR_CAPBSET_READ, i) != 1)
			s &= ~(1ULL << i);
	if (also_inherit) {
		struct caps c;
		get(&c);
		put(&c, 2, s);
		if (set(&c) < 0)
			exit(218);
	}
	for (unsigned i = 0; i <= last_cap(); i++) {
		if (s & 1ULL << i) {
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
				exit(218);
		} else if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1) {
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, i, 0, 0) < 0)
				exit(218);
		}
	}
}

int main(int argc, char **argv) {
	if (argc < 11) {
		fprintf(stderr, "usage: exec_child BSET AMBIENT USER UID GID SECUREBITS NNP IMPLIES SETUID PROGRAM [ARG...]\n");
		return 2;
	}
	uint64_t bset = strtoull(argv[1], NULL, 16), ambient = strtoull(argv[2], NULL, 16);
	const char *user = argv[3];
	int has_uid = strcmp(argv[4], "-") != 0;
	uid_t uid = has_uid ? (uid_t)strtoul(argv[4], NULL, 10) : 0;
	int has_gid = strcmp(argv[5], "-") != 0;
	gid_t gid = has_gid ? (gid_t)strtoul(argv[5], NULL, 10) : 0;
	int secure_bits = atoi(argv[6]), nnp = atoi(argv[7]), implies = atoi(argv[8]);
	int needs_setuid = atoi(argv[9]);

	/* get_supplementary_groups: initgroups for a named user with a non-zero gid. */
	if (needs_setuid && strcmp(user, "-") != 0 && has_gid && gid != 0 && initgroups(user, gid) < 0)
		return 216;

	uint64_t all = last_cap() == 63 ? ~0ULL : (1ULL << (last_cap() + 1)) - 1;
	if ((bset & all) != all)
		bounding_drop(bset);
	ambient_apply(ambient, 1);

	if (needs_setuid && has_gid && setresgid(gid, gid, gid) < 0)
		return 216;
	if (needs_setuid && has_uid) {
		/* enforce_user */
		if ((ambient != 0 || secure_bits != 0) && uid != 0) {
			int cur = prctl(PR_GET_SECUREBITS);
			if (cur < 0 || prctl(PR_SET_SECUREBITS, cur | 1 << SECURE_KEEP_CAPS) < 0)
				return 217;
		}
		if (setresuid(uid, uid, uid) < 0)
			return 217;
		if (ambient != 0)
			ambient_apply(ambient, 0);
	}
	if (prctl(PR_GET_SECUREBITS) != secure_bits) {
		struct caps before;
		gain_setpcap(&before);
		if (prctl(PR_SET_SECUREBITS, secure_bits) < 0)
			return 241; /* EXIT_SECUREBITS */
	}
	struct caps now;
	get(&now);
	int sys_admin = (field(&now, 0) >> CAP_SYS_ADMIN) & 1;
	if (nnp || (implies && !sys_admin))
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return 220;
	execv(argv[10], argv + 10);
	fprintf(stderr, "exec_child: execv %s: %s\n", argv[10], strerror(errno));
	return 203; /* EXIT_EXEC */
}
