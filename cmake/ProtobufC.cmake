# Compiles proto/*.proto with protoc-c at build time; the generated code is never
# committed. irs_proto_generate(<out_var_sources> files...) sets the generated .c list.
function(irs_proto_generate out_sources)
  set(gen_dir ${PROJECT_BINARY_DIR}/generated/proto)
  file(MAKE_DIRECTORY ${gen_dir})
  set(srcs)
  foreach(p ${ARGN})
    get_filename_component(base ${p} NAME_WE)
    add_custom_command(
      OUTPUT ${gen_dir}/${base}.pb-c.c ${gen_dir}/${base}.pb-c.h
      COMMAND ${PROTOC_C} --c_out=${gen_dir} -I${PROJECT_SOURCE_DIR}/proto ${PROJECT_SOURCE_DIR}/proto/${base}.proto
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${base}.proto
      COMMENT "protoc-c ${base}.proto")
    list(APPEND srcs ${gen_dir}/${base}.pb-c.c)
  endforeach()
  set(${out_sources} ${srcs} PARENT_SCOPE)
endfunction()
