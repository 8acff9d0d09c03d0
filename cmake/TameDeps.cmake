# Dependencies, from Debian 12 packages only. Each failure names the package.
include(CheckCSourceCompiles)
include(CheckIncludeFile)
find_package(PkgConfig)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

function(tame_missing pkg what)
  message(FATAL_ERROR "tamerocks: ${what} not found. Install it with: apt-get install ${pkg}")
endfunction()

# liburing (liburing-dev)
if(PkgConfig_FOUND)
  pkg_check_modules(URING IMPORTED_TARGET liburing>=2.3)
endif()
if(NOT URING_FOUND)
  tame_missing(liburing-dev "liburing >= 2.3 (pkg-config liburing)")
endif()
add_library(tame::uring ALIAS PkgConfig::URING)

# boost.context (libboost-context-dev)
find_package(boost_context CONFIG QUIET)
if(NOT boost_context_FOUND)
  tame_missing(libboost-context-dev "boost.context (CMake package boost_context)")
endif()
add_library(tame::boost_context ALIAS Boost::context)

# Boost <= 1.86 exports the C jump_fcontext/make_fcontext symbols; later
# releases hide them. Link the C symbols when we can, else use a C++ wrapper.
set(CMAKE_REQUIRED_LIBRARIES Boost::context)
check_c_source_compiles("
typedef void *fcontext_t;
typedef struct { fcontext_t fctx; void *data; } transfer_t;
extern transfer_t jump_fcontext(fcontext_t const to, void *vp);
extern fcontext_t make_fcontext(void *sp, unsigned long size, void (*fn)(transfer_t));
int main(void) { return make_fcontext != 0 && jump_fcontext != 0 ? 0 : 1; }
" TAME_HAVE_FCONTEXT_C_SYMBOLS)
unset(CMAKE_REQUIRED_LIBRARIES)
if(TAME_HAVE_FCONTEXT_C_SYMBOLS AND NOT TAME_FORCE_FCONTEXT_WRAPPER)
  set(TAME_FCONTEXT_WRAPPER OFF)
  message(STATUS "tamerocks: fcontext backend: Boost's exported C symbols")
else()
  set(TAME_FCONTEXT_WRAPPER ON)
  message(STATUS "tamerocks: fcontext backend: C++ wrapper (fiber/fcontext_wrap.cc)")
endif()

check_include_file(valgrind/valgrind.h TAME_HAVE_VALGRIND_H)

if(TAME_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND)
    tame_missing("libgtest-dev libgmock-dev" "googletest (CMake package GTest)")
  endif()
endif()
if(TAME_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT benchmark_FOUND)
    tame_missing(libbenchmark-dev "Google Benchmark (CMake package benchmark)")
  endif()
endif()
