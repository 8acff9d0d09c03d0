/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tame_port_bench: how long it takes to hand a pthread mutex + condvar
 * "turn" from one side to the other, tamerocks' port/ against glibc, in the
 * same run.
 *
 * Two sides share one mutex, one condvar each and a turn word. Each side, in
 * a loop: lock, wait on its own condvar until the turn is its own, give the
 * turn to the other side and signal the other side's condvar, wait again.
 * The other side is always asleep (parked) when it is signalled, so every
 * hand-off is a full wake: signal, the waiter's wake-up, the waiter
 * re-taking the mutex. The cases:
 *
 *   (a)  two fibers on ONE reactor, tamerocks' pthread_* (park / wake: a
 *        fiber switch, no system call);
 *   (b)  two plain OS threads, glibc's own pthread_* (futex sleep / wake),
 *        the baseline: what RocksDB's threads pay without tamerocks;
 *   (c)  two plain OS threads, tamerocks' pthread_* (its futex path);
 *   (d)  a fiber on reactor A and a fiber on reactor B (two OS threads):
 *        cross-thread wakes, reactors busy-polling 50 us before sleeping
 *        (the default), and (d0) reactors that sleep at once.
 *
 * This program links port/ ahead of libc, so the plain pthread names are
 * tamerocks'; glibc's are looked up with dlvsym(RTLD_NEXT, name, version).
 * Each case is calibrated to about --seconds per run and run --reps times;
 * the median is shown, with the spread and the CPU time per hand-off.
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "tame_fiber.h"
#include "tame_port.h"
#include "tame_reactor.h"

#ifndef TAME_BUILD_TYPE
#define TAME_BUILD_TYPE "unknown"
#endif
#ifndef TAME_C_FLAGS
#define TAME_C_FLAGS "unknown"
#endif
#ifndef TAME_C_COMPILER
#define TAME_C_COMPILER "unknown"
#endif

#define NS_PER_S              1000000000ull
#define MAX_REPS              50
#define CALIBRATE_PASSES_MIN  1000ull
#define PASSES_MAX            50000000ull
#define HANG_TIMEOUT_S        60
#define GOAL_GLIBC_OVER_FIBER 100.0

/* ---- the primitives under test ------------------------------------------- */

struct sync_ops {
	const char *name;
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*cond_init)(pthread_cond_t *, const pthread_condattr_t *);
	int (*cond_destroy)(pthread_cond_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_signal)(pthread_cond_t *);
};

/* The plain names: tamerocks' in this program. */
static const struct sync_ops tame_ops = {
    .name = "tamerocks",
    .mutex_init = pthread_mutex_init,
    .mutex_destroy = pthread_mutex_destroy,
    .mutex_lock = pthread_mutex_lock,
    .mutex_unlock = pthread_mutex_unlock,
    .cond_init = pthread_cond_init,
    .cond_destroy = pthread_cond_destroy,
    .cond_wait = pthread_cond_wait,
    .cond_signal = pthread_cond_signal,
};

static struct sync_ops glibc_ops = {.name = "glibc"};

static void *glibc_sym(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_NEXT, name, version);

	if (!p) {
		fprintf(stderr, "tame_port_bench: glibc's %s@%s not found: %s\n", name, version,
		        dlerror());
		exit(2);
	}
	return p;
}

/* x86_64 versions; the condvar's are the 2.3.2 ones RocksDB links. */
static void glibc_ops_load(void)
{
	glibc_ops.mutex_init = glibc_sym("pthread_mutex_init", "GLIBC_2.2.5");
	glibc_ops.mutex_destroy = glibc_sym("pthread_mutex_destroy", "GLIBC_2.2.5");
	glibc_ops.mutex_lock = glibc_sym("pthread_mutex_lock", "GLIBC_2.2.5");
	glibc_ops.mutex_unlock = glibc_sym("pthread_mutex_unlock", "GLIBC_2.2.5");
	glibc_ops.cond_init = glibc_sym("pthread_cond_init", "GLIBC_2.3.2");
	glibc_ops.cond_destroy = glibc_sym("pthread_cond_destroy", "GLIBC_2.3.2");
	glibc_ops.cond_wait = glibc_sym("pthread_cond_wait", "GLIBC_2.3.2");
	glibc_ops.cond_signal = glibc_sym("pthread_cond_signal", "GLIBC_2.3.2");
}

/* ---- the ping-pong ---------------------------------------------------------- */

struct pingpong {
	const struct sync_ops *ops;
	pthread_mutex_t m;
	pthread_cond_t cv[2];
	int turn;             /* under m */
	uint64_t passes;      /* timed passes per side */
	uint64_t warm_passes; /* untimed passes per side, first */
	uint64_t done[2];     /* passes each side made */
	/* Taken by side 0 around its timed passes. */
	uint64_t t0_ns, t1_ns, cpu0_ns, cpu1_ns;
	long vcsw0, vcsw1;
	/* Reactor parks over the whole run (fiber cases). */
	uint64_t parks;
};

struct side {
	struct pingpong *p;
	int me;
	uint64_t idle_poll_ns; /* two-reactor case: this side's reactor */
	int err;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static long voluntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

static void mark(struct pingpong *p, bool end)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	long vcsw = voluntary_switches();

	if (end) {
		p->t1_ns = now;
		p->cpu1_ns = cpu;
		p->vcsw1 = vcsw;
	} else {
		p->t0_ns = now;
		p->cpu0_ns = cpu;
		p->vcsw0 = vcsw;
	}
}

/* One side's loop; side 0 holds the turn first. Between side 0's two marks
 * side 1 passes the turn `passes` times and side 0 as often: 2 * passes
 * hand-offs. */
static void side_run(struct pingpong *p, int me)
{
	const struct sync_ops *o = p->ops;
	uint64_t total = p->warm_passes + p->passes, i;

	o->mutex_lock(&p->m);
	for (i = 0; i < total; i++) {
		if (me == 0 && i == p->warm_passes)
			mark(p, false);
		while (p->turn != me)
			o->cond_wait(&p->cv[me], &p->m);
		p->turn = !me;
		o->cond_signal(&p->cv[!me]);
	}
	p->done[me] = i;
	if (me == 0)
		mark(p, true);
	o->mutex_unlock(&p->m);
}

static void side_fiber(void *arg)
{
	struct side *s = arg;

	side_run(s->p, s->me);
}

static void *side_thread(void *arg)
{
	struct side *s = arg;

	side_run(s->p, s->me);
	return NULL;
}

/* ---- the cases ---------------------------------------------------------------- */

enum case_kind { CASE_FIBERS_ONE_REACTOR, CASE_THREADS, CASE_FIBERS_TWO_REACTORS };

struct bench_case {
	const char *tag;
	const char *what;
	enum case_kind kind;
	const struct sync_ops *ops;
	uint64_t idle_poll_ns;
};

static int reactor_new(uint64_t idle_poll_ns, struct tame_reactor **r)
{
	struct tame_reactor_opts o;
	int rc;

	tame_reactor_opts_init(&o);
	o.name = "port_bench";
	o.idle_poll_ns = idle_poll_ns;
	rc = tame_reactor_create(&o, r);
	if (rc < 0) {
		/* Hand-offs do no I/O: the synchronous fallback measures the same. */
		o.flags |= TAME_REACTOR_SYNC_FALLBACK | TAME_REACTOR_NO_IO_URING;
		rc = tame_reactor_create(&o, r);
	}
	return rc;
}

static void add_stats(struct pingpong *p, const struct tame_reactor *r,
                      const struct tame_reactor_stats *before)
{
	struct tame_reactor_stats after;

	tame_reactor_get_stats(r, &after);
	__atomic_fetch_add(&p->parks, after.parks - before->parks, __ATOMIC_RELAXED);
}

/* Runs the fibers of sides[0..n) on a new reactor of the calling thread. */
static int run_fibers_here(struct side *sides, int n, uint64_t idle_poll_ns)
{
	struct tame_reactor *r;
	struct tame_reactor_stats before;
	int rc = reactor_new(idle_poll_ns, &r), i;

	if (rc < 0)
		return rc;
	tame_reactor_get_stats(r, &before);
	for (i = 0; i < n && rc == 0; i++)
		rc = tame_spawn(r, side_fiber, &sides[i]);
	if (rc == 0)
		rc = tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY);
	add_stats(sides[0].p, r, &before);
	tame_reactor_destroy(r);
	return rc;
}

static void *reactor_thread(void *arg)
{
	struct side *s = arg;

	s->err = run_fibers_here(s, 1, s->idle_poll_ns);
	return NULL;
}

static int run_two_threads(struct side *sides, void *(*fn)(void *))
{
	pthread_t t[2];
	int rc, i;

	for (i = 0; i < 2; i++) {
		rc = pthread_create(&t[i], NULL, fn, &sides[i]);
		if (rc) {
			/* Side 0 could wait forever for a side 1 that never came. */
			fprintf(stderr, "tame_port_bench: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return sides[0].err ? sides[0].err : sides[1].err;
}

/* One run of c with passes timed passes per side; 0 or -errno. */
static int run_case(const struct bench_case *c, struct pingpong *p, uint64_t passes)
{
	struct side sides[2] = {{.p = p, .me = 0, .idle_poll_ns = c->idle_poll_ns},
	                        {.p = p, .me = 1, .idle_poll_ns = c->idle_poll_ns}};
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->ops = c->ops;
	p->passes = passes;
	p->warm_passes = passes / 20 > 100 ? passes / 20 : 100;
	c->ops->mutex_init(&p->m, NULL);
	c->ops->cond_init(&p->cv[0], NULL);
	c->ops->cond_init(&p->cv[1], NULL);
	switch (c->kind) {
	case CASE_FIBERS_ONE_REACTOR:
		rc = run_fibers_here(sides, 2, c->idle_poll_ns);
		break;
	case CASE_THREADS:
		rc = run_two_threads(sides, side_thread);
		break;
	case CASE_FIBERS_TWO_REACTORS:
		rc = run_two_threads(sides, reactor_thread);
		break;
	}
	c->ops->cond_destroy(&p->cv[1]);
	c->ops->cond_destroy(&p->cv[0]);
	c->ops->mutex_destroy(&p->m);
	if (rc == 0 && (p->done[0] != p->warm_passes + passes || p->done[1] != p->done[0]))
		rc = -EPROTO;
	return rc;
}

/* ---- running a case with a watchdog ----------------------------------------- */

struct job {
	const struct bench_case *c;
	struct pingpong *p;
	uint64_t passes;
	int rc;
};

static void *job_thread(void *arg)
{
	struct job *j = arg;

	j->rc = run_case(j->c, j->p, j->passes);
	return NULL;
}

/* A lost wake would hang forever; report it instead. */
static int run_case_watched(const struct bench_case *c, struct pingpong *p, uint64_t passes)
{
	struct job j = {.c = c, .p = p, .passes = passes};
	struct timespec deadline;
	pthread_t t;
	int rc = pthread_create(&t, NULL, job_thread, &j);

	if (rc)
		return -rc;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HANG_TIMEOUT_S;
	rc = pthread_timedjoin_np(t, NULL, &deadline);
	if (rc == ETIMEDOUT) {
		printf("%s: HANG: no result after %d s (a lost wake?)\n", c->tag, HANG_TIMEOUT_S);
		fflush(stdout);
		_exit(1);
	}
	return j.rc;
}

/* ---- measurement -------------------------------------------------------------- */

struct options {
	double seconds;
	int reps;
	bool two_reactors;
	const char *only; /* comma-separated case tags without parentheses, or NULL */
};

struct result {
	int rc;
	int reps;
	double ns[MAX_REPS];     /* wall ns per hand-off, sorted */
	double cpu_ns[MAX_REPS]; /* process CPU ns per hand-off, sorted */
	double vcsw;             /* voluntary context switches per hand-off, median run */
	double parks;            /* reactor parks per hand-off (whole run), median run */
	uint64_t passes;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double per_handoff_ns(const struct pingpong *p)
{
	return (double)(p->t1_ns - p->t0_ns) / (2.0 * (double)p->passes);
}

/* Passes per side for about seconds per run, from one short run. */
static int calibrate(const struct bench_case *c, double seconds, uint64_t *passes)
{
	struct pingpong p;
	uint64_t n = CALIBRATE_PASSES_MIN;
	int rc;

	for (;;) {
		rc = run_case_watched(c, &p, n);
		if (rc < 0)
			return rc;
		if ((double)(p.t1_ns - p.t0_ns) > 0.02 * NS_PER_S || n >= PASSES_MAX)
			break;
		n *= 10;
	}
	double want = seconds * NS_PER_S / (2.0 * per_handoff_ns(&p));
	*passes = want < CALIBRATE_PASSES_MIN ? CALIBRATE_PASSES_MIN
	          : want > PASSES_MAX         ? PASSES_MAX
	                                      : (uint64_t)want;
	return 0;
}

static void measure(const struct bench_case *c, const struct options *opt, struct result *res)
{
	double ns_by_run[MAX_REPS], vcsw[MAX_REPS], parks[MAX_REPS];
	struct pingpong p;
	int i, mid;

	memset(res, 0, sizeof(*res));
	res->rc = calibrate(c, opt->seconds, &res->passes);
	for (i = 0; i < opt->reps && res->rc == 0; i++) {
		res->rc = run_case_watched(c, &p, res->passes);
		if (res->rc)
			break;
		double handoffs = 2.0 * (double)p.passes;
		double total = 2.0 * (double)(p.passes + p.warm_passes);

		ns_by_run[i] = res->ns[i] = per_handoff_ns(&p);
		res->cpu_ns[i] = (double)(p.cpu1_ns - p.cpu0_ns) / handoffs;
		vcsw[i] = (double)(p.vcsw1 - p.vcsw0) / handoffs;
		parks[i] = (double)p.parks / total;
	}
	if (res->rc)
		return;
	res->reps = opt->reps;
	qsort(res->ns, (size_t)res->reps, sizeof(double), cmp_double);
	qsort(res->cpu_ns, (size_t)res->reps, sizeof(double), cmp_double);
	/* The counters of the run whose time is the median. */
	for (mid = 0; mid < res->reps; mid++)
		if (ns_by_run[mid] == res->ns[res->reps / 2])
			break;
	res->vcsw = vcsw[mid];
	res->parks = parks[mid];
}

/* ---- output --------------------------------------------------------------------- */

static const char *fmt_ns(double ns, char *buf, size_t len)
{
	if (ns < 10)
		snprintf(buf, len, "%.2f ns", ns);
	else if (ns < 10000)
		snprintf(buf, len, "%.1f ns", ns);
	else
		snprintf(buf, len, "%.2f us", ns / 1e3);
	return buf;
}

static double load_average(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* "model name" of the first CPU, marked when running under a hypervisor. */
static void cpu_model(char *out, size_t len)
{
	char line[4096], model[256] = "unknown";
	bool vm = false, have_model = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		if (!have_model && !strncmp(line, "model name", 10)) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			have_model = true;
		}
		if (!strncmp(line, "flags", 5) && strstr(colon, " hypervisor"))
			vm = true;
	}
	if (f)
		fclose(f);
	snprintf(out, len, "%s%s", model, vm ? " (virtual machine)" : "");
}

static void print_header(const struct options *opt)
{
	char model[320];
	struct utsname u;
	cpu_set_t set;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double load = load_average();
	const char *flags = TAME_C_FLAGS;

	cpu_model(model, sizeof(model));
	uname(&u);
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof(set), &set);
	while (*flags == ' ')
		flags++;
	printf(
	    "tame_port_bench: pthread mutex + condvar hand-off latency, tamerocks vs glibc, same "
	    "run\n");
	printf("machine:  %s; nproc %ld (allowed %d); %s %s %s %s\n", model, cpus, CPU_COUNT(&set),
	       u.sysname, u.release, u.version, u.machine);
	printf("build:    %s (CMAKE_BUILD_TYPE); %s, flags \"%s\"; glibc %s\n", TAME_BUILD_TYPE,
	       TAME_C_COMPILER, flags, gnu_get_libc_version());
	printf("port:     plain pthread_* names are tamerocks' (tame_port_interposed: %s); glibc's "
	       "via dlvsym(RTLD_NEXT, ..., GLIBC_2.2.5 mutex / GLIBC_2.3.2 condvar)\n",
	       tame_port_interposed() ? "yes" : "NO");
	printf("load:     at start: 1-min load average %.2f on %ld CPUs%s\n", load, cpus,
	       load > 0.5 * cpus ? " -- other work is running; expect noisy thread figures" : "");
	printf("method:   each side waits on its own condvar for the turn, passes it and signals "
	       "the other:\n"
	       "          every hand-off wakes a sleeping side. Per case: calibrated to ~%.2f s a "
	       "run, median of %d runs\n\n",
	       opt->seconds, opt->reps);
}

/* Is case tag "(x)" in the comma-separated list "x,y"? */
static bool selected(const char *only, const char *tag)
{
	size_t len = strlen(tag) - 2;

	for (const char *s = only; s && *s; s += strcspn(s, ","), s += *s == ',') {
		if (strcspn(s, ",") == len && !strncmp(s, tag + 1, len))
			return true;
	}
	return !only;
}

static void print_row(const struct bench_case *c, const struct result *r)
{
	char a[32], b[32], d[32], e[32];

	if (r->rc) {
		printf("%-4s %-52s FAILED: %s\n", c->tag, c->what, strerror(-r->rc));
		return;
	}
	printf("%-4s %-52s %10s  %10s..%-10s %10s %6.2f %6.2f %9llu\n", c->tag, c->what,
	       fmt_ns(median(r->ns, r->reps), a, sizeof(a)), fmt_ns(r->ns[0], b, sizeof(b)),
	       fmt_ns(r->ns[r->reps - 1], d, sizeof(d)),
	       fmt_ns(median(r->cpu_ns, r->reps), e, sizeof(e)), r->vcsw, r->parks,
	       (unsigned long long)(2 * r->passes));
}

static void print_ratio(const char *what, const struct result *num, const struct result *den,
                        double goal)
{
	double ratio;

	if (num->rc || den->rc) {
		printf("  %-60s n/a\n", what);
		return;
	}
	ratio = median(num->ns, num->reps) / median(den->ns, den->reps);
	printf("  %-60s %9.1fx", what, ratio);
	if (goal > 0)
		printf("  (goal >= %.0fx: %s)", goal, ratio >= goal ? "met" : "MISSED");
	printf("\n");
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(const char *argv0)
{
	printf("usage: %s [--seconds=X] [--reps=N] [--no_two_reactors] [--only=a,b,...]\n"
	       "  --seconds=X        target length of each timed run (default 0.3)\n"
	       "  --reps=N           timed runs per case, median shown (default 5, at most %d)\n"
	       "  --no_two_reactors  skip cases (d) and (d0)\n"
	       "  --only=TAGS        run only these cases (a, b, c, d, d0)\n",
	       argv0, MAX_REPS);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end = NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(argv[0]);
			return 1;
		} else if (!strncmp(a, "--seconds=", 10)) {
			opt->seconds = strtod(a + 10, &end);
			if (*end || !(opt->seconds > 0 && opt->seconds <= 60))
				goto bad;
		} else if (!strncmp(a, "--reps=", 7)) {
			opt->reps = (int)strtol(a + 7, &end, 10);
			if (*end || opt->reps < 1 || opt->reps > MAX_REPS)
				goto bad;
		} else if (!strcmp(a, "--no_two_reactors")) {
			opt->two_reactors = false;
		} else if (!strncmp(a, "--only=", 7)) {
			opt->only = a + 7;
		} else {
			goto bad;
		}
		continue;
	bad:
		fprintf(stderr, "tame_port_bench: bad argument %s\n", a);
		usage(argv[0]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = {.seconds = 0.3, .reps = 5, .two_reactors = true};
	int rc = parse_options(argc, argv, &opt);

	if (rc)
		return rc > 0 ? 0 : 2;
	glibc_ops_load();
	const struct bench_case cases[] = {
	    {"(a)", "2 fibers, 1 reactor, tamerocks park/wake", CASE_FIBERS_ONE_REACTOR, &tame_ops,
	     TAME_REACTOR_DEFAULT_IDLE_POLL_NS},
	    {"(b)", "2 OS threads, glibc (baseline)", CASE_THREADS, &glibc_ops, 0},
	    {"(c)", "2 OS threads, tamerocks (futex path)", CASE_THREADS, &tame_ops, 0},
	    {"(d)", "fiber on reactor A <-> B, idle poll 50 us", CASE_FIBERS_TWO_REACTORS,
	     &tame_ops, TAME_REACTOR_DEFAULT_IDLE_POLL_NS},
	    {"(d0)", "fiber on reactor A <-> B, idle poll 0", CASE_FIBERS_TWO_REACTORS, &tame_ops,
	     0},
	};
	enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };
	static struct result res[N_CASES];
	int n = opt.two_reactors ? N_CASES : 3, failed = 0;

	print_header(&opt);
	printf("%-4s %-52s %10s  %-22s %10s %6s %6s %9s\n", "", "case", "hand-off", "(min..max)",
	       "CPU/hoff", "vcsw", "parks", "hand-offs");
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		if (!selected(opt.only, cases[i].tag)) {
			res[i].rc = -ENOENT;
			continue;
		}
		measure(&cases[i], &opt, &res[i]);
		print_row(&cases[i], &res[i]);
		fflush(stdout);
		failed |= res[i].rc != 0;
	}
	printf(
	    "(hand-off: wall time per hand-off, median; CPU/hoff: CPU time of the whole process "
	    "per hand-off;\n vcsw: voluntary context switches per hand-off; parks: reactor parks "
	    "per hand-off; hand-offs: per timed run)\n\n");
	printf("ratios (of the medians):\n");
	print_ratio("(b)/(a) glibc threads / fibers on one reactor", &res[1], &res[0],
	            GOAL_GLIBC_OVER_FIBER);
	print_ratio("(c)/(b) tamerocks threads / glibc threads", &res[2], &res[1], 0);
	if (opt.two_reactors) {
		print_ratio("(d)/(a) cross-reactor (polling) / one reactor", &res[3], &res[0], 0);
		print_ratio("(b)/(d) glibc threads / cross-reactor (polling)", &res[1], &res[3], 0);
		print_ratio("(b)/(d0) glibc threads / cross-reactor (sleeping)", &res[1], &res[4],
		            0);
	}
	printf("load:     at end: 1-min load average %.2f (includes this program)\n",
	       load_average());
	return failed ? 1 : 0;
}
