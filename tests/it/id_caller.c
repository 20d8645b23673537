/* A caller whose real, effective, saved and fs ids are set one by one, for
 * tests/it/verify.rs: verify --pid reads it while it waits, then it execs for real.
 *
 * id_caller RUID EUID SUID FSUID RGID EGID SGID FSGID GROUPS CWD PROGRAM
 *   GROUPS: comma-separated gids, or "-" for none. The fs ids must be one of the
 *   real, effective or saved ones (what setfsuid/setfsgid allow without CAP_SETUID).
 * Prints "ready" once its ids are set, waits for a line on stdin, then runs
 * PROGRAM /proc/self/status; if the exec fails it prints "errno N". Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 12) {
		fprintf(stderr, "usage: id_caller RUID EUID SUID FSUID RGID EGID SGID FSGID GROUPS CWD PROGRAM\n");
		return 2;
	}
	unsigned long v[8];
	for (int i = 0; i < 8; i++)
		v[i] = strtoul(argv[i + 1], NULL, 10);
	gid_t groups[16];
	int n = 0;
	if (strcmp(argv[9], "-") != 0)
		for (char *t = strtok(argv[9], ","); t && n < 16; t = strtok(NULL, ","))
			groups[n++] = (gid_t)strtoul(t, NULL, 10);
	if (chdir(argv[10]) < 0 || setgroups(n, groups) < 0 || setresgid(v[4], v[5], v[6]) < 0 ||
	    setresuid(v[0], v[1], v[2]) < 0) {
		perror("id_caller");
		return 1;
	}
	setfsgid(v[7]);
	setfsuid(v[3]);
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	char *args[] = {argv[11], "/proc/self/status", NULL};
	execv(argv[11], args);
	printf("errno %d\n", errno);
	return 0;
}
