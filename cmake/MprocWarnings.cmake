# Warnings are set per target and PRIVATE, never in CMAKE_CXX_FLAGS, so that
# projects consuming mproc do not inherit them.
function(mproc_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${MPROC_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                           $<$<BOOL:${MPROC_WERROR}>:-Werror>)
  endif()
endfunction()
