//! Open an image and read its squashed view, printing timings: the whole-process benchmark for
//! layer reading (`cargo run --release -p sealwatch-oci --example read_image -- IMAGE [PATH...]`).

use std::time::Instant;

use sealwatch_oci::{FileRequest, Image, ImageSpec, OpenOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(input) = args.next() else {
        eprintln!("usage: read_image IMAGE|PATH [REQUESTED_PATH...]");
        std::process::exit(2);
    };
    let start = Instant::now();
    let spec = match input.parse::<ImageSpec>() {
        Ok(ImageSpec::Registry(_)) | Err(_) => ImageSpec::detect(std::path::Path::new(&input))?,
        Ok(spec) => spec,
    };
    let image = Image::open(&spec, &OpenOptions::default())?;
    let opened = start.elapsed();
    let mut request = FileRequest::new();
    for p in args {
        request.add_path(&p);
    }
    let fs = image.read_files(&request)?;
    let total = start.elapsed();
    let kept: usize = fs.files_with_content().map(|(_, c)| c.len()).sum();
    println!(
        "{}: {} layers, {} entries, {} bytes kept, open {:.3}s, total {:.3}s",
        image.description(),
        image.layers().len(),
        fs.len(),
        kept,
        opened.as_secs_f64(),
        total.as_secs_f64()
    );
    for layer in image.layers() {
        println!(
            "  {} {} -> {:?}",
            layer.digest,
            layer.size,
            layer.uncompressed_size()
        );
    }
    Ok(())
}
