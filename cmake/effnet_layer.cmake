# effnet_layer(NAME [DIRS dir...] [FILES header...] [EXCLUDE file...] [DEPS target...] [CUDA_DEPS target...])
#
# One library per layer of the code (docs/architecture.md), target effnet_NAME: the *.cpp files of
# DIRS (and, in a CUDA build, their *.cu files), minus EXCLUDE; header-only (FILES) layers are
# interface targets. Sources are globbed, so a new op family (name.h, name.cpp, name_cpu.cpp,
# name_cuda.cu) needs no edit here.
#
# Layering is enforced by include paths, not by review: the layer's folders are linked into an
# include tree of its own, build/include/NAME/ (e.g. build/include/ops/framework/ops ->
# framework/ops), and a target sees only its own tree and those of the layers it depends on. The
# source root is on no include path, so `#include "framework/optim/sgd.h"` in framework/ops does
# not compile, while the paths in #include lines stay the usual ones.
function(effnet_layer name)
  cmake_parse_arguments(L "" "" "DIRS;FILES;EXCLUDE;DEPS;CUDA_DEPS" ${ARGN})
  set(tree ${CMAKE_BINARY_DIR}/include/${name})
  set(cpp "")
  set(cu "")
  foreach(path IN LISTS L_DIRS L_FILES)
    get_filename_component(parent ${tree}/${path} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${path} ${tree}/${path} SYMBOLIC)
  endforeach()
  foreach(dir IN LISTS L_DIRS)
    file(GLOB found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cpp)
    list(APPEND cpp ${found})
    file(GLOB found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cu)
    list(APPEND cu ${found})
  endforeach()
  foreach(file IN LISTS L_EXCLUDE)
    list(REMOVE_ITEM cpp ${CMAKE_SOURCE_DIR}/${file})
    list(REMOVE_ITEM cu ${CMAKE_SOURCE_DIR}/${file})
  endforeach()

  set(target effnet_${name})
  if(NOT cpp AND NOT cu)
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${tree})
    target_link_libraries(${target} INTERFACE ${L_DEPS})
    return()
  endif()
  add_library(${target} STATIC ${cpp})
  target_include_directories(${target} PUBLIC ${tree})
  target_link_libraries(${target} PUBLIC ${L_DEPS})
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  if(EFFNET_WITH_CUDA)
    target_sources(${target} PRIVATE ${cu})
    target_link_libraries(${target} PUBLIC ${L_CUDA_DEPS})
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
  endif()
endfunction()
