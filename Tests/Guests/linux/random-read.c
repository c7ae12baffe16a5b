/* 4 KiB random reads from a block device, bypassing the page cache (O_DIRECT), for benchmarks/run's
 * virtio section: COUNT reads at 4 KiB-aligned offsets drawn over the whole device by a fixed
 * linear congruential generator (Knuth's MMIX constants), so every run and every VMM reads the same
 * blocks in the same order. Timed by the guest's CLOCK_MONOTONIC; prints one line for init to pass
 * on. Static glibc: the initramfs has no libraries.
 *
 *   random-read DEVICE COUNT */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 4096 };

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/dev/vda";
    long count = argc > 2 ? atol(argv[2]) : 2000;
    int descriptor = open(path, O_RDONLY | O_DIRECT);
    if (descriptor < 0) {
        perror(path);
        return 1;
    }
    long blocks = lseek(descriptor, 0, SEEK_END) / BLOCK;
    void *buffer;
    if (blocks <= 0 || count <= 0 || posix_memalign(&buffer, BLOCK, BLOCK) != 0) {
        fprintf(stderr, "random-read: nothing to read on %s\n", path);
        return 1;
    }
    unsigned long long state = 1;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < count; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        off_t offset = (off_t)((state >> 33) % (unsigned long long)blocks) * BLOCK;
        if (pread(descriptor, buffer, BLOCK, offset) != BLOCK) {
            perror("random-read: pread");
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("linux-guest: random-read: %ld reads of 4 KiB in %.3f s, %.0f per second\n", count, seconds, count / seconds);
    return 0;
}
