/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pthread keys, per fiber on a fiber.
 *
 * Keys themselves come from glibc (so thread values and thread-exit
 * destructors stay glibc's); tamerocks remembers each key's destructor and a
 * generation, and keeps a fiber's values in a two-level table hung off the
 * fiber (tame_fiber_keys_slot). A value stored under an older generation of
 * a key does not count, as glibc forgets values of a deleted and re-created
 * key. When the fiber finishes, the destructors run on it, up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds, as at thread exit.
 *
 * One exception: keys the sanitizer runtimes create stay per thread. ASan
 * finds the descriptor of the thread it runs on (its stack bounds) under a
 * key; per fiber it would read NULL there and misjudge every stack.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "port_internal.h"
#include "tame_fiber.h"

#define KEY_BLOCK 32u
#define KEY_BLOCKS ((PTHREAD_KEYS_MAX + KEY_BLOCK - 1) / KEY_BLOCK)

typedef void (*key_dtor_fn)(void *);

struct key_entry {
	void *value;
	uint32_t gen;
};

struct fiber_keys {
	struct key_entry *block[KEY_BLOCKS];
};

static _Atomic(key_dtor_fn) key_dtor[PTHREAD_KEYS_MAX];
static _Atomic uint32_t key_gen[PTHREAD_KEYS_MAX];
static bool key_thread_only[PTHREAD_KEYS_MAX];

/* Is the code at pc part of a sanitizer runtime? */
static bool in_sanitizer_runtime(const void *pc)
{
	static const char *const names[] = {"/libasan.", "/libubsan.", "/liblsan.",
					    "/libtsan.", "/libclang_rt."};
	Dl_info info;

	if (!dladdr(pc, &info) || !info.dli_fname)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(info.dli_fname, names[i]))
			return true;
	return false;
}

static void fiber_keys_exit(struct tame_fiber *f);

int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	int r = REAL(pthread_key_create, "GLIBC_2.34", key, dtor);

	if (r == 0 && *key < PTHREAD_KEYS_MAX) {
		key_thread_only[*key] = in_sanitizer_runtime(__builtin_return_address(0));
		atomic_store_explicit(&key_dtor[*key], dtor, memory_order_relaxed);
		atomic_fetch_add_explicit(&key_gen[*key], 1, memory_order_release);
	}
	return r;
}

int pthread_key_delete(pthread_key_t key)
{
	int r = REAL(pthread_key_delete, "GLIBC_2.34", key);

	if (r == 0 && key < PTHREAD_KEYS_MAX) {
		key_thread_only[key] = false;
		atomic_store_explicit(&key_dtor[key], NULL, memory_order_relaxed);
		atomic_fetch_add_explicit(&key_gen[key], 1, memory_order_release);
	}
	return r;
}

static struct key_entry *entry_of(struct tame_fiber *f, pthread_key_t key, bool create)
{
	void **slot = tame_fiber_keys_slot(f);
	struct fiber_keys *k = *slot;
	struct key_entry **block;

	if (!k) {
		if (!create)
			return NULL;
		tame_fiber_set_exit_hook(fiber_keys_exit);
		if (!(k = calloc(1, sizeof(*k))))
			return NULL;
		*slot = k;
	}
	block = &k->block[key / KEY_BLOCK];
	if (!*block) {
		if (!create || !(*block = calloc(KEY_BLOCK, sizeof(**block))))
			return NULL;
	}
	return &(*block)[key % KEY_BLOCK];
}

void *pthread_getspecific(pthread_key_t key)
{
	struct tame_fiber *f = tame_fiber_self();
	struct key_entry *e;

	if (!f || (key < PTHREAD_KEYS_MAX && key_thread_only[key]))
		return REAL(pthread_getspecific, "GLIBC_2.34", key);
	if (key >= PTHREAD_KEYS_MAX || !(e = entry_of(f, key, false)))
		return NULL;
	if (e->gen != atomic_load_explicit(&key_gen[key], memory_order_acquire))
		return NULL;
	return e->value;
}

int pthread_setspecific(pthread_key_t key, const void *value)
{
	struct tame_fiber *f = tame_fiber_self();
	struct key_entry *e;
	uint32_t gen;

	if (!f || (key < PTHREAD_KEYS_MAX && key_thread_only[key]))
		return REAL(pthread_setspecific, "GLIBC_2.34", key, value);
	if (key >= PTHREAD_KEYS_MAX)
		return EINVAL;
	gen = atomic_load_explicit(&key_gen[key], memory_order_acquire);
	if (gen && !(gen & 1))
		return EINVAL; /* deleted (0: created before tamerocks saw it) */
	if (!(e = entry_of(f, key, true)))
		return ENOMEM;
	e->value = (void *)value;
	e->gen = gen;
	return 0;
}

/* One round of destructors; returns how many ran. */
static int run_destructors(struct fiber_keys *k)
{
	int ran = 0;

	for (unsigned b = 0; b < KEY_BLOCKS; b++) {
		if (!k->block[b])
			continue;
		for (unsigned i = 0; i < KEY_BLOCK; i++) {
			struct key_entry *e = &k->block[b][i];
			unsigned key = b * KEY_BLOCK + i;
			key_dtor_fn dtor = atomic_load_explicit(&key_dtor[key], memory_order_relaxed);
			void *v = e->value;

			if (!v || e->gen != atomic_load_explicit(&key_gen[key], memory_order_acquire))
				continue;
			e->value = NULL;
			if (dtor) {
				dtor(v);
				ran++;
			}
		}
	}
	return ran;
}

static void fiber_keys_exit(struct tame_fiber *f)
{
	void **slot = tame_fiber_keys_slot(f);
	struct fiber_keys *k = *slot;

	for (int round = 0; k && round < PTHREAD_DESTRUCTOR_ITERATIONS; round++)
		if (!run_destructors(k))
			break;
	*slot = NULL;
	if (!k)
		return;
	for (unsigned b = 0; b < KEY_BLOCKS; b++)
		free(k->block[b]);
	free(k);
}
