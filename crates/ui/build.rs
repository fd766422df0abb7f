// The .slint files stay at the top of the repository (`ui/`), where
// designers and translators find them; this crate compiles them.
fn main() {
    let ui = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui");
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(format!("{ui}/translations"));
    slint_build::compile_with_config(format!("{ui}/app.slint"), config)
        .expect("ui/app.slint compiles");
    println!("cargo:rerun-if-changed={ui}");
}
