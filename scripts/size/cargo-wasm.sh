#!/bin/sh
# Builds the wasm cdylib with LTO (cargo drops `lto` when the crate types include rlib:
# rust-lang/cargo#9672) and copies it to .size/<label>.cargo.wasm.
# `scripts/size/cargo-wasm.sh LABEL [cargo args...]`, e.g. `... z-pruned --config 'profile.release.opt-level="z"'`
set -e
label=$1; shift
cd "$(dirname "$0")/../.."
mkdir -p .size
start=$(date +%s)
cargo rustc --release --target wasm32-unknown-unknown --lib --crate-type cdylib "$@"
echo "cargo seconds: $(( $(date +%s) - start ))"
cp "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/onnxlet.wasm" ".size/$label.cargo.wasm"
