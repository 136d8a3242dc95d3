# nr_target_warnings(target): the project's warning set; errors with NR_WERROR=ON.
function(nr_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter)
  if(NR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
