//! Helpers shared by the command-line tests.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use albert_testkit::shared_data;

/// Runs the test build of `albert` with `args`, `stdin` written to its standard input (then closed).
#[allow(dead_code)] // each test binary compiles this module, and not all use it
pub fn albert(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run albert");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Writes a 16-sentence SST-2 folder and a tiny random-init config into `dir`; returns the arguments of a seeded
/// `albert finetune` of 8 steps (4 per epoch, a checkpoint after each) into `out`, or `None` without the shared
/// tokenizer.
#[allow(dead_code)] // each test binary compiles this module, and not all use it
pub fn tiny_finetune(dir: &Path, out: &Path) -> Option<Vec<String>> {
    let spm = shared_data("spm/spiece.model")?;
    let glue = dir.join("SST-2");
    std::fs::create_dir_all(&glue).unwrap();
    let words = ["good", "bad", "fine", "awful", "great", "dull", "lovely", "boring"];
    let mut tsv = String::from("sentence\tlabel\n");
    for i in 0..16 {
        tsv += &format!("a {} film number {i}\t{}\n", words[i % 8], (i + 1) % 2);
    }
    std::fs::write(glue.join("train.tsv"), &tsv).unwrap();
    std::fs::write(glue.join("dev.tsv"), &tsv).unwrap();
    let config = dir.join("tiny.json");
    std::fs::write(
        &config,
        r#"{"vocab_size": 30000, "embedding_size": 8, "hidden_size": 16, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 128}"#,
    )
    .unwrap();
    let s = |p: &Path| p.display().to_string();
    Some(
        [
            "finetune", "--task", "sst2", "--data", &s(&glue), "--config", &s(&config), "--tokenizer", &s(&spm),
            "--out", &s(out), "--steps", "8", "--batch", "4", "--lr", "2e-3", "--seed", "7", "--save-every", "1",
        ]
        .map(String::from)
        .to_vec(),
    )
}
