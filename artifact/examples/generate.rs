//! Generates a single-file artifact from a local file.
//!
//! `cargo run --example generate -- NAME DEVICE_TYPE DEST_DIR FILE OUTPUT`

use fleetlog_artifact::{SingleFileArtifact, write_single_file_artifact_seekable};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, device_type, dest_dir, file, output] = args.as_slice() else {
        return Err("usage: generate NAME DEVICE_TYPE DEST_DIR FILE OUTPUT".into());
    };
    let path = std::path::Path::new(file);
    let file_name = path.file_name().and_then(|n| n.to_str()).ok_or("bad file name")?;
    let size = std::fs::metadata(path)?.len();
    let spec = SingleFileArtifact::new(name, vec![device_type.clone()], dest_dir, file_name, size);
    let input = std::io::BufReader::new(std::fs::File::open(path)?);
    let out = std::io::BufWriter::new(std::fs::File::create(output)?);
    write_single_file_artifact_seekable(&spec, input, out)?;
    Ok(())
}
