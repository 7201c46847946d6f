#!/usr/bin/env bash
# Compiles consumer.c with the flags pkg-config gives for the installed increstore.
set -euo pipefail
out=$1
here=$(dirname "$0")
cc -o "$out/consumer_pkgconfig" "$here/consumer.c" $(pkg-config --cflags --libs --static increstore)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir increstore)" "$out/consumer_pkgconfig"
