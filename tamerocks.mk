# tamerocks as a RocksDB in-tree plugin: plugin/tamerocks/tamerocks.mk.
# See docs/plugin.md. Its readers:
#   - RocksDB's Makefile includes it (make ROCKSDB_PLUGINS=tamerocks ...);
#   - RocksDB's CMakeLists.txt regex-reads the FIRST line of each of the
#     three kinds below (list of C++ files, registrar, libraries);
#   - cmake/RocksDBPlugin.cmake reads the C core list and the headers, and
#     scripts/rocksdb_plugin_test.sh the libraries.
# So: keep each of those assignments on one line, with exactly " = ", above
# every other assignment whose name ends the same way, and keep the
# registrar's name here only.

# C++ sources (env/), relative to plugin/tamerocks. Only .cc files here: the
# make section below adds the C core its own way.
tamerocks_SOURCES = env/tame_fs.cc env/tame_env.cc env/tame_uri.cc env/tame_register.cc env/tame_rocksdb_c.cc
# The registrar, extern "C" in env/tame_register.cc. RocksDB declares it in
# its generated build_version.cc and calls it from the ObjectRegistry
# constructor; that reference also pulls tame_register.o out of a static
# librocksdb.a, so no -u linker flag is needed in either build.
tamerocks_FUNC = tamerocks_reg
# Libraries without the -l.
tamerocks_LIBS = uring boost_context pthread
# Installed under include/rocksdb/plugin/tamerocks by make install.
tamerocks_HEADERS = env/tame_register.h env/tame_rocksdb_c.h
# The C11 core (fiber/, reactor/): compiled as C by CMake (cmake/RocksDBPlugin.cmake)
# and by the make rules below.
tamerocks_CORE_SRCS = fiber/fiber.c fiber/stack.c fiber/fls.c reactor/reactor.c reactor/io.c reactor/inbox.c reactor/timer.c reactor/submit_tune.c reactor/call.c port/parking_lot.c port/sync.c port/interpose.c port/keys.c port/rocksdb_tls.c

# ---- make build only -------------------------------------------------------
# RocksDB's Makefile turns each plugin source into a library object with
# $(patsubst %.cc,$(OBJ_DIR)/%.o,...): a .c name would pass through
# unchanged and be archived as a source file, and LIB_SOURCES_C is used on
# POWER only. So each core file x.c is listed under the name x.c.cc, which
# exists nowhere: its object $(OBJ_DIR)/plugin/tamerocks/x.c.o comes from
# the static pattern rule below, which compiles x.c with $(CC). The objects
# land in LIB_OBJECTS, i.e. in librocksdb.a / librocksdb.so themselves, like
# the env/ objects; no separate library to build, install or link.
tamerocks_DIR := plugin/tamerocks
tamerocks_SOURCES += $(addsuffix .cc,$(tamerocks_CORE_SRCS))
tamerocks_CORE_OBJECTS := $(patsubst %,$(OBJ_DIR)/$(tamerocks_DIR)/%.o,$(tamerocks_CORE_SRCS))

# Boost <= 1.86 exports the C jump_fcontext symbols the core calls. With a
# later Boost, build with tamerocks_FCONTEXT_WRAPPER=1 (the CMake build
# detects this by itself).
tamerocks_FCONTEXT_WRAPPER ?= 0
tamerocks_CORE_CFLAGS := -std=gnu11 -fexceptions -D_GNU_SOURCE -I$(tamerocks_DIR)/fiber -I$(tamerocks_DIR)/reactor -I$(tamerocks_DIR)/port
ifeq ($(tamerocks_FCONTEXT_WRAPPER),1)
tamerocks_SOURCES += fiber/fcontext_wrap.cc
tamerocks_CORE_CFLAGS += -DTAME_FCONTEXT_WRAPPER=1
endif
ifeq ($(shell $(CC) -E -x c -include valgrind/valgrind.h /dev/null >/dev/null 2>&1 && echo y),y)
tamerocks_CORE_CFLAGS += -DTAME_HAVE_VALGRIND_H=1
endif

# gnu11: the core uses __thread, _Atomic and statement expressions.
$(tamerocks_CORE_OBJECTS): $(OBJ_DIR)/$(tamerocks_DIR)/%.o: $(tamerocks_DIR)/%
	$(AM_V_CC)mkdir -p $(@D) && $(CC) $(CFLAGS) $(tamerocks_CORE_CFLAGS) -c $< -o $@

# Header dependencies, where RocksDB looks for them ($(OBJ_DIR)/<source>.d).
$(patsubst %.o,%.cc.d,$(tamerocks_CORE_OBJECTS)): $(OBJ_DIR)/$(tamerocks_DIR)/%.cc.d: $(tamerocks_DIR)/%
	@mkdir -p $(@D) && $(CC) $(CFLAGS) $(tamerocks_CORE_CFLAGS) -MM -MT'$@' \
	  -MT'$(@:.cc.d=.o)' $< -o $@

# env/ includes the core's public headers. Registration goes through
# tamerocks_FUNC only: no second registration from a static initializer.
tamerocks_CXXFLAGS = -I$(tamerocks_DIR)/fiber -I$(tamerocks_DIR)/reactor -I$(tamerocks_DIR)/port -DTAMEROCKS_NO_STATIC_REGISTRATION
tamerocks_LDFLAGS = $(addprefix -l,$(tamerocks_LIBS))
