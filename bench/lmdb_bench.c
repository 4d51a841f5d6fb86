/* lmdb_bench: the reference side of bench/lmdb. Performs exactly the operations of
 * Sources/tools/StorageBench (storage-bench) directly on liblmdb, so the ratio between the
 * two is the overhead of InfraStack's Storage layer. */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *usage =
    "usage: lmdb_bench --path DIR [--entries N] [--reads N] [--batches N] [--batch-size N] [--value-size BYTES] [--seed N]\n"
    "\n"
    "Same operations and output as storage-bench (see its --help), directly on liblmdb:\n"
    "untimed load of --entries keys, random point reads (1,000 per read transaction),\n"
    "then --batches durable commits of --batch-size appended keys.\n"
    "Prints: random_reads <ops/s> and sequential_appends <ops/s>.\n";

#define CHECK(call, what)                                                              \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != 0) {                                                                \
            fprintf(stderr, "lmdb_bench: %s failed: %s\n", what, mdb_strerror(rc_));   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static uint64_t xorshift_state;
static uint64_t xorshift_next(void) {
    xorshift_state ^= xorshift_state >> 12;
    xorshift_state ^= xorshift_state << 25;
    xorshift_state ^= xorshift_state >> 27;
    return xorshift_state * 0x2545F4914F6CDD1DULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void big_endian(uint64_t value, unsigned char out[8]) {
    for (int i = 7; i >= 0; i--) { out[i] = (unsigned char)(value & 0xff); value >>= 8; }
}

static long positive(const char *flag, const char *text) {
    char *end = NULL;
    long value = text ? strtol(text, &end, 10) : 0;
    if (!text || *end != '\0' || value <= 0) {
        fprintf(stderr, "lmdb_bench: %s needs a positive integer\n", flag);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    long entries = 1000000, reads = 1000000, batches = 200, batch_size = 1000, value_size = 32, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) { fputs(usage, stdout); return 0; }
        else if (!strcmp(arg, "--path") && next) { path = next; i++; }
        else if (!strcmp(arg, "--entries")) { entries = positive(arg, next); i++; }
        else if (!strcmp(arg, "--reads")) { reads = positive(arg, next); i++; }
        else if (!strcmp(arg, "--batches")) { batches = positive(arg, next); i++; }
        else if (!strcmp(arg, "--batch-size")) { batch_size = positive(arg, next); i++; }
        else if (!strcmp(arg, "--value-size")) { value_size = positive(arg, next); i++; }
        else if (!strcmp(arg, "--seed")) { seed = positive(arg, next); i++; }
        else { fprintf(stderr, "lmdb_bench: unknown or incomplete argument '%s'\n%s", arg, usage); return 2; }
    }
    if (!path) { fprintf(stderr, "lmdb_bench: --path is required\n%s", usage); return 2; }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) { perror("lmdb_bench: mkdir"); return 1; }

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi points, log;
    CHECK(mdb_env_create(&env), "mdb_env_create");
    CHECK(mdb_env_set_mapsize(env, (size_t)1 << 30), "mdb_env_set_mapsize");
    CHECK(mdb_env_set_maxdbs(env, 64), "mdb_env_set_maxdbs");
    CHECK(mdb_env_open(env, path, MDB_NOTLS, 0644), "mdb_env_open");
    CHECK(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    CHECK(mdb_dbi_open(txn, "points", MDB_CREATE, &points), "mdb_dbi_open(points)");
    CHECK(mdb_dbi_open(txn, "log", MDB_CREATE, &log), "mdb_dbi_open(log)");
    CHECK(mdb_txn_commit(txn), "mdb_txn_commit");

    unsigned char *value = malloc((size_t)value_size);
    memset(value, 0xAB, (size_t)value_size);
    unsigned char keybuf[8];
    MDB_val key = {8, keybuf}, val;

    for (long loaded = 0; loaded < entries;) {
        long end = loaded + 100000 < entries ? loaded + 100000 : entries;
        CHECK(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin(load)");
        for (; loaded < end; loaded++) {
            big_endian((uint64_t)loaded, keybuf);
            val.mv_size = (size_t)value_size; val.mv_data = value;
            CHECK(mdb_put(txn, points, &key, &val, MDB_APPEND), "mdb_put(load)");
        }
        CHECK(mdb_txn_commit(txn), "mdb_txn_commit(load)");
    }

    xorshift_state = (uint64_t)seed;
    long checksum = 0;
    double start = now();
    for (long done = 0; done < reads; done += 1000) {
        CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin(read)");
        for (long i = 0; i < 1000 && done + i < reads; i++) {
            big_endian(xorshift_next() % (uint64_t)entries, keybuf);
            CHECK(mdb_get(txn, points, &key, &val), "mdb_get");
            checksum += ((unsigned char *)val.mv_data)[0];
        }
        CHECK(mdb_txn_commit(txn), "mdb_txn_commit(read)");
    }
    printf("random_reads %ld\n", (long)(reads / (now() - start)));

    start = now();
    for (long batch = 0; batch < batches; batch++) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin(append)");
        for (long i = batch * batch_size; i < (batch + 1) * batch_size; i++) {
            big_endian((uint64_t)i, keybuf);
            val.mv_size = (size_t)value_size; val.mv_data = value;
            CHECK(mdb_put(txn, log, &key, &val, MDB_APPEND), "mdb_put(append)");
        }
        CHECK(mdb_txn_commit(txn), "mdb_txn_commit(append)");
    }
    printf("sequential_appends %ld\n", (long)(batches * batch_size / (now() - start)));
    if (checksum != reads * 0xAB) { fprintf(stderr, "lmdb_bench: reads returned wrong values\n"); return 1; }
    mdb_env_close(env);
    free(value);
    return 0;
}
