# The library. irs_core is an OBJECT library that every layer's folder adds its own
# sources to (common/, format/, shard/, engine/, and the generated proto code); tests
# and the CLI link it directly to reach internals. irs_library_finish(), called once
# every folder has added its sources, links the same objects twice, as Debian ships a
# C library:
#
#   increstore         libincrestore.so.X.Y.Z, SONAME per the ABI rule of the README
#                      (0.x: libincrestore.so.0.Y, the minor version is part of it;
#                      from 1.0: libincrestore.so.X), exporting only the irs_* calls of
#                      include/increstore.h (cmake/increstore.map) [IRS_BUILD_SHARED]
#   increstore_static  libincrestore.a [IRS_BUILD_STATIC]; named `increstore` when it
#                      is the only one
#
# IRS_LIBRARY names the target the project's own programs (examples) link: the shared
# one when it is built.
add_library(irs_core OBJECT)
# proto/: collection.proto (the on-disk format) and messages.proto (coordinator <->
# shard messages, checkpoint state), compiled at build time. Generated here, in the
# directory that defines irs_core, because a custom command's outputs are only known
# in the directory that creates them.
irs_proto_generate(IRS_PROTO_SRCS collection.proto messages.proto)
target_sources(irs_core PRIVATE ${IRS_PROTO_SRCS})
set_target_properties(irs_core PROPERTIES POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden)
target_include_directories(irs_core PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
  $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>)
target_link_libraries(irs_core PUBLIC irs_flags PkgConfig::URCU PkgConfig::PROTOBUFC
  PkgConfig::XXHASH PkgConfig::SQLITE3 Threads::Threads m)

# 0.x: the minor version is part of the SONAME (the README's ABI rule).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(IRS_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(IRS_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# Settings both libraries share. Sanitizer and warning flags (irs_flags) reach the
# link only inside this build tree, never an installed consumer.
function(irs_library_common target)
  add_library(increstore::${target} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:irs_flags> PkgConfig::URCU
    PkgConfig::PROTOBUFC PkgConfig::XXHASH PkgConfig::SQLITE3 Threads::Threads m)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME increstore)
endfunction()

function(irs_library_finish)
  if(NOT IRS_BUILD_SHARED AND NOT IRS_BUILD_STATIC)
    message(FATAL_ERROR "IRS_BUILD_SHARED and IRS_BUILD_STATIC are both OFF")
  endif()
  set(targets)
  if(IRS_BUILD_SHARED)
    add_library(increstore SHARED $<TARGET_OBJECTS:irs_core>)
    irs_library_common(increstore)
    set(map ${PROJECT_BINARY_DIR}/increstore.map)
    configure_file(${PROJECT_SOURCE_DIR}/cmake/increstore.map.in ${map} @ONLY)
    set_target_properties(increstore PROPERTIES VERSION ${PROJECT_VERSION}
      SOVERSION ${IRS_SOVERSION} LINK_DEPENDS ${map})
    target_link_options(increstore PRIVATE -Wl,--version-script=${map})
    if(NOT IRS_SANITIZE)
      # Every symbol resolved at link time; sanitizer runtimes are the executable's.
      target_link_options(increstore PRIVATE -Wl,--no-undefined)
    endif()
    list(APPEND targets increstore)
  endif()
  if(IRS_BUILD_STATIC)
    set(st increstore)
    if(IRS_BUILD_SHARED)
      set(st increstore_static)
    endif()
    add_library(${st} STATIC $<TARGET_OBJECTS:irs_core>)
    irs_library_common(${st})
    # The declarations then carry no visibility attribute.
    target_compile_definitions(${st} INTERFACE IRS_STATIC_DEFINE)
    list(APPEND targets ${st})
  endif()
  set(IRS_LIBRARY_TARGETS ${targets} PARENT_SCOPE)
  set(IRS_LIBRARY increstore PARENT_SCOPE)
endfunction()
