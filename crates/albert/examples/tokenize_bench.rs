//! Tokenizer throughput: encodes every line of the given files and prints
//! `{"texts": N, "tokens": T, "seconds": S}` (JSON). Used by scripts/bench/tokenizer_bench.py.
//!
//! Usage: cargo run --release -p albert --example tokenize_bench -- TOKENIZER FILE...
//! (TOKENIZER: spiece.model, tokenizer.json or a checkpoint directory; threads: RAYON_NUM_THREADS.)

use std::time::Instant;

use albert::tokenizer::{AlbertTokenizer, EncodeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, files) = args
        .split_first()
        .ok_or("usage: tokenize_bench TOKENIZER FILE...")?;
    let tok = AlbertTokenizer::from_path(path)?;
    let mut lines = Vec::new();
    for f in files {
        let raw = std::fs::read(f)?;
        let text = String::from_utf8(raw.clone())
            .unwrap_or_else(|_| raw.iter().map(|&b| b as char).collect());
        lines.extend(text.lines().map(|l| (l.to_string(), None::<String>)));
    }
    let opts = EncodeOptions {
        add_special_tokens: false,
        ..Default::default()
    };
    tok.encode_batch(&lines[..lines.len().min(1000)], &opts)?; // warm-up
    let start = Instant::now();
    let encs = tok.encode_batch(&lines, &opts)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokens: usize = encs.iter().map(|e| e.len()).sum();
    println!(
        "{{\"texts\": {}, \"tokens\": {tokens}, \"seconds\": {seconds}}}",
        lines.len()
    );
    Ok(())
}
