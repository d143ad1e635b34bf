//! Gives the cdylib the soname of the real driver library, so that a client
//! linked against `libnvidia-ml.so.1` (or one that checks the soname) accepts it.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnvidia-ml.so.1");
    println!("cargo:rerun-if-changed=build.rs");
}
