# Install rules, in three components that are also the Debian packages
# (cmake/Packaging.cmake):
#   lib  libincrestore.so.X.Y.Z and its SONAME link            -> libincrestore0
#   dev  the header, libincrestore.so, libincrestore.a, the pkg-config file and the
#        CMake package                                         -> libincrestore-dev
#   cli  the increstore command and its man page               -> increstore
include(CMakePackageConfigHelpers)
set(IRS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/increstore)
if(TARGET increstore AND IRS_BUILD_SHARED)
  install(TARGETS increstore EXPORT increstoreTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
endif()
if(IRS_BUILD_STATIC)
  set(_st increstore)
  if(IRS_BUILD_SHARED)
    set(_st increstore_static)
  endif()
  install(TARGETS ${_st} EXPORT increstoreTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/include/increstore.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(TARGETS increstore_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
if(IRS_MAN_PAGE)
  install(FILES ${IRS_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT cli)
endif()

# CMake: find_package(increstore) gives increstore::increstore (the shared library when
# it is built, else the static one) and increstore::increstore_static (when both are).
install(EXPORT increstoreTargets NAMESPACE increstore:: DESTINATION ${IRS_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/increstoreConfig.cmake.in
  ${PROJECT_BINARY_DIR}/increstoreConfig.cmake INSTALL_DESTINATION ${IRS_CMAKE_DIR})
# 0.x: a new minor version is a new ABI (the README), so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/increstoreConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/increstoreConfig.cmake
  ${PROJECT_BINARY_DIR}/increstoreConfigVersion.cmake DESTINATION ${IRS_CMAKE_DIR} COMPONENT dev)

# pkg-config: `pkg-config --libs increstore` links the shared library, whose own
# DT_NEEDED entries bring its dependencies. The static library needs them on the
# consumer's link line: with both libraries installed they are Requires.private /
# Libs.private (`pkg-config --static`); when only the static library is built, every
# link is static, so they are plain Requires / Libs.
set(IRS_PC_DEPS "liburcu-cds libprotobuf-c libxxhash sqlite3")
if(IRS_BUILD_SHARED)
  set(IRS_PC_REQUIRES "Requires.private: ${IRS_PC_DEPS}")
  set(IRS_PC_LIBS "-L\${libdir} -lincrestore")
  set(IRS_PC_LIBS_PRIVATE "Libs.private: -pthread -lm")
else()
  set(IRS_PC_REQUIRES "Requires: ${IRS_PC_DEPS}")
  set(IRS_PC_LIBS "-L\${libdir} -lincrestore -pthread -lm")
  set(IRS_PC_LIBS_PRIVATE "")
endif()
# The prefix: /usr as such for the system prefix (the Debian packages; pkg-config then
# prints no -L for the system library directory, and PKG_CONFIG_SYSROOT_DIR serves an
# unpacked tree). Any other prefix is found from the .pc file's own place, so an
# install with `cmake --install --prefix P` works wherever P is.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(IRS_PC_PREFIX /usr)
else()
  file(RELATIVE_PATH _up "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(IRS_PC_PREFIX "\${pcfiledir}/${_up}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/increstore.pc.in ${PROJECT_BINARY_DIR}/increstore.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/increstore.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT dev)
