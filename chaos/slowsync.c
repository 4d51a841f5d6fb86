/* A slow disk for chaos/zones: preloaded into one node (LD_PRELOAD), it delays every
 * fsync, fdatasync and msync by SLOWSYNC_MS milliseconds before doing it, as a device that
 * takes that long to make a write durable would. Nothing else changes: the sync still
 * happens, so durability is what it was, only late. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void pause_like_a_slow_disk(void) {
    const char *ms = getenv("SLOWSYNC_MS");
    long n = ms ? strtol(ms, NULL, 10) : 0;
    if (n <= 0 || n > 60000) return;
    struct timespec t = { n / 1000, (n % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0) {}
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_like_a_slow_disk();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_like_a_slow_disk();
    return real(fd);
}

int msync(void *addr, size_t length, int flags) {
    static int (*real)(void *, size_t, int);
    if (!real) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    if (flags & MS_SYNC) pause_like_a_slow_disk();
    return real(addr, length, flags);
}
