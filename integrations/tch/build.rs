//! Puts libtorch's lib folder on the rpath of this package's tests and
//! examples, so they run without `LD_LIBRARY_PATH`.

fn main() {
    // torch-sys (`links = "tch"`) publishes the folder it linked against as
    // `cargo:libtorch_lib`, which Cargo hands to direct dependents as
    // DEP_TCH_LIBTORCH_LIB.
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
    {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
