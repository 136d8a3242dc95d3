# nr_target_warnings(target): the project's warning set; errors with NR_WERROR=ON.
# The same for C and C++ sources, but the two C-only prototype warnings.
function(nr_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    "$<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes;-Wmissing-prototypes>" -Wno-unused-parameter)
  if(NR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
