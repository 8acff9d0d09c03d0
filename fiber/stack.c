/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fiber stack mappings: page-rounded, a PROT_NONE guard below, pooled per
 * thread. A fault in a fiber's guard is reported by a SIGSEGV handler that
 * runs on an alternate signal stack (the faulting stack has no room left).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber_internal.h"

#define POOL_DEFAULT_LIMIT 128
#define ALTSTACK_MIN_BYTES ((size_t)64 * 1024)

struct pooled_stack {
	struct pooled_stack *next;
	size_t map_bytes;
};

struct stack_thread {
	struct pooled_stack *pool;
	size_t pool_len;
	size_t pool_limit;
	void *altstack;
	size_t altstack_bytes;
	bool prepared;
	bool limit_set;
};

static __thread struct stack_thread stack_thread TAME_TLS_IE;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;
static pthread_key_t stack_key;
static struct sigaction prev_segv;
static size_t page_bytes;

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

size_t tame_stack_header_bytes(void)
{
	size_t need = 64 + TAME_FLS_MAX_BYTES + TAME_FIBER_MAX_LOCAL_BYTES;

	need += (sizeof(struct tame_fiber) + 63) & ~(size_t)63;
	return round_up(need, page_bytes);
}

/* --- the overflow reporter (async-signal-safe: write(2) only) --------- */

static size_t fmt_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

static size_t fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static void report_overflow(const struct tame_fiber *f)
{
	char msg[512];
	size_t n = 0;

	n += fmt_str(msg + n, "tamerocks: fiber '");
	n += fmt_str(msg + n, f->name);
	n += fmt_str(msg + n, "' (id ");
	n += fmt_u64(msg + n, f->id);
	n += fmt_str(msg + n, ") hit its stack guard: stack overflow of its ");
	n += fmt_u64(msg + n, f->stack_bytes);
	n += fmt_str(msg + n, "-byte stack. Raise the fiber stack size "
			      "(tame_reactor_opts.stack_bytes, the stack_bytes "
			      "URI option, or tame_fiber_attr.stack_bytes).\n");
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(134);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	const struct tame_fiber *f = tame_fiber_current_;
	const char *addr = si->si_addr;

	if (f && addr >= f->map_base && addr < f->stack_lo) {
		report_overflow(f);
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	if (prev_segv.sa_flags & SA_SIGINFO) {
		prev_segv.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_segv.sa_handler == SIG_IGN || prev_segv.sa_handler == SIG_DFL) {
		/* Returning re-executes the faulting access under SIG_DFL. */
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	prev_segv.sa_handler(sig);
}

static void release_thread(void *arg)
{
	struct stack_thread *st = arg;
	stack_t ss = {.ss_flags = SS_DISABLE};
	stack_t cur;

	tame_fiber_pool_trim();
	if (st->altstack && sigaltstack(NULL, &cur) == 0 && cur.ss_sp == st->altstack) {
		sigaltstack(&ss, NULL);
		munmap(st->altstack, st->altstack_bytes);
	}
	st->altstack = NULL;
	st->prepared = false;
}

static void stack_init_once(void)
{
	struct sigaction sa;

	page_bytes = (size_t)sysconf(_SC_PAGESIZE);
	pthread_key_create(&stack_key, release_thread);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
}

static int install_altstack(struct stack_thread *st)
{
	long min = sysconf(_SC_SIGSTKSZ);
	size_t bytes = ALTSTACK_MIN_BYTES;
	stack_t cur, ss;

	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0; /* the application brought its own */
	if (min > 0 && (size_t)min > bytes)
		bytes = round_up((size_t)min, page_bytes);
	ss.ss_sp = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return -ENOMEM;
	ss.ss_size = bytes;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0) {
		int err = -errno;

		munmap(ss.ss_sp, bytes);
		return err;
	}
	st->altstack = ss.ss_sp;
	st->altstack_bytes = bytes;
	return 0;
}

int tame_stack_thread_prepare(void)
{
	struct stack_thread *st = &stack_thread;
	int ret;

	if (st->prepared)
		return 0;
	pthread_once(&stack_once, stack_init_once);
	ret = install_altstack(st);
	if (ret < 0)
		return ret;
	if (!st->limit_set)
		st->pool_limit = POOL_DEFAULT_LIMIT;
	pthread_setspecific(stack_key, st);
	st->prepared = true;
	return 0;
}

/* --- mappings and the pool ----------------------------------------- */

static char *pooled_base(struct pooled_stack *p)
{
	return (char *)p - (p->map_bytes - tame_stack_header_bytes());
}

int tame_stack_map(size_t stack_bytes, char **map_base, size_t *map_bytes)
{
	struct stack_thread *st = &stack_thread;
	size_t bytes = TAME_FIBER_GUARD_BYTES + round_up(stack_bytes, page_bytes) +
		       tame_stack_header_bytes();
	struct pooled_stack *p = st->pool;
	char *base;

	if (p && p->map_bytes == bytes) {
		st->pool = p->next;
		st->pool_len--;
		*map_base = pooled_base(p);
		*map_bytes = bytes;
		return 0;
	}
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(base, TAME_FIBER_GUARD_BYTES, PROT_NONE) < 0) {
		munmap(base, bytes);
		return -ENOMEM;
	}
	*map_base = base;
	*map_bytes = bytes;
	return 0;
}

void tame_stack_unmap(char *map_base, size_t map_bytes)
{
	struct stack_thread *st = &stack_thread;
	struct pooled_stack *p;

	if (st->pool_len >= st->pool_limit) {
		munmap(map_base, map_bytes);
		return;
	}
	/* The link lives in the header block, which stays mapped and writable. */
	p = (struct pooled_stack *)(map_base + map_bytes - tame_stack_header_bytes());
	p->map_bytes = map_bytes;
	p->next = st->pool;
	st->pool = p;
	st->pool_len++;
}

void tame_fiber_pool_trim(void)
{
	struct stack_thread *st = &stack_thread;

	while (st->pool) {
		struct pooled_stack *p = st->pool;
		size_t bytes = p->map_bytes;

		st->pool = p->next;
		munmap(pooled_base(p), bytes);
	}
	st->pool_len = 0;
}

size_t tame_fiber_pool_set_limit(size_t stacks)
{
	struct stack_thread *st = &stack_thread;
	size_t old = st->limit_set ? st->pool_limit : POOL_DEFAULT_LIMIT;

	st->pool_limit = stacks;
	st->limit_set = true;
	while (st->pool_len > stacks) {
		struct pooled_stack *p = st->pool;
		size_t bytes = p->map_bytes;

		st->pool = p->next;
		st->pool_len--;
		munmap(pooled_base(p), bytes);
	}
	return old;
}
