// SPDX-License-Identifier: Apache-2.0
//
// tame_micro: micro-benchmarks of the tamerocks C core, each next to a
// baseline measured in the same run (the machines are shared and noisy, so
// the ratios are the figures to read, not the absolute numbers).
//
//   1. context switch: raw boost.context jump_fcontext round trip vs
//      tame_fiber_resume + tame_fiber_suspend (0 and 1 fiber-local slots),
//      and a reactor-level tame_yield ping-pong between two fibers.
//   2. spawn + run + exit + join of a pooled fiber vs pthread_create + join.
//   3. cross-thread wake round trip (plain thread -> tame_wake -> fiber ->
//      atomic ack) vs a pthread condvar ping-pong (and an atomic spin floor).
//   4. 4 KiB O_DIRECT random reads at QD 1..128 on one reactor vs fio
//      (io_uring engine) on the same file, in the same run.
//
// Sections 1-3 use Google Benchmark (its --benchmark_* flags work); section 4
// is time-based like fio. Run with --help for the flags.

#include <benchmark/benchmark.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tame_fiber.h"
#include "tame_reactor.h"

// boost.context's C entry points (Boost 1.74 exports them from
// libboost_context); declared here so the baseline is the bare switch.
typedef void *fcontext_t;
struct transfer_t {
	fcontext_t fctx;
	void *data;
};
extern "C" transfer_t jump_fcontext(fcontext_t to, void *vp);
extern "C" fcontext_t make_fcontext(void *sp, std::size_t size,
				    void (*fn)(transfer_t));

#ifndef TAME_BUILD_TYPE
#define TAME_BUILD_TYPE "unknown"
#endif
#ifndef TAME_C_FLAGS
#define TAME_C_FLAGS "unknown"
#endif
#ifndef TAME_C_COMPILER
#define TAME_C_COMPILER "unknown"
#endif

namespace {

constexpr uint64_t kNsPerSec = 1000000000ull;
constexpr size_t kIoBlockBytes = 4096;
// Block headers: block index xor this, so a read of the wrong block shows.
constexpr uint64_t kBlockMagic = 0x74616d656d696372ull; // "tamemicr"

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	asm volatile("yield");
#endif
}

// ---------------------------------------------------------------- options

struct Options {
	std::string dir = "/var/tmp";
	double file_gib = 1.0;
	double seconds = 2.0;
	double ramp_seconds = 0.25;
	unsigned qd_max = 128;
	int reps = 3;
	std::string fio = "fio";
	bool micro = true;
	bool io = true;
	bool keep_file = false;
	bool verify = true;
	bool poll0 = true;
	int io_rounds = 2;
	uint64_t idle_poll_ns = TAME_REACTOR_DEFAULT_IDLE_POLL_NS;
};

Options g_opt;

void usage(const char *argv0)
{
	std::printf(
	    "usage: %s [flags] [--benchmark_* flags]\n"
	    "  --dir=PATH         directory on a real disk for the I/O file "
	    "(default /var/tmp)\n"
	    "  --file_gib=X       I/O file size in GiB (default 1)\n"
	    "  --seconds=X        measured seconds per QD point per side "
	    "(default 2)\n"
	    "  --io_rounds=N      split them into N alternating slices "
	    "(default 2)\n"
	    "  --ramp_seconds=X   unmeasured warm-up per point (default 0.25)\n"
	    "  --qd_max=N         largest queue depth, powers of two from 1 "
	    "(default 128)\n"
	    "  --reps=N           Google Benchmark repetitions, median "
	    "reported (default 3)\n"
	    "  --fio=PATH         fio binary (default fio); --no_fio skips it\n"
	    "  --no_micro         skip sections 1-3 (switch, spawn, wake)\n"
	    "  --no_io            skip section 4 (O_DIRECT reads)\n"
	    "  --keep_file        keep the I/O file for the next run (it is "
	    "reused when its size matches)\n"
	    "  --no_verify        do not check block headers of data read\n"
	    "  --idle_poll_ns=N   main reactor's idle busy-poll (default the "
	    "library's, %llu)\n"
	    "  --no_poll0         skip the I/O rerun on a reactor that never "
	    "busy-polls\n",
	    argv0, (unsigned long long)TAME_REACTOR_DEFAULT_IDLE_POLL_NS);
}

bool flag_value(const char *arg, const char *name, const char **value)
{
	size_t n = std::strlen(name);
	if (std::strncmp(arg, name, n) != 0 || arg[n] != '=')
		return false;
	*value = arg + n + 1;
	return true;
}

// Accepts v > 0, or v == 0 too when allow_zero.
bool parse_double(const char *s, double *out, bool allow_zero = false)
{
	char *end = nullptr;
	errno = 0;
	double v = std::strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' ||
	    !(v > 0 || (allow_zero && v == 0)))
		return false;
	*out = v;
	return true;
}

// Consumes our flags; leaves the rest (argv[0], --benchmark_*) in rest.
// Returns 0 to go on, 1 after --help, -1 on a bad flag.
int parse_options(int argc, char **argv, std::vector<char *> *rest)
{
	rest->push_back(argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = nullptr;
		double d = 0;
		bool ok = true;
		if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
			usage(argv[0]);
			return 1;
		} else if (flag_value(a, "--dir", &v)) {
			g_opt.dir = v;
		} else if (flag_value(a, "--file_gib", &v)) {
			ok = parse_double(v, &g_opt.file_gib);
		} else if (flag_value(a, "--seconds", &v)) {
			ok = parse_double(v, &g_opt.seconds);
		} else if (flag_value(a, "--ramp_seconds", &v)) {
			ok = parse_double(v, &g_opt.ramp_seconds, true);
		} else if (flag_value(a, "--qd_max", &v)) {
			ok = parse_double(v, &d) && d >= 1 &&
			     d <= TAME_REACTOR_MAX_RING_ENTRIES;
			g_opt.qd_max = (unsigned)d;
		} else if (flag_value(a, "--reps", &v)) {
			ok = parse_double(v, &d) && d >= 1 && d <= 100;
			g_opt.reps = (int)d;
		} else if (flag_value(a, "--fio", &v)) {
			g_opt.fio = v;
		} else if (!std::strcmp(a, "--no_fio")) {
			g_opt.fio.clear();
		} else if (!std::strcmp(a, "--no_micro")) {
			g_opt.micro = false;
		} else if (!std::strcmp(a, "--no_io")) {
			g_opt.io = false;
		} else if (!std::strcmp(a, "--keep_file")) {
			g_opt.keep_file = true;
		} else if (!std::strcmp(a, "--no_verify")) {
			g_opt.verify = false;
		} else if (flag_value(a, "--io_rounds", &v)) {
			ok = parse_double(v, &d) && d >= 1 && d <= 100;
			g_opt.io_rounds = (int)d;
		} else if (!std::strcmp(a, "--no_poll0")) {
			g_opt.poll0 = false;
		} else if (flag_value(a, "--idle_poll_ns", &v)) {
			ok = parse_double(v, &d, true);
			g_opt.idle_poll_ns = (uint64_t)d;
		} else if (!std::strncmp(a, "--benchmark_", 12)) {
			rest->push_back(argv[i]);
		} else {
			std::fprintf(stderr, "tame_micro: unknown flag %s\n",
				     a);
			usage(argv[0]);
			return -1;
		}
		if (!ok) {
			std::fprintf(stderr, "tame_micro: bad value in %s\n",
				     a);
			return -1;
		}
	}
	rest->push_back(nullptr);
	return 0;
}

// ---------------------------------------------------------------- results

// Nanoseconds per iteration by benchmark name: the median over repetitions
// when there are several, else the single run.
struct Results {
	std::map<std::string, double> iter_ns, median_ns;
	std::map<std::string, std::string> errors;

	bool get(const std::string &name, double *ns) const
	{
		auto m = median_ns.find(name);
		if (m != median_ns.end()) {
			*ns = m->second;
			return true;
		}
		auto i = iter_ns.find(name);
		if (i == iter_ns.end())
			return false;
		*ns = i->second;
		return true;
	}
};

Results g_results;

double unit_to_ns(benchmark::TimeUnit u)
{
	switch (u) {
	case benchmark::kNanosecond:
		return 1;
	case benchmark::kMicrosecond:
		return 1e3;
	case benchmark::kMillisecond:
		return 1e6;
	case benchmark::kSecond:
		return 1e9;
	}
	return 1;
}

class RecordingReporter : public benchmark::ConsoleReporter {
public:
	explicit RecordingReporter(OutputOptions o) : ConsoleReporter(o) {}

	// Print the library's context block once, though we run twice.
	bool ReportContext(const Context &context) override
	{
		if (!context_printed_) {
			context_printed_ = true;
			return ConsoleReporter::ReportContext(context);
		}
		name_field_width_ =
		    std::max(name_field_width_, context.name_field_width);
		return true;
	}

	void ReportRuns(const std::vector<Run> &runs) override
	{
		ConsoleReporter::ReportRuns(runs);
		for (const Run &run : runs) {
			const std::string &name = run.run_name.function_name;
			if (run.error_occurred) {
				g_results.errors[name] = run.error_message;
				continue;
			}
			double ns = run.GetAdjustedRealTime() *
				    unit_to_ns(run.time_unit);
			if (run.run_type == Run::RT_Iteration)
				g_results.iter_ns[name] = ns;
			else if (run.aggregate_name == "median")
				g_results.median_ns[name] = ns;
		}
	}

private:
	bool context_printed_ = false;
};

// ---------------------------------------------------------------- machine

std::string read_first_line(const char *path)
{
	std::ifstream in(path);
	std::string line;
	if (in)
		std::getline(in, line);
	return line;
}

std::string cpu_model()
{
	std::ifstream in("/proc/cpuinfo");
	std::string line, model = "unknown", flags;
	while (std::getline(in, line)) {
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		std::string key = line.substr(0, line.find_first_of("\t:"));
		std::string value = line.substr(colon + 1);
		value.erase(0, value.find_first_not_of(' '));
		if (key == "model name" && model == "unknown")
			model = value;
		if (key == "flags" && flags.empty())
			flags = " " + value + " ";
	}
	if (flags.find(" hypervisor ") != std::string::npos)
		model += " (virtual machine)";
	return model;
}

int allowed_cpus()
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	return CPU_COUNT(&set);
}

// The 1-minute load average; at start, a warning when other work competes
// for the CPUs (the spinning wake and atomic ping-pongs need two). At the
// end it also counts this program's own busy threads, so no warning.
void print_load(const char *when, bool warn)
{
	double load = -1;
	std::string line = read_first_line("/proc/loadavg");
	if (!line.empty())
		load = std::strtod(line.c_str(), nullptr);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	std::printf("load:     %s: 1-min load average %.2f on %ld CPUs%s\n",
		    when, load, cpus,
		    !warn ? " (includes this program)"
		    : load > 0.5 * cpus ? " -- other work is running; expect "
					  "noisy figures (spinning ping-pongs "
					  "suffer most)"
					: "");
}

struct tame_reactor *g_reactor; // owned by the main thread
std::string g_reactor_backend = "none";

void print_header()
{
	struct utsname u;
	uname(&u);
	std::printf("tame_micro: tamerocks C core micro-benchmarks\n");
	std::printf("machine:  %s; nproc %ld (allowed %d); %s %s %s %s\n",
		    cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
		    allowed_cpus(), u.sysname, u.release, u.version,
		    u.machine);
	std::string flags = TAME_C_FLAGS;
	flags.erase(0, flags.find_first_not_of(' '));
	std::printf("build:    %s (CMAKE_BUILD_TYPE); C core: %s, flags "
		    "\"%s\"; bench: g++ %s\n",
		    TAME_BUILD_TYPE, TAME_C_COMPILER, flags.c_str(),
		    __VERSION__);
	std::printf("backends: fiber %s; reactor %s\n", tame_fiber_backend(),
		    g_reactor_backend.c_str());
	print_load("at start", true);
	std::printf("note:     shared, noisy machine: read the ratios; every "
		    "baseline runs in this same process and run\n\n");
	std::fflush(stdout);
}

// ------------------------------------------------- 1. context switch

void raw_fcontext_entry(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, nullptr);
}

// One iteration: jump into a context that jumps straight back.
void BM_raw_fcontext_roundtrip(benchmark::State &state)
{
	const size_t bytes = 64 * 1024;
	void *stack = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED) {
		state.SkipWithError("mmap of the raw stack failed");
		return;
	}
	fcontext_t ctx =
	    make_fcontext((char *)stack + bytes, bytes, raw_fcontext_entry);
	for (auto _ : state)
		ctx = jump_fcontext(ctx, nullptr).fctx;
	// The context loops forever and owns nothing: dropping it is safe.
	munmap(stack, bytes);
}

// The same switch inside out-of-line resume()/suspend() functions, as any
// fiber API has them. Each switch then returns into a frame on the other
// stack, which return prediction presumably gets wrong (a guess: this VM
// exposes no PMU to count it). A reference for what tame_fiber_resume +
// tame_fiber_suspend can reach, not a goal.
struct WrappedCtx {
	fcontext_t ctx = nullptr, ret = nullptr;
	bool stop = false;
};

WrappedCtx *g_wrapped;

__attribute__((noinline)) void wrapped_resume(WrappedCtx *w)
{
	w->ctx = jump_fcontext(w->ctx, w).fctx;
}

__attribute__((noinline)) void wrapped_suspend()
{
	WrappedCtx *w = g_wrapped;
	w->ret = jump_fcontext(w->ret, nullptr).fctx;
}

// Returns (at the end of the benchmark) so the compiler cannot call it
// noreturn: ASan builds would then warn about the unannotated stack.
__attribute__((noinline)) void wrapped_body(WrappedCtx *w)
{
	while (!w->stop)
		wrapped_suspend();
}

void wrapped_entry(transfer_t t)
{
	auto *w = static_cast<WrappedCtx *>(t.data);
	w->ret = t.fctx;
	for (;;) {
		wrapped_body(w);
		wrapped_suspend();
	}
}

void BM_wrapped_fcontext_roundtrip(benchmark::State &state)
{
	const size_t bytes = 64 * 1024;
	void *stack = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED) {
		state.SkipWithError("mmap of the raw stack failed");
		return;
	}
	WrappedCtx w;
	g_wrapped = &w;
	w.ctx = make_fcontext((char *)stack + bytes, bytes, wrapped_entry);
	for (auto _ : state)
		wrapped_resume(&w);
	w.stop = true;
	wrapped_resume(&w);
	munmap(stack, bytes);
}

struct SuspendLoop {
	bool stop = false;
};

void suspend_loop(void *p)
{
	auto *s = static_cast<SuspendLoop *>(p);
	while (!s->stop)
		tame_fiber_suspend();
}

bool create_fiber(benchmark::State &state, tame_fiber_fn fn, void *arg,
		  struct tame_fiber **f)
{
	struct tame_fiber_attr attr = {};
	attr.name = "bench";
	int rc = tame_fiber_create(&attr, fn, arg, f);
	if (rc < 0) {
		state.SkipWithError(("tame_fiber_create: " +
				     std::string(std::strerror(-rc)))
					.c_str());
		return false;
	}
	return true;
}

// One iteration: tame_fiber_resume, which returns once the fiber suspends.
void BM_tame_fiber_roundtrip(benchmark::State &state)
{
	SuspendLoop s;
	struct tame_fiber *f = nullptr;
	if (!create_fiber(state, suspend_loop, &s, &f))
		return;
	for (auto _ : state) {
		if (!tame_fiber_resume(f)) {
			state.SkipWithError("fiber finished while looping");
			break;
		}
	}
	s.stop = true;
	if (!tame_fiber_finished(f) && tame_fiber_resume(f))
		state.SkipWithError("fiber did not finish after stop");
	tame_fiber_destroy(f);
}

thread_local uint64_t g_fls_slot;

void *resolve_fls_slot(void *) { return &g_fls_slot; }

// Runs driver(arg) and extra fibers on the main reactor until all exit.
bool run_on_reactor(benchmark::State &state,
		    std::initializer_list<std::pair<tame_fiber_fn, void *>>
			fibers)
{
	if (!g_reactor) {
		state.SkipWithError("no reactor (tame_reactor_create failed)");
		return false;
	}
	for (auto &f : fibers) {
		int rc = tame_spawn(g_reactor, f.first, f.second);
		if (rc < 0) {
			state.SkipWithError(("tame_spawn: " +
					     std::string(std::strerror(-rc)))
						.c_str());
			// Already-spawned fibers see the error and exit.
			tame_reactor_run(g_reactor, TAME_RUN_UNTIL_EMPTY);
			return false;
		}
	}
	int rc = tame_reactor_run(g_reactor, TAME_RUN_UNTIL_EMPTY);
	if (rc < 0) {
		state.SkipWithError(
		    ("tame_reactor_run: " + std::string(std::strerror(-rc)))
			.c_str());
		return false;
	}
	return true;
}

struct YieldPair {
	benchmark::State *state;
	bool done = false;
};

void yield_driver(void *p)
{
	auto *y = static_cast<YieldPair *>(p);
	for (auto _ : *y->state)
		tame_yield();
	y->done = true;
}

void yield_partner(void *p)
{
	auto *y = static_cast<YieldPair *>(p);
	while (!y->done && !y->state->error_occurred())
		tame_yield();
}

// One iteration = two tame_yield calls (driver's, then partner's).
void BM_tame_reactor_yield_pair(benchmark::State &state)
{
	YieldPair y{&state};
	run_on_reactor(state, {{yield_driver, &y}, {yield_partner, &y}});
	state.SetItemsProcessed(state.iterations() * 2);
}

// ------------------------------------------------- 2. spawn + exit

struct SpawnJoin {
	benchmark::State *state;
	struct tame_fiber *parent = nullptr;
	bool child_done = false;
};

void spawn_child(void *p)
{
	auto *s = static_cast<SpawnJoin *>(p);
	s->child_done = true;
	tame_wake(s->parent);
}

// One iteration: spawn a fiber, park until it ran and woke us, it exits.
void spawn_driver(void *p)
{
	auto *s = static_cast<SpawnJoin *>(p);
	struct tame_reactor *r = tame_fiber_reactor();
	s->parent = tame_fiber_self();
	for (auto _ : *s->state) {
		s->child_done = false;
		int rc = tame_spawn(r, spawn_child, s);
		if (rc < 0) {
			s->state->SkipWithError(
			    ("tame_spawn from a fiber: " +
			     std::string(std::strerror(-rc)))
				.c_str());
			break;
		}
		while (!s->child_done)
			tame_park();
	}
}

void BM_tame_spawn_join(benchmark::State &state)
{
	SpawnJoin s{&state};
	run_on_reactor(state, {{spawn_driver, &s}});
}

void *noop_thread(void *) { return nullptr; }

void BM_pthread_create_join(benchmark::State &state)
{
	for (auto _ : state) {
		pthread_t t;
		int rc = pthread_create(&t, nullptr, noop_thread, nullptr);
		if (rc != 0) {
			state.SkipWithError("pthread_create failed");
			break;
		}
		pthread_join(t, nullptr);
	}
}

// ------------------------------------------------- 3. cross-thread wake

constexpr uint64_t kLostWakeNs = 2 * kNsPerSec;

// Spins until word == want; false after about kLostWakeNs. The clock is
// read only after many spins, so the common fast path never reads it.
bool spin_until(const std::atomic<uint64_t> &word, uint64_t want)
{
	uint64_t deadline = 0;
	for (uint32_t spins = 1;; spins++) {
		if (word.load(std::memory_order_acquire) == want)
			return true;
		cpu_relax();
		if ((spins & 0xfff) != 0)
			continue;
		uint64_t now = tame_now_ns();
		if (deadline == 0)
			deadline = now + kLostWakeNs;
		else if (now > deadline)
			return false;
	}
}

// ping and ack on their own cache lines: each has a single writer.
struct WakeShared {
	uint64_t idle_poll_ns = 0;
	std::atomic<struct tame_fiber *> fiber{nullptr};
	std::atomic<struct tame_reactor *> reactor{nullptr};
	std::atomic<bool> stop{false}, finished{false};
	std::atomic<int> error{0};
	alignas(64) std::atomic<uint64_t> ping{0};
	alignas(64) std::atomic<uint64_t> ack{0};
};

void wake_responder(void *p)
{
	auto *s = static_cast<WakeShared *>(p);
	s->fiber.store(tame_fiber_self(), std::memory_order_release);
	uint64_t seen = 0;
	for (;;) {
		uint64_t v;
		while ((v = s->ping.load(std::memory_order_acquire)) == seen &&
		       !s->stop.load(std::memory_order_acquire))
			tame_park();
		if (v == seen)
			return;
		seen = v;
		s->ack.store(v, std::memory_order_release);
	}
}

// Keeps s alive (shared_ptr) so a lost wake at teardown leaks, not crashes.
void wake_reactor_thread(std::shared_ptr<WakeShared> s)
{
	struct tame_reactor_opts o;
	tame_reactor_opts_init(&o);
	o.name = "wake";
	o.idle_poll_ns = s->idle_poll_ns;
	struct tame_reactor *r = nullptr;
	int rc = tame_reactor_create(&o, &r);
	if (rc == 0) {
		s->reactor.store(r, std::memory_order_release);
		rc = tame_spawn(r, wake_responder, s.get());
		if (rc == 0)
			rc = tame_reactor_run(r, TAME_RUN_UNTIL_EMPTY);
		tame_reactor_destroy(r);
	}
	if (rc < 0)
		s->error.store(rc);
	s->finished.store(true, std::memory_order_release);
}

bool wait_flag(const std::atomic<bool> &flag, uint64_t timeout_ns)
{
	uint64_t deadline = tame_now_ns() + timeout_ns;
	while (!flag.load(std::memory_order_acquire)) {
		if (tame_now_ns() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::microseconds(50));
	}
	return true;
}

// One iteration: ping + tame_wake from this plain thread, spin for the ack
// the fiber stores after it was woken and ran.
void BM_tame_wake_roundtrip(benchmark::State &state, uint64_t idle_poll_ns)
{
	auto s = std::make_shared<WakeShared>();
	s->idle_poll_ns = idle_poll_ns;
	std::thread t(wake_reactor_thread, s);
	struct tame_fiber *f = nullptr;
	uint64_t deadline = tame_now_ns() + 5 * kNsPerSec;
	while (!(f = s->fiber.load(std::memory_order_acquire)) &&
	       !s->finished.load() && tame_now_ns() < deadline)
		std::this_thread::sleep_for(std::chrono::microseconds(50));
	if (!f) {
		state.SkipWithError(
		    s->error.load()
			? ("reactor thread: " +
			   std::string(std::strerror(-s->error.load())))
			      .c_str()
			: "responder fiber never started");
		s->stop.store(true);
		// A fiber that never ran cannot be woken: the reactor ends on
		// its own (spawn failed) or never does (a bug): then leak.
		if (wait_flag(s->finished, 5 * kNsPerSec))
			t.join();
		else
			t.detach();
		return;
	}
	struct tame_reactor *r = s->reactor.load(std::memory_order_acquire);
	struct tame_reactor_stats st0, st1;
	tame_reactor_get_stats(r, &st0);
	uint64_t i = 0;
	for (auto _ : state) {
		s->ping.store(++i, std::memory_order_release);
		tame_wake(f);
		if (!spin_until(s->ack, i)) {
			state.SkipWithError(
			    "lost wake: no ack 2 s after tame_wake from a "
			    "plain thread");
			break;
		}
	}
	// Shows whether the reactor really slept between pings.
	tame_reactor_get_stats(r, &st1);
	if (i) {
		state.counters["sleeps/iter"] =
		    (double)(st1.sleeps - st0.sleeps) / i;
		state.counters["remote/iter"] =
		    (double)(st1.wakes_remote - st0.wakes_remote) / i;
	}
	s->stop.store(true, std::memory_order_release);
	tame_wake(f);
	if (!wait_flag(s->finished, 5 * kNsPerSec)) {
		std::fprintf(stderr,
			     "tame_micro: wake responder did not exit 5 s "
			     "after stop + tame_wake (lost wake at "
			     "teardown); leaking its thread\n");
		t.detach();
		return;
	}
	t.join();
}

struct CondPingPong {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t req_cv = PTHREAD_COND_INITIALIZER;
	pthread_cond_t ack_cv = PTHREAD_COND_INITIALIZER;
	uint64_t req = 0, ack = 0;
	bool stop = false;
};

void *cond_responder(void *p)
{
	auto *c = static_cast<CondPingPong *>(p);
	pthread_mutex_lock(&c->m);
	for (;;) {
		while (c->req == c->ack && !c->stop)
			pthread_cond_wait(&c->req_cv, &c->m);
		if (c->req == c->ack)
			break;
		c->ack = c->req;
		pthread_cond_signal(&c->ack_cv);
	}
	pthread_mutex_unlock(&c->m);
	return nullptr;
}

// Baseline: the same round trip between two threads with mutex + condvars.
void BM_pthread_condvar_roundtrip(benchmark::State &state)
{
	CondPingPong c;
	pthread_t t;
	if (pthread_create(&t, nullptr, cond_responder, &c) != 0) {
		state.SkipWithError("pthread_create failed");
		return;
	}
	for (auto _ : state) {
		pthread_mutex_lock(&c.m);
		c.req++;
		pthread_cond_signal(&c.req_cv);
		while (c.ack != c.req)
			pthread_cond_wait(&c.ack_cv, &c.m);
		pthread_mutex_unlock(&c.m);
	}
	pthread_mutex_lock(&c.m);
	c.stop = true;
	pthread_cond_signal(&c.req_cv);
	pthread_mutex_unlock(&c.m);
	pthread_join(t, nullptr);
}

struct CondWakeSpinAck {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	uint64_t req = 0; // under m
	bool stop = false;
	alignas(64) std::atomic<uint64_t> ack{0};
};

void *cond_wake_responder(void *p)
{
	auto *c = static_cast<CondWakeSpinAck *>(p);
	uint64_t seen = 0;
	pthread_mutex_lock(&c->m);
	for (;;) {
		while (c->req == seen && !c->stop)
			pthread_cond_wait(&c->cv, &c->m);
		if (c->req == seen)
			break;
		seen = c->req;
		c->ack.store(seen, std::memory_order_release);
	}
	pthread_mutex_unlock(&c->m);
	return nullptr;
}

// Like-for-like with tame_wake to a sleeping reactor: the waker signals a
// condvar the other thread sleeps on, then spins for an atomic ack.
void BM_pthread_condvar_wake_spin_ack(benchmark::State &state)
{
	CondWakeSpinAck c;
	pthread_t t;
	if (pthread_create(&t, nullptr, cond_wake_responder, &c) != 0) {
		state.SkipWithError("pthread_create failed");
		return;
	}
	uint64_t i = 0;
	for (auto _ : state) {
		pthread_mutex_lock(&c.m);
		c.req = ++i;
		pthread_cond_signal(&c.cv);
		pthread_mutex_unlock(&c.m);
		while (c.ack.load(std::memory_order_acquire) != i)
			cpu_relax();
	}
	pthread_mutex_lock(&c.m);
	c.stop = true;
	pthread_cond_signal(&c.cv);
	pthread_mutex_unlock(&c.m);
	pthread_join(t, nullptr);
}

struct SpinPingPong {
	std::atomic<bool> stop{false};
	alignas(64) std::atomic<uint64_t> ping{0};
	alignas(64) std::atomic<uint64_t> ack{0};
};

// Floor: both threads spin on atomics; no sleeping anywhere.
void BM_atomic_spin_roundtrip(benchmark::State &state)
{
	SpinPingPong s;
	std::thread t([&s] {
		uint64_t seen = 0;
		while (!s.stop.load(std::memory_order_acquire)) {
			uint64_t v = s.ping.load(std::memory_order_acquire);
			if (v == seen) {
				cpu_relax();
				continue;
			}
			seen = v;
			s.ack.store(v, std::memory_order_release);
		}
	});
	uint64_t i = 0;
	for (auto _ : state) {
		s.ping.store(++i, std::memory_order_release);
		while (s.ack.load(std::memory_order_acquire) != i)
			cpu_relax();
	}
	s.stop.store(true);
	t.join();
}

// ------------------------------------------------- registration

constexpr const char *kRaw = "raw_fcontext_roundtrip";
constexpr const char *kRawB = "raw_fcontext_roundtrip/rerun";
constexpr const char *kWrapped = "wrapped_fcontext_roundtrip";
constexpr const char *kCondHalf = "pthread_condvar_wake_spin_ack";
constexpr const char *kFiber0 = "tame_fiber_roundtrip/fls_slots:0";
constexpr const char *kFiber1 = "tame_fiber_roundtrip/fls_slots:1";
constexpr const char *kYield0 = "tame_reactor_yield_pair/fls_slots:0";
constexpr const char *kYield1 = "tame_reactor_yield_pair/fls_slots:1";
constexpr const char *kRawC = "raw_fcontext_roundtrip/rerun2";
constexpr const char *kFiberR = "tame_fiber_roundtrip/fls_rocksdb";
constexpr const char *kYieldR = "tame_reactor_yield_pair/fls_rocksdb";
constexpr const char *kSpawn = "tame_spawn_join";
constexpr const char *kPthread = "pthread_create_join";
constexpr const char *kWakePoll = "tame_wake_roundtrip/reactor_polling";
constexpr const char *kWakeSleep = "tame_wake_roundtrip/reactor_sleeping";
constexpr const char *kCondvar = "pthread_condvar_roundtrip";
constexpr const char *kSpin = "atomic_spin_roundtrip";

benchmark::internal::Benchmark *common(benchmark::internal::Benchmark *b)
{
	b->UseRealTime()->Repetitions(g_opt.reps);
	if (g_opt.reps > 1)
		b->DisplayAggregatesOnly(true);
	return b;
}

// Phase A runs with no fiber-local slot registered; registration is
// process-wide and permanent, so phase B (one 8-byte slot) comes after.
void register_phase_a()
{
	common(benchmark::RegisterBenchmark(kRaw, BM_raw_fcontext_roundtrip));
	common(benchmark::RegisterBenchmark(kWrapped,
					    BM_wrapped_fcontext_roundtrip));
	common(benchmark::RegisterBenchmark(kFiber0, BM_tame_fiber_roundtrip));
	common(benchmark::RegisterBenchmark(kYield0,
					    BM_tame_reactor_yield_pair));
	common(benchmark::RegisterBenchmark(kSpawn, BM_tame_spawn_join));
	common(benchmark::RegisterBenchmark(kPthread, BM_pthread_create_join));
	common(benchmark::RegisterBenchmark(kWakePoll, BM_tame_wake_roundtrip,
					    TAME_REACTOR_DEFAULT_IDLE_POLL_NS));
	common(benchmark::RegisterBenchmark(kWakeSleep, BM_tame_wake_roundtrip,
					    (uint64_t)0));
	common(benchmark::RegisterBenchmark(kCondHalf,
					    BM_pthread_condvar_wake_spin_ack));
	common(benchmark::RegisterBenchmark(kCondvar,
					    BM_pthread_condvar_roundtrip));
	common(benchmark::RegisterBenchmark(kSpin, BM_atomic_spin_roundtrip));
}

void register_phase_b()
{
	common(benchmark::RegisterBenchmark(kRawB, BM_raw_fcontext_roundtrip));
	common(benchmark::RegisterBenchmark(kFiber1, BM_tame_fiber_roundtrip));
	common(benchmark::RegisterBenchmark(kYield1,
					    BM_tame_reactor_yield_pair));
}

void register_phase_c()
{
	common(benchmark::RegisterBenchmark(kRawC, BM_raw_fcontext_roundtrip));
	common(benchmark::RegisterBenchmark(kFiberR, BM_tame_fiber_roundtrip));
	common(benchmark::RegisterBenchmark(kYieldR,
					    BM_tame_reactor_yield_pair));
}

// Phase C: the slots tamerocks registers for Debian's librocksdb 7.8
// (port/rocksdb_tls.c): ThreadLocalPtr's tls_ (8 bytes, phase B's slot),
// perf_level (1), perf_context (784) and iostats_context (160).
thread_local unsigned char g_fls_perf_level[1];
thread_local unsigned char g_fls_perf_context[784];
thread_local unsigned char g_fls_iostats_context[160];

void *resolve_fls_perf_level(void *) { return g_fls_perf_level; }
void *resolve_fls_perf_context(void *) { return g_fls_perf_context; }
void *resolve_fls_iostats_context(void *) { return g_fls_iostats_context; }

bool g_fls_registered;
bool g_fls_rocksdb_registered;

void run_micro(RecordingReporter *rep)
{
	std::printf("== 1-3: switch, spawn, wake (Google Benchmark, real "
		    "time, median of %d)\n",
		    g_opt.reps);
	std::printf("-- phase A: %d fiber-local slots registered\n",
		    tame_fls_count());
	std::fflush(stdout);
	register_phase_a();
	benchmark::RunSpecifiedBenchmarks(rep);
	benchmark::ClearRegisteredBenchmarks();

	// The raw baseline runs again right beside the 1-slot figure.
	int slot = tame_fls_register(resolve_fls_slot, nullptr,
				     sizeof(g_fls_slot), nullptr);
	if (slot < 0) {
		std::printf("tame_fls_register(8 bytes) failed: %s; skipping "
			    "phase B\n\n",
			    std::strerror(-slot));
		return;
	}
	g_fls_registered = true;
	std::printf("\n-- phase B: one 8-byte fiber-local slot registered "
		    "(index %d, %d in all)\n",
		    slot, tame_fls_count());
	std::fflush(stdout);
	register_phase_b();
	benchmark::RunSpecifiedBenchmarks(rep);
	benchmark::ClearRegisteredBenchmarks();

	const std::pair<tame_fls_resolve_fn, size_t> more[] = {
	    {resolve_fls_perf_level, sizeof(g_fls_perf_level)},
	    {resolve_fls_perf_context, sizeof(g_fls_perf_context)},
	    {resolve_fls_iostats_context, sizeof(g_fls_iostats_context)}};
	for (auto &m : more) {
		slot = tame_fls_register(m.first, nullptr, m.second, nullptr);
		if (slot < 0) {
			std::printf("tame_fls_register(%zu bytes) failed: %s; "
				    "skipping phase C\n\n",
				    m.second, std::strerror(-slot));
			return;
		}
	}
	g_fls_rocksdb_registered = true;
	std::printf("\n-- phase C: RocksDB 7.8's fiber-local slots (8 + 1 + "
		    "784 + 160 bytes; %d slots in all)\n",
		    tame_fls_count());
	std::fflush(stdout);
	register_phase_c();
	benchmark::RunSpecifiedBenchmarks(rep);
	benchmark::ClearRegisteredBenchmarks();
	std::printf("\n");
}

// ------------------------------------------------- 4. O_DIRECT reads

// One side of a point, summed over its rounds.
struct IoSide {
	double ios = 0, secs = 0;	// measured reads and seconds
	double cpu_ns = 0, cpu_ios = 0; // CPU time, and the reads it covers
	double enters = 0, cqes = 0;	// io_uring_enter calls, completions
	std::string error;		// the first; later rounds are skipped
	bool ran = false;

	double iops() const
	{
		return secs > 0 && error.empty() ? ios / secs : 0;
	}
	double cpu_per_io_ns() const
	{
		return cpu_ios > 0 ? cpu_ns / cpu_ios : 0;
	}
	double enters_per_io() const { return cqes > 0 ? enters / cqes : 0; }
};

struct IoPoint {
	unsigned qd = 0;
	IoSide tame;  // the main reactor, default options
	IoSide tame0; // a reactor with idle_poll_ns = 0: sleeps like fio
	IoSide fio;
};

std::vector<IoPoint> g_io_points;
std::string g_io_skip; // why section 4 did not run, if it did not
std::string g_io_file;
bool g_io_file_ours; // created by this run: unlink at exit

char g_unlink_on_signal[4096];

void on_signal(int sig)
{
	if (g_unlink_on_signal[0])
		unlink(g_unlink_on_signal);
	signal(sig, SIG_DFL);
	raise(sig);
}

uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0xEF53:
		return "ext2/3/4";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	case 0x858458f6:
		return "ramfs";
	case 0x794c7630:
		return "overlayfs";
	case 0x2fc12fc1:
		return "zfs";
	case 0x6969:
		return "nfs";
	case 0xF2F52010:
		return "f2fs";
	}
	return "other";
}

std::string device_of(const std::string &dir)
{
	struct stat st;
	if (stat(dir.c_str(), &st) != 0)
		return "?";
	char link[64], target[512];
	std::snprintf(link, sizeof(link), "/sys/dev/block/%u:%u",
		      major(st.st_dev), minor(st.st_dev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return "?";
	target[n] = '\0';
	std::string name = std::strrchr(target, '/') + 1;
	std::string q = std::string(link) + "/queue";
	if (access(q.c_str(), F_OK) != 0)
		q = std::string(link) + "/../queue"; // a partition
	std::string sched = read_first_line((q + "/scheduler").c_str());
	std::string rot = read_first_line((q + "/rotational").c_str());
	return name + " (scheduler: " + (sched.empty() ? "?" : sched) +
	       ", rotational " + (rot.empty() ? "?" : rot) + ")";
}

void fill_chunk(char *buf, size_t bytes, uint64_t first_block, uint64_t *rng)
{
	for (size_t b = 0; b < bytes / kIoBlockBytes; b++) {
		auto *w = reinterpret_cast<uint64_t *>(buf + b * kIoBlockBytes);
		w[0] = (first_block + b) ^ kBlockMagic;
		for (size_t i = 1; i < kIoBlockBytes / 8; i++)
			w[i] = xorshift64(rng);
	}
}

bool header_ok(const void *buf, uint64_t block)
{
	uint64_t h;
	std::memcpy(&h, buf, sizeof(h));
	return h == (block ^ kBlockMagic);
}

// Reuse a file a previous --keep_file run left, if it is whole.
bool reusable(const std::string &path, uint64_t bytes)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0 || (uint64_t)st.st_size != bytes ||
	    (uint64_t)st.st_blocks * 512 < bytes)
		return false;
	int fd = open(path.c_str(), O_RDONLY | O_DIRECT);
	if (fd < 0)
		return false;
	void *buf = nullptr;
	bool ok = posix_memalign(&buf, kIoBlockBytes, kIoBlockBytes) == 0;
	uint64_t blocks = bytes / kIoBlockBytes;
	for (uint64_t b : {uint64_t(0), blocks / 2, blocks - 1}) {
		ok = ok && pread(fd, buf, kIoBlockBytes, b * kIoBlockBytes) ==
			       (ssize_t)kIoBlockBytes &&
		     header_ok(buf, b);
	}
	std::free(buf);
	close(fd);
	return ok;
}

// Creates the file with real (random, block-tagged) data. "" or why not.
std::string write_file(const std::string &path, uint64_t bytes)
{
	int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT,
		      0600);
	if (fd < 0 && errno == EINVAL)
		return "the filesystem refuses O_DIRECT (open: EINVAL); "
		       "pass --dir=<a directory on a real disk>";
	if (fd < 0)
		return "cannot create " + path + ": " + std::strerror(errno);
	std::snprintf(g_unlink_on_signal, sizeof(g_unlink_on_signal), "%s",
		      path.c_str());
	g_io_file_ours = true;
	int rc = posix_fallocate(fd, 0, (off_t)bytes);
	if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
		close(fd);
		return "cannot allocate " + std::to_string(bytes >> 20) +
		       " MiB in " + path + ": " + std::strerror(rc);
	}
	const size_t chunk = 1 << 20;
	void *buf = nullptr;
	if (posix_memalign(&buf, kIoBlockBytes, chunk) != 0) {
		close(fd);
		return "out of memory";
	}
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	std::string why;
	for (uint64_t off = 0; off < bytes && why.empty(); off += chunk) {
		size_t n = (size_t)std::min<uint64_t>(chunk, bytes - off);
		fill_chunk((char *)buf, n, off / kIoBlockBytes, &rng);
		ssize_t w = pwrite(fd, buf, n, (off_t)off);
		if (w != (ssize_t)n)
			why = "write to " + path + " failed: " +
			      (w < 0 ? std::strerror(errno) : "short write");
	}
	if (why.empty() && fsync(fd) != 0)
		why = "fsync " + path + ": " + std::strerror(errno);
	std::free(buf);
	close(fd);
	return why;
}

// Checks the directory and prepares the file; "" or why section 4 skips.
std::string prepare_io_file(uint64_t bytes)
{
	const std::string &dir = g_opt.dir;
	struct statfs sfs;
	if (statfs(dir.c_str(), &sfs) != 0)
		return "cannot statfs --dir=" + dir + ": " +
		       std::strerror(errno);
	const char *fs = fs_name(sfs.f_type);
	std::printf("dir:      %s on %s, device %s\n", dir.c_str(), fs,
		    device_of(dir).c_str());
	if (!std::strcmp(fs, "tmpfs") || !std::strcmp(fs, "ramfs"))
		return dir + " is on " + fs +
		       ", not a disk; pass --dir=<a directory on a real "
		       "disk>";
	if (access(dir.c_str(), W_OK | X_OK) != 0)
		return dir + " is not writable (" + std::strerror(errno) +
		       "); pass --dir=<a writable directory on a real disk>";
	char name[64];
	std::snprintf(name, sizeof(name), "/tame_micro.%lluMiB.dat",
		      (unsigned long long)(bytes >> 20));
	g_io_file = dir + name;
	if (reusable(g_io_file, bytes)) {
		std::printf("file:     %s (reused from an earlier "
			    "--keep_file run)\n",
			    g_io_file.c_str());
		return "";
	}
	if ((uint64_t)sfs.f_bavail * sfs.f_bsize < bytes + (256ull << 20))
		return dir + " has too little free space for " +
		       std::to_string(bytes >> 20) +
		       " MiB; lower --file_gib or pick another --dir";
	uint64_t t0 = tame_now_ns();
	std::string why = write_file(g_io_file, bytes);
	if (!why.empty())
		return why;
	double s = (double)(tame_now_ns() - t0) / kNsPerSec;
	std::printf("file:     %s written with random data in %.1f s "
		    "(%.0f MB/s)%s\n",
		    g_io_file.c_str(), s, bytes / s / 1e6,
		    g_opt.keep_file ? ", kept" : ", removed at exit");
	return "";
}

// --- tamerocks side: qd fibers on the main reactor, each read-loops.

// Measured seconds of one slice: --seconds split over --io_rounds.
double slice_seconds() { return g_opt.seconds / g_opt.io_rounds; }

struct IoRun {
	int fd = -1;
	uint64_t blocks = 0;
	uint64_t ramp_end_ns = 0, end_ns = 0;
	bool measuring = false, stopping = false;
	uint64_t ios = 0, ios_start = 0, ios_stop = 0;
	uint64_t t_start = 0, t_stop = 0;
	struct rusage ru_start = {}, ru_stop = {};
	std::string error;
};

struct IoWorker {
	IoRun *run;
	void *buf;
	uint64_t rng;
};

uint64_t cpu_ns(const struct rusage &ru)
{
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		   kNsPerSec +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

// Returns false once the run is over for this worker.
bool io_clock(IoRun *run)
{
	uint64_t now = tame_now_ns();
	if (!run->measuring && now >= run->ramp_end_ns) {
		run->measuring = true;
		run->ios_start = run->ios;
		run->t_start = now;
		getrusage(RUSAGE_SELF, &run->ru_start);
	}
	if (!run->stopping && now >= run->end_ns) {
		run->stopping = true;
		run->ios_stop = run->ios;
		run->t_stop = now;
		getrusage(RUSAGE_SELF, &run->ru_stop);
	}
	return !run->stopping;
}

void io_fail(IoRun *run, const std::string &what)
{
	if (run->error.empty())
		run->error = what;
	if (!run->stopping) {
		run->stopping = true;
		run->t_stop = tame_now_ns();
	}
}

void io_worker(void *p)
{
	auto *w = static_cast<IoWorker *>(p);
	IoRun *run = w->run;
	while (io_clock(run)) {
		uint64_t block = (uint64_t)(((unsigned __int128)xorshift64(
						 &w->rng) *
					     run->blocks) >>
					    64);
		off_t off = (off_t)(block * kIoBlockBytes);
		ssize_t n = tame_io_read(run->fd, w->buf, kIoBlockBytes, off);
		if (n != (ssize_t)kIoBlockBytes) {
			io_fail(run, "tame_io_read(4096 at " +
					 std::to_string(off) + ") = " +
					 std::to_string(n) +
					 (n < 0 ? std::string(" (") +
						      std::strerror((int)-n) +
						      ")"
						: std::string()));
			return;
		}
		if (g_opt.verify && !header_ok(w->buf, block)) {
			io_fail(run, "tame_io_read at offset " +
					 std::to_string(off) +
					 " returned another block's data");
			return;
		}
		run->ios++;
	}
}

// Stops the reactor if a run overstays (a lost completion would hang it).
class Watchdog {
public:
	Watchdog(struct tame_reactor *r, uint64_t timeout_ns)
	    : thread_([this, r, timeout_ns] {
		      std::unique_lock<std::mutex> lk(m_);
		      if (!cv_.wait_for(lk,
					std::chrono::nanoseconds(timeout_ns),
					[this] { return done_; })) {
			      fired_ = true;
			      tame_reactor_stop(r);
		      }
	      })
	{
	}
	~Watchdog()
	{
		{
			std::lock_guard<std::mutex> lk(m_);
			done_ = true;
		}
		cv_.notify_one();
		thread_.join();
	}
	bool fired()
	{
		std::lock_guard<std::mutex> lk(m_);
		return fired_;
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	bool done_ = false, fired_ = false;
	std::thread thread_;
};

// qd fibers on *r for one point. If the run hangs, *r is destroyed and
// set to NULL.
void run_tame_point(struct tame_reactor **r, int fd, uint64_t blocks,
		    unsigned qd, IoSide *out)
{
	IoRun run;
	run.fd = fd;
	run.blocks = blocks;
	out->ran = true;
	std::vector<IoWorker> workers(qd);
	for (unsigned i = 0; i < qd; i++) {
		workers[i].run = &run;
		workers[i].rng = 0x1234567ull + 7919ull * (i + 1) * qd;
		if (posix_memalign(&workers[i].buf, kIoBlockBytes,
				   kIoBlockBytes) != 0)
			workers[i].buf = nullptr;
	}
	struct tame_reactor_stats st0, st1;
	tame_reactor_get_stats(*r, &st0);
	uint64_t t0 = tame_now_ns();
	run.ramp_end_ns = t0 + (uint64_t)(g_opt.ramp_seconds * kNsPerSec);
	run.end_ns = run.ramp_end_ns + (uint64_t)(slice_seconds() * kNsPerSec);
	unsigned spawned = 0;
	for (; spawned < qd && workers[spawned].buf; spawned++) {
		int rc = tame_spawn(*r, io_worker, &workers[spawned]);
		if (rc < 0) {
			io_fail(&run, std::string("tame_spawn: ") +
					  std::strerror(-rc));
			break;
		}
	}
	if (spawned < qd && run.error.empty())
		io_fail(&run, "out of memory for buffers");
	int rc;
	bool hung;
	{
		Watchdog wd(*r, run.end_ns - t0 + 10 * kNsPerSec);
		rc = tame_reactor_run(*r, TAME_RUN_UNTIL_EMPTY);
		hung = wd.fired();
	}
	tame_reactor_get_stats(*r, &st1);
	if (hung) {
		io_fail(&run,
			"reactor still had " + std::to_string(st1.fibers_live) +
			    " fibers 10 s after the end (sqes " +
			    std::to_string(st1.sqes_submitted) + ", cqes " +
			    std::to_string(st1.cqes_reaped) +
			    "): lost completion or wake? stopped it");
	} else if (rc < 0) {
		io_fail(&run, std::string("tame_reactor_run: ") +
				  std::strerror(-rc));
	}
	if (hung) {
		// Fibers are still parked on reads into our buffers: drop the
		// reactor (and its ring) before the buffers.
		tame_reactor_destroy(*r);
		*r = nullptr;
	}
	for (auto &w : workers)
		std::free(w.buf);
	if (!run.error.empty()) {
		out->error = run.error;
		return;
	}
	uint64_t ios = run.ios_stop - run.ios_start;
	out->ios += ios;
	out->secs += (double)(run.t_stop - run.t_start) / kNsPerSec;
	out->cpu_ns += (double)(cpu_ns(run.ru_stop) - cpu_ns(run.ru_start));
	out->cpu_ios += ios;
	// Over the whole run (ramp included): the reactor counts no phases.
	out->enters += (double)(st1.io_enters - st0.io_enters);
	out->cqes += (double)(st1.cqes_reaped - st0.cqes_reaped);
}

// The same point on a fresh reactor that never busy-polls, on a thread of
// its own (a reactor belongs to the thread that creates it).
void run_tame0_point(int fd, uint64_t blocks, unsigned qd, IoSide *out)
{
	std::thread t([=] {
		struct tame_reactor_opts o;
		tame_reactor_opts_init(&o);
		o.name = "bench-poll0";
		o.idle_poll_ns = 0;
		while (o.ring_entries < qd)
			o.ring_entries *= 2;
		struct tame_reactor *r = nullptr;
		int rc = tame_reactor_create(&o, &r);
		if (rc < 0) {
			out->ran = true;
			out->error = std::string("tame_reactor_create: ") +
				     std::strerror(-rc);
			return;
		}
		run_tame_point(&r, fd, blocks, qd, out);
		if (r)
			tame_reactor_destroy(r);
	});
	t.join();
}

// --- fio side.

std::string shell_quote(const std::string &s)
{
	if (!s.empty() &&
	    s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
				"TUVWXYZ0123456789/._-+=:,") == std::string::npos)
		return s;
	std::string q = "'";
	for (char c : s) {
		if (c == '\'')
			q += "'\\''";
		else
			q += c;
	}
	return q + "'";
}

bool json_number(const std::string &json, size_t from, const char *key,
		 double *out)
{
	std::string k = std::string("\"") + key + "\" : ";
	size_t at = json.find(k, from);
	if (at == std::string::npos)
		return false;
	const char *p = json.c_str() + at + k.size();
	char *end = nullptr;
	*out = std::strtod(p, &end);
	return end != p;
}

std::string fio_command(unsigned qd, uint64_t bytes)
{
	char cmd[2048];
	std::snprintf(
	    cmd, sizeof(cmd),
	    "%s --name=tame_micro --filename=%s --size=%llu "
	    "--ioengine=io_uring --direct=1 --rw=randread --bs=4k "
	    "--iodepth=%u --numjobs=1 --time_based --runtime=%llums "
	    "--ramp_time=%llums --norandommap --randrepeat=0 "
	    "--output-format=json",
	    shell_quote(g_opt.fio).c_str(), shell_quote(g_io_file).c_str(),
	    (unsigned long long)bytes, qd,
	    (unsigned long long)std::max(1.0, slice_seconds() * 1000),
	    (unsigned long long)(g_opt.ramp_seconds * 1000));
	return cmd;
}

void run_fio_point(uint64_t bytes, unsigned qd, IoSide *out)
{
	std::string cmd = fio_command(qd, bytes) + " 2>&1";
	out->ran = true;
	FILE *p = popen(cmd.c_str(), "r");
	if (!p) {
		out->error = std::string("popen: ") + std::strerror(errno);
		return;
	}
	std::string json;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		json.append(buf, n);
	int status = pclose(p);
	size_t read_at = json.find("\"read\" : {");
	double iops = 0, ios = 0, read_ms = 0, job_ms = 0, usr = 0, sys = 0;
	double err = 0;
	if (status != 0 || read_at == std::string::npos ||
	    !json_number(json, read_at, "iops", &iops) ||
	    !json_number(json, read_at, "total_ios", &ios) ||
	    (json_number(json, 0, "error", &err) && err != 0)) {
		std::string head = json.substr(0, 400);
		std::replace(head.begin(), head.end(), '\n', ' ');
		out->error = "fio exit status " + std::to_string(status) +
			     ": " + head;
		return;
	}
	// fio's read "runtime" is in ms; fall back on ios / iops.
	if (!json_number(json, read_at, "runtime", &read_ms) || read_ms <= 0)
		read_ms = iops > 0 ? ios / iops * 1e3 : 0;
	out->ios += ios;
	out->secs += read_ms / 1e3;
	if (ios > 0 && json_number(json, 0, "job_runtime", &job_ms) &&
	    json_number(json, 0, "usr_cpu", &usr) &&
	    json_number(json, 0, "sys_cpu", &sys)) {
		out->cpu_ns += (usr + sys) / 100 * job_ms * 1e6;
		out->cpu_ios += ios;
	}
}

bool fio_available(std::string *version)
{
	if (g_opt.fio.empty())
		return false;
	std::string cmd = shell_quote(g_opt.fio) + " --version 2>/dev/null";
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return false;
	char buf[256] = "";
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	int status = pclose(p);
	*version = buf;
	while (!version->empty() && std::isspace((unsigned char)version->back()))
		version->pop_back();
	return status == 0 && !version->empty();
}

std::string io_cell(const IoSide &side, const IoSide &fio, bool with_ratio)
{
	char b[64];
	if (!side.ran)
		return "";
	if (side.iops() <= 0)
		return "failed";
	int n = std::snprintf(b, sizeof(b), "%8.0f", side.iops());
	if (with_ratio) {
		if (fio.iops() > 0)
			n += std::snprintf(b + n, sizeof(b) - n, " %5.2fx",
					   side.iops() / fio.iops());
		else
			n += std::snprintf(b + n, sizeof(b) - n, " %6s", "-");
	}
	if (side.cpu_per_io_ns() > 0)
		n += std::snprintf(b + n, sizeof(b) - n, " %6.1f",
				   side.cpu_per_io_ns() / 1e3);
	if (side.enters_per_io() > 0)
		std::snprintf(b + n, sizeof(b) - n, " %5.2f",
			      side.enters_per_io());
	return b;
}

void print_io_row(const IoPoint &pt)
{
	std::printf("%4u | %-29s | %-29s | %-15s\n", pt.qd,
		    io_cell(pt.tame, pt.fio, true).c_str(),
		    io_cell(pt.tame0, pt.fio, true).c_str(),
		    io_cell(pt.fio, pt.fio, false).c_str());
	const std::pair<const char *, const IoSide *> sides[] = {
	    {"tame", &pt.tame}, {"tame poll0", &pt.tame0}, {"fio", &pt.fio}};
	for (auto &s : sides)
		if (!s.second->error.empty())
			std::printf("     %s error: %s\n", s.first,
				    s.second->error.c_str());
	std::fflush(stdout);
}

// One slice of each side; the order flips every round (fio, poll0, main,
// then main, poll0, fio) so drift in the shared disk favours no side.
void run_io_round(int fd, uint64_t blocks, uint64_t bytes, bool fio,
		  int round, IoPoint *pt)
{
	bool fio_first = round % 2 == 1;
	unsigned qd = pt->qd;
	if (fio && fio_first && pt->fio.error.empty())
		run_fio_point(bytes, qd, &pt->fio);
	if (g_opt.poll0 && fio_first && pt->tame0.error.empty())
		run_tame0_point(fd, blocks, qd, &pt->tame0);
	if (!g_reactor)
		pt->tame.error = "main reactor destroyed after a hang";
	else if (pt->tame.error.empty())
		run_tame_point(&g_reactor, fd, blocks, qd, &pt->tame);
	if (g_opt.poll0 && !fio_first && pt->tame0.error.empty())
		run_tame0_point(fd, blocks, qd, &pt->tame0);
	if (fio && !fio_first && pt->fio.error.empty())
		run_fio_point(bytes, qd, &pt->fio);
}

void run_io_points(int fd, uint64_t bytes, bool fio)
{
	std::printf("%4s | %-29s | %-29s | %-15s\n", "", "tame (main reactor)",
		    "tame (idle poll 0)", "fio io_uring");
	std::printf("%4s | %8s %6s %6s %5s | %8s %6s %6s %5s | %8s %6s\n",
		    "QD", "IOPS", "/fio", "cpu/IO", "ent", "IOPS", "/fio",
		    "cpu/IO", "ent", "IOPS", "cpu/IO");
	std::fflush(stdout);
	uint64_t blocks = bytes / kIoBlockBytes;
	for (unsigned qd = 1; qd <= g_opt.qd_max; qd *= 2) {
		IoPoint pt;
		pt.qd = qd;
		for (int round = 0; round < g_opt.io_rounds; round++)
			run_io_round(fd, blocks, bytes, fio, round, &pt);
		print_io_row(pt);
		g_io_points.push_back(pt);
	}
	std::printf("(/fio = IOPS ratio to fio in the same row; cpu/IO = "
		    "user+sys CPU us per read, ours for the whole process, "
		    "fio's from its job's usr_cpu+sys_cpu; ent = "
		    "io_uring_enter calls per completion, from the reactor's "
		    "stats)\n\n");
}

void run_io()
{
	std::printf("== 4: 4 KiB O_DIRECT random reads, one reactor (one "
		    "thread) vs fio io_uring (numjobs=1)\n");
	uint64_t bytes =
	    (uint64_t)(g_opt.file_gib * (1ull << 30)) & ~((1ull << 20) - 1);
	if (bytes < (1ull << 20)) {
		g_io_skip = "--file_gib below 1 MiB";
		return;
	}
	if (!g_reactor) {
		g_io_skip = "no reactor (tame_reactor_create failed)";
		return;
	}
	g_io_skip = prepare_io_file(bytes);
	if (!g_io_skip.empty())
		return;
	int fd = open(g_io_file.c_str(), O_RDONLY | O_DIRECT);
	if (fd < 0) {
		g_io_skip = "open(O_DIRECT) of " + g_io_file + ": " +
			    std::strerror(errno);
		return;
	}
	std::string fio_version;
	bool fio = fio_available(&fio_version);
	if (fio)
		std::printf("fio:      %s; command (QD 1 shown): %s\n",
			    fio_version.c_str(), fio_command(1, bytes).c_str());
	else
		std::printf("fio:      %s: skipping the fio baseline\n",
			    g_opt.fio.empty() ? "--no_fio"
					      : ("'" + g_opt.fio +
						 "' not found or not runnable")
						    .c_str());
	std::printf("tame:     main reactor %s, idle poll %llu ns; %s; %d "
		    "fiber-local slots; %s\n",
		    g_reactor_backend.c_str(),
		    (unsigned long long)g_opt.idle_poll_ns,
		    g_opt.poll0 ? "rerun on a reactor with idle poll 0"
				: "no idle-poll-0 rerun",
		    tame_fls_count(),
		    g_opt.verify ? "block headers verified"
				 : "data not verified");
	std::printf("timing:   per QD point and side %.2f s measured, as %d "
		    "alternating slices of %.2f s, each after a %.2f s "
		    "unmeasured ramp\n",
		    g_opt.seconds, g_opt.io_rounds, slice_seconds(),
		    g_opt.ramp_seconds);
	run_io_points(fd, bytes, fio);
	close(fd);
}

// ------------------------------------------------- summary

std::string fmt_ns(double ns)
{
	char b[32];
	if (ns < 10)
		std::snprintf(b, sizeof(b), "%.2f ns", ns);
	else if (ns < 10000)
		std::snprintf(b, sizeof(b), "%.1f ns", ns);
	else
		std::snprintf(b, sizeof(b), "%.2f us", ns / 1e3);
	return b;
}

// A row: tamerocks figure (name, scaled) against a baseline figure.
void summary_row(const char *what, const char *tame, double tame_scale,
		 const char *base_label, const char *base, double goal_max)
{
	double t = 0, b = 0;
	bool ht = g_results.get(tame, &t), hb = g_results.get(base, &b);
	t *= tame_scale;
	std::string ts = ht ? fmt_ns(t) : "n/a", bs = hb ? fmt_ns(b) : "n/a";
	char ratio[32] = "-";
	if (ht && hb && b > 0)
		std::snprintf(ratio, sizeof(ratio), "%.3gx", t / b);
	std::string goal;
	if (goal_max > 0 && ht && hb && b > 0) {
		char g[64];
		std::snprintf(g, sizeof(g), "%s (goal <= %.1fx)",
			      t / b <= goal_max ? "ok" : "MISS", goal_max);
		goal = g;
	}
	std::printf("%-40s %11s  %-26s %11s %8s  %s\n", what, ts.c_str(),
		    base_label, bs.c_str(), ratio, goal.c_str());
	auto e = g_results.errors.find(tame);
	if (e != g_results.errors.end())
		std::printf("    error: %s\n", e->second.c_str());
}

void print_summary()
{
	std::printf("== summary (ratio = tamerocks / baseline; for times "
		    "lower is better)\n");
	if (g_opt.micro) {
		std::printf("%-40s %11s  %-26s %11s %8s\n", "tamerocks",
			    "time", "baseline (same run)", "time", "ratio");
		summary_row("fiber switch round trip, 0 FLS slots", kFiber0,
			    1, "raw fcontext round trip", kRaw, 1.5);
		summary_row("fiber switch round trip, 0 FLS slots", kFiber0,
			    1, "fcontext in noinline fns", kWrapped, 0);
		if (g_fls_registered)
			summary_row("fiber switch round trip, 1 FLS slot",
				    kFiber1, 1, "raw fcontext (rerun)", kRawB,
				    1.5);
		summary_row("reactor tame_yield, per yield, 0 FLS", kYield0,
			    0.5, "raw fcontext round trip", kRaw, 0);
		if (g_fls_registered)
			summary_row("reactor tame_yield, per yield, 1 FLS",
				    kYield1, 0.5, "raw fcontext (rerun)",
				    kRawB, 0);
		if (g_fls_rocksdb_registered) {
			summary_row("fiber switch round trip, RocksDB FLS",
				    kFiberR, 1, "raw fcontext (rerun 2)",
				    kRawC, 0);
			summary_row("reactor tame_yield, per yield, RocksDB FLS",
				    kYieldR, 0.5, "raw fcontext (rerun 2)",
				    kRawC, 0);
		}
		summary_row("spawn+run+exit+join a fiber", kSpawn, 1,
			    "pthread_create+join", kPthread, 0);
		summary_row("wake RTT, reactor busy-polling", kWakePoll, 1,
			    "pthread condvar RTT", kCondvar, 0);
		summary_row("wake RTT, reactor sleeping (poll 0)", kWakeSleep,
			    1, "pthread condvar RTT", kCondvar, 0);
		summary_row("wake RTT, reactor sleeping (poll 0)", kWakeSleep,
			    1, "condvar wake + spin ack", kCondHalf, 0);
		summary_row("wake RTT, reactor busy-polling", kWakePoll, 1,
			    "atomic spin RTT (floor)", kSpin, 0);
	}
	if (!g_opt.io)
		return;
	if (!g_io_skip.empty()) {
		std::printf("4 KiB O_DIRECT reads: skipped: %s\n",
			    g_io_skip.c_str());
		return;
	}
	std::printf("%-40s %11s  %-26s %11s %8s\n",
		    "4 KiB O_DIRECT randread, IOPS", "tame",
		    "baseline (same run)", "fio", "ratio");
	for (const IoPoint &pt : g_io_points) {
		const std::pair<const char *, const IoSide *> rows[] = {
		    {"", &pt.tame}, {", reactor idle poll 0", &pt.tame0}};
		for (auto &row : rows) {
			const IoSide &t = *row.second;
			if (!t.ran)
				continue;
			char what[64], ratio[32] = "-";
			std::snprintf(what, sizeof(what), "QD %u%s", pt.qd,
				      row.first);
			std::string goal;
			if (t.iops() > 0 && pt.fio.iops() > 0) {
				double r = t.iops() / pt.fio.iops();
				std::snprintf(ratio, sizeof(ratio), "%.2fx", r);
				if (pt.qd == 64 && &t == &pt.tame)
					goal = r >= 0.9 ? "ok (goal >= 0.90x)"
							: "MISS (goal >= 0.90x)";
			}
			char fio[32] = "n/a";
			if (pt.fio.iops() > 0)
				std::snprintf(fio, sizeof(fio), "%.0f",
					      pt.fio.iops());
			std::printf("%-40s %11.0f  %-26s %11s %8s  %s\n",
				    what, t.iops(), "fio io_uring", fio, ratio,
				    goal.c_str());
		}
	}
}

void cleanup_file()
{
	if (g_io_file_ours && !g_opt.keep_file && !g_io_file.empty())
		unlink(g_io_file.c_str());
	g_unlink_on_signal[0] = '\0';
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<char *> rest;
	int prc = parse_options(argc, argv, &rest);
	if (prc != 0)
		return prc > 0 ? 0 : 2;
	int gb_argc = (int)rest.size() - 1;
	benchmark::Initialize(&gb_argc, rest.data());
	if (benchmark::ReportUnrecognizedArguments(gb_argc, rest.data()))
		return 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct tame_reactor_opts o;
	tame_reactor_opts_init(&o);
	o.name = "bench";
	unsigned ring = TAME_REACTOR_DEFAULT_RING_ENTRIES;
	while (ring < g_opt.qd_max)
		ring *= 2;
	o.ring_entries = ring;
	o.idle_poll_ns = g_opt.idle_poll_ns;
	int rc = tame_reactor_create(&o, &g_reactor);
	if (rc < 0) {
		std::fprintf(stderr,
			     "tame_micro: tame_reactor_create: %s; retrying "
			     "with TAME_REACTOR_SYNC_FALLBACK\n",
			     std::strerror(-rc));
		o.flags |= TAME_REACTOR_SYNC_FALLBACK;
		rc = tame_reactor_create(&o, &g_reactor);
		if (rc < 0)
			g_reactor = nullptr;
	}
	if (g_reactor)
		g_reactor_backend = tame_reactor_backend(g_reactor);
	print_header();

	RecordingReporter rep(isatty(STDOUT_FILENO)
				  ? benchmark::ConsoleReporter::OO_ColorTabular
				  : benchmark::ConsoleReporter::OO_Tabular);
	if (g_opt.micro)
		run_micro(&rep);
	if (g_opt.io)
		run_io();
	cleanup_file();
	print_summary();
	print_load("at end", false);
	if (g_reactor)
		tame_reactor_destroy(g_reactor);
	benchmark::Shutdown();
	return 0;
}
