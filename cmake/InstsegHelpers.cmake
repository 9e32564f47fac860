# Helpers shared by every CMakeLists.txt in the tree.

# Decide whether CUDA kernels are compiled: only when the LibTorch that was
# found is a CUDA build (Debian's libtorch ships CUDA headers but no
# libtorch_cuda, so header presence proves nothing).
macro(instseg_detect_cuda)
  set(INSTSEG_CUDA_ENABLED OFF)
  if(INSTSEG_WITH_CUDA STREQUAL "AUTO")
    if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
      set(INSTSEG_CUDA_ENABLED ON)
    endif()
  elseif(INSTSEG_WITH_CUDA)
    set(INSTSEG_CUDA_ENABLED ON)
  endif()
  if(INSTSEG_CUDA_ENABLED)
    enable_language(CUDA)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    set(CMAKE_CUDA_STANDARD 17)
    # C++ executables that link CUDA objects get the CUDA toolchain's implicit
    # link directories, among them nvcc's host compiler's GCC directory. On
    # Debian trixie that is g++-13 (nvcc 12.4 supports no newer GCC) while C++
    # is g++ 14: /usr/lib/gcc/<triple>/13 then shadows g++ 14's libstdc++
    # ("undefined reference to __cxa_call_terminate"). The C++ linker adds its
    # own GCC directory; drop the CUDA side's.
    list(FILTER CMAKE_CUDA_IMPLICIT_LINK_DIRECTORIES EXCLUDE REGEX "/lib/gcc/[^/]+/[0-9.]+/?$")
    add_compile_definitions(INSTSEG_WITH_CUDA=1)
  endif()
  message(STATUS "instseg: LibTorch ${Torch_VERSION}; CUDA kernels: ${INSTSEG_CUDA_ENABLED}")
endmacro()

# Common settings for every instseg library and executable. Headers are
# included as "instseg/<area>/<file>.h": from src/ in the build tree, from
# <prefix>/include once installed. NO_TORCH: a target that must not link
# LibTorch (what the light `instseg` executable is made of): no LibTorch PCH
# (it would force <torch/torch.h> into every file), but LibTorch's include
# directories, because core/check.h parses <c10/util/Exception.h> (compiled,
# never linked: see core/require.h).
function(instseg_target_defaults target)
  cmake_parse_arguments(ARG "NO_TORCH" "" "" ${ARGN})
  if(ARG_NO_TORCH)
    target_include_directories(${target} SYSTEM PUBLIC $<TARGET_PROPERTY:torch,INTERFACE_INCLUDE_DIRECTORIES>)
    # LibTorch's compile options, -D_GLIBCXX_USE_CXX11_ABI=0|1 above all: these
    # files are linked with LibTorch code into instseg-torch, and a pip wheel
    # built with the old std::string ABI would not link against (or worse,
    # silently mismatch) objects compiled with the default one. PRIVATE: the
    # LibTorch targets that link these libraries get the same options from
    # LibTorch already.
    target_compile_options(${target} PRIVATE $<TARGET_PROPERTY:torch,INTERFACE_COMPILE_OPTIONS>)
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                              $<INSTALL_INTERFACE:include>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  if(INSTSEG_USE_PCH AND TARGET instseg_pch AND NOT "${target}" STREQUAL "instseg_pch" AND NOT ARG_NO_TORCH)
    target_precompile_headers(${target} REUSE_FROM instseg_pch)
  endif()
endfunction()

# instseg_add_library(NAME [NO_TORCH] SOURCES ... [LINK ...]) : the library of
# one area, static (or shared with INSTSEG_BUILD_SHARED). It is installed and
# exported as instseg::<NAME without "instseg_"> (InstsegInstall.cmake).
# NO_TORCH: see instseg_target_defaults; LINK must not bring LibTorch either
# (tests/tools/test_cli_frontend.cpp checks the executable built from them).
function(instseg_add_library name)
  cmake_parse_arguments(ARG "NO_TORCH" "" "SOURCES;LINK" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY INSTSEG_LIBRARIES ${name})
  string(REGEX REPLACE "^instseg_" "" export_name ${name})
  if(NOT ARG_SOURCES)
    # An area with headers only (or not written yet).
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                                 $<INSTALL_INTERFACE:include>)
    target_link_libraries(${name} INTERFACE ${ARG_LINK})
    set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
    return()
  endif()
  if(INSTSEG_BUILD_SHARED)
    add_library(${name} SHARED ${ARG_SOURCES})
  else()
    add_library(${name} STATIC ${ARG_SOURCES})
  endif()
  if(ARG_NO_TORCH)
    instseg_target_defaults(${name} NO_TORCH)
  else()
    instseg_target_defaults(${name})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
endfunction()

# instseg_add_test(NAME SOURCES ... LINK ... [LABELS ...] [TIMEOUT s])
# One GoogleTest executable; every test suite inside becomes a CTest test
# (cmake/InstsegTestSuites.cmake says why not every case). TIMEOUT is per case.
set(INSTSEG_TEST_SUITES_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/InstsegTestSuites.cmake)
function(instseg_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LINK;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set(slow 0)
  if("slow" IN_LIST ARG_LABELS)
    set(slow 1)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  instseg_target_defaults(${name})
  instseg_link_allocator(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} instseg_test_common GTest::gtest)
  # The suites are listed when the executable is linked (as gtest_discover_tests'
  # POST_BUILD mode does); until then ctest shows one <name>_NOT_BUILT test.
  set(suites_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_suites.cmake)
  string(REPLACE ";" "|" labels "${ARG_LABELS}")
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DNAME=${name} -DEXE=$<TARGET_FILE:${name}> -DOUT=${suites_file}
            -DWORKDIR=${PROJECT_SOURCE_DIR} "-DLABELS=${labels}" -DTIMEOUT=${ARG_TIMEOUT} -DSLOW=${slow}
            -P ${INSTSEG_TEST_SUITES_SCRIPT}
    BYPRODUCTS ${suites_file}
    VERBATIM)
  set(include_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_include.cmake)
  file(WRITE ${include_file}
    "if(EXISTS [==[${suites_file}]==])\n"
    "  include([==[${suites_file}]==])\n"
    "else()\n"
    "  add_test(${name}_NOT_BUILT ${name}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()
