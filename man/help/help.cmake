# Each program's options are written once, in man/help/PROGRAM.txt (and
# PROGRAM-COMMAND.txt for a command with a --help of its own; the format is
# in sim/tools/help_header.c): the program prints its --help from a header
# generated here, the manual page's option terms are generated from it
# (man/CMakeLists.txt), docs/reference/options.md shows it (docs/tables.py,
# checked fresh by the docs_tables test) and the man_pages test checks the
# manual page against --help.
#
#   sc_program_help(TARGET FUNCTION NAME)
#
# generates help/NAME.h in the calling directory's binary directory, which
# defines `static void FUNCTION(FILE *f)` writing man/help/NAME.txt to f;
# TARGET includes it as "help/NAME.h".
if(NOT TARGET sc_help_header)
  add_executable(sc_help_header ${CMAKE_CURRENT_LIST_DIR}/../../sim/tools/help_header.c)
  target_link_libraries(sc_help_header PRIVATE sc_flags)
endif()

function(sc_program_help target function name)
  set(src ${CMAKE_SOURCE_DIR}/man/help/${name}.txt)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/help)
  add_custom_command(
    OUTPUT ${dir}/${name}.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND sc_help_header header ${function} ${src} > ${dir}/${name}.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${dir}/${name}.h.tmp ${dir}/${name}.h
    DEPENDS sc_help_header ${src}
    COMMENT "Generating the --help text of ${name}"
    VERBATIM)
  target_sources(${target} PRIVATE ${dir}/${name}.h)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
endfunction()
