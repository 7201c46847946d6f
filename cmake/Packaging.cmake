# Debian packages with CPack, from the install components (cmake/Install.cmake):
#
#   libincrestore0     the shared library (libincrestore.so.0.1, SONAME per the ABI rule)
#   libincrestore-dev  header, libincrestore.so, libincrestore.a, pkg-config, CMake package
#   increstore         the command and its man page
#
# Configure with the Debian prefix so the library lands in the multiarch directory:
#   cmake -S . -B build/deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build/deb -j2 && (cd build/deb && cpack -G DEB)
# ci/package.sh does that and checks the packages (tests/install/deb_check.sh).
# dpkg-shlibdeps (dpkg-dev) computes the run-time dependencies.
set(CPACK_PACKAGE_NAME increstore)
set(CPACK_PACKAGE_VENDOR increstore)
set(CPACK_PACKAGE_CONTACT "increstore <dev@increstore.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "restores backup collections into in-memory partitioned tables")
set(CPACK_PACKAGE_DESCRIPTION
  "increstore restores the tables of a backup collection (full backups, each followed by\n\
an ordered chain of incremental backups) into in-memory, hash-partitioned tables, with a\n\
coordinator thread and a pool of shard threads.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://increstore.invalid")

# The package name carries the SONAME's major version, as Debian names libraries; the
# shlibs file makes packages built against it depend on this minor version or later
# within it (0.x: each minor is its own SONAME).
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libincrestore${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_LIB_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}\nThis package holds the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libincrestore-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The static library and the pkg-config file's Requires.private need these.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libincrestore${PROJECT_VERSION_MAJOR} (= ${PROJECT_VERSION}), \
liburcu-dev, libprotobuf-c-dev, libxxhash-dev, libsqlite3-dev, pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}\nThis package holds the header, the static library, the pkg-config file and\nthe CMake package.")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME increstore)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_CLI_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}\nThis package holds the increstore command (linked with the library's objects\nstatically, as it also uses internal interfaces) and its man page.")

include(CPack)
