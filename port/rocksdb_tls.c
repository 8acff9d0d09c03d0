/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RocksDB's thread-local state as fiber-local slots.
 *
 * Fibers of one OS thread share RocksDB's thread_locals unless each gets its
 * own copy. The essential one is ThreadLocalPtr::StaticMeta::tls_, the
 * thread's ThreadData*: ColumnFamilyData leaves kSVInUse in the thread's
 * SuperVersion slot for a whole Get, I/O included, so a second fiber's Get on
 * that thread trips an assert (under NDEBUG, it unrefs a static dummy).
 * perf_level, perf_context and iostats_context hold per-operation settings
 * and counters that interleaved fibers would mix up; EnvLogger even sets
 * perf_level to kDisable around its writes and restores it afterwards.
 *
 * Left per thread on purpose, because sharing them is harmless:
 * - ThreadStatusUpdater::thread_status_data_, ThreadStatusUtil's
 *   thread_updater_local_cache_ and thread_updater_initialized_: the OS
 *   thread's GetThreadList() record (registered only by RocksDB's own pool
 *   threads, NULL on reactor threads) and a cache of the Env's process-wide
 *   updater. They describe the thread, not an operation; at worst fibers blur
 *   the operation shown for their thread.
 * - ConcurrentArena::tls_cpuid: a hint choosing an arena shard; any value is
 *   correct, it only spreads contention.
 * - Random::GetTLSInstance's generator: not exported (a function-local
 *   thread_local), and fibers drawing from one generator harm nothing.
 *
 * Consequences of a fiber-local tls_: a fiber starts with no ThreadData, so
 * its first read allocates one and takes the DB mutex (keep fibers, and so
 * their caches, warm across calls). RocksDB frees a ThreadData from a
 * pthread key destructor: port/'s per-fiber keys run it when the fiber
 * returns; without them it lives until the process ends. Likewise the
 * per-level map of EnablePerLevelPerfContext is freed by a thread_local
 * destructor that sees only the thread's own copy: a fiber that enables it
 * must call ClearPerLevelPerfContext before it returns.
 *
 * The variables are found through librocksdb's exported TLS symbols, not
 * its headers: port/ is C, and their sizes differ between RocksDB builds.
 * A RocksDB linked statically into the program (librocksdb.a: RocksDB's own
 * plugin build and its test programs, or an application's static build)
 * exports nothing: its thread-locals are named only in the program file's
 * .symtab, which is read from /proc/self/exe. A stripped static program has
 * neither, and its fibers share their thread's RocksDB state.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tame_fiber.h"
#include "tame_port.h"

#if defined(__x86_64__) || defined(__aarch64__)
/* The dynamic TLS ABI of these targets: module id and offset into the
 * module's block, no DTV bias (glibc's tls_index, not in a public header). */
struct tame_tls_index {
	unsigned long module;
	unsigned long offset;
};
extern void *__tls_get_addr(struct tame_tls_index *ti);
#define TAME_HAVE_TLS_GET_ADDR 1
#else
#include <dlfcn.h>
#endif

/* ElfW() spelled as type names, which clang-format can read. */
typedef ElfW(Sym) elf_sym_t;
typedef ElfW(Phdr) elf_phdr_t;
typedef ElfW(Dyn) elf_dyn_t;
typedef ElfW(Ehdr) elf_ehdr_t;
typedef ElfW(Shdr) elf_shdr_t;

/* One RocksDB thread_local and, once registered, where it lives. */
struct rocksdb_tls_var {
	const char *name;
	size_t module; /* dlpi_tls_modid of the defining object */
	size_t offset; /* st_value: offset in that object's TLS block */
	bool registered;
};

/* ThreadLocalPtr's first: without it two fibers' reads corrupt memory;
 * the others only give wrong statistics. */
static struct rocksdb_tls_var vars[] = {
    {.name = "_ZN7rocksdb14ThreadLocalPtr10StaticMeta4tls_E"},
    {.name = "_ZN7rocksdb10perf_levelE"},
    {.name = "_ZN7rocksdb12perf_contextE"},
    {.name = "_ZN7rocksdb15iostats_contextE"},
};
#define VAR_COUNT ((int)(sizeof(vars) / sizeof(vars[0])))

static atomic_int slots_registered;
/* A spin lock, not a pthread mutex: port/ interposes those. */
static atomic_flag register_lock = ATOMIC_FLAG_INIT;
/* The initializer being registered; tame_fls_register copies it. */
static unsigned char initial_scratch[TAME_FLS_MAX_BYTES];

/* A definition found in a loaded object. */
struct tls_def {
	size_t module;
	size_t offset;
	size_t size;
	const unsigned char *image;  /* the object's PT_TLS initializer */
	size_t image_bytes;          /* its p_filesz; beyond it, zeroes */
	unsigned char *thread_block; /* this thread's block, if allocated */
};

struct lookup {
	const char *name;
	bool found;
	struct tls_def def;
};

/* The dynamic symbol table of one loaded object. */
struct dynsym {
	const elf_sym_t *symtab;
	const char *strtab;
	const uint32_t *gnu_hash;
	const uint32_t *sysv_hash; /* 32-bit words on x86-64 and AArch64 */
};

static void *resolve_var(void *ctx)
{
	const struct rocksdb_tls_var *v = ctx;
#ifdef TAME_HAVE_TLS_GET_ADDR
	/* Cheaper than dlsym, and also right for a librocksdb that was
	 * dlopen'ed RTLD_LOCAL, which RTLD_DEFAULT does not search. */
	struct tame_tls_index ti = {v->module, v->offset};

	return __tls_get_addr(&ti);
#else
	/* glibc answers an STT_TLS symbol with the calling thread's copy. */
	return dlsym(RTLD_DEFAULT, v->name);
#endif
}

static bool in_object(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const elf_phdr_t *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && addr - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz)
			return true;
	}
	return false;
}

/*
 * glibc adds dlpi_addr to DT_SYMTAB, DT_STRTAB and the hash tables in the
 * loaded dynamic section itself, except where that section is read-only
 * (the vDSO; MIPS and RISC-V objects). Accept whichever reading points into
 * the object; 0 if neither does.
 */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, ElfW(Addr) ptr)
{
	if (in_object(info, ptr))
		return ptr;
	if (in_object(info, info->dlpi_addr + ptr))
		return info->dlpi_addr + ptr;
	return 0;
}

static bool read_dynsym(const struct dl_phdr_info *info, const elf_dyn_t *dyn, struct dynsym *ds)
{
	memset(ds, 0, sizeof(*ds));
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t addr = dyn_addr(info, dyn->d_un.d_ptr);

		if (dyn->d_tag == DT_SYMTAB)
			ds->symtab = (const elf_sym_t *)addr;
		else if (dyn->d_tag == DT_STRTAB)
			ds->strtab = (const char *)addr;
		else if (dyn->d_tag == DT_GNU_HASH)
			ds->gnu_hash = (const uint32_t *)addr;
		else if (dyn->d_tag == DT_HASH)
			ds->sysv_hash = (const uint32_t *)addr;
	}
	return ds->symtab && ds->strtab && (ds->gnu_hash || ds->sysv_hash);
}

static uint32_t gnu_hash_of(const char *name)
{
	uint32_t h = 5381;

	for (; *name; name++)
		h = h * 33 + (unsigned char)*name;
	return h;
}

static uint32_t sysv_hash_of(const char *name)
{
	uint32_t h = 0;

	for (; *name; name++) {
		h = (h << 4) + (unsigned char)*name;
		h ^= (h >> 24) & 0xf0;
		h &= 0x0fffffff;
	}
	return h;
}

/* DT_GNU_HASH: nbuckets, symoffset, bloom words, shift, bloom, buckets,
 * chain. The Bloom filter only saves time and we look up four names once, so
 * it is skipped. */
static const elf_sym_t *gnu_lookup(const struct dynsym *ds, const char *name)
{
	const uint32_t *ht = ds->gnu_hash;
	uint32_t nbuckets = ht[0], symoffset = ht[1];
	const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(ht + 4) + ht[2]);
	const uint32_t *chain = buckets + nbuckets;
	uint32_t h = gnu_hash_of(name);

	uint32_t i;

	if (nbuckets == 0)
		return NULL;
	i = buckets[h % nbuckets];
	if (i == STN_UNDEF || i < symoffset)
		return NULL;
	for (;; i++) {
		uint32_t link = chain[i - symoffset];

		if ((link | 1) == (h | 1) && strcmp(ds->strtab + ds->symtab[i].st_name, name) == 0)
			return &ds->symtab[i];
		/* The low bit ends the bucket's run of symbols. */
		if (link & 1)
			return NULL;
	}
}

/* DT_HASH: nbucket, nchain, buckets, chain. */
static const elf_sym_t *sysv_lookup(const struct dynsym *ds, const char *name)
{
	const uint32_t *ht = ds->sysv_hash;
	uint32_t nbucket = ht[0], nchain = ht[1];
	const uint32_t *chain = ht + 2 + nbucket;

	if (nbucket == 0)
		return NULL;
	for (uint32_t i = ht[2 + sysv_hash_of(name) % nbucket]; i != STN_UNDEF && i < nchain;
	     i = chain[i]) {
		if (strcmp(ds->strtab + ds->symtab[i].st_name, name) == 0)
			return &ds->symtab[i];
	}
	return NULL;
}

static const elf_phdr_t *find_phdr(const struct dl_phdr_info *info, ElfW(Word) type)
{
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == type)
			return &info->dlpi_phdr[i];
	return NULL;
}

/* Fills lk->def from sym, a definition in the object info describes whose
 * TLS segment is tls; false if it is nothing we can swap. */
static bool tls_def_from(struct lookup *lk, const struct dl_phdr_info *info,
			 const elf_phdr_t *tls, const elf_sym_t *sym)
{
	/* ELF64_ST_TYPE is ELF32_ST_TYPE: the low four bits. */
	if (ELF64_ST_TYPE(sym->st_info) != STT_TLS || sym->st_shndx == SHN_UNDEF)
		return false;
	/* A zero-sized or out-of-segment definition is nothing we can swap. */
	if (sym->st_size == 0 || sym->st_value > tls->p_memsz ||
	    sym->st_size > tls->p_memsz - sym->st_value)
		return false;
	lk->def = (struct tls_def){
	    .module = info->dlpi_tls_modid,
	    .offset = sym->st_value,
	    .size = sym->st_size,
	    .image = (const unsigned char *)(info->dlpi_addr + tls->p_vaddr),
	    .image_bytes = tls->p_filesz,
	    .thread_block = info->dlpi_tls_data,
	};
	lk->found = true;
	return true;
}

/*
 * dl_iterate_phdr callback: stop at the first object (the main program
 * first, then load order: the order in which the dynamic linker binds
 * RocksDB's own references) that defines lk->name as a TLS variable.
 */
static int find_in_object(struct dl_phdr_info *info, size_t info_bytes, void *arg)
{
	struct lookup *lk = arg;
	const elf_phdr_t *tls, *dyn;
	const elf_sym_t *sym;
	struct dynsym ds;

	if (info_bytes < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(void *))
		return 0;
	tls = find_phdr(info, PT_TLS);
	dyn = find_phdr(info, PT_DYNAMIC);
	if (!tls || !dyn || info->dlpi_tls_modid == 0)
		return 0;
	if (!read_dynsym(info, (const elf_dyn_t *)(info->dlpi_addr + dyn->p_vaddr), &ds))
		return 0;
	sym = ds.gnu_hash ? gnu_lookup(&ds, lk->name) : sysv_lookup(&ds, lk->name);
	return sym && tls_def_from(lk, info, tls, sym);
}

/* dl_iterate_phdr callback: the first object is the main program. */
static int first_object(struct dl_phdr_info *info, size_t info_bytes, void *arg)
{
	if (info_bytes >= offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(void *))
		*(struct dl_phdr_info *)arg = *info;
	return 1;
}

/* lk->name among the symbols of one SHT_SYMTAB section of a mapped ELF
 * file of map_bytes bytes; NULL if absent or if the section is malformed. */
static const elf_sym_t *symtab_lookup(const unsigned char *map, size_t map_bytes,
				      const elf_shdr_t *shdrs, unsigned shnum,
				      const elf_shdr_t *symtab, const char *name)
{
	const elf_shdr_t *str;
	size_t n;

	if (symtab->sh_link >= shnum || symtab->sh_entsize != sizeof(elf_sym_t) ||
	    symtab->sh_offset > map_bytes || symtab->sh_size > map_bytes - symtab->sh_offset)
		return NULL;
	str = &shdrs[symtab->sh_link];
	if (str->sh_offset > map_bytes || str->sh_size > map_bytes - str->sh_offset ||
	    str->sh_size == 0 || map[str->sh_offset + str->sh_size - 1] != '\0')
		return NULL;
	n = symtab->sh_size / sizeof(elf_sym_t);
	for (size_t i = 0; i < n; i++) {
		const elf_sym_t *sym = (const elf_sym_t *)(map + symtab->sh_offset) + i;

		if (sym->st_name < str->sh_size &&
		    strcmp((const char *)map + str->sh_offset + sym->st_name, name) == 0)
			return sym;
	}
	return NULL;
}

/* The main program's file (/proc/self/exe), mapped read-only; NULL if it
 * cannot be read or is too short to be an ELF file. munmap it when done. */
static unsigned char *map_program_file(size_t *bytes)
{
	unsigned char *map;
	struct stat st;
	int fd;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(elf_ehdr_t)) {
		close(fd);
		return NULL;
	}
	*bytes = (size_t)st.st_size;
	map = mmap(NULL, *bytes, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return map == MAP_FAILED ? NULL : map;
}

/* lk->name in the main program's .symtab, read from /proc/self/exe. */
static void find_in_program_symtab(struct lookup *lk)
{
	struct dl_phdr_info prog = {0};
	const elf_phdr_t *tls;
	const elf_ehdr_t *eh;
	const elf_shdr_t *shdrs;
	unsigned char *map;
	size_t bytes;

	dl_iterate_phdr(first_object, &prog);
	tls = prog.dlpi_phdr ? find_phdr(&prog, PT_TLS) : NULL;
	if (!tls || prog.dlpi_tls_modid == 0)
		return;
	map = map_program_file(&bytes);
	if (!map)
		return;
	eh = (const elf_ehdr_t *)map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
	    eh->e_shentsize == sizeof(elf_shdr_t) && eh->e_shoff <= bytes &&
	    (size_t)eh->e_shnum * sizeof(elf_shdr_t) <= bytes - eh->e_shoff) {
		shdrs = (const elf_shdr_t *)(map + eh->e_shoff);
		for (unsigned i = 0; i < eh->e_shnum && !lk->found; i++) {
			const elf_sym_t *sym;

			if (shdrs[i].sh_type != SHT_SYMTAB)
				continue;
			sym = symtab_lookup(map, bytes, shdrs, eh->e_shnum, &shdrs[i], lk->name);
			if (sym)
				tls_def_from(lk, &prog, tls, sym);
		}
	}
	munmap(map, bytes);
}

/* The value a new thread starts with (perf_level's is kEnableCount, not 0),
 * not the calling thread's current one. */
static void copy_initial(const struct tls_def *def, unsigned char *out)
{
	size_t n = 0;

	if (def->offset < def->image_bytes)
		n = def->image_bytes - def->offset;
	if (n > def->size)
		n = def->size;
	memcpy(out, def->image + def->offset, n);
	memset(out + n, 0, def->size - n);
}

/* Registers v if a loaded object defines it. Returns 0 (also when not
 * found) or tame_fls_register's -errno. Called with register_lock held. */
static int register_var(struct rocksdb_tls_var *v)
{
	struct lookup lk = {.name = v->name};
	int slot;

	dl_iterate_phdr(find_in_object, &lk);
	if (!lk.found)
		find_in_program_symtab(&lk);
	if (!lk.found)
		return 0;
	if (lk.def.size > sizeof(initial_scratch))
		return -ENOSPC;
	copy_initial(&lk.def, initial_scratch);
	v->module = lk.def.module;
	v->offset = lk.def.offset;
	/* The resolver must name the block the walk found: the TLS ABI check. */
	if (lk.def.thread_block)
		assert(resolve_var(v) == lk.def.thread_block + lk.def.offset);
	slot = tame_fls_register(resolve_var, v, lk.def.size, initial_scratch);
	if (slot < 0)
		return slot;
	v->registered = true;
	atomic_fetch_add_explicit(&slots_registered, 1, memory_order_release);
	return 0;
}

int tame_port_register_rocksdb_tls(void)
{
	int rc = 0;

	/* Once all are registered, later calls cost one load; until then each
	 * call looks again, so a librocksdb dlopen'ed later is still found. */
	if (tame_port_rocksdb_tls_slots() == VAR_COUNT)
		return VAR_COUNT;
	/* Nothing in here may park (say, on a lock inside dl_iterate_phdr
	 * that an interposer serves): another fiber of this thread spinning
	 * below would never let the holder resume. */
	tame_noyield_enter();
	while (atomic_flag_test_and_set_explicit(&register_lock, memory_order_acquire))
		;
	for (int i = 0; i < VAR_COUNT && rc == 0; i++)
		if (!vars[i].registered)
			rc = register_var(&vars[i]);
	atomic_flag_clear_explicit(&register_lock, memory_order_release);
	tame_noyield_exit();
	return rc < 0 ? rc : tame_port_rocksdb_tls_slots();
}

int tame_port_rocksdb_tls_slots(void)
{
	return atomic_load_explicit(&slots_registered, memory_order_acquire);
}

/* Whether the program file holds RocksDB's code: util/build_version.cc's
 * "rocksdb_build_git_sha:..." string is in its read-only data whenever
 * RocksDB is linked in, stripped or not. Looked for in two pieces, so that
 * tamerocks' own objects linked into a program do not contain it. */
static bool program_file_holds_rocksdb(void)
{
	static const char head[] = "rocksdb_build_";
	static const char tail[] = "git_sha:";
	const unsigned char *p, *end;
	unsigned char *map;
	size_t bytes;
	bool found = false;

	map = map_program_file(&bytes);
	if (!map)
		return false;
	end = map + bytes;
	for (p = map; !found && p < end; p++) {
		p = memmem(p, (size_t)(end - p), head, sizeof(head) - 1);
		if (!p)
			break;
		found = (size_t)(end - p) >= sizeof(head) - 1 + sizeof(tail) - 1 &&
			memcmp(p + sizeof(head) - 1, tail, sizeof(tail) - 1) == 0;
	}
	munmap(map, bytes);
	return found;
}

int tame_port_check_rocksdb_tls(void)
{
	/* -1 not yet known; 0 fibers may run RocksDB; 1 refused. */
	static atomic_int refused = -1;
	int slots = tame_port_register_rocksdb_tls();
	int known;

	if (slots != 0)
		return slots < 0 ? slots : 0;
	known = atomic_load_explicit(&refused, memory_order_acquire);
	if (known < 0) {
		known = program_file_holds_rocksdb() ? 1 : 0;
		if (atomic_exchange(&refused, known) < 0 && known)
			fprintf(stderr,
				"tamerocks: port: this program contains RocksDB, but RocksDB's "
				"thread-locals are neither exported nor named in its symbol table "
				"(a statically linked RocksDB in a stripped program), so fibers "
				"cannot each have their own RocksDB state; tame_call pools (and the "
				"Env) are refused (-ENOTSUP). Link librocksdb.so, or keep the "
				"program's symbol table (do not strip it, or strip only debug "
				"information: strip --strip-debug).\n");
	}
	return known ? -ENOTSUP : 0;
}
