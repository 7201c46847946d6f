#!/usr/bin/env bash
# ci/quickstart.sh: builds the dev preset, then builds a demo collection from the sample
# files in samples/ (a full backup and two incrementals), inspects it, restores it with
# progress and a summary, and exports the result. With gen available it also generates
# a larger synthetic collection and restores that.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/build.sh dev
BIN=build/dev/cli/increstore
D=build/demo
rm -rf "$D"
mkdir -p "$D"
echo
echo "== a collection from samples/"
$BIN create "$D/orders" --schema samples/schema.json
$BIN add "$D/orders" --full samples/full.jsonl --name base
$BIN add "$D/orders" --incremental samples/inc1.jsonl --name inc1
$BIN add "$D/orders" --incremental samples/inc2.jsonl --name inc2
$BIN inspect "$D/orders" --verify-data
echo
echo "== restore"
$BIN restore "$D/orders" --shards 2 --out "$D/orders.jsonl"
head -n 3 "$D/orders.jsonl"
echo
echo "== a generated collection: 200000 rows, 10 incrementals of 20000 changes"
$BIN gen "$D/gen" --rows 200000 --incrementals 10 --changes 20000 --seed 1
$BIN restore "$D/gen" --shards 2 --stats-json "$D/gen-stats.json"
