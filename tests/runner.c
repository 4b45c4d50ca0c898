/* The test runner (`make test`): runs every tests/suites/NAME.sh with `sh`
 * from the repository root, two at a time, and counts the lines they print:
 * `PASS <name>` and `FAIL <name>: <why>`.  A suite that exits non-zero (or
 * is killed, or runs past the time limit) without printing a FAIL line
 * counts as one failure named after it.  Each suite's output is printed
 * together and in name order: the first unfinished suite streams, the
 * others are buffered until their turn.  The last line is exactly
 * `N passed, M failed`; the exit status is 1 when M > 0.
 *
 * usage: build/test-runner [FILTER]     (only suites whose name contains FILTER)
 * env:   DLC_TEST_JOBS (default 2), DLC_TEST_TIMEOUT seconds per suite (default 1500) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUITE_DIR "tests/suites"
#define MAX_SUITES 256

typedef struct suite {
    char name[256];      /* e.g. "ops.sh" */
    pid_t pid;
    int fd;              /* read end of its output pipe; -1 when closed */
    int state;           /* 0 waiting, 1 running, 2 finished, 3 printed */
    int status;          /* from waitpid */
    int timed_out;
    int announced;       /* its "== name" header is printed */
    double start, secs;
    char *buf;           /* output not yet printed */
    size_t len, cap, done;  /* done: bytes already printed */
    char line[4096];     /* the line being assembled, for counting */
    size_t line_len;
    int passed, failed;
} suite;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const suite *)a)->name, ((const suite *)b)->name);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int list_suites(suite *s, const char *filter)
{
    DIR *d = opendir(SUITE_DIR);
    struct dirent *e;
    int n = 0;
    if (!d) {
        fprintf(stderr, "test-runner: cannot open %s: %s (run from the repository root)\n", SUITE_DIR,
                strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL && n < MAX_SUITES) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".sh"))
            continue;
        if (filter && !strstr(e->d_name, filter))
            continue;
        memset(&s[n], 0, sizeof s[n]);
        snprintf(s[n].name, sizeof s[n].name, "%s", e->d_name);
        s[n].fd = -1;
        n++;
    }
    closedir(d);
    qsort(s, (size_t)n, sizeof *s, by_name);
    return n;
}

static int start(suite *s)
{
    int p[2];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SUITE_DIR, s->name);
    if (pipe(p) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (s->pid == 0) {
        setpgid(0, 0);   /* its own group, so a timeout can stop all of it */
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execlp("sh", "sh", path, (char *)NULL);
        fprintf(stderr, "cannot run sh %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    setpgid(s->pid, s->pid);
    close(p[1]);
    s->fd = p[0];
    s->state = 1;
    s->start = now();
    return 0;
}

static void count_line(suite *s)
{
    s->line[s->line_len] = '\0';
    if (strncmp(s->line, "PASS ", 5) == 0)
        s->passed++;
    else if (strncmp(s->line, "FAIL ", 5) == 0)
        s->failed++;
    s->line_len = 0;
}

static void take(suite *s, const char *data, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            fprintf(stderr, "test-runner: out of memory\n");
            exit(2);
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n')
            count_line(s);
        else if (s->line_len + 1 < sizeof s->line)
            s->line[s->line_len++] = data[i];
    }
}

static void flush_output(suite *s)
{
    if (s->done < s->len) {
        fwrite(s->buf + s->done, 1, s->len - s->done, stdout);
        fflush(stdout);
        s->done = s->len;
    }
}

/* Its output has ended: reap it and settle its counts. */
static void finish(suite *s)
{
    int st = 0;
    close(s->fd);
    s->fd = -1;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
        ;
    s->status = st;
    s->secs = now() - s->start;
    s->state = 2;
    if (s->line_len)
        take(s, "\n", 1);   /* a last line without newline still counts */
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && (s->failed == 0 || s->timed_out)) {
        char msg[512];
        if (s->timed_out)
            snprintf(msg, sizeof msg, "FAIL %s: ran past the time limit and was stopped\n", s->name);
        else if (WIFSIGNALED(st))
            snprintf(msg, sizeof msg, "FAIL %s: killed by signal %d\n", s->name, WTERMSIG(st));
        else
            snprintf(msg, sizeof msg, "FAIL %s: exited with status %d without a FAIL line\n", s->name,
                     WEXITSTATUS(st));
        take(s, msg, strlen(msg));
    }
    char tail[256];
    snprintf(tail, sizeof tail, "== %s: %d passed, %d failed (%.1f s)\n", s->name, s->passed, s->failed,
             s->secs);
    take(s, tail, strlen(tail));   /* "== ..." is neither PASS nor FAIL */
}

static void read_some(suite *s)
{
    char data[8192];
    ssize_t n = read(s->fd, data, sizeof data);
    if (n > 0)
        take(s, data, (size_t)n);
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        finish(s);
}

int main(int argc, char **argv)
{
    static suite s[MAX_SUITES];
    const char *filter = argc > 1 ? argv[1] : NULL;
    int jobs = getenv("DLC_TEST_JOBS") ? atoi(getenv("DLC_TEST_JOBS")) : 2;
    double limit = getenv("DLC_TEST_TIMEOUT") ? atof(getenv("DLC_TEST_TIMEOUT")) : 1500;
    if (argc > 2 || (filter && filter[0] == '-')) {
        fprintf(stderr, "usage: build/test-runner [FILTER]\n");
        return 2;
    }
    if (jobs < 1)
        jobs = 1;
    int n = list_suites(s, filter);
    if (n < 0)
        return 2;
    if (n == 0)
        fprintf(stderr, "test-runner: no suite matches '%s'\n", filter ? filter : "");

    double t0 = now();
    int next = 0, head = 0;   /* next to start; first not yet printed */
    while (head < n) {
        int running = 0;
        for (int i = 0; i < n; i++)
            running += s[i].state == 1;
        for (; running < jobs && next < n; next++, running++)
            if (start(&s[next]) != 0) {
                fprintf(stderr, "test-runner: cannot start %s: %s\n", s[next].name, strerror(errno));
                return 2;
            }
        struct pollfd pf[MAX_SUITES];
        int idx[MAX_SUITES], np = 0;
        for (int i = 0; i < n; i++)
            if (s[i].state == 1) {
                pf[np].fd = s[i].fd;
                pf[np].events = POLLIN;
                idx[np++] = i;
            }
        if (np && poll(pf, (nfds_t)np, 1000) > 0)
            for (int k = 0; k < np; k++)
                if (pf[k].revents)
                    read_some(&s[idx[k]]);
        for (int i = 0; i < n; i++)
            if (s[i].state == 1 && !s[i].timed_out && now() - s[i].start > limit) {
                s[i].timed_out = 1;
                kill(-s[i].pid, SIGKILL);
            }
        /* the head streams; finished suites behind it print in order */
        while (head < n && s[head].state >= 1) {
            if (!s[head].announced) {
                printf("== %s\n", s[head].name);
                s[head].announced = 1;
            }
            flush_output(&s[head]);
            if (s[head].state != 2)
                break;
            s[head].state = 3;
            free(s[head].buf);
            s[head].buf = NULL;
            head++;
        }
    }

    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        passed += s[i].passed;
        failed += s[i].failed;   /* finish() added one for a silent failure */
    }
    printf("== %d suites in %.1f s\n", n, now() - t0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed > 0;
}
