# tamerocks as a RocksDB in-tree plugin, CMake side (docs/plugin.md).
#
# RocksDB's CMakeLists.txt runs add_subdirectory(plugin/tamerocks) for
# -DROCKSDB_PLUGINS=tamerocks; our top-level CMakeLists.txt then includes
# this file and returns. Nothing is built here: we hand RocksDB variables,
# with PARENT_SCOPE, and it compiles our sources into librocksdb itself.
#
# What RocksDB takes from where (RocksDB 7.8 CMakeLists.txt):
#   tamerocks.mk, regex-read by RocksDB: the first "SOURCES = " line (our
#     .cc files, as plugin/tamerocks/<file>), the first "_FUNC = " line (the
#     registrar, called from the ObjectRegistry constructor) and the first
#     "_LIBS = " line (linked into librocksdb). They are not repeated here,
#     or RocksDB would compile and link them twice.
#   this file: tamerocks_SOURCES = the C core (fiber/, reactor/), compiled
#     by the C compiler with tamerocks_COMPILE_FLAGS (RocksDB applies those
#     flags only to the files listed here); tamerocks_INCLUDE_PATHS, given
#     to include_directories() of every RocksDB target; tamerocks_HEADERS
#     for install.
# No -u linker flag: the generated build_version.cc refers to the registrar,
# which pulls env/tame_register.o out of a static librocksdb.a.

# Dependency checks (liburing, boost.context, the fcontext backend,
# valgrind.h), shared with our own build. Tests and benchmarks stay off.
set(TAME_BUILD_TESTS OFF)
set(TAME_BUILD_BENCH OFF)
include(${CMAKE_CURRENT_LIST_DIR}/TameDeps.cmake)

set(_tame_dir ${CMAKE_CURRENT_SOURCE_DIR})
get_directory_property(_tame_rocksdb_dir PARENT_DIRECTORY)
set(_tame_mk_file ${_tame_dir}/tamerocks.mk)
file(READ ${_tame_mk_file} _tame_mk)
# RocksDB reads it too: an edit must re-run CMake.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_tame_mk_file})

# tamerocks.mk holds every file list and name once; read one of its
# single-line "name = value" assignments into a list.
macro(tame_mk_value name out)
  if(NOT _tame_mk MATCHES "(^|\n)${name} = ([^\n]*)")
    message(FATAL_ERROR "tamerocks: ${_tame_mk_file} has no single-line '${name} = ...'")
  endif()
  separate_arguments(${out} UNIX_COMMAND "${CMAKE_MATCH_2}")
endmacro()

tame_mk_value(tamerocks_CORE_SRCS _tame_core_srcs)
tame_mk_value(tamerocks_HEADERS _tame_headers)

set(_tame_sources ${_tame_core_srcs})
set(_tame_flags -D_GNU_SOURCE)
if(TAME_FCONTEXT_WRAPPER)
  list(APPEND _tame_sources fiber/fcontext_wrap.cc)
  list(APPEND _tame_flags -DTAME_FCONTEXT_WRAPPER=1)
endif()
if(TAME_HAVE_VALGRIND_H)
  list(APPEND _tame_flags -DTAME_HAVE_VALGRIND_H=1)
endif()

# The targets live in RocksDB's directory, so source properties must be set
# there. The core is gnu11 (__thread, _Atomic, statement expressions), and
# RocksDB sets no C standard; COMPILE_OPTIONS is a property RocksDB does not
# overwrite (it sets COMPILE_FLAGS).
set(_tame_c_files ${_tame_core_srcs})
list(TRANSFORM _tame_c_files PREPEND ${_tame_rocksdb_dir}/plugin/tamerocks/)
set_source_files_properties(${_tame_c_files} DIRECTORY ${_tame_rocksdb_dir}
  PROPERTIES COMPILE_OPTIONS "-std=gnu11;-fexceptions")
# Registration goes through the registrar only, so a passing RocksDB test
# proves that path; libtamerocks.so keeps its static initializer.
set_source_files_properties(${_tame_rocksdb_dir}/plugin/tamerocks/env/tame_register.cc
  DIRECTORY ${_tame_rocksdb_dir}
  PROPERTIES COMPILE_DEFINITIONS TAMEROCKS_NO_STATIC_REGISTRATION)

string(JOIN " " _tame_flags ${_tame_flags})
set(tamerocks_SOURCES ${_tame_sources} PARENT_SCOPE)
set(tamerocks_COMPILE_FLAGS "${_tame_flags}" PARENT_SCOPE)
set(tamerocks_INCLUDE_PATHS ${_tame_dir}/fiber ${_tame_dir}/reactor ${_tame_dir}/port ${_tame_dir}/env
  PARENT_SCOPE)
set(tamerocks_HEADERS ${_tame_headers} PARENT_SCOPE)
message(STATUS "tamerocks: RocksDB plugin: C core ${_tame_sources}; "
  "env/ sources, registrar and libraries from tamerocks.mk")
