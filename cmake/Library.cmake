# The library. irs_core is an OBJECT library that every layer's folder adds its own
# sources to (common/, format/, shard/, engine/, and the generated proto code); tests
# and the CLI link it directly to reach internals. `increstore` (static or shared per
# BUILD_SHARED_LIBS) is built from the same objects by irs_library_finish(), called
# once every folder has added its sources.
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
  PkgConfig::XXHASH PkgConfig::SQLITE3 Threads::Threads)

function(irs_library_finish)
  add_library(increstore $<TARGET_OBJECTS:irs_core>)
  add_library(increstore::increstore ALIAS increstore)
  target_include_directories(increstore PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(increstore PRIVATE PkgConfig::URCU PkgConfig::PROTOBUFC
    PkgConfig::XXHASH PkgConfig::SQLITE3 Threads::Threads)
  set_target_properties(increstore PROPERTIES
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    C_VISIBILITY_PRESET hidden OUTPUT_NAME increstore)
  if(NOT BUILD_SHARED_LIBS)
    target_compile_definitions(increstore INTERFACE IRS_STATIC_DEFINE)
  endif()
endfunction()
