#!/bin/sh
# Builds br (beads_rust 0.7.6) on a machine whose only toolchain is stable
# rustc 1.95, for the side-by-side columns of the benchmarks.
#
# beads_rust 0.7.6 and its dependency `tru` build-depend on vergen-gix 10,
# which needs rustc 1.96; both only use it to put the build time, target
# triple and rustc version into environment variables. This script patches
# vergen-gix with a stub that emits fixed values, removes the crate's nightly
# toolchain file, and builds with RUSTC_BOOTSTRAP=1 (its storage crate uses
# nightly features). Usage: sh bench/build_br.sh [DIR]; the binary ends up in
# DIR/target/release/br (DIR defaults to /tmp/br-build).
set -eu
dir=${1:-/tmp/br-build}
mkdir -p "$dir/fetch/src"
cd "$dir/fetch"
cat > Cargo.toml <<'TOML'
[package]
name = "brfetch"
version = "0.0.0"
edition = "2021"
[dependencies]
beads_rust = "=0.7.6"
TOML
echo 'fn main() {}' > src/main.rs
cargo fetch -q
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/beads_rust-0.7.6 | head -1)
rm -rf "$dir/beads_rust"
cp -r "$src" "$dir/beads_rust"
cd "$dir/beads_rust"
rm -f rust-toolchain.toml
mkdir -p vergen-stub/src
cat > vergen-stub/Cargo.toml <<'TOML'
[package]
name = "vergen-gix"
version = "10.0.3"
edition = "2021"
[features]
build = []
cargo = []
rustc = []
TOML
cat > vergen-stub/src/lib.rs <<'RS'
//! Stub of vergen-gix: the builders vergen-gix 10 has, emitting fixed values.
pub struct Build;
pub struct Cargo;
pub struct Rustc;
pub struct Builder<T>(std::marker::PhantomData<T>);
macro_rules! config {
    ($t:ident) => {
        impl $t {
            pub fn builder() -> Builder<$t> {
                Builder(std::marker::PhantomData)
            }
        }
        impl Builder<$t> {
            pub fn build(self) -> $t {
                $t
            }
        }
    };
}
config!(Build);
config!(Cargo);
config!(Rustc);
impl<T> Builder<T> {
    pub fn build_timestamp(self, _: bool) -> Self { self }
    pub fn target_triple(self, _: bool) -> Self { self }
    pub fn semver(self, _: bool) -> Self { self }
}
#[derive(Default)]
pub struct Emitter;
impl Emitter {
    pub fn add_instructions<T>(&mut self, _: &T) -> Result<&mut Self, Box<dyn std::error::Error>> {
        Ok(self)
    }
    pub fn emit(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        println!("cargo:rustc-env=VERGEN_BUILD_TIMESTAMP=2026-01-01T00:00:00Z");
        println!("cargo:rustc-env=VERGEN_CARGO_TARGET_TRIPLE=x86_64-unknown-linux-gnu");
        println!("cargo:rustc-env=VERGEN_RUSTC_SEMVER=1.95.0");
        Ok(())
    }
}
RS
printf '\n[patch.crates-io]\nvergen-gix = { path = "vergen-stub" }\n' >> Cargo.toml
RUSTC_BOOTSTRAP=1 cargo update -q -p vergen-gix
RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$dir/target" cargo build --release -q
echo "$dir/target/release/br"
