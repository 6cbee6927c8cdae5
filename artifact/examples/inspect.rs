//! Prints the metadata of the `.mender` files given as arguments, as JSON.
//!
//! `cargo run --example inspect -- tests/fixtures/*.mender`

use std::io::Write;

use fleetlog_artifact::{Limits, parse_reader};

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let result = std::fs::File::open(&path).map_err(|e| e.to_string()).and_then(|f| {
            parse_reader(std::io::BufReader::new(f), Limits::default()).map_err(|e| e.to_string())
        });
        match result {
            Ok(meta) => {
                let json = serde_json::to_string_pretty(&meta).unwrap_or_default();
                let _ = writeln!(std::io::stdout().lock(), "{path}: {json}");
            }
            Err(err) => {
                failed = true;
                eprintln!("{path}: error: {err}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}
