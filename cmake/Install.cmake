# Install rules: the library, the header, the CLI, a CMake package and a pkg-config file.
include(CMakePackageConfigHelpers)
install(TARGETS increstore EXPORT increstoreTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/increstore.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS increstore_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT increstoreTargets NAMESPACE increstore::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/increstore)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/increstoreConfig.cmake.in
  ${PROJECT_BINARY_DIR}/increstoreConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/increstore)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/increstoreConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/increstoreConfig.cmake
  ${PROJECT_BINARY_DIR}/increstoreConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/increstore)
if(BUILD_SHARED_LIBS)
  set(IRS_PC_PRIVATE "")
else()
  set(IRS_PC_PRIVATE "Requires.private: liburcu-cds libprotobuf-c libxxhash sqlite3")
endif()
# Relocatable: the prefix is found from the .pc file's own place, so an install with
# `cmake --install --prefix P` works wherever P is.
file(RELATIVE_PATH IRS_PC_UP "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" IRS_PC_UP "${IRS_PC_UP}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/increstore.pc.in ${PROJECT_BINARY_DIR}/increstore.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/increstore.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
