columns { name: "a\x41\u00e9\U0001F600" type { pg_type { type_name: "int4" } } }
primary_key: "a" primary_key: "b"
x: "unterminated
