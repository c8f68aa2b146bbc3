# Helpers for ember's find modules (FindCUDNN, FindDNNL, FindNCCL): each finds a header and a
# library its own way, then reads the version and defines the imported target the same way.

# ember_header_version(OUT HEADER MAJOR MINOR PATCH): "x.y.z" from the lines
# "#define MAJOR x", "#define MINOR y" and "#define PATCH z" of HEADER.
function(ember_header_version out header major minor patch)
  file(STRINGS "${header}" _lines REGEX "#define (${major}|${minor}|${patch}) +[0-9]+")
  foreach(_part major minor patch)
    string(REGEX REPLACE ".*${${_part}} +([0-9]+).*" "\\1" _${_part} "${_lines}")
  endforeach()
  set(${out} "${_major}.${_minor}.${_patch}" PARENT_SCOPE)
endfunction()

# ember_imported_library(PKG TARGET): PKG_FOUND from PKG_LIBRARY, PKG_INCLUDE_DIR and
# PKG_VERSION (with find_package's usual message), and the imported target TARGET when found.
macro(ember_imported_library pkg target)
  include(FindPackageHandleStandardArgs)
  find_package_handle_standard_args(${pkg} REQUIRED_VARS ${pkg}_LIBRARY ${pkg}_INCLUDE_DIR VERSION_VAR ${pkg}_VERSION)
  if(${pkg}_FOUND AND NOT TARGET ${target})
    add_library(${target} UNKNOWN IMPORTED)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${${pkg}_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${${pkg}_INCLUDE_DIR}")
  endif()
  mark_as_advanced(${pkg}_INCLUDE_DIR ${pkg}_LIBRARY)
endmacro()
