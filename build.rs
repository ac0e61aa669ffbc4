//! Build script: tells Cargo which directories the binary embeds besides Rust files,
//! so that a new or edited file there is compiled in without touching any Rust file:
//! the migrations (`db::MIGRATIONS`, `embed_migrations!("migrations")`) and the texts of
//! every language (`i18n`, `static_loader!` over `locales/`; a new language is a new
//! folder there).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=locales");
}
