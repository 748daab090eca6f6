/*
 * ipcbench: the pmcsuite IPC benchmark (after the Cambridge L41 ipc-static benchmark).
 *
 * Two actors (threads or processes) move TOTAL bytes through an IPC object: the writer does
 * blocking write()s of BUFFER bytes, the reader read()s into a BUFFER-byte buffer until TOTAL
 * bytes arrived (partial reads allowed). Only the transfer loop is timed: the writer reads
 * CLOCK_MONOTONIC just before its first write, the reader just after its last read.
 * One JSON object per iteration is printed on stdout, each on one line (schema "ipcbench JSON"
 * in docs/DESIGN.md, version 2).
 *
 * IPC modes: pipe, pipe-s (pipe resized to the buffer size with F_SETPIPE_SZ, Linux only),
 * local (socketpair(AF_UNIX, SOCK_STREAM), default buffers), local-s (SO_SNDBUF on the writer's
 * socket and SO_RCVBUF on the reader's set to the buffer size), tcp and tcp-s (the same over a
 * 127.0.0.1 connection on an ephemeral port, Nagle left on).
 *
 * Several iterations per process (-n N): each iteration builds a FRESH IPC object and fresh
 * actors (two new threads, or two newly forked processes) and prints its own JSON object, on
 * one line, flushed when the iteration ends. In 2thread mode the actors' buffers are allocated,
 * filled with the pattern (writer) and pre-faulted (reader) once per process and reused; in
 * 2proc mode each child allocates and pre-faults its own.
 *
 * Several points per process (--points IPC:SIZE:N,...; instead of -i, -b and -n; at most 4096
 * items, each SIZE dividing -t, each checked as -i/-b would be): the points run in the given
 * order, each as -i IPC -b SIZE -n N would (fresh IPC object and actors per iteration). The
 * 2thread buffers are allocated, filled and pre-faulted once per process at the LARGEST size of
 * the list: the writer's holds pattern(i) at every offset i, so its first B bytes are the
 * pattern of any smaller point, and the reader checks against the point's own B. Every JSON
 * line carries "point" (the item's 0-based index; 0 without --points), and "iteration" (0-based
 * within the point) and "iterations" (the point's N). A sweep thus pays the per-process costs
 * (start-up, buffer set-up, registering the tracepoints it counts) once, not once per point.
 *
 * Counting by the actors themselves (Linux, -e ID=SPEC, "counting": "actors"): at the start of
 * every iteration each actor, in its own thread (2thread) or process (2proc), opens every event
 * with perf_event_open(attr, pid 0, cpu -1, group, PERF_FLAG_FD_CLOEXEC): inherit 0, user and
 * kernel (exclude_kernel 0), exclude_hv 1, read_format TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING,
 * all of its events in ONE group (the leader, disabled, is the first event that opened; an event
 * that cannot join the group (EINVAL) is retried as the leader of a group of its own, and every
 * leader is then switched on and off). Order in each actor: its CPU clock (c_start) ->
 * ioctl(RESET, GROUP) and ioctl(ENABLE, GROUP) on every leader -> t_start -> the loop -> t_end
 * -> ioctl(DISABLE, GROUP) on every leader -> c_end -> read() every counter -> close. The
 * enabling ioctl enters the kernel before counting starts; the disabling ioctl's sys_enter
 * fires while counting is on; clock_gettime(CLOCK_MONOTONIC) is a vDSO call (no system call on
 * x86-64 and arm64 with a vDSO clocksource). So in every counted run the system calls an actor
 * counts are exactly its loop's write()s (writer) or read()s (reader), EINTR returns included,
 * plus ioctl()s: with one group only the one disabling ioctl; with G groups (leaders reset
 * first, then enabled and disabled in the same order) each group sees the enabling ioctls of
 * the leaders after it and the disabling ioctls of the leaders up to its own, G in all. So
 * syscalls:sys_enter_write == "writes" (writer; 0 for the reader) and syscalls:sys_enter_read
 * == "reads" (reader; 0 for the writer) EXACTLY, and raw_syscalls:sys_enter == that actor's
 * writes + reads + G (G = 1 when all events fit one group). Verified by
 * tests/test_benchmark.py. Values are raw counts, never scaled: a group that did not fit the PMU
 * is "not_counted", one that was multiplexed is "multiplexed" (both with the raw value). When
 * the process runs more than one iteration in all (-n > 1, or --points with more than one
 * iteration over all its points) the controller also holds one disabled, never-enabled event
 * per tracepoint on itself for the whole process, so that the kernel registers each tracepoint
 * once per process rather than registering and unregistering it (an RCU grace period, tens of
 * ms) at every iteration or point; it counts nothing and is in no actor's group.
 *
 * Sampling of the actors' loops (Linux, --sample EVENT:PERIOD; with -n, --points and -e, not with
 * --ctl-fifo): software cpu-clock (PERIOD in ns, at least 10000) or PERF_TYPE_HARDWARE cycles
 * (PERIOD in cycles); sample_type IP|TID|CALLCHAIN, kernel and user callchains, sample_max_stack 32,
 * exclude_hv 1, read_format PERF_FORMAT_LOST where the kernel has it (6.0+), opened disabled with
 * a ring buffer of 1 + 128 pages, afresh at every iteration. Two modes (--sample-mode; without it
 * cpu where allowed, else thread):
 * - cpu: the controller opens one event per CPU the actors may run on (perf_event_open(attr, pid
 *   -1, cpu N): the CPU both are pinned to (-p same), the two CPUs (-p split), every CPU of the
 *   affinity mask (-p any)), adding PERF_SAMPLE_TIME on CLOCK_MONOTONIC (use_clockid) and
 *   exclude_idle. It enables them once both actors are ready, just before it writes the go bytes,
 *   and disables them once both have ended; the CPUs' cpu-clock timers start spread over a period,
 *   each enabled on its own CPU (cpu_sampling_on). Then it reads every CPU's buffer: a sample is an
 *   actor's when its TID is that actor's (gettid(), recorded before the ready handshake) and its time
 *   lies within that actor's [t_start, t_end]; every other sample (other threads and processes, the
 *   actors before and after their loops) is counted in "foreign" and dropped. A buffer's lost
 *   samples are shared out by the samples each actor got from it, rounded up (an estimate: whose
 *   they were is unknown). No per-thread timer is started and stopped at every context switch (on a
 *   VM each timer reprogramming exits to the hypervisor: at -p same, 4K the thread mode made the
 *   loop 7.6x as long, this one 1.4x), and the actors make no sampling system call. A CPU-wide
 *   event needs CAP_PERFMON (root) or kernel.perf_event_paranoid <= 0: where it cannot be opened or
 *   mapped and no --sample-mode was given, the process falls back to the thread mode for good.
 * - thread: each actor, in its own thread or process, opens its event on itself (pid 0, cpu -1).
 *   Order: c_start -> ioctl(ENABLE) of the sampler -> the counters on -> t_start -> the loop ->
 *   t_end -> the counters off -> ioctl(DISABLE) of the sampler -> c_end: only the loop is sampled,
 *   and the counters see none of the sampler's system calls (their counts stay exact). After the
 *   loop the actor reads its own buffer.
 * Reading a buffer: data_head, a barrier, the records from data_tail wrapping around the buffer's
 * end, a barrier, data_tail = data_head; each callchain is split at its PERF_CONTEXT_* markers into
 * kernel and user IPs, leaf first (a sample without a callchain: its IP, by cpumode), identical
 * (kernel, user) chains counted once each. Samples a full buffer could not take are counted (the
 * event's PERF_FORMAT_LOST count, or PERF_RECORD_LOST's if more; before Linux 6.0, when the buffer
 * was found full, estimated as the event's count / PERIOD less the samples read), never hidden.
 * Each JSON line then carries
 *   "profile": {"event": "cpu-clock"|"cycles", "period": P, "unit": "ns"|"cycles", "mode": "cpu"|"thread",
 *               "status": "ok", "foreign": F (cpu mode only),
 *               "writer": {"samples": S, "lost": L, "stacks": [{"n": N, "k": [IP, ...], "u": [IP, ...]},
 *               ...]}, "reader": {...}}
 * with IPs as lowercase hex strings without 0x (JSON numbers lose precision above 2^53), stacks
 * most frequent first, "samples" = the sum of their "n". When an actor could not sample (no
 * perf_event_open, EACCES under kernel.perf_event_paranoid, no PMU for cycles, the buffer's mmap
 * over the locked-memory limit) the profile has no "writer"/"reader" but the worst actor's
 * "status" ("not_supported", "permission_denied" or "error") and a one-line "reason", never zero
 * samples. FreeBSD: "not_supported" (the kernel profile there comes from DTrace).
 *
 * Counting with libpmc (FreeBSD, built with -DWITH_LIBPMC, "counting": "process"), the way the
 * 2020+ L41 ipc-benchmark does it: pmc_init() once, per event pmc_allocate(spec, PMC_MODE_TC, ...,
 * PMC_CPU_ANY) and pmc_attach(id, 0) to this process (process-virtual: both threads, user and
 * kernel; PMC_F_DESCENDANTS in 2proc mode so that the forked actors count too); the controller
 * zeroes and starts every PMC just before it releases the actors ("go") and stops and reads them
 * once both finished. System calls in that window besides the loop's: the go write, the
 * actors' go reads (they may enter the kernel after counting started), their clock and rusage
 * calls, the joins/waits. This path is compile-checked (tests/test_cross_build.py) but has
 * NEVER RUN on a real FreeBSD machine.
 *
 * Loop-only counting with perf: `perf stat --delay=-1 --control fifo:CTL,ACK ... -- ipcbench
 * --ctl-fifo CTL --ack-fifo ACK ...` (one iteration only, no -e) starts with counters off;
 * ipcbench writes "enable" just
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
 * on Linux and FreeBSD (add -DWITH_LIBPMC -lpmc on FreeBSD for -e).
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
#include <sys/procctl.h>
#include <sys/resource.h>
#include <sys/sysctl.h>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#define HAVE_PERF 1
#ifndef PERF_FLAG_FD_CLOEXEC
#define PERF_FLAG_FD_CLOEXEC (1UL << 3)
#endif
#else
#define HAVE_PERF 0
#endif

#if defined(__FreeBSD__) && defined(WITH_LIBPMC)
#define HAVE_LIBPMC 1
#if defined(__has_include)
#if __has_include(<pmc.h>)
#include <pmc.h>
#define HAVE_PMC_H 1
#endif
#endif
#ifndef HAVE_PMC_H
/* libpmc's own header is not shipped with every cross toolchain (zig ships sys/pmc.h only):
 * declare the few calls used here, as in FreeBSD 12+'s lib/libpmc/pmc.h. */
#include <sys/pmc.h>
int pmc_allocate(const char *ctrspec, enum pmc_mode mode, uint32_t flags, int cpu, pmc_id_t *pmcid, uint64_t count);
int pmc_attach(pmc_id_t pmcid, pid_t pid);
int pmc_init(void);
int pmc_read(pmc_id_t pmc, pmc_value_t *value);
int pmc_start(pmc_id_t pmc);
int pmc_stop(pmc_id_t pmc);
int pmc_write(pmc_id_t pmc, pmc_value_t value);
#endif
#else
#define HAVE_LIBPMC 0
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
#define MAX_EVENTS 32
#define MAX_ITERATIONS 100000
#define MAX_POINTS 4096

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
    long iterations;        /* -n; while running: the current point's */
    int nevents;            /* -e */
    int load;               /* --load: sample the machine's load around each iteration */
};

static struct config cfg = {IPC_PIPE, ACT_2THREAD, PL_ANY, DEFAULT_BUFFER, DEFAULT_TOTAL, 0, {-1, -1}, NULL, NULL, 1, 0, 0};

/* The points this process runs, in order (--points, or the one point of -i/-b/-n). While a
 * point runs, cfg.ipc, cfg.buffer and cfg.iterations are that point's. */
struct point {
    enum ipc_mode ipc;
    size_t buffer;
    long iterations;
};

static struct point points[MAX_POINTS];
static int npoints;
static long total_iterations;   /* over all points */
static size_t max_buffer;       /* the largest buffer size of all points */

/* ------------------------------------------------------------------ events (-e ID=SPEC) */

/* Counter statuses, in increasing order of severity (the total is the worst actor's). */
enum ev_status { ST_OK, ST_NOT_COUNTED, ST_MULTIPLEXED, ST_NOT_SUPPORTED, ST_PERMISSION, ST_ERROR };
static const char *const status_names[] = {"ok", "not_counted", "multiplexed", "not_supported",
                                           "permission_denied", "error"};

enum ev_kind { EK_HARDWARE, EK_CACHE, EK_RAW, EK_PMU, EK_SOFTWARE, EK_TRACEPOINT, EK_LIBPMC };

struct event_def {
    char id[64];
    char spec[192];
    enum ev_kind kind;
    uint32_t type;          /* perf_event_attr.type (resolved in main for PMU and tracepoints) */
    uint64_t config;
    char pmu[64];           /* EK_PMU: the PMU's name; EK_TRACEPOINT: "subsys" */
    char name[128];         /* EK_TRACEPOINT: the tracepoint's name */
    int config_is_event;    /* EK_PMU: the value was given as event=, shifted per format/event */
    int pre_status;         /* -1, or the status every actor gets without opening (not resolvable) */
    char pre_reason[300];
};

static struct event_def events[MAX_EVENTS];

/* What one counter of one actor (or, with libpmc, of the process) gave. */
struct ev_result {
    int opened;             /* the counter exists: value/enabled/running are meaningful */
    int status;             /* enum ev_status */
    int err;                /* errno of the failure, 0 if none */
    int stage;              /* where it failed: 0 open/allocate, 1 read, 2 attach, 3 start/stop */
    uint64_t value, enabled, running;
};

/* ------------------------------------------------------------------ sampling (--sample EVENT:PERIOD) */

enum sample_event { SE_CPU_CLOCK, SE_CYCLES, SE_COUNT };
static const char *const sample_event_names[SE_COUNT] = {"cpu-clock", "cycles"};
static const char *const sample_units[SE_COUNT] = {"ns", "cycles"};
static const uint64_t sample_min_period[SE_COUNT] = {10000, 1000}; /* cpu-clock: the kernel's hrtimer floor */
#define SAMPLE_MAX_PERIOD 1000000000000ull /* 10^12: 1000 s of cpu-clock */
#define SAMPLE_DATA_PAGES 128              /* each actor's ring buffer: 1 header page + these */
#define SAMPLE_MAX_STACK 32                /* callchain IPs per sample, kernel and user together */
#define SAMPLE_MIN_RECORD 32               /* the smallest PERF_RECORD_SAMPLE: header, ip, pid/tid, nr */
#define SAMPLE_FULL_MARGIN 4096           /* a buffer with less room left may have dropped a sample */
#define STAGGER_MAX_NS 1000000u            /* the cpu mode's timers start at most 1 ms apart */
#define FORMAT_LOST (1u << 4)              /* PERF_FORMAT_LOST (Linux 6.0+), spelled out for older headers */

/* Where the samples come from: one event per CPU the actors may run on (pid -1), or one per actor
 * thread (pid 0). */
enum sample_mode { SM_THREAD, SM_CPU, SM_COUNT };
static const char *const sample_mode_names[SM_COUNT] = {"thread", "cpu"};

/* --sample: what is sampled; data_size, max_stacks and pool_size are set in main. */
static struct {
    int on;
    enum sample_event event;
    uint64_t period;
    enum sample_mode mode;  /* the mode of the next iteration (cpu falls back to thread for good) */
    int mode_given;         /* --sample-mode: no fallback */
    size_t data_size;   /* bytes of one ring buffer's data area */
    size_t max_stacks;  /* distinct stacks an actor can get: data_size / SAMPLE_MIN_RECORD per buffer it reads */
    size_t pool_size;   /* IPs an actor can get: data_size / 8 per buffer it reads */
} smp = {0, SE_CPU_CLOCK, 0, HAVE_PERF ? SM_CPU : SM_THREAD, 0, 0, 0, 0};

/* Samples with one (kernel, user) chain: pool[at .. at+nk) are its kernel IPs, pool[at+nk ..
 * at+nk+nu) its user IPs, leaf first. */
struct stack_entry {
    uint64_t n;
    uint32_t at;
    uint16_t nk, nu;
};

/* What one actor's sampling gave. stacks and pool point into the shared profile area (2proc
 * children fill them); nstacks/npool entries are in use. */
struct sample_result {
    int status;             /* enum ev_status */
    int err;                /* errno of the failure, 0 if none */
    int stage;              /* where it failed: 0 open, 1 mmap, 2 enable, 3 the buffer, 4 read */
    uint64_t samples, lost;
    uint32_t nstacks, npool;
    int lost_known;         /* the kernel counts the samples it could not write (PERF_FORMAT_LOST) */
    struct stack_entry *stacks;
    uint64_t *pool;
};

/* ------------------------------------------------------------------ shared results */

enum role { WRITER = 0, READER = 1 };

/* What one actor measured. Lives in a MAP_SHARED mapping so that 2proc children can fill it. */
struct actor {
    enum role role;
    int fd;                 /* its end of the IPC object */
    int pin;                /* CPU to pin to, -1 = leave to the scheduler */
    int tid;                /* its thread id (Linux: gettid()), 0 where unknown */
    uint64_t t_start, t_end;/* CLOCK_MONOTONIC ns around its loop */
    uint64_t c_start, c_end;/* its own CPU-time clock (CLOCK_THREAD_CPUTIME_ID) around the loop */
    uint64_t calls;         /* write() or read() calls in the loop (EINTR returns included) */
    uint64_t bytes;         /* bytes moved */
    uint64_t mismatches;    /* reader: reads whose checked bytes did not match the pattern */
    uint64_t hist[NBUCKETS];/* returns r with 2^k <= r < 2^(k+1) */
    long minflt, majflt, nvcsw, nivcsw;
    int64_t utime_ns, stime_ns;
    int cpu_start, cpu_end;
    unsigned char *buf;     /* 2thread: the buffer allocated and filled once per process; 2proc: NULL */
    int nleaders;           /* perf group leaders this actor switches on and off */
    int leader[MAX_EVENTS];
    int perf_fd[MAX_EVENTS];
    struct ev_result ev[MAX_EVENTS];
    int sample_fd;          /* --sample: its sampling event, -1 when none is open */
    void *sample_map;       /* the event's ring buffer (1 + SAMPLE_DATA_PAGES pages), NULL when none */
    struct sample_result prof;
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
    char msg[1024];
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

/* Take every signal, and die with the parent: the kernel sends SIGKILL to this process when the one that started it ends
 * (pmcsuite, or perf stat around it, killed even by kill -9), so no benchmark outlives its harness.
 * If the parent is already gone, stop now. Called at start and in every 2proc actor. */
static void die_with_parent(void)
{
    pid_t parent = getppid();
    sigset_t none;
    /* pmcsuite starts it with SIGINT/SIGTERM/SIGHUP held (so that none is lost while it forks):
     * the benchmark takes every signal again */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
#if defined(__linux__)
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return;
#elif defined(__FreeBSD__) && defined(PROC_PDEATHSIG_CTL)
    int sig = SIGKILL;
    if (procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig) != 0)
        return;
#else
    return;
#endif
    if (getppid() != parent)
        _exit(1);
}

/* ------------------------------------------------------------------ IPC objects */

struct buffers {
    long sndbuf, rcvbuf, pipe_size; /* effective sizes read back from the kernel; -1 = n/a */
    int forced;
};

#if defined(__linux__)
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
#endif

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
                runtime_error(errno, "fcntl(F_SETPIPE_SZ, %ld) failed%s", want,
                              cfg.force ? " (-f past fs.pipe-max-size needs root / CAP_SYS_RESOURCE)" : "");
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

/* ------------------------------------------------------------------ event specs */

#define EVENT_FORMS "instructions, cycles, branches, branch-misses, cache-references, cache-misses, " \
    "bus-cycles, ref-cycles, stalled-cycles-frontend/-backend; L1-dcache-loads|load-misses|stores|" \
    "store-misses|prefetches, L1-icache-, LLC-, dTLB-, iTLB-, branch-loads|load-misses; rHEX; " \
    "PMU/event=0xNN/ or PMU/config=0xNN/; task-clock, cpu-clock, page-faults, minor-faults, " \
    "major-faults, context-switches, cpu-migrations, alignment-faults, emulation-faults; " \
    "a tracepoint subsys:name"

#if HAVE_PERF
struct named { const char *name; uint64_t config; };

static const struct named hw_names[] = {
    {"instructions", PERF_COUNT_HW_INSTRUCTIONS}, {"cycles", PERF_COUNT_HW_CPU_CYCLES},
    {"cpu-cycles", PERF_COUNT_HW_CPU_CYCLES}, {"branches", PERF_COUNT_HW_BRANCH_INSTRUCTIONS},
    {"branch-instructions", PERF_COUNT_HW_BRANCH_INSTRUCTIONS}, {"branch-misses", PERF_COUNT_HW_BRANCH_MISSES},
    {"cache-references", PERF_COUNT_HW_CACHE_REFERENCES}, {"cache-misses", PERF_COUNT_HW_CACHE_MISSES},
    {"bus-cycles", PERF_COUNT_HW_BUS_CYCLES}, {"ref-cycles", PERF_COUNT_HW_REF_CPU_CYCLES},
    {"stalled-cycles-frontend", PERF_COUNT_HW_STALLED_CYCLES_FRONTEND},
    {"stalled-cycles-backend", PERF_COUNT_HW_STALLED_CYCLES_BACKEND},
    {NULL, 0},
};

static const struct named sw_names[] = {
    {"task-clock", PERF_COUNT_SW_TASK_CLOCK}, {"cpu-clock", PERF_COUNT_SW_CPU_CLOCK},
    {"page-faults", PERF_COUNT_SW_PAGE_FAULTS}, {"faults", PERF_COUNT_SW_PAGE_FAULTS},
    {"minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN}, {"major-faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
    {"context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES}, {"cs", PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS}, {"migrations", PERF_COUNT_SW_CPU_MIGRATIONS},
    {"alignment-faults", PERF_COUNT_SW_ALIGNMENT_FAULTS}, {"emulation-faults", PERF_COUNT_SW_EMULATION_FAULTS},
    {NULL, 0},
};

/* hw-cache events: CACHE-OP where OP is allowed for that cache (bit i = cache_ops[i]) */
static const struct { const char *name; uint64_t id; unsigned ops; } caches[] = {
    {"L1-dcache", PERF_COUNT_HW_CACHE_L1D, 0x1f}, {"L1-icache", PERF_COUNT_HW_CACHE_L1I, 0x3},
    {"LLC", PERF_COUNT_HW_CACHE_LL, 0xf}, {"dTLB", PERF_COUNT_HW_CACHE_DTLB, 0xf},
    {"iTLB", PERF_COUNT_HW_CACHE_ITLB, 0x3}, {"branch", PERF_COUNT_HW_CACHE_BPU, 0x3},
};
static const struct { const char *name; uint64_t op, result; } cache_ops[] = {
    {"loads", PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_ACCESS},
    {"load-misses", PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_MISS},
    {"stores", PERF_COUNT_HW_CACHE_OP_WRITE, PERF_COUNT_HW_CACHE_RESULT_ACCESS},
    {"store-misses", PERF_COUNT_HW_CACHE_OP_WRITE, PERF_COUNT_HW_CACHE_RESULT_MISS},
    {"prefetches", PERF_COUNT_HW_CACHE_OP_PREFETCH, PERF_COUNT_HW_CACHE_RESULT_ACCESS},
};

static int lookup_named(const struct named *t, const char *s, uint64_t *config)
{
    for (; t->name; t++)
        if (strcmp(t->name, s) == 0) {
            *config = t->config;
            return 1;
        }
    return 0;
}

/* s[0..n) consists only of characters in set (and n > 0) */
static int all_of(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(set, s[i]))
            return 0;
    return 1;
}

/* Parse perf's spelling of one event into ev; 0 on success, -1 if unparseable. */
static int parse_event_spec(struct event_def *ev)
{
    const char *s = ev->spec, *colon, *slash;
    uint64_t config;
    if (lookup_named(hw_names, s, &config)) {
        ev->kind = EK_HARDWARE, ev->type = PERF_TYPE_HARDWARE, ev->config = config;
        return 0;
    }
    if (lookup_named(sw_names, s, &config)) {
        ev->kind = EK_SOFTWARE, ev->type = PERF_TYPE_SOFTWARE, ev->config = config;
        return 0;
    }
    for (size_t c = 0; c < sizeof caches / sizeof caches[0]; c++) {
        size_t n = strlen(caches[c].name);
        if (strncmp(s, caches[c].name, n) != 0 || s[n] != '-')
            continue;
        for (size_t o = 0; o < sizeof cache_ops / sizeof cache_ops[0]; o++)
            if (((caches[c].ops >> o) & 1) && strcmp(s + n + 1, cache_ops[o].name) == 0) {
                ev->kind = EK_CACHE, ev->type = PERF_TYPE_HW_CACHE;
                ev->config = caches[c].id | (cache_ops[o].op << 8) | (cache_ops[o].result << 16);
                return 0;
            }
    }
    if (s[0] == 'r' && strlen(s) >= 2 && strlen(s) <= 17 && strspn(s + 1, "0123456789abcdefABCDEF") == strlen(s) - 1) {
        ev->kind = EK_RAW, ev->type = PERF_TYPE_RAW, ev->config = strtoull(s + 1, NULL, 16);
        return 0;
    }
    slash = strchr(s, '/');
    if (slash) { /* PMU/event=0xNN/ or PMU/config=0xNN/ */
        const char *key = slash + 1, *val;
        char *end;
        size_t n = (size_t)(slash - s);
        if (!all_of(s, n, "_.-") || n >= sizeof ev->pmu)
            return -1;
        if (strncmp(key, "event=", 6) == 0)
            ev->config_is_event = 1, val = key + 6;
        else if (strncmp(key, "config=", 7) == 0)
            ev->config_is_event = 0, val = key + 7;
        else
            return -1;
        if (!isdigit((unsigned char)val[0]))
            return -1;
        errno = 0;
        ev->config = strtoull(val, &end, 0);
        if (errno || strcmp(end, "/") != 0)
            return -1;
        memcpy(ev->pmu, s, n);
        ev->pmu[n] = '\0';
        ev->kind = EK_PMU;
        return 0;
    }
    colon = strchr(s, ':');
    if (colon) { /* subsys:name */
        size_t n = (size_t)(colon - s), m = strlen(colon + 1);
        if (!all_of(s, n, "_") || !all_of(colon + 1, m, "_") || n >= sizeof ev->pmu || m >= sizeof ev->name)
            return -1;
        memcpy(ev->pmu, s, n);
        ev->pmu[n] = '\0';
        memcpy(ev->name, colon + 1, m + 1);
        ev->kind = EK_TRACEPOINT, ev->type = PERF_TYPE_TRACEPOINT;
        return 0;
    }
    return -1;
}

/* Read one unsigned number from a sysfs/tracefs file; 0, or the errno of the failure. */
static int read_u64_file(const char *path, uint64_t *out)
{
    unsigned long long v;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno;
    if (fscanf(f, "%llu", &v) != 1) {
        fclose(f);
        return EINVAL;
    }
    fclose(f);
    *out = v;
    return 0;
}

/* Resolve what needs the file system (PMU types, tracepoint ids), once per process. An event
 * that cannot be resolved gets a status for every actor, without being opened. */
static void resolve_events(void)
{
    char path[400];
    for (int i = 0; i < cfg.nevents; i++) {
        struct event_def *ev = &events[i];
        uint64_t v;
        int rc;
        ev->pre_status = -1;
        if (ev->kind == EK_PMU) {
            snprintf(path, sizeof path, "/sys/bus/event_source/devices/%s/type", ev->pmu);
            if ((rc = read_u64_file(path, &v)) != 0) {
                ev->pre_status = rc == EACCES || rc == EPERM ? ST_PERMISSION : ST_NOT_SUPPORTED;
                snprintf(ev->pre_reason, sizeof ev->pre_reason,
                         "PMU '%s' is not available here (%.160s: %.60s)", ev->pmu, path, strerror(rc));
                continue;
            }
            ev->type = (uint32_t)v;
            if (ev->config_is_event) { /* event= is a field: shift it where format/event puts it */
                char fmt[64];
                FILE *f;
                unsigned lo;
                snprintf(path, sizeof path, "/sys/bus/event_source/devices/%s/format/event", ev->pmu);
                if ((f = fopen(path, "r")) != NULL) {
                    if (fscanf(f, "%63s", fmt) == 1 && sscanf(fmt, "config:%u", &lo) == 1 && lo < 64)
                        ev->config <<= lo;
                    fclose(f);
                }
            }
        } else if (ev->kind == EK_TRACEPOINT) {
            static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
            int found = 0, denied = 0, mounted = 0;
            for (int r = 0; r < 2 && !found; r++) {
                snprintf(path, sizeof path, "%s/events", roots[r]);
                if (access(path, F_OK) == 0)
                    mounted = 1;
                snprintf(path, sizeof path, "%s/events/%s/%s/id", roots[r], ev->pmu, ev->name);
                rc = read_u64_file(path, &v);
                if (rc == 0)
                    found = 1;
                else if (rc == EACCES || rc == EPERM)
                    denied = 1;
            }
            if (found) {
                ev->config = v;
            } else if (denied) {
                ev->pre_status = ST_PERMISSION;
                snprintf(ev->pre_reason, sizeof ev->pre_reason,
                         "cannot read the id of tracepoint %s:%s in tracefs: permission denied: run as root",
                         ev->pmu, ev->name);
            } else {
                ev->pre_status = ST_NOT_SUPPORTED;
                if (mounted)
                    snprintf(ev->pre_reason, sizeof ev->pre_reason,
                             "tracepoint %s:%s does not exist in this kernel (no events/%s/%s/id in tracefs)",
                             ev->pmu, ev->name, ev->pmu, ev->name);
                else
                    snprintf(ev->pre_reason, sizeof ev->pre_reason,
                             "tracepoint %s:%s not found: tracefs must be mounted "
                             "(mount -t tracefs nodev /sys/kernel/tracing)", ev->pmu, ev->name);
            }
        }
    }
}

/* Keep every tracepoint registered for the life of the process: one disabled, never-enabled
 * event per tracepoint, opened by the controller on itself. The kernel registers a tracepoint's
 * perf probe when its first event opens (~10 ms here) and unregisters it, with an RCU grace
 * period (~60 ms here), when its last one closes; with a keeper open the actors' per-iteration
 * opens and closes are only reference counts. The keeper counts nothing and is in no actor's
 * group, so it changes no count. Failures are ignored (the actors then just pay the cost). */
static void keep_tracepoints_registered(void)
{
    for (int i = 0; i < cfg.nevents; i++) {
        struct perf_event_attr attr;
        if (events[i].kind != EK_TRACEPOINT || events[i].pre_status >= 0)
            continue;
        memset(&attr, 0, sizeof attr);
        attr.size = sizeof attr;
        attr.type = events[i].type;
        attr.config = events[i].config;
        attr.disabled = 1;
        attr.exclude_hv = 1;
        (void)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    }
}
#endif /* HAVE_PERF */

#if HAVE_PERF || HAVE_LIBPMC
static int status_of_errno(int err)
{
    switch (err) {
    case ENOENT: case EOPNOTSUPP: case EINVAL: case ENODEV: case ENOSYS:
        return ST_NOT_SUPPORTED;
    case EACCES: case EPERM:
        return ST_PERMISSION;
    default:
        return ST_ERROR;
    }
}
#endif

/* Parse one -e argument into events[cfg.nevents++]; usage error if it is not ID=SPEC. */
static void add_event(const char *arg)
{
    const char *eq = strchr(arg, '=');
    struct event_def *ev;
    size_t idlen;
    if (cfg.nevents == MAX_EVENTS)
        usage_error("too many -e events: at most %d", MAX_EVENTS);
    ev = &events[cfg.nevents];
    memset(ev, 0, sizeof *ev);
    ev->pre_status = -1;
    idlen = eq ? (size_t)(eq - arg) : 0;
    if (!eq || idlen == 0 || idlen >= sizeof ev->id || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") != idlen)
        usage_error("invalid -e '%s': write -e ID=SPEC with ID made of a-z, 0-9 and _ (e.g. -e instr=instructions)", arg);
    memcpy(ev->id, arg, idlen);
    ev->id[idlen] = '\0';
    for (int i = 0; i < cfg.nevents; i++)
        if (strcmp(events[i].id, ev->id) == 0)
            usage_error("invalid -e '%s': the id '%s' is given twice: give each event its own id", arg, ev->id);
    if (strlen(eq + 1) == 0 || strlen(eq + 1) >= sizeof ev->spec || strchr(eq + 1, ',') ||
        strpbrk(eq + 1, " \t\n\r\"\\"))
        goto bad;
    strcpy(ev->spec, eq + 1);
#if HAVE_PERF
    if (parse_event_spec(ev) != 0)
        goto bad;
#elif HAVE_LIBPMC
    ev->kind = EK_LIBPMC;
#else
    usage_error("-e needs perf_event_open (Linux) or libpmc (FreeBSD, build with -DWITH_LIBPMC -lpmc)");
#endif
    cfg.nevents++;
    return;
bad:
#if HAVE_LIBPMC
    usage_error("invalid event spec in -e '%s': give one libpmc event name as pmcstat spells it "
                "(e.g. INSTR_EXECUTED), without commas or spaces", arg);
#else
    usage_error("invalid event spec in -e '%s': one event, no commas; accepted forms: " EVENT_FORMS, arg);
#endif
}

/* ------------------------------------------------------------------ the actors */

/* Each actor counts itself (Linux): open every event in one group before the ready handshake. */
static void counters_open(struct actor *a)
{
    a->nleaders = 0;
    for (int i = 0; i < cfg.nevents; i++) {
        struct ev_result *e = &a->ev[i];
        memset(e, 0, sizeof *e);
        a->perf_fd[i] = -1;
#if HAVE_PERF
        {
            const struct event_def *ev = &events[i];
            struct perf_event_attr attr;
            int leader = a->nleaders ? a->leader[0] : -1, fd;
            if (ev->pre_status >= 0) {
                e->status = ev->pre_status;
                continue;
            }
            memset(&attr, 0, sizeof attr);
            attr.size = sizeof attr;
            attr.type = ev->type;
            attr.config = ev->config;
            attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
            attr.inherit = 0;
            attr.exclude_kernel = 0;
            attr.exclude_hv = 1;
            attr.disabled = leader < 0;
            fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, leader, PERF_FLAG_FD_CLOEXEC);
            if (fd < 0 && errno == EINVAL && leader >= 0) { /* cannot join: a group of its own */
                attr.disabled = 1;
                fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd >= 0)
                    a->leader[a->nleaders++] = fd;
            } else if (fd >= 0 && leader < 0) {
                a->leader[a->nleaders++] = fd;
            }
            if (fd < 0) {
                e->err = errno;
                e->status = status_of_errno(errno);
                continue;
            }
            e->opened = 1;
            a->perf_fd[i] = fd;
        }
#endif
    }
}

/* Switch the actor's counters on: every leader reset, then every leader enabled (the loop's
 * caller reads its CPU clock before and its wall clock after). No system call when no -e. */
static inline void counters_on(struct actor *a)
{
#if HAVE_PERF
    for (int g = 0; g < a->nleaders; g++)
        ioctl(a->leader[g], PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
    for (int g = 0; g < a->nleaders; g++)
        ioctl(a->leader[g], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
#else
    (void)a;
#endif
}

static inline void counters_off(struct actor *a)
{
#if HAVE_PERF
    for (int g = 0; g < a->nleaders; g++)
        ioctl(a->leader[g], PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
#else
    (void)a;
#endif
}

/* After the loop: read every counter (value, time enabled, time running), close it. */
static void counters_read(struct actor *a)
{
    for (int i = 0; i < cfg.nevents; i++) {
        struct ev_result *e = &a->ev[i];
        uint64_t v[3];
        ssize_t n;
        if (a->perf_fd[i] < 0)
            continue;
        n = read(a->perf_fd[i], v, sizeof v);
        if (n != (ssize_t)sizeof v) {
            e->opened = 0;
            e->err = n < 0 ? errno : EIO;
            e->stage = 1;
            e->status = ST_ERROR;
        } else {
            e->value = v[0];
            e->enabled = v[1];
            e->running = v[2];
            e->status = v[2] == 0 ? ST_NOT_COUNTED : v[2] < v[1] ? ST_MULTIPLEXED : ST_OK;
        }
        close(a->perf_fd[i]);
        a->perf_fd[i] = -1;
    }
    a->nleaders = 0;
}


/* ------------------------------------------------------------------ sampling (both modes) */

#if HAVE_PERF
static unsigned char *profile_area; /* MAP_SHARED: each actor's stacks and IPs (sample_area_size each) */

static size_t sample_area_size(void)
{
    return smp.max_stacks * sizeof(struct stack_entry) + smp.pool_size * sizeof(uint64_t);
}

static size_t page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

/* The sampling event, disabled: user and kernel, IP, TID and callchain, PERF_FORMAT_LOST. The cpu
 * mode adds each sample's time on CLOCK_MONOTONIC (the actors' clock: a sample is kept only inside
 * its actor's loop) and leaves out the idle task. */
static void sampler_attr(struct perf_event_attr *attr, enum sample_mode mode)
{
    memset(attr, 0, sizeof *attr);
    attr->size = sizeof *attr;
    attr->type = smp.event == SE_CYCLES ? PERF_TYPE_HARDWARE : PERF_TYPE_SOFTWARE;
    attr->config = smp.event == SE_CYCLES ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_SW_CPU_CLOCK;
    attr->sample_period = smp.period;
    attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_CALLCHAIN;
    attr->read_format = FORMAT_LOST;
    attr->disabled = 1;
    attr->exclude_hv = 1;
    attr->sample_max_stack = SAMPLE_MAX_STACK;
    if (mode == SM_CPU) {
        attr->sample_type |= PERF_SAMPLE_TIME;
        attr->use_clockid = 1;
        attr->clockid = CLOCK_MONOTONIC;
        attr->exclude_idle = 1;
    }
}

/* Open the sampling event on pid (0: this thread) or cpu (-1: any), falling back for older
 * kernels: without PERF_FORMAT_LOST (before Linux 6.0: EINVAL) and without sample_max_stack
 * (before 4.8: E2BIG; EOVERFLOW where kernel.perf_event_max_stack is below 32: the kernel's own
 * limit then applies). */
static int open_sampler(struct perf_event_attr *attr, pid_t pid, int cpu)
{
    for (;;) {
        int fd = (int)syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EINVAL && attr->read_format) {
            attr->read_format = 0;
            continue;
        }
        if ((errno == E2BIG || errno == EOVERFLOW) && attr->sample_max_stack) {
            attr->sample_max_stack = 0;
            continue;
        }
        return -1;
    }
}

/* Map an event's ring buffer (1 + SAMPLE_DATA_PAGES pages); NULL with errno on failure. */
static void *map_ring(int fd)
{
    void *map = mmap(NULL, page_size() + smp.data_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return map == MAP_FAILED ? NULL : map;
}
#endif

/* The calling thread's id, as PERF_SAMPLE_TID gives it (0 where there is no perf_event_open). */
static int own_tid(void)
{
#if HAVE_PERF
    return (int)syscall(SYS_gettid);
#else
    return 0;
#endif
}

/* --sample in the thread mode: before the ready handshake, open the actor's sampling event on its
 * own thread and map its ring buffer. A failure is kept in a->prof (status, errno, stage) and
 * reported in the profile, never fatal. Nothing in the cpu mode (the controller samples). */
static void sample_open(struct actor *a)
{
#if HAVE_PERF
    struct sample_result *r = &a->prof;
    struct perf_event_attr attr;
    if (!smp.on || smp.mode != SM_THREAD)
        return;
    sampler_attr(&attr, SM_THREAD);
    a->sample_fd = open_sampler(&attr, 0, -1);
    if (a->sample_fd < 0) {
        r->err = errno;
        r->status = status_of_errno(errno);
        return;
    }
    r->lost_known = (attr.read_format & FORMAT_LOST) != 0;
    a->sample_map = map_ring(a->sample_fd);
    if (!a->sample_map) {
        r->err = errno;
        r->stage = 1;
        r->status = status_of_errno(errno);
    }
#else
    (void)a;
#endif
}

/* Switch sampling on just before the counters (and off just after them), so that the counters
 * see none of its system calls. No system call without --sample, nor in the cpu mode. */
static inline void sample_on(struct actor *a)
{
#if HAVE_PERF
    if (a->sample_map && ioctl(a->sample_fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
        a->prof.err = errno;
        a->prof.stage = 2;
        a->prof.status = ST_ERROR;
    }
#else
    (void)a;
#endif
}

static inline void sample_off(struct actor *a)
{
#if HAVE_PERF
    if (a->sample_map)
        ioctl(a->sample_fd, PERF_EVENT_IOC_DISABLE, 0);
#else
    (void)a;
#endif
}

#if HAVE_PERF
/* One PERF_RECORD_SAMPLE, split: chain holds nr IPs with their context markers. */
struct sample_record {
    uint64_t ip, time;
    uint32_t pid, tid;
    const uint64_t *chain;
    size_t nr;
    unsigned misc;
};

/* Split a sample record (w: its words after the header; misc: the header's) laid out as the mode's
 * sample_type makes it: ip, pid/tid, time (cpu mode only), nr, nr IPs. 0, or -1 when malformed. */
static int parse_record(const uint64_t *w, size_t words, unsigned misc, enum sample_mode mode,
                        struct sample_record *s)
{
    size_t fixed = mode == SM_CPU ? 4 : 3;
    struct { uint32_t pid, tid; } ids;
    if (words < fixed || w[fixed - 1] > words - fixed)
        return -1;
    s->ip = w[0];
    memcpy(&ids, &w[1], sizeof ids);
    s->pid = ids.pid;
    s->tid = ids.tid;
    s->time = mode == SM_CPU ? w[2] : 0;
    s->nr = (size_t)w[fixed - 1];
    s->chain = w + fixed;
    s->misc = misc;
    return 0;
}

/* The open-addressing index over an actor's stacks while buffers are read: slot holds a
 * stack's index + 1, 0 when empty; it has at least twice as many slots as stacks can exist. */
struct stack_index {
    struct sample_result *r;
    uint32_t *slot;
    size_t mask;
};

static void index_open(struct stack_index *t, struct sample_result *r)
{
    t->r = r;
    for (t->mask = 1; t->mask < 2 * smp.max_stacks; t->mask <<= 1)
        ;
    t->slot = calloc(t->mask, sizeof *t->slot);
    if (!t->slot)
        runtime_error(ENOMEM, "cannot read the sample buffer");
    t->mask--;
}

static uint64_t chain_hash(const uint64_t *ips, size_t n, size_t nk)
{
    uint64_t h = 1469598103934665603ull ^ nk;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ ips[i]) * 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

/* Which frames follow a context marker: 1 kernel, 2 user, 0 neither (hypervisor, guest). */
static int context_kind(uint64_t marker)
{
    return marker == (uint64_t)PERF_CONTEXT_KERNEL ? 1 : marker == (uint64_t)PERF_CONTEXT_USER ? 2 : 0;
}

/* The context of the frames before any marker (and of the sample's IP): the record's cpumode. */
static uint64_t context_of_misc(unsigned misc)
{
    switch (misc & PERF_RECORD_MISC_CPUMODE_MASK) {
    case PERF_RECORD_MISC_KERNEL: return (uint64_t)PERF_CONTEXT_KERNEL;
    case PERF_RECORD_MISC_USER: return (uint64_t)PERF_CONTEXT_USER;
    default: return 0;
    }
}

/* Add one sample to the actor's stacks: its kernel IPs then its user IPs, leaf first, context
 * markers removed (no callchain: the sample's IP, placed by cpumode); an identical (k, u) chain
 * counts once more. 0, or -1 when the table is full (never with a well-formed buffer: every IP
 * kept came from 8 bytes of it). */
static int add_sample(struct stack_index *t, const struct sample_record *s)
{
    struct sample_result *r = t->r;
    uint64_t *chain = r->pool + r->npool;
    const uint64_t *ips = s->nr ? s->chain : &s->ip;
    size_t room = smp.pool_size - r->npool, n = s->nr ? s->nr : 1, nk = 0, nu = 0, i;
    struct stack_entry *e;
    for (int kind = 1; kind <= 2; kind++) {
        uint64_t context = context_of_misc(s->misc);
        for (i = 0; i < n; i++) {
            if (ips[i] >= (uint64_t)PERF_CONTEXT_MAX) {
                context = ips[i];
                continue;
            }
            if (context_kind(context) != kind)
                continue;
            if (nk + nu == room)
                return -1;
            chain[nk + nu] = ips[i];
            *(kind == 1 ? &nk : &nu) += 1;
        }
    }
    for (i = chain_hash(chain, nk + nu, nk) & t->mask; t->slot[i]; i = (i + 1) & t->mask) {
        e = &r->stacks[t->slot[i] - 1];
        if (e->nk == nk && e->nu == nu && memcmp(r->pool + e->at, chain, (nk + nu) * sizeof *chain) == 0) {
            e->n++;
            r->samples++;
            return 0;
        }
    }
    if (r->nstacks == smp.max_stacks || nk > UINT16_MAX || nu > UINT16_MAX)
        return -1;
    e = &r->stacks[r->nstacks++];
    e->n = 1;
    e->at = r->npool;
    e->nk = (uint16_t)nk;
    e->nu = (uint16_t)nu;
    r->npool += (uint32_t)(nk + nu);
    r->samples++;
    t->slot[i] = r->nstacks;
    return 0;
}

/* Copy len bytes at offset off of the ring buffer's data area (size bytes), wrapping around its end. */
static void ring_copy(const unsigned char *data, size_t size, uint64_t off, void *out, size_t len)
{
    size_t at = (size_t)(off % size), first = size - at < len ? size - at : len;
    memcpy(out, data + at, first);
    memcpy((unsigned char *)out + first, data, len - first);
}

/* What reading one ring buffer found besides its samples. */
struct ring_stats {
    uint64_t records;     /* sample records read */
    uint64_t record_lost; /* samples PERF_RECORD_LOST said were dropped */
    uint64_t used;        /* bytes the records took */
};

/* Where the samples of a buffer go: 0, or -1 when they cannot be kept (a full table). */
typedef int (*sample_sink)(void *sink, const struct sample_record *s);

/* Read every record between data_tail and data_head: each sample to take(sink, ...), PERF_RECORD_LOST
 * counts and the bytes used into *st; then give the space back (data_tail = data_head). Returns 0,
 * or -1 on a malformed record or a sample the sink could not keep. Runs after the event was
 * disabled, so no sample is being written; the barriers are perf's protocol all the same (read
 * data_head, then the data; finish reading, then write data_tail). */
static int drain_ring(void *map, enum sample_mode mode, sample_sink take, void *sink, struct ring_stats *st)
{
    volatile struct perf_event_mmap_page *pc = map;
    const unsigned char *data = (const unsigned char *)map + page_size();
    uint64_t head = pc->data_head, tail, *rec;
    struct sample_record s;
    int rc = 0;
    __sync_synchronize();
    tail = pc->data_tail;
    memset(st, 0, sizeof *st);
    st->used = head - tail;
    rec = malloc(1 << 16); /* header.size is a u16 */
    if (!rec)
        runtime_error(ENOMEM, "cannot read the sample buffer");
    if (head - tail > smp.data_size)
        rc = -1;
    while (rc == 0 && head - tail >= sizeof(struct perf_event_header)) {
        struct perf_event_header h;
        ring_copy(data, smp.data_size, tail, &h, sizeof h);
        if (h.size < sizeof h || h.size % 8 || h.size > head - tail) {
            rc = -1;
            break;
        }
        ring_copy(data, smp.data_size, tail, rec, h.size);
        if (h.type == PERF_RECORD_SAMPLE) {
            rc = parse_record(rec + 1, h.size / 8 - 1, h.misc, mode, &s) == 0 ? take(sink, &s) : -1;
            st->records++;
        } else if (h.type == PERF_RECORD_LOST && h.size >= 24) {
            st->record_lost += rec[2]; /* header, id, lost */
        }
        tail += h.size;
    }
    __sync_synchronize();
    pc->data_tail = head;
    free(rec);
    return rc;
}

/* The samples one buffer could not take (it was full): the kernel's PERF_FORMAT_LOST count (Linux
 * 6.0+; read only after the loop, the buffer never frees space during it, so the kernel has no
 * chance to write a PERF_RECORD_LOST) or PERF_RECORD_LOST's, whichever is more; before 6.0 a buffer
 * found full gives an estimate: the event's count / period less the samples read. 0, or -1 with
 * errno when the event cannot be read. */
static int ring_lost(int fd, int lost_known, const struct ring_stats *st, uint64_t *lost)
{
    uint64_t v[2] = {0, 0};
    size_t want = lost_known ? 2 : 1;
    if (read(fd, v, want * sizeof v[0]) != (ssize_t)(want * sizeof v[0]))
        return -1;
    *lost = lost_known ? v[1] : 0;
    if (st->record_lost > *lost)
        *lost = st->record_lost;
    if (!lost_known && st->used + SAMPLE_FULL_MARGIN > smp.data_size && v[0] / smp.period > st->records)
        *lost = v[0] / smp.period - st->records;
    return 0;
}

static int by_count_descending(const void *x, const void *y)
{
    const struct stack_entry *a = x, *b = y;
    return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

/* The thread mode's sink: every sample of the actor's own buffer is its. */
static int take_own(void *sink, const struct sample_record *s)
{
    return add_sample(sink, s);
}
#endif

/* --sample in the thread mode, after the loop: read the actor's ring buffer into its stacks (most
 * frequent first), take the samples it lost (ring_lost), unmap and close. */
static void sample_read(struct actor *a)
{
#if HAVE_PERF
    struct sample_result *r = &a->prof;
    struct ring_stats st;
    struct stack_index t;
    int rc;
    if (!a->sample_map) {
        if (a->sample_fd >= 0)
            close(a->sample_fd);
        a->sample_fd = -1;
        return;
    }
    if (r->status == ST_OK) {
        index_open(&t, r);
        rc = drain_ring(a->sample_map, SM_THREAD, take_own, &t, &st);
        free(t.slot);
        if (rc != 0) {
            r->status = ST_ERROR;
            r->stage = 3;
        } else if (ring_lost(a->sample_fd, r->lost_known, &st, &r->lost) != 0) {
            r->err = errno;
            r->status = ST_ERROR;
            r->stage = 4;
        } else {
            qsort(r->stacks, r->nstacks, sizeof *r->stacks, by_count_descending);
        }
    }
    munmap(a->sample_map, page_size() + smp.data_size);
    close(a->sample_fd);
    a->sample_map = NULL;
    a->sample_fd = -1;
#else
    (void)a;
#endif
}

/* ------------------------------------------------------------------ sampling per CPU (the cpu mode) */

#if HAVE_PERF
/* One CPU's sampling event, opened by the controller for one iteration. */
struct cpu_ring {
    int cpu, fd, lost_known;
    void *map;          /* NULL until mapped */
};

static int *ring_cpus;             /* the CPUs the actors may run on (set in main) */
static int nring_cpus;
static struct cpu_ring *cpu_rings; /* nring_cpus of them; nrings open */
static int nrings;
static uint64_t foreign_samples;   /* this iteration's samples of no actor's loop */

/* Where each sample of a CPU's buffer goes: to the actor whose thread it caught inside that actor's
 * loop (its TID, and its time within [t_start, t_end] on the same clock), else to other. */
struct cpu_sink {
    struct stack_index actor[2];
    uint64_t kept[2], other;
};

static int take_actors(void *sink, const struct sample_record *s)
{
    struct cpu_sink *k = sink;
    for (int i = 0; i < 2; i++) {
        const struct actor *a = &shared->actor[i];
        if (a->tid != 0 && s->tid == (uint32_t)a->tid && s->time >= a->t_start && s->time <= a->t_end) {
            k->kept[i]++;
            return add_sample(&k->actor[i], s);
        }
    }
    k->other++;
    return 0;
}

/* The CPUs to sample: those the actors are pinned to, else every CPU this process may run on. */
static void plan_cpu_rings(const int pins[2])
{
    ring_cpus = calloc(CPU_SETSIZE, sizeof *ring_cpus);
    if (!ring_cpus)
        runtime_error(ENOMEM, "cannot plan the CPU sampling");
    if (pins[0] < 0) {
        nring_cpus = allowed_cpus(ring_cpus, CPU_SETSIZE);
    } else {
        ring_cpus[0] = pins[0];
        ring_cpus[1] = pins[1];
        nring_cpus = pins[1] >= 0 && pins[1] != pins[0] ? 2 : 1;
    }
    cpu_rings = calloc((size_t)nring_cpus, sizeof *cpu_rings);
    if (!cpu_rings)
        runtime_error(ENOMEM, "cannot plan the CPU sampling");
}

static void close_cpu_rings(void)
{
    for (int i = 0; i < nrings; i++) {
        if (cpu_rings[i].map)
            munmap(cpu_rings[i].map, page_size() + smp.data_size);
        close(cpu_rings[i].fd);
    }
    nrings = 0;
}

/* Open and map the (disabled) sampling event of every planned CPU. 0, or -1 with errno and *stage
 * (0 open, 1 mmap) of the first failure, with every ring closed again. */
static int open_cpu_rings(int *stage)
{
    struct perf_event_attr attr;
    for (int i = 0; i < nring_cpus; i++) {
        struct cpu_ring *c = &cpu_rings[i];
        int err;
        sampler_attr(&attr, SM_CPU);
        c->cpu = ring_cpus[i];
        c->map = NULL;
        c->fd = open_sampler(&attr, -1, c->cpu);
        *stage = c->fd < 0 ? 0 : 1;
        if (c->fd >= 0) {
            nrings = i + 1;
            c->lost_known = (attr.read_format & FORMAT_LOST) != 0;
            c->map = map_ring(c->fd);
        }
        if (!c->map) {
            err = errno;
            close_cpu_rings();
            errno = err;
            return -1;
        }
    }
    return 0;
}

/* Mark both actors' profiles failed (the cpu mode samples for both). */
static void fail_both(int status, int err, int stage)
{
    for (int i = 0; i < 2; i++) {
        struct sample_result *r = &shared->actor[i].prof;
        r->status = status;
        r->err = err;
        r->stage = stage;
    }
}
#endif

/* --sample in the cpu mode, before the actors start: open the planned CPUs' sampling events. Where
 * they cannot be opened or mapped (without the privilege: EACCES/EPERM) and no --sample-mode was
 * given, this process falls back to the thread mode for good (the actors then open their own);
 * with --sample-mode cpu the failure is the profile's status. */
static void cpu_sampling_open(void)
{
#if HAVE_PERF
    int stage = 0;
    foreign_samples = 0;
    if (!smp.on || smp.mode != SM_CPU || open_cpu_rings(&stage) == 0)
        return;
    if (smp.mode_given)
        fail_both(status_of_errno(errno), errno, stage);
    else
        smp.mode = SM_THREAD;
#endif
}

#if HAVE_PERF
/* Move the calling thread to one CPU (cpu >= 0), or back to the CPUs of set (cpu -1); a failure
 * leaves it where it is. */
static void move_to(int cpu, const cpu_set_t *set)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu >= 0)
        CPU_SET(cpu, &one);
    (void)sched_setaffinity(0, sizeof one, cpu >= 0 ? &one : set);
}
#endif

/* Switch every CPU's sampling on just before the actors are released (they are blocked reading the
 * go byte), and off once both have ended. The CPUs' cpu-clock timers start spread over one period
 * (CPU i at i x period / n after CPU 0, or a whole period later; the spread capped at
 * STAGGER_MAX_NS): timers in phase interrupt both actors at once, and a reader held up with its
 * writer is then idle at its own ticks (at -p split, 4K: the reader got 55 % of the samples its CPU
 * time makes, the writer 120 %). The controller enables each CPU's event on that CPU: from another,
 * the enabling IPI reaches an idle virtual CPU tens of microseconds late, shifting its phase. */
static void cpu_sampling_on(void)
{
#if HAVE_PERF
    uint64_t spread = smp.event != SE_CPU_CLOCK ? 0 : smp.period < STAGGER_MAX_NS ? smp.period : STAGGER_MAX_NS;
    uint64_t first = 0, at;
    cpu_set_t mask;
    int hop = spread && nrings > 1 && sched_getaffinity(0, sizeof mask, &mask) == 0;
    for (int i = 0; i < nrings; i++) {
        if (hop)
            move_to(cpu_rings[i].cpu, NULL);
        first = i ? first : now_ns();
        at = first + spread * (uint64_t)i / (uint64_t)nrings;
        while (spread && at < now_ns())
            at += spread;
        while (now_ns() < at)
            continue;
        if (ioctl(cpu_rings[i].fd, PERF_EVENT_IOC_ENABLE, 0) != 0)
            fail_both(ST_ERROR, errno, 2);
    }
    if (hop)
        move_to(-1, &mask);
#endif
}

static void cpu_sampling_off(void)
{
#if HAVE_PERF
    for (int i = 0; i < nrings; i++)
        ioctl(cpu_rings[i].fd, PERF_EVENT_IOC_DISABLE, 0);
#endif
}

/* A forked actor keeps none of the controller's sampling events (their mappings are not inherited). */
static void cpu_sampling_forget(void)
{
#if HAVE_PERF
    for (int i = 0; i < nrings; i++)
        close(cpu_rings[i].fd);
    nrings = 0;
#endif
}

/* --sample in the cpu mode, after the actors ended: read every CPU's buffer, keeping each actor's
 * samples inside its loop (take_actors) and counting the rest as foreign; a buffer's lost samples
 * (ring_lost) are shared out by the samples each actor got from it (rounded up: an estimate, whose
 * they were is unknown). Then the stacks most frequent first, and every ring closed. */
static void cpu_sampling_read(void)
{
#if HAVE_PERF
    struct cpu_sink k;
    struct ring_stats st;
    for (int i = 0; i < 2 && nrings; i++)
        index_open(&k.actor[i], &shared->actor[i].prof);
    for (int c = 0; c < nrings && shared->actor[0].prof.status == ST_OK; c++) {
        uint64_t lost = 0, all;
        k.kept[0] = k.kept[1] = k.other = 0;
        if (drain_ring(cpu_rings[c].map, SM_CPU, take_actors, &k, &st) != 0) {
            fail_both(ST_ERROR, 0, 3);
            break;
        }
        if (ring_lost(cpu_rings[c].fd, cpu_rings[c].lost_known, &st, &lost) != 0) {
            fail_both(ST_ERROR, errno, 4);
            break;
        }
        all = k.kept[0] + k.kept[1] + k.other;
        for (int i = 0; i < 2 && all; i++)
            shared->actor[i].prof.lost += (lost * k.kept[i] + all - 1) / all;
        foreign_samples += k.other;
    }
    for (int i = 0; i < 2 && nrings; i++) {
        struct sample_result *r = &shared->actor[i].prof;
        free(k.actor[i].slot);
        qsort(r->stacks, r->nstacks, sizeof *r->stacks, by_count_descending);
    }
    close_cpu_rings();
#endif
}

static void writer_loop(struct actor *a, const unsigned char *buf)
{
    const size_t B = cfg.buffer;
    const uint64_t total = cfg.total;
    uint64_t sent = 0, calls = 0;

    a->c_start = cpu_ns();
    sample_on(a);
    counters_on(a);
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
    counters_off(a);
    sample_off(a);
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
    sample_on(a);
    counters_on(a);
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
    counters_off(a);
    sample_off(a);
    a->c_end = cpu_ns();
    a->calls = calls;
    a->bytes = recvd;
    a->mismatches = bad;
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* Allocate an actor's size-byte buffer: the writer's filled with the pattern, the reader's
 * pre-faulted. The writer's buffer holds pattern(i) at every offset i, so its first B bytes are
 * pattern(0..B-1) for any B <= size: one buffer of the largest point's size serves every point
 * (the writer sends from its start, the reader checks against the point's own B). */
static unsigned char *actor_buffer(enum role role, size_t size)
{
    void *mem = NULL;
    unsigned char *buf;
    long page = sysconf(_SC_PAGESIZE);
    int rc = posix_memalign(&mem, page > 0 ? (size_t)page : 4096, size);
    if (rc != 0)
        runtime_error(rc, "cannot allocate a %llu-byte buffer", (unsigned long long)size);
    buf = mem;
    if (role == WRITER)
        for (size_t i = 0; i < size; i++)
            buf[i] = pattern(i);
    else
        memset(buf, 0, size); /* pre-fault */
    return buf;
}

/* One actor: pin, get its buffer, open its counters, say ready, wait for go, run the loop. */
static void *actor_main(void *arg)
{
    struct actor *a = arg;
    struct rusage r0, r1;
    unsigned char *buf = a->buf;
    char c = 'r';

    a->tid = own_tid();
    if (a->pin >= 0)
        pin_self(a->pin);
    if (!buf) /* 2proc: each child its own, of the current point's size */
        buf = actor_buffer(a->role, cfg.buffer);
    counters_open(a);
    sample_open(a);

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
    counters_read(a);
    sample_read(a);

    a->minflt = r1.ru_minflt - r0.ru_minflt;
    a->majflt = r1.ru_majflt - r0.ru_majflt;
    a->nvcsw = r1.ru_nvcsw - r0.ru_nvcsw;
    a->nivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
    a->utime_ns = tv_ns(r1.ru_utime) - tv_ns(r0.ru_utime);
    a->stime_ns = tv_ns(r1.ru_stime) - tv_ns(r0.ru_stime);
    if (buf != a->buf)
        free(buf);
    return NULL;
}

/* ------------------------------------------------------------------ libpmc (FreeBSD) */

#if HAVE_LIBPMC
/* Process-scope counting with libpmc. NEVER RUN: compile-checked only (tests/test_cross_build.py). */
static pmc_id_t pmc_ids[MAX_EVENTS];
static struct ev_result pmc_res[MAX_EVENTS];
static int pmc_loaded;

static void pmc_setup(void)
{
    pmc_loaded = pmc_init() == 0;
    for (int i = 0; i < cfg.nevents; i++) {
        struct ev_result *e = &pmc_res[i];
        memset(e, 0, sizeof *e);
        if (!pmc_loaded) {
            e->status = ST_NOT_SUPPORTED;
            e->err = ENXIO;
            e->stage = 4;
            continue;
        }
        if (pmc_allocate(events[i].spec, PMC_MODE_TC, cfg.actors == ACT_2PROC ? PMC_F_DESCENDANTS : 0,
                         PMC_CPU_ANY, &pmc_ids[i], 0) != 0) {
            e->err = errno;
            e->status = status_of_errno(errno);
            continue;
        }
        if (pmc_attach(pmc_ids[i], 0) != 0) {
            e->err = errno;
            e->stage = 2;
            e->status = status_of_errno(errno);
            continue;
        }
        e->opened = 1;
    }
}

static void pmc_go(void)
{
    for (int i = 0; i < cfg.nevents; i++)
        if (pmc_res[i].opened) {
            pmc_res[i].status = ST_OK;
            if (pmc_write(pmc_ids[i], 0) != 0 || pmc_start(pmc_ids[i]) != 0) {
                pmc_res[i].err = errno;
                pmc_res[i].stage = 3;
                pmc_res[i].status = ST_ERROR;
            }
        }
}

static void pmc_done(void)
{
    for (int i = 0; i < cfg.nevents; i++)
        if (pmc_res[i].opened && pmc_res[i].status == ST_OK) {
            pmc_value_t v = 0;
            if (pmc_stop(pmc_ids[i]) != 0 || pmc_read(pmc_ids[i], &v) != 0) {
                pmc_res[i].err = errno;
                pmc_res[i].stage = 3;
                pmc_res[i].status = ST_ERROR;
            }
            pmc_res[i].value = v;
        }
}
#endif

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
           "                [-p same|split|any] [-c CPU[,CPU]] [-f] [-n N] [-e ID=SPEC]... [--sample EVENT:PERIOD]\n"
           "                [--sample-mode cpu|thread] [--ctl-fifo CTL --ack-fifo ACK]\n"
           "       ipcbench --points IPC:SIZE:N[,IPC:SIZE:N]... [-a ...] [-t TOTAL] [-p ...] [-c ...] [-f] [-e ...]\n"
           "                [--sample ...]\n"
           "  -i  IPC object (default pipe); pipe-s resizes the pipe to the buffer size (Linux)\n"
           "  -a  two threads or two processes (default 2thread)\n"
           "  -b  bytes per write()/read() (default 128K); sizes: 65536, 64K, 1M, 1G\n"
           "  -t  total bytes, a multiple of -b (default 16M)\n"
           "  -p  same: both actors on one CPU; split: two CPUs; any: scheduler (default)\n"
           "  -c  CPU(s) for -p same (one) or -p split (two)\n"
           "  -f  as root, force socket buffers past wmem_max/rmem_max (and pipe-s past pipe-max-size)\n"
           "  -n, --iterations  transfers in this process, each with a fresh IPC object and actors (default 1)\n"
           "  -e, --event ID=SPEC  count SPEC in each actor over its loop (up to 32; Linux: perf's spelling,\n"
           "      e.g. instructions, L1-dcache-load-misses, r08, cpu/event=0x3c/, page-faults,\n"
           "      syscalls:sys_enter_write; FreeBSD with libpmc: a pmcstat event name)\n"
           "  --points  run several points in a row in this process (instead of -i, -b and -n): IPC mode,\n"
           "      buffer size (dividing -t) and iterations of each, e.g. --points pipe:4K:4,local:1M:4 (up to 4096)\n"
           "  --sample EVENT:PERIOD  sample each actor's kernel and user call stacks over its loop (Linux\n"
           "      perf_event_open; in \"profile\"): cpu-clock:NS (e.g. cpu-clock:100000, 10 kHz) or\n"
           "      cycles:N (the PMU's cycles); not with --ctl-fifo; FreeBSD: not supported (use DTrace)\n"
           "  --sample-mode  cpu: one event per CPU the actors may run on, samples kept by their TIDs (needs\n"
           "      root or kernel.perf_event_paranoid <= 0); thread: one event per actor thread (its timer is\n"
           "      reprogrammed at every switch between them); default: cpu where allowed, else thread\n"
           "  --ctl-fifo/--ack-fifo  perf stat --delay=-1 --control fifo:CTL,ACK: count the loop only\n"
           "  --load  sample the machine's CPU time (busy/idle) and runnable tasks just before and after each\n"
           "      iteration's actors, in \"machine\" (for a harness that cannot watch the machine itself)\n"
           "Prints one JSON object per iteration on stdout, one line each.\n"
           "ipcbench --guard -- CMD [ARGS]: run CMD, exit with its status; killed by signal N: one line, exit 128+N\n");
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

/* Parse a -n / N value: 1..MAX_ITERATIONS, else -1. */
static long parse_iterations(const char *s)
{
    char *end;
    long n;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    n = strtol(s, &end, 10);
    if (n < 1 || n > MAX_ITERATIONS || errno || *end != '\0')
        return -1;
    return n;
}

/* Check one point against the total and this system. prefix is "" for -i/-b, or names the
 * --points item, so that the error says which item is wrong. */
static void check_point(const struct point *pt, const char *prefix)
{
    if (cfg.total % pt->buffer != 0)
        usage_error("%stotal size %llu is not a multiple of the buffer size %llu: choose sizes that divide evenly",
                    prefix, (unsigned long long)cfg.total, (unsigned long long)pt->buffer);
    if ((pt->ipc == IPC_LOCAL_S || pt->ipc == IPC_TCP_S) && pt->buffer > INT_MAX)
        usage_error("%sbuffer size %llu is too large for SO_SNDBUF: use at most %d", prefix,
                    (unsigned long long)pt->buffer, INT_MAX);
#if !defined(__linux__)
    if (pt->ipc == IPC_PIPE_S)
        usage_error("%s-i pipe-s needs F_SETPIPE_SZ, which only Linux has: use -i pipe on this system", prefix);
#endif
}

/* Parse --points IPC:SIZE:N[,IPC:SIZE:N]... into points[] (each item checked by check_point). */
static void parse_points(const char *list)
{
    const char *item = list;
    npoints = 0;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char copy[256], prefix[400], *c1, *c2;
        struct point *pt;
        uint64_t size;
        int v;
        if (npoints == MAX_POINTS)
            usage_error("too many --points items: at most %d", MAX_POINTS);
        pt = &points[npoints];
        snprintf(copy, sizeof copy, "%.*s", (int)(len < sizeof copy ? len : sizeof copy - 1), item);
        snprintf(prefix, sizeof prefix, "--points item %d '%.200s': ", npoints + 1, copy);
        c1 = strchr(copy, ':');
        c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (len == 0 || len >= sizeof copy || !c1 || !c2 || strchr(c2 + 1, ':'))
            usage_error("invalid --points item %d '%.200s': write IPC:SIZE:N items separated by commas, "
                        "e.g. --points pipe:4K:4,local:1M:4", npoints + 1, copy);
        *c1 = *c2 = '\0';
        if ((v = lookup(copy, ipc_names, IPC_COUNT)) < 0)
            usage_error("%sunknown IPC mode '%s': use pipe, pipe-s, local, local-s, tcp or tcp-s", prefix, copy);
        pt->ipc = (enum ipc_mode)v;
        if (parse_size(c1 + 1, &size) != 0 || size > (uint64_t)SSIZE_MAX)
            usage_error("%sinvalid buffer size '%s': write a positive number of bytes, e.g. 65536, 64K or 1M",
                        prefix, c1 + 1);
        pt->buffer = (size_t)size;
        if ((pt->iterations = parse_iterations(c2 + 1)) < 0)
            usage_error("%sinvalid iteration count '%s': use a number from 1 to %d", prefix, c2 + 1, MAX_ITERATIONS);
        check_point(pt, prefix);
        npoints++;
        if (!comma)
            break;
        item = comma + 1;
    }
}

/* Parse --sample EVENT:PERIOD into smp; a usage error unless EVENT is cpu-clock or cycles and
 * PERIOD a decimal number within that event's range (cpu-clock: at least 10000 ns, the kernel's
 * hrtimer floor, below which it would silently sample more slowly than asked). */
static void parse_sample(const char *arg)
{
    const char *colon = strchr(arg, ':');
    unsigned long long period = 0;
    int ev = -1;
    char *end;
    for (int i = 0; colon && i < SE_COUNT; i++)
        if (strlen(sample_event_names[i]) == (size_t)(colon - arg) &&
            strncmp(arg, sample_event_names[i], (size_t)(colon - arg)) == 0)
            ev = i;
    if (ev >= 0 && isdigit((unsigned char)colon[1])) {
        errno = 0;
        period = strtoull(colon + 1, &end, 10);
        if (errno || *end != '\0')
            period = 0;
    }
    if (ev < 0 || period < sample_min_period[ev] || period > SAMPLE_MAX_PERIOD)
        usage_error("invalid --sample '%.200s': write EVENT:PERIOD, EVENT cpu-clock (PERIOD in ns, 10000 to "
                    "10^12) or cycles (PERIOD in cycles, 1000 to 10^12), e.g. --sample cpu-clock:100000", arg);
    smp.on = 1;
    smp.event = (enum sample_event)ev;
    smp.period = period;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"points", required_argument, NULL, 'P'},
        {"ctl-fifo", required_argument, NULL, 'C'},
        {"ack-fifo", required_argument, NULL, 'A'},
        {"iterations", required_argument, NULL, 'n'},
        {"event", required_argument, NULL, 'e'},
        {"load", no_argument, NULL, 'L'},
        {"sample", required_argument, NULL, 'S'},
        {"sample-mode", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cpus_arg = NULL, *points_arg = NULL;
    int opt, v, single_given = 0; /* -i, -b or -n was given */
    uint64_t size;

    opterr = 0; /* we print our own one-line errors */
    while ((opt = getopt_long(argc, argv, ":i:a:b:t:p:c:fn:e:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if ((v = lookup(optarg, ipc_names, IPC_COUNT)) < 0)
                usage_error("unknown IPC mode '%s': use pipe, pipe-s, local, local-s, tcp or tcp-s", optarg);
            cfg.ipc = (enum ipc_mode)v;
            single_given = 1;
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
            single_given = 1;
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
        case 'n':
            if ((cfg.iterations = parse_iterations(optarg)) < 0)
                usage_error("invalid iteration count '%s': use a number from 1 to %d", optarg, MAX_ITERATIONS);
            single_given = 1;
            break;
        case 'P':
            points_arg = optarg;
            break;
        case 'e':
            add_event(optarg);
            break;
        case 'C':
            cfg.ctl_fifo = optarg;
            break;
        case 'L':
            cfg.load = 1;
            break;
        case 'S':
            parse_sample(optarg);
            break;
        case 'M':
            if ((v = lookup(optarg, sample_mode_names, SM_COUNT)) < 0)
                usage_error("unknown sample mode '%s': use cpu or thread", optarg);
            smp.mode = (enum sample_mode)v;
            smp.mode_given = 1;
            break;
        case 'A':
            cfg.ack_fifo = optarg;
            break;
        case 'h':
            usage();
            exit(0);
        case ':':
            if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
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
    if (points_arg) {
        if (single_given)
            usage_error("--points cannot be combined with -i, -b or -n: give every point as IPC:SIZE:N in --points");
        parse_points(points_arg);
    } else {
        points[0].ipc = cfg.ipc;
        points[0].buffer = cfg.buffer;
        points[0].iterations = cfg.iterations;
        npoints = 1;
        check_point(&points[0], "");
    }
    total_iterations = 0;
    max_buffer = 0;
    for (int i = 0; i < npoints; i++) {
        total_iterations += points[i].iterations;
        if (points[i].buffer > max_buffer)
            max_buffer = points[i].buffer;
    }
    if ((cfg.ctl_fifo == NULL) != (cfg.ack_fifo == NULL))
        usage_error("--ctl-fifo and --ack-fifo go together: give both or neither");
    if (cfg.ctl_fifo && cfg.nevents)
        usage_error("-e and --ctl-fifo exclude each other: count with -e (in the actors) or under perf stat, not both");
    if (smp.mode_given && !smp.on)
        usage_error("--sample-mode needs --sample EVENT:PERIOD");
    if (cfg.ctl_fifo && smp.on)
        usage_error("--sample and --ctl-fifo exclude each other: the actors' sampling ioctls would fall in perf's "
                    "counting window");
    if (cfg.ctl_fifo && total_iterations > 1)
        usage_error("--ctl-fifo needs -n 1: perf stat would sum the counts of all %ld iterations", total_iterations);
#if !defined(__linux__)
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

/* A JSON string (the characters we print are plain ASCII; quotes, backslashes and controls escaped). */
static void print_str(const char *str)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

#if !HAVE_LIBPMC
/* "WHAT failed: ERROR: kernel.perf_event_paranoid is N: run as root or lower it (...)". */
static void permission_reason(const char *what, int err, char *out, size_t len)
{
#if defined(__linux__)
    long paranoid = read_long_file("/proc/sys/kernel/perf_event_paranoid", -99);
#else
    long paranoid = -99;
#endif
    if (paranoid == -99)
        snprintf(out, len, "%s failed: %s: kernel.perf_event_paranoid (unreadable) forbids it: "
                 "run as root or lower it", what, strerror(err));
    else
        snprintf(out, len, "%s failed: %s: kernel.perf_event_paranoid is %ld: run as root or lower it "
                 "(sysctl kernel.perf_event_paranoid=-1)", what, strerror(err), paranoid);
}
#endif

/* Why one counter of one actor (or of the process) did not count; "" when it did. */
static void reason_of(const struct event_def *ev, const struct ev_result *e, char *out, size_t len)
{
    out[0] = '\0';
    if (e->status == ST_OK)
        return;
    if (!e->opened && ev->pre_status >= 0) {
        snprintf(out, len, "%s", ev->pre_reason);
        return;
    }
    if (e->status == ST_NOT_COUNTED) {
        snprintf(out, len, "opened but never counted (time_running 0): the group does not fit this PMU's counters");
        return;
    }
    if (e->status == ST_MULTIPLEXED) {
        snprintf(out, len, "multiplexed: counted %.1f%% of the time it was enabled (value not scaled)",
                 e->enabled ? 100.0 * (double)e->running / (double)e->enabled : 0.0);
        return;
    }
#if HAVE_LIBPMC
    if (e->stage == 4) {
        snprintf(out, len, "hwpmc(4) is not loaded: kldload hwpmc");
        return;
    }
    {
        static const char *const what[] = {"pmc_allocate", "pmc_read", "pmc_attach", "pmc_start/pmc_stop"};
        if (e->status == ST_PERMISSION)
            snprintf(out, len, "%s(%s) failed: %s: run as root", what[e->stage], ev->spec, strerror(e->err));
        else if (e->status == ST_NOT_SUPPORTED)
            snprintf(out, len, "%s(%s) failed: %s: this CPU or hwpmc(4) has no such event", what[e->stage],
                     ev->spec, strerror(e->err));
        else
            snprintf(out, len, "%s(%s) failed: %s", what[e->stage], ev->spec, strerror(e->err));
    }
#else
    {
        const char *what = e->stage == 1 ? "read of the counter" : "perf_event_open";
        if (e->status == ST_PERMISSION) {
            permission_reason(what, e->err, out, len);
        } else if (e->status == ST_NOT_SUPPORTED) {
            snprintf(out, len, "%s failed: %s: this kernel or CPU does not support the event", what,
                     strerror(e->err));
        } else {
            snprintf(out, len, "%s failed: %s", what, strerror(e->err));
        }
    }
#endif
}

#if !HAVE_LIBPMC
static void print_actor_counter(const struct ev_result *e)
{
    printf("{\"status\": \"%s\", ", status_names[e->status]);
    if (e->opened)
        printf("\"value\": %llu, \"enabled\": %llu, \"running\": %llu}", (unsigned long long)e->value,
               (unsigned long long)e->enabled, (unsigned long long)e->running);
    else
        printf("\"value\": null, \"enabled\": null, \"running\": null}");
}
#endif

/* "counters": {"ID": {"event", "status", "value", "reason", "writer": {...}, "reader": {...}}} */
static void print_counters(void)
{
    char reason[512];
    printf("{");
    for (int i = 0; i < cfg.nevents; i++) {
        const struct event_def *ev = &events[i];
        printf("%s\"%s\": {\"event\": ", i ? ", " : "", ev->id);
        print_str(ev->spec);
#if HAVE_LIBPMC
        {
            const struct ev_result *e = &pmc_res[i];
            printf(", \"status\": \"%s\", \"value\": ", status_names[e->status]);
            if (e->status == ST_OK)
                printf("%llu", (unsigned long long)e->value);
            else
                printf("null");
            reason_of(ev, e, reason, sizeof reason);
        }
#else
        {
            const struct ev_result *w = &shared->actor[WRITER].ev[i], *r = &shared->actor[READER].ev[i];
            const struct ev_result *worst = r->status > w->status ? r : w;
            printf(", \"status\": \"%s\", \"value\": ", status_names[worst->status]);
            if (worst->status == ST_OK)
                printf("%llu", (unsigned long long)(w->value + r->value));
            else
                printf("null");
            reason_of(ev, worst, reason, sizeof reason);
            if (worst->status != ST_OK) {
                char other[512];
                reason_of(ev, worst == w ? r : w, other, sizeof other);
                if (strcmp(other, reason) != 0) { /* say whose it is when the actors differ */
                    snprintf(other, sizeof other, "%s: %.500s", worst == w ? "writer" : "reader", reason);
                    memcpy(reason, other, sizeof reason);
                }
            }
        }
#endif
        printf(", \"reason\": ");
        if (reason[0])
            print_str(reason);
        else
            printf("null");
#if !HAVE_LIBPMC
        printf(", \"writer\": ");
        print_actor_counter(&shared->actor[WRITER].ev[i]);
        printf(", \"reader\": ");
        print_actor_counter(&shared->actor[READER].ev[i]);
#endif
        printf("}");
    }
    printf("}");
}

/* Why one actor's sampling gave no profile ("" when it did). */
static void profile_reason(const struct sample_result *r, char *out, size_t len)
{
    const char *name = sample_event_names[smp.event];
    char what[128];
    out[0] = '\0';
    if (r->status == ST_OK)
        return;
#if HAVE_PERF
    switch (r->stage) {
    case 0:
        snprintf(what, sizeof what, "perf_event_open of the %s%s sampling event",
                 smp.mode == SM_CPU ? "CPU-wide " : "", name);
        if (r->status == ST_PERMISSION)
            permission_reason(what, r->err, out, len);
        else if (r->status == ST_NOT_SUPPORTED && smp.event == SE_CYCLES)
            snprintf(out, len, "%s failed: %s: no hardware PMU that samples cycles here (a VM without a virtual "
                     "PMU, or a PMU without overflow interrupts): sample cpu-clock instead", what, strerror(r->err));
        else if (r->status == ST_NOT_SUPPORTED)
            snprintf(out, len, "%s failed: %s: this kernel cannot sample it with callchains", what,
                     strerror(r->err));
        else
            snprintf(out, len, "%s failed: %s", what, strerror(r->err));
        break;
    case 1:
        if (r->status == ST_PERMISSION)
            snprintf(out, len, "mmap of the %d-page sample buffer failed: %s: over kernel.perf_event_mlock_kb and "
                     "RLIMIT_MEMLOCK: run as root or raise kernel.perf_event_mlock_kb", 1 + SAMPLE_DATA_PAGES,
                     strerror(r->err));
        else
            snprintf(out, len, "mmap of the %d-page sample buffer failed: %s", 1 + SAMPLE_DATA_PAGES,
                     strerror(r->err));
        break;
    case 2:
        snprintf(out, len, "ioctl(PERF_EVENT_IOC_ENABLE) of the %s sampling event failed: %s", name,
                 strerror(r->err));
        break;
    case 3:
        snprintf(out, len, "the sample buffer holds a malformed record: no profile");
        break;
    default:
        snprintf(out, len, "read of the %s sampling event failed: %s", name, strerror(r->err));
    }
#else
    (void)what;
    (void)name;
    snprintf(out, len, "sampling in ipcbench needs Linux perf_event_open: on FreeBSD the kernel profile comes "
             "from DTrace (profile-997 with stack())");
#endif
}

/* IPs as a JSON list of lowercase hex strings without 0x (JSON numbers lose precision above 2^53). */
static void print_ips(const uint64_t *ips, int n)
{
    printf("[");
    for (int i = 0; i < n; i++)
        printf("%s\"%llx\"", i ? ", " : "", (unsigned long long)ips[i]);
    printf("]");
}

/* One actor's profile: {"samples", "lost", "stacks": [{"n", "k": [kernel IPs], "u": [user IPs]}, ...]}. */
static void print_actor_profile(const struct sample_result *r)
{
    printf("{\"samples\": %llu, \"lost\": %llu, \"stacks\": [", (unsigned long long)r->samples,
           (unsigned long long)r->lost);
    for (uint32_t i = 0; i < r->nstacks; i++) {
        const struct stack_entry *e = &r->stacks[i];
        printf("%s{\"n\": %llu, \"k\": ", i ? ", " : "", (unsigned long long)e->n);
        print_ips(r->pool + e->at, e->nk);
        printf(", \"u\": ");
        print_ips(r->pool + e->at + e->nk, e->nu);
        printf("}");
    }
    printf("]}");
}

/* "profile": {"event", "period", "unit", "status", then "writer"/"reader" when ok, else "reason"}:
 * the worst actor's status, its reason prefixed with its role when the actors differ. */
static void print_profile(void)
{
    static const struct sample_result none = {ST_NOT_SUPPORTED, 0, 0, 0, 0, 0, 0, 0, NULL, NULL};
    const struct sample_result *w = HAVE_PERF ? &shared->actor[WRITER].prof : &none;
    const struct sample_result *r = HAVE_PERF ? &shared->actor[READER].prof : &none;
    const struct sample_result *worst = r->status > w->status ? r : w;
    char reason[512], other[512];
    printf("{\"event\": \"%s\", \"period\": %llu, \"unit\": \"%s\", \"mode\": \"%s\", \"status\": \"%s\"",
           sample_event_names[smp.event], (unsigned long long)smp.period, sample_units[smp.event],
           sample_mode_names[smp.mode], status_names[worst->status]);
    if (worst->status == ST_OK) {
#if HAVE_PERF
        if (smp.mode == SM_CPU)
            printf(", \"foreign\": %llu", (unsigned long long)foreign_samples);
#endif
        printf(", \"writer\": ");
        print_actor_profile(w);
        printf(", \"reader\": ");
        print_actor_profile(r);
        printf("}");
        return;
    }
    profile_reason(worst, reason, sizeof reason);
    profile_reason(worst == w ? r : w, other, sizeof other);
    if (strcmp(other, reason) != 0) {
        snprintf(other, sizeof other, "%s: %.500s", worst == w ? "writer" : "reader", reason);
        memcpy(reason, other, sizeof reason);
    }
    printf(", \"reason\": ");
    print_str(reason);
    printf("}");
}

static const char *counting_name(void)
{
    if (cfg.ctl_fifo)
        return "loop";
    if (!cfg.nevents)
        return "none";
    return HAVE_LIBPMC ? "process" : "actors";
}

/* --load: the machine's CPU time since boot, summed over CPUs, in ticks of hz (Linux: /proc/stat's
 * USER_HZ; FreeBSD: kern.cp_time in stathz ticks), and the tasks runnable besides the sampling
 * thread (Linux: /proc/loadavg's running count less this thread; unknown on FreeBSD: -1). */
struct machine_sample {
    long long total, idle; /* -1: unknown */
    long runnable;         /* -1: unknown */
};
static struct machine_sample load_before, load_after;

static long load_hz(void)
{
#if defined(__FreeBSD__)
    struct clockinfo ci;
    size_t len = sizeof ci;
    if (sysctlbyname("kern.clockrate", &ci, &len, NULL, 0) == 0 && ci.stathz > 0)
        return ci.stathz;
    return -1;
#else
    return sysconf(_SC_CLK_TCK);
#endif
}

static void sample_load(struct machine_sample *m)
{
    m->total = m->idle = -1;
    m->runnable = -1;
#if defined(__linux__)
    {
        unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        long running;
        FILE *f = fopen("/proc/stat", "r");
        if (f) {
            if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7]) >= 4) {
                m->total = (long long)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
                m->idle = (long long)(v[3] + v[4]);
            }
            fclose(f);
        }
        f = fopen("/proc/loadavg", "r");
        if (f) {
            if (fscanf(f, "%*f %*f %*f %ld/", &running) == 1)
                m->runnable = running > 0 ? running - 1 : 0;
            fclose(f);
        }
    }
#elif defined(__FreeBSD__)
    {
        long cp[CPUSTATES];
        size_t len = sizeof cp;
        if (sysctlbyname("kern.cp_time", cp, &len, NULL, 0) == 0 && len == sizeof cp) {
            long long total = 0;
            for (int i = 0; i < CPUSTATES; i++)
                total += cp[i];
            m->total = total;
            m->idle = cp[CP_IDLE];
        }
    }
#endif
}

static void print_opt_ll(long long v)
{
    if (v < 0)
        printf("null");
    else
        printf("%lld", v);
}

static void print_sample(const struct machine_sample *m)
{
    printf("{\"total\": ");
    print_opt_ll(m->total);
    printf(", \"idle\": ");
    print_opt_ll(m->idle);
    printf(", \"runnable\": ");
    print_opt_ll(m->runnable);
    printf("}");
}

/* One iteration's result: one JSON object on one line, flushed. iteration counts within the
 * point (cfg.* are the point's), point is its index in --points (0 without --points). */
static void print_json(const struct buffers *b, int point, long iteration)
{
    const struct actor *w = &shared->actor[WRITER], *r = &shared->actor[READER];
    uint64_t loop_ns = r->t_end - w->t_start;
    double bandwidth = loop_ns ? (double)cfg.total * 1e9 / (double)loop_ns : 0.0;
    int bytes_ok = w->bytes == cfg.total && r->bytes == cfg.total && r->mismatches == 0;

    printf("{\"tool\": \"ipcbench\", \"version\": 2, \"point\": %d, \"iteration\": %ld, \"iterations\": %ld, "
           "\"ipc\": \"%s\", \"actors\": \"%s\", \"placement\": \"%s\", ", point, iteration, cfg.iterations,
           ipc_names[cfg.ipc], actors_names[cfg.actors], placement_names[cfg.placement]);
    printf("\"buffer_size\": %llu, \"total_size\": %llu, ", (unsigned long long)cfg.buffer,
           (unsigned long long)cfg.total);
    printf("\"loop_ns\": %llu, \"bandwidth\": %.1f, ", (unsigned long long)loop_ns, bandwidth);
    printf("\"writes\": %llu, \"reads\": %llu, ", (unsigned long long)w->calls, (unsigned long long)r->calls);
    printf("\"write_sizes\": ");
    print_hist(w->hist);
    printf(", \"read_sizes\": ");
    print_hist(r->hist);
    printf(", \"buffers\": {\"requested\": %llu, \"sndbuf\": ", (unsigned long long)cfg.buffer);
    print_opt_long(b->sndbuf);
    printf(", \"rcvbuf\": ");
    print_opt_long(b->rcvbuf);
    printf(", \"pipe_size\": ");
    print_opt_long(b->pipe_size);
    printf(", \"forced\": %s}, ", b->forced ? "true" : "false");
    printf("\"rusage\": {\"minflt\": %ld, \"majflt\": %ld, \"nvcsw\": %ld, \"nivcsw\": %ld, "
           "\"utime_ns\": %lld, \"stime_ns\": %lld}, ",
           w->minflt + r->minflt, w->majflt + r->majflt, w->nvcsw + r->nvcsw, w->nivcsw + r->nivcsw,
           (long long)(w->utime_ns + r->utime_ns), (long long)(w->stime_ns + r->stime_ns));
    printf("\"cpus\": {\"writer\": [%d, %d], \"reader\": [%d, %d]}, ", w->cpu_start, w->cpu_end,
           r->cpu_start, r->cpu_end);
    printf("\"wall_ns\": {\"writer\": %lld, \"reader\": %lld}, ", wall(w), wall(r));
    printf("\"oncpu_ns\": {\"writer\": %lld, \"reader\": %lld}, ", oncpu(w), oncpu(r));
    printf("\"offcpu_ns\": {\"writer\": %lld, \"reader\": %lld}, ", wall(w) - oncpu(w),
           wall(r) - oncpu(r));
    if (cfg.load) {
        long hz = load_hz();
        printf("\"machine\": {\"hz\": ");
        print_opt_ll(hz);
        printf(", \"before\": ");
        print_sample(&load_before);
        printf(", \"after\": ");
        print_sample(&load_after);
        printf("}, ");
    }
    printf("\"counting\": \"%s\", \"counters\": ", counting_name());
    print_counters();
    if (smp.on) {
        printf(", \"profile\": ");
        print_profile();
    }
    printf(", \"bytes_ok\": %s}\n", bytes_ok ? "true" : "false");
    if (fflush(stdout) != 0)
        runtime_error(errno, "cannot write the result to stdout");
}

/* ------------------------------------------------------------------ main */

/* Run both actors once through the IPC object fds (threads or forked processes). */
static void run_actors(int fds[2])
{
    char go[2] = {'g', 'g'}, ready[2];

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
#if HAVE_LIBPMC
        pmc_go();
#endif
        cpu_sampling_on();
        write_all(go_pipe[1], go, 2, "the go handshake");
        for (int i = 0; i < 2; i++)
            pthread_join(tid[i], NULL);
        cpu_sampling_off();
#if HAVE_LIBPMC
        pmc_done();
#endif
        close(fds[0]);
        close(fds[1]);
        close(ready_pipe[1]);
        close(go_pipe[0]);
    } else {
        pid_t pid[2];
        int failed = 0;
        fflush(stdout); /* nothing buffered may be printed twice by a child */
        for (int i = 0; i < 2; i++) {
            pid[i] = fork();
            if (pid[i] < 0)
                runtime_error(errno, "fork failed");
            if (pid[i] == 0) {
                die_with_parent();
                /* child: keep only its own end, so a dying peer gives EOF/EPIPE, not a hang */
                close(fds[1 - i]);
                close(ready_pipe[0]);
                close(go_pipe[1]);
                if (ctl_fd >= 0) {
                    close(ctl_fd);
                    close(ack_fd);
                }
                cpu_sampling_forget();
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
#if HAVE_LIBPMC
            pmc_go();
#endif
            cpu_sampling_on();
            write_all(go_pipe[1], go, 2, "the go handshake");
        }
        if (failed)
            close(go_pipe[1]); /* let a surviving child see EOF instead of waiting forever */
        int status[2];
        for (int i = 0; i < 2; i++)
            while (waitpid(pid[i], &status[i], 0) < 0)
                if (errno != EINTR)
                    runtime_error(errno, "waitpid failed");
        cpu_sampling_off();
#if HAVE_LIBPMC
        pmc_done();
#endif
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
    close(ready_pipe[0]);
    close(go_pipe[1]);
}

/* One iteration of the current point: a fresh IPC object and fresh actors, then its JSON line. */
static void run_iteration(const int pins[2], unsigned char *const bufs_once[2], int point, long iteration)
{
    struct buffers bufs;
    int fds[2];

    make_ipc(fds, &bufs);
    if (pipe(ready_pipe) != 0 || pipe(go_pipe) != 0)
        runtime_error(errno, "pipe() failed");
    for (int i = 0; i < 2; i++) {
        struct actor *a = &shared->actor[i];
        memset(a, 0, sizeof *a);
        a->role = (enum role)i;
        a->fd = fds[i];
        a->pin = pins[i];
        a->cpu_start = a->cpu_end = -1;
        a->buf = bufs_once[i];
        a->sample_fd = -1;
#if HAVE_PERF
        if (smp.on) {
            unsigned char *area = profile_area + (size_t)i * sample_area_size();
            a->prof.stacks = (struct stack_entry *)area;
            a->prof.pool = (uint64_t *)(area + smp.max_stacks * sizeof(struct stack_entry));
        }
#endif
    }
    cpu_sampling_open();
    if (cfg.load)
        sample_load(&load_before);
    run_actors(fds);
    if (cfg.load)
        sample_load(&load_after);
    cpu_sampling_read();
    if (cfg.ctl_fifo)
        perf_command("disable\n");
    print_json(&bufs, point, iteration);
}

/* ipcbench --guard -- CMD [ARGS]: run CMD and report how it ended, for the counting tools that hide
 * it (pmcstat and dtrace exit 0 whatever their workload did; perf stat too when it dies of a
 * signal). Exits with CMD's status; when CMD is killed by a signal it prints one line
 * "ipcbench: guard: the benchmark was killed by signal N (NAME)" on stderr and exits 128 + N. */
static int guard(char **cmd)
{
    pid_t pid = fork();
    int status;
    if (pid < 0)
        runtime_error(errno, "fork failed");
    if (pid == 0) {
        die_with_parent();
        execvp(cmd[0], cmd);
        fprintf(stderr, "ipcbench: guard: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            runtime_error(errno, "waitpid failed");
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "ipcbench: guard: the benchmark was killed by signal %d (%s)\n", WTERMSIG(status),
                strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    int pins[2];
    unsigned char *bufs_once[2] = {NULL, NULL};

    die_with_parent();
    if (argc >= 4 && strcmp(argv[1], "--guard") == 0 && strcmp(argv[2], "--") == 0)
        return guard(argv + 3);
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
#if HAVE_PERF
    resolve_events();
    if (total_iterations > 1) /* held for the whole process: across all points */
        keep_tracepoints_registered();
#endif
#if HAVE_LIBPMC
    if (cfg.nevents)
        pmc_setup();
#endif

    resolve_placement(pins);
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        shared = NULL;
        runtime_error(errno, "mmap of the shared result area failed");
    }
    memset(shared, 0, sizeof *shared);
#if HAVE_PERF
    if (smp.on) { /* each actor's stacks and IPs, shared so that 2proc children can fill them */
        if (smp.mode == SM_CPU)
            plan_cpu_rings(pins);
        smp.data_size = SAMPLE_DATA_PAGES * page_size();
        smp.max_stacks = (smp.mode == SM_CPU ? (size_t)nring_cpus : 1) * (smp.data_size / SAMPLE_MIN_RECORD);
        smp.pool_size = (smp.mode == SM_CPU ? (size_t)nring_cpus : 1) * (smp.data_size / sizeof(uint64_t));
        profile_area = mmap(NULL, 2 * sample_area_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (profile_area == MAP_FAILED)
            runtime_error(errno, "mmap of the shared profile area failed");
    }
#endif
    if (cfg.actors == ACT_2THREAD) { /* once per process, at the largest size: shared by all iterations */
        bufs_once[WRITER] = actor_buffer(WRITER, max_buffer);
        bufs_once[READER] = actor_buffer(READER, max_buffer);
    }

    for (int pt = 0; pt < npoints; pt++) { /* the points in order, each with its own iterations */
        cfg.ipc = points[pt].ipc;
        cfg.buffer = points[pt].buffer;
        cfg.iterations = points[pt].iterations;
        for (long it = 0; it < cfg.iterations; it++)
            run_iteration(pins, bufs_once, pt, it);
    }
    return 0;
}
