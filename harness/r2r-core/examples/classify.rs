//! Prints the ReadyToRun classification of each file given on the command line.
fn main() {
    for path in std::env::args().skip(1) {
        match r2r_core::inspect::readytorun::classify_path(std::path::Path::new(&path)) {
            Ok(kind) => println!("{path}: {kind:?}"),
            Err(error) => println!("{path}: error: {error}"),
        }
    }
}
