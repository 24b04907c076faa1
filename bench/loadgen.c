// Load generator for bench/live.sh: `loadgen execs N` runs /bin/true N times (fork, execve,
// wait); `loadgen opens N` opens and closes /etc/hostname N times. Prints the wall time in
// seconds. Compiled by the benchmark script; not part of the sealwatch build.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: loadgen execs|opens N\n");
		return 2;
	}
	long n = strtol(argv[2], 0, 10);
	double t0 = now();
	if (strcmp(argv[1], "execs") == 0) {
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				char *args[] = {"true", 0};
				execv("/bin/true", args);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, 0, 0) < 0) {
				perror("fork/wait");
				return 1;
			}
		}
	} else if (strcmp(argv[1], "opens") == 0) {
		for (long i = 0; i < n; i++) {
			int fd = open("/etc/hostname", O_RDONLY);
			if (fd < 0) {
				perror("open /etc/hostname");
				return 1;
			}
			close(fd);
		}
	} else {
		fprintf(stderr, "unknown load %s\n", argv[1]);
		return 2;
	}
	printf("%.3f\n", now() - t0);
	return 0;
}
