# Shared by the main build (CMakeLists.txt) and the fuzz build (fuzz/CMakeLists.txt), so both
# compile Keel's modules the same way. Needs KEEL_SOURCE_ROOT (the repository root), Boost and
# Threads.

# Every module compiles with the Asio/Beast settings below, so no two objects see different ABIs.
add_library(keel_asio INTERFACE)
target_link_libraries(keel_asio INTERFACE Boost::headers Threads::Threads)
target_compile_definitions(keel_asio INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_STD_EXPERIMENTAL_STRING_VIEW
  BOOST_BEAST_USE_STD_STRING_VIEW)

# keel_module(name SOURCES ... DEPS ...): one static library a module (src/<name>).
function(keel_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(keel_${name} STATIC ${M_SOURCES})
  target_include_directories(keel_${name} PUBLIC ${KEEL_SOURCE_ROOT}/src)
  target_link_libraries(keel_${name} PUBLIC ${M_DEPS})
endfunction()
