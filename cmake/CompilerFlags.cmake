# Warnings and sanitizers go on an INTERFACE target linked by our own targets only,
# so they never leak into a consumer's build.
add_library(irs_flags INTERFACE)
target_compile_options(irs_flags INTERFACE
  -Wall -Wextra -Wshadow -Wpointer-arith -Wformat=2 -Wundef -Wno-unused-parameter
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
  $<$<BOOL:${IRS_WERROR}>:-Werror>)
target_compile_definitions(irs_flags INTERFACE _GNU_SOURCE
  $<$<BOOL:${IRS_FAULT_INJECTION}>:IRS_FAULT_INJECTION>)
if(IRS_SANITIZE)
  set(_san -fsanitize=${IRS_SANITIZE} -fno-omit-frame-pointer)
  if(IRS_SANITIZE MATCHES "undefined")
    list(APPEND _san -fno-sanitize-recover=undefined)
  endif()
  target_compile_options(irs_flags INTERFACE ${_san})
  target_link_options(irs_flags INTERFACE ${_san})
endif()
