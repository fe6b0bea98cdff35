//! Load generator for Boomerang. A placeholder until the benchmark issue:
//! figures will be reported from here, never asserted in tests.
fn main() {
    println!("boomerang-bench: no scenarios yet; see bench/README.md");
}
