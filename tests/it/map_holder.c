/* Map a file shared and close its descriptor, so that only the mapping keeps the file
 * open, for tests/it/verify.rs (ETXTBSY from a mapping).
 *
 * map_holder PATH rw|ro   opens PATH read-write or read-only, maps its first page
 * MAP_SHARED (PROT_READ), closes the descriptor, prints "ready", then waits until
 * killed. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3)
		return 2;
	int fd = open(argv[1], strcmp(argv[2], "rw") == 0 ? O_RDWR : O_RDONLY);
	if (fd < 0 || mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) {
		perror("map_holder");
		return 1;
	}
	close(fd);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
