/*
 * ipcbench: the pmcsuite IPC benchmark (after the Cambridge L41 ipc-static benchmark).
 *
 * Two actors (threads or processes) move TOTAL bytes through an IPC object: the writer does
 * blocking write()s of BUFFER bytes, the reader read()s into a BUFFER-byte buffer until TOTAL
 * bytes arrived (partial reads allowed). Only the transfer loop is timed: the writer reads
 * CLOCK_MONOTONIC just before its first write, the reader just after its last read.
 * One JSON object is printed on stdout (schema "ipcbench JSON" in docs/DESIGN.md).
 *
 * IPC modes: pipe, pipe-s (pipe resized to the buffer size with F_SETPIPE_SZ, Linux only),
 * local (socketpair(AF_UNIX, SOCK_STREAM), default buffers), local-s (SO_SNDBUF on the writer's
 * socket and SO_RCVBUF on the reader's set to the buffer size), tcp and tcp-s (the same over a
 * 127.0.0.1 connection on an ephemeral port, Nagle left on).
 *
 * Loop-only counting with perf: `perf stat --delay=-1 --control fifo:CTL,ACK ... -- ipcbench
 * --ctl-fifo CTL --ack-fifo ACK ...` starts with counters off; ipcbench writes "enable" just
 * before it releases the actors and "disable" once both have finished, waiting for perf's ack
 * each time. System calls that fall inside the counting window besides the loop's own: one
 * write() of the "go" bytes and the write() of the "disable" command (exactly 2 writes; the
 * "enable" write entered the kernel before counting started), the controller's read()s of perf's
 * acks (0 to 3: they race with perf switching counting on and off, and perf's trailing NUL may
 * need a read of its own; the actors' read()s of the "go" byte entered the kernel before
 * counting started), plus getrusage/clock/futex calls (not read/write). Verified by
 * tests/test_kernel_e2e.py.
 *
 * Off-CPU time per actor, with no tool: each actor reads its own CPU-time clock
 * (CLOCK_THREAD_CPUTIME_ID; in 2proc each actor is a single-threaded process, so the thread
 * clock is also its process clock) just outside its CLOCK_MONOTONIC readings around the loop.
 * "wall_ns" is an actor's own loop window, "oncpu_ns" the CPU time it used in it and
 * "offcpu_ns" = wall - oncpu, the time it was asleep (blocked in read()/write()) or runnable
 * but waiting for a CPU. The CPU-clock reads sit outside the wall window so that loop_ns is not
 * lengthened by them; off-CPU time may therefore come out a fraction of a microsecond below
 * zero when an actor never left the CPU (it is printed as measured, signed).
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error; every failure is one line on
 * stderr starting with "ipcbench: error: ".
 *
 * Builds with: cc -O2 -Wall -Wextra -std=c99 -D_GNU_SOURCE -pthread ipcbench.c -o ipcbench
 * on Linux and FreeBSD.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* F_SETPIPE_SZ, SO_SNDBUFFORCE, sched_setaffinity, RUSAGE_THREAD */
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#ifdef __FreeBSD__
#include <sys/param.h>
#include <sys/cpuset.h>
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

#ifdef RUSAGE_THREAD
#define RUSAGE_ACTOR RUSAGE_THREAD /* per thread: each actor measures only itself */
#else
#define RUSAGE_ACTOR RUSAGE_SELF
#endif

#if defined(__linux__) || defined(__FreeBSD__)
#define HAVE_PINNING 1
#else
#define HAVE_PINNING 0
#endif

#define DEFAULT_BUFFER (128 * 1024)   /* the L41 benchmark's default */
#define DEFAULT_TOTAL (16 * 1024 * 1024)
#define NBUCKETS 64

/* ------------------------------------------------------------------ configuration */

enum ipc_mode { IPC_PIPE, IPC_PIPE_S, IPC_LOCAL, IPC_LOCAL_S, IPC_TCP, IPC_TCP_S, IPC_COUNT };
static const char *const ipc_names[IPC_COUNT] = {"pipe", "pipe-s", "local", "local-s", "tcp", "tcp-s"};

enum actors_mode { ACT_2THREAD, ACT_2PROC };
static const char *const actors_names[] = {"2thread", "2proc"};

enum placement { PL_ANY, PL_SAME, PL_SPLIT };
static const char *const placement_names[] = {"any", "same", "split"};

struct config {
    enum ipc_mode ipc;
    enum actors_mode actors;
    enum placement placement;
    size_t buffer;          /* bytes per write() and read() request */
    uint64_t total;         /* bytes to move */
    int force;              /* -f */
    int cpus[2];            /* from -c, -1 = not given */
    const char *ctl_fifo, *ack_fifo;
};

static struct config cfg = {IPC_PIPE, ACT_2THREAD, PL_ANY, DEFAULT_BUFFER, DEFAULT_TOTAL, 0, {-1, -1}, NULL, NULL};

/* ------------------------------------------------------------------ shared results */

enum role { WRITER = 0, READER = 1 };

/* What one actor measured. Lives in a MAP_SHARED mapping so that 2proc children can fill it. */
struct actor {
    enum role role;
    int fd;                 /* its end of the IPC object */
    int pin;                /* CPU to pin to, -1 = leave to the scheduler */
    uint64_t t_start, t_end;/* CLOCK_MONOTONIC ns around its loop */
    uint64_t c_start, c_end;/* its own CPU-time clock (CLOCK_THREAD_CPUTIME_ID) around the loop */
    uint64_t calls;         /* write() or read() calls in the loop (EINTR returns included) */
    uint64_t bytes;         /* bytes moved */
    uint64_t mismatches;    /* reader: reads whose checked bytes did not match the pattern */
    uint64_t hist[NBUCKETS];/* returns r with 2^k <= r < 2^(k+1) */
    long minflt, majflt, nvcsw, nivcsw;
    int64_t utime_ns, stime_ns;
    int cpu_start, cpu_end;
};

struct shared {
    volatile int error_claimed; /* the first failing actor prints the one error line */
    struct actor actor[2];
};

static struct shared *shared;         /* NULL until mapped */
static int ready_pipe[2], go_pipe[2]; /* actor -> controller "ready", controller -> actors "go" */
static int ctl_fd = -1, ack_fd = -1;  /* perf control fifos */

/* ------------------------------------------------------------------ errors */

/* Print one line "ipcbench: error: ..." (only the first failure prints) and _exit(code).
 * A later failure (the other actor failing the same way) waits a second before exiting: with
 * threads, its _exit would end the process before the first one's message is written; the
 * first one's _exit ends it sooner anyway. */
static void vdie(int code, int errnum, const char *fmt, va_list ap)
{
    char msg[512];
    if (shared && !__sync_bool_compare_and_swap(&shared->error_claimed, 0, 1)) {
        struct timespec pause_ts = {1, 0};
        nanosleep(&pause_ts, NULL);
        _exit(code);
    }
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (errnum)
        fprintf(stderr, "ipcbench: error: %s: %s\n", msg, strerror(errnum));
    else
        fprintf(stderr, "ipcbench: error: %s\n", msg);
    _exit(code);
}

/* Bad command line: exit 2. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(2, 0, fmt, ap);
    va_end(ap);
}

/* Runtime failure, with strerror(errno) appended when errnum != 0: exit 1. */
static void runtime_error(int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(1, errnum, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ small helpers */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time consumed so far by the calling thread (one actor). */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        runtime_error(errno, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parse "65536", "64K", "1M", "1G" (optionally "KB"/"KiB"); 0 on success, -1 if invalid. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1ull << 10; end++; break;
    case 'M': mult = 1ull << 20; end++; break;
    case 'G': mult = 1ull << 30; end++; break;
    default: break;
    }
    if (mult > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v == 0 || v > UINT64_MAX / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

/* The byte the writer puts at offset i of its buffer: a multiplicative hash, so that a
 * misplaced or repeated chunk is unlikely to carry the expected value. */
static inline unsigned char pattern(uint64_t i)
{
    return (unsigned char)(((uint32_t)i * 2654435761u) >> 24);
}

static inline int bucket(uint64_t r)
{
    int k = 0;
    while (r >>= 1)
        k++;
    return k;
}

static void write_all(int fd, const void *data, size_t len, const char *what)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            runtime_error(n < 0 ? errno : 0, "cannot write %s", what);
        p += n;
        len -= (size_t)n;
    }
}

/* Read exactly len bytes; returns 0 at EOF before that (the other side went away). */
static int read_all(int fd, void *data, size_t len, const char *what)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            runtime_error(errno, "cannot read %s", what);
        if (n == 0)
            return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

/* ------------------------------------------------------------------ CPU placement */

/* Fill list with the CPUs this process may run on; returns how many. */
static int allowed_cpus(int *list, int max)
{
    int n = 0;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        runtime_error(errno, "sched_getaffinity failed");
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            list[n++] = c;
#elif defined(__FreeBSD__)
    cpuset_t set;
    CPU_ZERO(&set);
    if (cpuset_getaffinity(CPU_LEVEL_WHICH, CPU_WHICH_PID, -1, sizeof set, &set) != 0)
        runtime_error(errno, "cpuset_getaffinity failed");
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            list[n++] = c;
#else
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (int c = 0; c < online && n < max; c++)
        list[n++] = c;
#endif
    return n;
}

/* Pin the calling thread to one CPU. */
static void pin_self(int cpu)
{
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) /* pid 0 = the calling thread */
        runtime_error(errno, "cannot pin to CPU %d (sched_setaffinity; is it online and allowed?)", cpu);
#elif defined(__FreeBSD__)
    cpuset_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpuset_setaffinity(CPU_LEVEL_WHICH, CPU_WHICH_TID, -1, sizeof set, &set) != 0)
        runtime_error(errno, "cannot pin to CPU %d (cpuset_setaffinity)", cpu);
#else
    runtime_error(0, "cannot pin to CPU %d: CPU placement is not supported on this system", cpu);
#endif
}

static int current_cpu(void)
{
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* Decide which CPU each actor is pinned to (-1 = none). */
static void resolve_placement(int pins[2])
{
    int list[2], n;
    pins[0] = pins[1] = -1;
    if (cfg.placement == PL_ANY)
        return;
    if (cfg.placement == PL_SAME) {
        if (cfg.cpus[0] < 0) {
            if (allowed_cpus(list, 1) < 1)
                runtime_error(0, "no CPU available for -p same");
            cfg.cpus[0] = list[0];
        }
        pins[0] = pins[1] = cfg.cpus[0];
        return;
    }
    if (cfg.cpus[0] < 0) {
        n = allowed_cpus(list, 2);
        if (n < 2)
            usage_error("-p split needs two CPUs but only %d is available: use -p same or -p any", n);
        cfg.cpus[0] = list[0];
        cfg.cpus[1] = list[1];
    }
    pins[0] = cfg.cpus[0];
    pins[1] = cfg.cpus[1];
}

/* ------------------------------------------------------------------ IPC objects */

struct buffers {
    long sndbuf, rcvbuf, pipe_size; /* effective sizes read back from the kernel; -1 = n/a */
    int forced;
};

static long read_long_file(const char *path, long fallback)
{
    long v = fallback;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = fallback;
        fclose(f);
    }
    return v;
}

static void set_sockbuf(int fd, int which_rcv, int size)
{
    const char *name = which_rcv ? "SO_RCVBUF" : "SO_SNDBUF";
    int opt = which_rcv ? SO_RCVBUF : SO_SNDBUF;
    if (cfg.force) {
#if defined(__linux__)
        opt = which_rcv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
        if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size) != 0)
            runtime_error(errno, "setsockopt(%sFORCE, %d) failed (-f needs root / CAP_NET_ADMIN)", name, size);
        return;
#endif
    }
    if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size) != 0)
        runtime_error(errno, "setsockopt(%s, %d) failed (on FreeBSD raise kern.ipc.maxsockbuf)", name, size);
}

static long get_sockbuf(int fd, int opt)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0)
        runtime_error(errno, "getsockopt failed");
    return v;
}

/* Create the IPC object: fds[0] = writer's end, fds[1] = reader's end. */
static void make_ipc(int fds[2], struct buffers *b)
{
    int sized = cfg.ipc == IPC_PIPE_S || cfg.ipc == IPC_LOCAL_S || cfg.ipc == IPC_TCP_S;
    int size = (int)cfg.buffer; /* checked <= INT_MAX for sized socket modes */
    b->sndbuf = b->rcvbuf = b->pipe_size = -1;
    b->forced = 0;

    switch (cfg.ipc) {
    case IPC_PIPE:
    case IPC_PIPE_S: {
        int p[2];
        if (pipe(p) != 0)
            runtime_error(errno, "pipe() failed");
        fds[0] = p[1];
        fds[1] = p[0];
#if defined(__linux__) && defined(F_SETPIPE_SZ)
        if (sized) {
            /* capped at pipe-max-size unless -f (root may exceed it) */
            long cap = read_long_file("/proc/sys/fs/pipe-max-size", 1048576);
            long want = (long)cfg.buffer;
            if (!cfg.force && want > cap)
                want = cap;
            if (fcntl(p[1], F_SETPIPE_SZ, (int)want) < 0)
                runtime_error(errno, "fcntl(F_SETPIPE_SZ, %ld) failed", want);
            b->forced = cfg.force;
        }
        b->pipe_size = fcntl(p[1], F_GETPIPE_SZ);
        if (b->pipe_size < 0)
            runtime_error(errno, "fcntl(F_GETPIPE_SZ) failed");
#endif
        break;
    }
    case IPC_LOCAL:
    case IPC_LOCAL_S: {
        int s[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0)
            runtime_error(errno, "socketpair(AF_UNIX, SOCK_STREAM) failed");
        if (sized) {
            set_sockbuf(s[0], 0, size);
            set_sockbuf(s[1], 1, size);
            b->forced = cfg.force;
        }
        fds[0] = s[0];
        fds[1] = s[1];
        break;
    }
    case IPC_TCP:
    case IPC_TCP_S: {
        struct sockaddr_in sa;
        socklen_t salen = sizeof sa;
        int lfd, cfd, afd;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = 0; /* ephemeral */
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0)
            runtime_error(errno, "socket(AF_INET) failed");
        if (sized) /* before listen: the accepted socket inherits it and the window scale fits */
            set_sockbuf(lfd, 1, size);
        if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
            getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
            runtime_error(errno, "cannot listen on 127.0.0.1");
        cfd = socket(AF_INET, SOCK_STREAM, 0);
        if (cfd < 0)
            runtime_error(errno, "socket(AF_INET) failed");
        if (sized)
            set_sockbuf(cfd, 0, size);
        if (connect(cfd, (struct sockaddr *)&sa, sizeof sa) != 0)
            runtime_error(errno, "cannot connect to 127.0.0.1:%d", ntohs(sa.sin_port));
        afd = accept(lfd, NULL, NULL);
        if (afd < 0)
            runtime_error(errno, "accept() failed");
        close(lfd);
        b->forced = sized && cfg.force;
        fds[0] = cfd;
        fds[1] = afd;
        break;
    }
    default:
        usage_error("internal: unknown IPC mode");
    }

    if (cfg.ipc >= IPC_LOCAL) {
        b->sndbuf = get_sockbuf(fds[0], SO_SNDBUF);
        b->rcvbuf = get_sockbuf(fds[1], SO_RCVBUF);
    }
}

/* ------------------------------------------------------------------ the actors */

static void writer_loop(struct actor *a, const unsigned char *buf)
{
    const size_t B = cfg.buffer;
    const uint64_t total = cfg.total;
    uint64_t sent = 0, calls = 0;

    a->c_start = cpu_ns();
    a->t_start = now_ns();
    while (sent < total) {
        /* after a partial write, send the rest of the buffer so the stream stays periodic;
         * total is a multiple of B, so this never sends past total */
        size_t off = (size_t)(sent % B);
        ssize_t n = write(a->fd, buf + off, B - off);
        calls++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            runtime_error(errno, "write() failed after %llu of %llu bytes",
                          (unsigned long long)sent, (unsigned long long)total);
        }
        if (n == 0)
            runtime_error(0, "write() returned 0 after %llu bytes", (unsigned long long)sent);
        a->hist[bucket((uint64_t)n)]++;
        sent += (uint64_t)n;
    }
    a->t_end = now_ns();
    a->c_end = cpu_ns();
    a->calls = calls;
    a->bytes = sent;
}

/*
 * Data check, kept cheap so it does not disturb what is measured: the byte count must equal
 * TOTAL exactly, and for every read() the first and the last byte received must equal the
 * writer's pattern at their stream positions (stream offset o carries pattern(o mod B)). This
 * catches lost, duplicated, reordered or misaligned chunks at read granularity without
 * touching every byte (two cache lines per read, both hot after the kernel's copy).
 */
static void reader_loop(struct actor *a, unsigned char *buf)
{
    const size_t B = cfg.buffer;
    const uint64_t total = cfg.total;
    uint64_t recvd = 0, calls = 0, bad = 0;

    a->c_start = cpu_ns();
    a->t_start = now_ns();
    while (recvd < total) {
        uint64_t left = total - recvd;
        size_t want = left < B ? (size_t)left : B; /* never ask for more than is owed */
        ssize_t n = read(a->fd, buf, want);
        calls++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            runtime_error(errno, "read() failed after %llu of %llu bytes",
                          (unsigned long long)recvd, (unsigned long long)total);
        }
        if (n == 0)
            runtime_error(0, "unexpected end of data after %llu of %llu bytes",
                          (unsigned long long)recvd, (unsigned long long)total);
        a->hist[bucket((uint64_t)n)]++;
        if (buf[0] != pattern(recvd % B) || buf[n - 1] != pattern((recvd + (uint64_t)n - 1) % B))
            bad++;
        recvd += (uint64_t)n;
    }
    a->t_end = now_ns();
    a->c_end = cpu_ns();
    a->calls = calls;
    a->bytes = recvd;
    a->mismatches = bad;
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* One actor: pin, allocate and pre-fault its buffer, say ready, wait for go, run the loop. */
static void *actor_main(void *arg)
{
    struct actor *a = arg;
    struct rusage r0, r1;
    unsigned char *buf;
    void *mem = NULL;
    char c = 'r';
    long page = sysconf(_SC_PAGESIZE);
    int rc;

    if (a->pin >= 0)
        pin_self(a->pin);
    rc = posix_memalign(&mem, page > 0 ? (size_t)page : 4096, cfg.buffer);
    if (rc != 0)
        runtime_error(rc, "cannot allocate a %llu-byte buffer", (unsigned long long)cfg.buffer);
    buf = mem;
    if (a->role == WRITER)
        for (size_t i = 0; i < cfg.buffer; i++)
            buf[i] = pattern(i);
    else
        memset(buf, 0, cfg.buffer); /* pre-fault */

    write_all(ready_pipe[1], &c, 1, "the ready handshake");
    if (!read_all(go_pipe[0], &c, 1, "the go handshake"))
        runtime_error(0, "the controller went away before the start");

    getrusage(RUSAGE_ACTOR, &r0);
    a->cpu_start = current_cpu();
    if (a->role == WRITER)
        writer_loop(a, buf);
    else
        reader_loop(a, buf);
    a->cpu_end = current_cpu();
    getrusage(RUSAGE_ACTOR, &r1);

    a->minflt = r1.ru_minflt - r0.ru_minflt;
    a->majflt = r1.ru_majflt - r0.ru_majflt;
    a->nvcsw = r1.ru_nvcsw - r0.ru_nvcsw;
    a->nivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
    a->utime_ns = tv_ns(r1.ru_utime) - tv_ns(r0.ru_utime);
    a->stime_ns = tv_ns(r1.ru_stime) - tv_ns(r0.ru_stime);
    free(buf);
    return NULL;
}

/* ------------------------------------------------------------------ perf control */

/* Send a command to perf's control fifo and wait for "ack\n" (perf also writes a NUL). */
static void perf_command(const char *cmd)
{
    char seen[16];
    size_t have = 0;
    write_all(ctl_fd, cmd, strlen(cmd), "the perf control fifo");
    for (;;) {
        char tmp[16];
        ssize_t n = read(ack_fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            runtime_error(n < 0 ? errno : 0, "no ack from perf on %s (run under perf stat --control fifo:CTL,ACK)",
                          cfg.ack_fifo);
        for (ssize_t i = 0; i < n; i++) {
            if (tmp[i] == '\0')
                continue;
            if (have == sizeof seen)
                have = 0;
            seen[have++] = tmp[i];
            if (have >= 4 && memcmp(seen + have - 4, "ack\n", 4) == 0)
                return;
        }
    }
}

/* ------------------------------------------------------------------ command line */

static void usage(void)
{
    printf("usage: ipcbench [-i pipe|pipe-s|local|local-s|tcp|tcp-s] [-a 2thread|2proc] [-b SIZE] [-t TOTAL]\n"
           "                [-p same|split|any] [-c CPU[,CPU]] [-f] [--ctl-fifo CTL --ack-fifo ACK]\n"
           "  -i  IPC object (default pipe); pipe-s resizes the pipe to the buffer size (Linux)\n"
           "  -a  two threads or two processes (default 2thread)\n"
           "  -b  bytes per write()/read() (default 128K); sizes: 65536, 64K, 1M, 1G\n"
           "  -t  total bytes, a multiple of -b (default 16M)\n"
           "  -p  same: both actors on one CPU; split: two CPUs; any: scheduler (default)\n"
           "  -c  CPU(s) for -p same (one) or -p split (two)\n"
           "  -f  as root, force socket buffers past wmem_max/rmem_max (and pipe-s past pipe-max-size)\n"
           "  --ctl-fifo/--ack-fifo  perf stat --delay=-1 --control fifo:CTL,ACK: count the loop only\n"
           "Prints one JSON object on stdout.\n");
}

static int lookup(const char *value, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0)
            return i;
    return -1;
}

static int parse_cpu(const char *s)
{
    char *end;
    long v;
    if (!isdigit((unsigned char)*s))
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 4095)
        return -1;
    return (int)v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ctl-fifo", required_argument, NULL, 'C'},
        {"ack-fifo", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cpus_arg = NULL;
    int opt, v;
    uint64_t size;

    opterr = 0; /* we print our own one-line errors */
    while ((opt = getopt_long(argc, argv, ":i:a:b:t:p:c:fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if ((v = lookup(optarg, ipc_names, IPC_COUNT)) < 0)
                usage_error("unknown IPC mode '%s': use pipe, pipe-s, local, local-s, tcp or tcp-s", optarg);
            cfg.ipc = (enum ipc_mode)v;
            break;
        case 'a':
            if ((v = lookup(optarg, actors_names, 2)) < 0)
                usage_error("unknown actors mode '%s': use 2thread or 2proc", optarg);
            cfg.actors = (enum actors_mode)v;
            break;
        case 'p':
            if ((v = lookup(optarg, placement_names, 3)) < 0)
                usage_error("unknown placement '%s': use same, split or any", optarg);
            cfg.placement = (enum placement)v;
            break;
        case 'b':
            if (parse_size(optarg, &size) != 0 || size > (uint64_t)SSIZE_MAX)
                usage_error("invalid buffer size '%s': write a positive number of bytes, e.g. 65536, 64K or 1M", optarg);
            cfg.buffer = (size_t)size;
            break;
        case 't':
            if (parse_size(optarg, &size) != 0)
                usage_error("invalid total size '%s': write a positive number of bytes, e.g. 16M", optarg);
            cfg.total = size;
            break;
        case 'c':
            cpus_arg = optarg;
            break;
        case 'f':
            cfg.force = 1;
            break;
        case 'C':
            cfg.ctl_fifo = optarg;
            break;
        case 'A':
            cfg.ack_fifo = optarg;
            break;
        case 'h':
            usage();
            exit(0);
        case ':':
            if (optopt)
                usage_error("option -%c needs a value: see ipcbench -h", optopt);
            usage_error("option %s needs a value: see ipcbench -h", argv[optind - 1]);
            break;
        default:
            if (optopt)
                usage_error("unknown option -%c: see ipcbench -h", optopt);
            usage_error("unknown option %s: see ipcbench -h", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s': see ipcbench -h", argv[optind]);
    if (cfg.total % cfg.buffer != 0)
        usage_error("total size %llu is not a multiple of the buffer size %llu: choose sizes that divide evenly",
                    (unsigned long long)cfg.total, (unsigned long long)cfg.buffer);
    if ((cfg.ctl_fifo == NULL) != (cfg.ack_fifo == NULL))
        usage_error("--ctl-fifo and --ack-fifo go together: give both or neither");
    if ((cfg.ipc == IPC_LOCAL_S || cfg.ipc == IPC_TCP_S) && cfg.buffer > INT_MAX)
        usage_error("buffer size %llu is too large for SO_SNDBUF: use at most %d", (unsigned long long)cfg.buffer, INT_MAX);
#if !defined(__linux__)
    if (cfg.ipc == IPC_PIPE_S)
        usage_error("-i pipe-s needs F_SETPIPE_SZ, which only Linux has: use -i pipe on this system");
    if (cfg.force)
        usage_error("-f needs SO_SNDBUFFORCE, which only Linux has: raise kern.ipc.maxsockbuf instead");
#endif
    if (!HAVE_PINNING && cfg.placement != PL_ANY)
        usage_error("-p %s is not supported on this system: use -p any", placement_names[cfg.placement]);
    if (cpus_arg) {
        char copy[64], *comma;
        int want = cfg.placement == PL_SPLIT ? 2 : 1;
        if (cfg.placement == PL_ANY)
            usage_error("-c needs -p same (one CPU) or -p split (two CPUs)");
        snprintf(copy, sizeof copy, "%s", cpus_arg);
        comma = strchr(copy, ',');
        if (comma)
            *comma++ = '\0';
        if ((comma != NULL) != (want == 2))
            usage_error("-c '%s': -p %s takes %s", cpus_arg, placement_names[cfg.placement],
                        want == 2 ? "two CPUs, e.g. -c 0,1" : "one CPU, e.g. -c 0");
        cfg.cpus[0] = parse_cpu(copy);
        cfg.cpus[1] = comma ? parse_cpu(comma) : -1;
        if (cfg.cpus[0] < 0 || (want == 2 && (cfg.cpus[1] < 0 || cfg.cpus[1] == cfg.cpus[0])))
            usage_error("invalid CPU list '%s': use CPU numbers, e.g. -c 0 or -c 0,1 (two different CPUs)", cpus_arg);
    }
}

/* ------------------------------------------------------------------ output */

static void print_hist(const uint64_t *h)
{
    int first = 1;
    printf("{");
    for (int k = 0; k < NBUCKETS; k++)
        if (h[k]) {
            printf("%s\"%llu\": %llu", first ? "" : ", ", 1ull << k, (unsigned long long)h[k]);
            first = 0;
        }
    printf("}");
}

static void print_opt_long(long v)
{
    if (v < 0)
        printf("null");
    else
        printf("%ld", v);
}

/* An actor's own loop window and the CPU time it used in it (ns). */
static long long wall(const struct actor *a)
{
    return (long long)(a->t_end - a->t_start);
}

static long long oncpu(const struct actor *a)
{
    return (long long)(a->c_end - a->c_start);
}

static void print_json(const struct buffers *b)
{
    const struct actor *w = &shared->actor[WRITER], *r = &shared->actor[READER];
    uint64_t loop_ns = r->t_end - w->t_start;
    double bandwidth = loop_ns ? (double)cfg.total * 1e9 / (double)loop_ns : 0.0;
    int bytes_ok = w->bytes == cfg.total && r->bytes == cfg.total && r->mismatches == 0;

    printf("{\"tool\": \"ipcbench\", \"version\": 1, \"ipc\": \"%s\", \"actors\": \"%s\", \"placement\": \"%s\",\n",
           ipc_names[cfg.ipc], actors_names[cfg.actors], placement_names[cfg.placement]);
    printf(" \"buffer_size\": %llu, \"total_size\": %llu,\n", (unsigned long long)cfg.buffer,
           (unsigned long long)cfg.total);
    printf(" \"loop_ns\": %llu, \"bandwidth\": %.1f,\n", (unsigned long long)loop_ns, bandwidth);
    printf(" \"writes\": %llu, \"reads\": %llu,\n", (unsigned long long)w->calls, (unsigned long long)r->calls);
    printf(" \"write_sizes\": ");
    print_hist(w->hist);
    printf(", \"read_sizes\": ");
    print_hist(r->hist);
    printf(",\n \"buffers\": {\"requested\": %llu, \"sndbuf\": ", (unsigned long long)cfg.buffer);
    print_opt_long(b->sndbuf);
    printf(", \"rcvbuf\": ");
    print_opt_long(b->rcvbuf);
    printf(", \"pipe_size\": ");
    print_opt_long(b->pipe_size);
    printf(", \"forced\": %s},\n", b->forced ? "true" : "false");
    printf(" \"rusage\": {\"minflt\": %ld, \"majflt\": %ld, \"nvcsw\": %ld, \"nivcsw\": %ld, "
           "\"utime_ns\": %lld, \"stime_ns\": %lld},\n",
           w->minflt + r->minflt, w->majflt + r->majflt, w->nvcsw + r->nvcsw, w->nivcsw + r->nivcsw,
           (long long)(w->utime_ns + r->utime_ns), (long long)(w->stime_ns + r->stime_ns));
    printf(" \"cpus\": {\"writer\": [%d, %d], \"reader\": [%d, %d]},\n", w->cpu_start, w->cpu_end,
           r->cpu_start, r->cpu_end);
    printf(" \"wall_ns\": {\"writer\": %lld, \"reader\": %lld},\n", wall(w), wall(r));
    printf(" \"oncpu_ns\": {\"writer\": %lld, \"reader\": %lld},\n", oncpu(w), oncpu(r));
    printf(" \"offcpu_ns\": {\"writer\": %lld, \"reader\": %lld},\n", wall(w) - oncpu(w),
           wall(r) - oncpu(r));
    printf(" \"counting\": \"%s\",\n", cfg.ctl_fifo ? "loop" : "none");
    printf(" \"bytes_ok\": %s}\n", bytes_ok ? "true" : "false");
    if (fflush(stdout) != 0)
        runtime_error(errno, "cannot write the result to stdout");
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    struct buffers bufs;
    int fds[2], pins[2];
    char go[2] = {'g', 'g'}, ready[2];

    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a vanished peer is an EPIPE error, not a silent death */

    if (cfg.ctl_fifo) { /* perf already has both fifos open, so these opens do not block */
        ctl_fd = open(cfg.ctl_fifo, O_WRONLY);
        if (ctl_fd < 0)
            runtime_error(errno, "cannot open control fifo %s", cfg.ctl_fifo);
        ack_fd = open(cfg.ack_fifo, O_RDONLY);
        if (ack_fd < 0)
            runtime_error(errno, "cannot open ack fifo %s", cfg.ack_fifo);
    }

    resolve_placement(pins);
    make_ipc(fds, &bufs);
    if (pipe(ready_pipe) != 0 || pipe(go_pipe) != 0)
        runtime_error(errno, "pipe() failed");

    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        shared = NULL;
        runtime_error(errno, "mmap of the shared result area failed");
    }
    memset(shared, 0, sizeof *shared);
    for (int i = 0; i < 2; i++) {
        shared->actor[i].role = (enum role)i;
        shared->actor[i].fd = fds[i];
        shared->actor[i].pin = pins[i];
        shared->actor[i].cpu_start = shared->actor[i].cpu_end = -1;
    }

    if (cfg.actors == ACT_2THREAD) {
        pthread_t tid[2];
        for (int i = 0; i < 2; i++) {
            int rc = pthread_create(&tid[i], NULL, actor_main, &shared->actor[i]);
            if (rc != 0)
                runtime_error(rc, "pthread_create failed");
        }
        if (!read_all(ready_pipe[0], ready, 2, "the ready handshake"))
            runtime_error(0, "an actor thread went away before the start");
        if (cfg.ctl_fifo)
            perf_command("enable\n");
        write_all(go_pipe[1], go, 2, "the go handshake");
        for (int i = 0; i < 2; i++)
            pthread_join(tid[i], NULL);
    } else {
        pid_t pid[2];
        int failed = 0;
        for (int i = 0; i < 2; i++) {
            pid[i] = fork();
            if (pid[i] < 0)
                runtime_error(errno, "fork failed");
            if (pid[i] == 0) {
                /* child: keep only its own end, so a dying peer gives EOF/EPIPE, not a hang */
                close(fds[1 - i]);
                close(ready_pipe[0]);
                close(go_pipe[1]);
                if (ctl_fd >= 0) {
                    close(ctl_fd);
                    close(ack_fd);
                }
                actor_main(&shared->actor[i]);
                _exit(0);
            }
        }
        close(fds[0]);
        close(fds[1]);
        close(ready_pipe[1]);
        close(go_pipe[0]);
        if (!read_all(ready_pipe[0], ready, 2, "the ready handshake"))
            failed = 1; /* a child died during set-up: reported after waitpid below */
        else {
            if (cfg.ctl_fifo)
                perf_command("enable\n");
            write_all(go_pipe[1], go, 2, "the go handshake");
        }
        if (failed)
            close(go_pipe[1]); /* let a surviving child see EOF instead of waiting forever */
        int status[2];
        for (int i = 0; i < 2; i++)
            while (waitpid(pid[i], &status[i], 0) < 0)
                if (errno != EINTR)
                    runtime_error(errno, "waitpid failed");
        for (int i = 0; i < 2; i++) {
            if (WIFSIGNALED(status[i]))
                runtime_error(0, "the %s process was killed by signal %d", i == WRITER ? "writer" : "reader",
                              WTERMSIG(status[i]));
            if (WEXITSTATUS(status[i]) != 0)
                failed = 1;
        }
        if (failed) /* the failing child already printed the error line */
            runtime_error(0, "an actor process failed");
    }

    if (cfg.ctl_fifo)
        perf_command("disable\n");
    print_json(&bufs);
    return 0;
}
