# SPDX-License-Identifier: MIT
# Test docs_anchors (cmake -DSOURCE_DIR=<source tree> -P check_doc_anchors.cmake): code comments
# cite the guides' sections as `docs/<page>.md#<section>`, and the guides link each other as
# `(<page>.md#<section>)` or `(#<section>)`. Each must name a heading of that page, with
# GitHub's anchor rule (lower case; characters other than letters, digits, spaces, '-' and '_'
# dropped; spaces become '-'), so that renaming a heading cannot silently strand a citation.
cmake_minimum_required(VERSION 3.25)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<tandem source tree> -P check_doc_anchors.cmake")
endif()

# The anchors of docs/<page>.md, in variable anchors_<page>.
function(load_anchors page)
  set(anchors "")
  set(md ${SOURCE_DIR}/docs/${page}.md)
  if(EXISTS ${md})
    file(READ ${md} text)
    string(REGEX MATCHALL "(^|\n)#+ [^\n]*" heads "${text}")
    foreach(h IN LISTS heads)
      string(REGEX REPLACE "^\n?#+ " "" h "${h}")
      string(TOLOWER "${h}" h)
      string(REGEX REPLACE "[^a-z0-9 _-]" "" h "${h}")
      string(REPLACE " " "-" h "${h}")
      list(APPEND anchors "${h}")
    endforeach()
  endif()
  set(anchors_${page} "${anchors}" PARENT_SCOPE)
  set(loaded_${page} ON PARENT_SCOPE)
endfunction()

set(errors "")
set(checked 0)
# check(<file> <page> <anchor>): appends to `errors` when the anchor is not a heading of page.
macro(check file page anchor)
  if(NOT loaded_${page})
    load_anchors(${page})
  endif()
  math(EXPR checked "${checked} + 1")
  if(NOT EXISTS ${SOURCE_DIR}/docs/${page}.md)
    string(APPEND errors "\n  ${file}: docs/${page}.md does not exist")
  elseif(NOT "${anchor}" IN_LIST anchors_${page})
    string(APPEND errors "\n  ${file}: docs/${page}.md has no section #${anchor}")
  endif()
endmacro()

file(GLOB_RECURSE files LIST_DIRECTORIES false
     ${SOURCE_DIR}/include/* ${SOURCE_DIR}/src/* ${SOURCE_DIR}/tests/* ${SOURCE_DIR}/examples/*
     ${SOURCE_DIR}/bench/* ${SOURCE_DIR}/fuzz/* ${SOURCE_DIR}/scripts/* ${SOURCE_DIR}/docs/*.md)
list(APPEND files ${SOURCE_DIR}/README.md)
foreach(f IN LISTS files)
  file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
  if(rel STREQUAL "tests/docs/check_doc_anchors.cmake")
    continue()  # its comments show the forms, not references
  endif()
  file(READ ${f} text)
  string(REGEX MATCHALL "docs/[a-z0-9_]+\\.md#[a-z0-9_-]+" refs "${text}")
  foreach(r IN LISTS refs)
    string(REGEX MATCH "^docs/([a-z0-9_]+)\\.md#(.*)$" _ "${r}")
    check(${rel} ${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  endforeach()
  if(rel MATCHES "^docs/([a-z0-9_]+)\\.md$")
    set(self ${CMAKE_MATCH_1})
    # A square bracket in a list element stops CMake splitting the list: mark "](" first.
    string(REPLACE "](" "@link(" text "${text}")
    string(REGEX MATCHALL "@link\\(([a-z0-9_]+\\.md)?#[a-z0-9_-]+\\)" links "${text}")
    foreach(l IN LISTS links)
      string(REGEX MATCH "^@link\\(([a-z0-9_]+\\.md)?#([a-z0-9_-]+)\\)$" _ "${l}")
      set(anchor ${CMAKE_MATCH_2})
      set(target ${self})
      if(CMAKE_MATCH_1)
        string(REGEX REPLACE "\\.md$" "" target "${CMAKE_MATCH_1}")
      endif()
      check(${rel} ${target} ${anchor})
    endforeach()
  endif()
endforeach()

if(errors)
  message(FATAL_ERROR "references to sections that do not exist:${errors}")
endif()
message(STATUS "docs_anchors: ${checked} references to the guides' sections, all found")
