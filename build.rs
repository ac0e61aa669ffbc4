//! Build script: only tells Cargo that the embedded migrations (`db::MIGRATIONS`,
//! `embed_migrations!("migrations")`) depend on the `migrations/` directory, so that a
//! new or edited migration is compiled in without touching any Rust file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
