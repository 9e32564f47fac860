# `cmake --install build --prefix P`: headers, libraries, the instseg CLI,
# configs/ and the CMake package, so that an application needs only
#
#   find_package(instseg REQUIRED)                 # CMAKE_PREFIX_PATH=P
#   target_link_libraries(app PRIVATE instseg::instseg)
#
# Layout: P/include/instseg/<area>/*.h (+ instseg.h), P/lib/libinstseg_*.a
# (.so with INSTSEG_BUILD_SHARED), P/bin/instseg (+ P/bin/instseg-torch, which it execs), P/share/instseg/configs/,
# P/share/instseg/models/ (the shipped weights), P/lib/cmake/instseg/{instsegConfig,instsegConfigVersion,instsegTargets}.cmake.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INSTSEG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/instseg)
get_property(instseg_libraries GLOBAL PROPERTY INSTSEG_LIBRARIES)
if(INSTSEG_BUILD_SHARED)
  # Installed shared libraries find each other next to themselves.
  foreach(lib ${instseg_libraries})
    get_target_property(type ${lib} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
      set_target_properties(${lib} PROPERTIES INSTALL_RPATH "$ORIGIN")
    endif()
  endforeach()
endif()
install(TARGETS ${instseg_libraries} instseg_core instseg_lib
        EXPORT instsegTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/instseg/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/instseg
        FILES_MATCHING PATTERN "*.h")
if(TARGET instseg)
  # instseg execs instseg-torch from its own directory: both in bin/.
  if(INSTSEG_BUILD_SHARED)
    set_target_properties(instseg instseg_torch PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  endif()
  install(TARGETS instseg instseg_torch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/instseg/configs)
# The shipped weights (models/README.md) beside the configs that name them.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/instseg/models)

install(EXPORT instsegTargets NAMESPACE instseg:: DESTINATION ${INSTSEG_CMAKE_DIR})
set(INSTSEG_CONFIGS_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/instseg/configs)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/instsegConfig.cmake.in
  ${PROJECT_BINARY_DIR}/instsegConfig.cmake
  INSTALL_DESTINATION ${INSTSEG_CMAKE_DIR}
  PATH_VARS INSTSEG_CONFIGS_INSTALL_DIR)
# 0.x: minor versions may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/instsegConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/instsegConfig.cmake ${PROJECT_BINARY_DIR}/instsegConfigVersion.cmake
        DESTINATION ${INSTSEG_CMAKE_DIR})
