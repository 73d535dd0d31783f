//! `albert pretrain`: prepare is idempotent, and a run SIGKILLed at random moments (checkpoint
//! writes included) and restarted with --resume until done ends with exactly the losses and
//! weights of an uninterrupted run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CORPUS: &str = "\
The cat sat on the mat. It was a sunny day and the cat was happy. Later the dog came by.
The dog barked at the cat. The cat ran up a tree and stayed there until dinner.

Rust is a systems programming language. It guarantees memory safety without a garbage collector.
Many developers enjoy its tooling. Cargo builds the code and runs the tests.

The river flows to the sea. Fish swim against the current in spring.
Birds fly over the water. The fishermen cast their nets at dawn.
";

const TINY: &str = r#"{"vocab_size": 30000, "embedding_size": 8, "hidden_size": 16, "num_hidden_layers": 2,
 "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu_new", "hidden_dropout_prob": 0.1,
 "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 32, "type_vocab_size": 2,
 "initializer_range": 0.02, "layer_norm_eps": 1e-12, "num_hidden_groups": 1, "inner_group_num": 1}"#;

fn spiece() -> Option<PathBuf> {
    common::shared_data("spm/spiece.model")
}

fn albert() -> Command {
    Command::new(env!("CARGO_BIN_EXE_albert"))
}

/// `albert pretrain prepare` of `dir/c.txt` (32-token sequences, 30% held out) into `dir/OUT`.
fn prepare(dir: &Path, spiece: &Path, out: &str) -> Command {
    let mut cmd = albert();
    cmd.args(["pretrain", "prepare", "--max-seq-length", "32", "--heldout-fraction", "0.3", "--corpus"])
        .arg(dir.join("c.txt"))
        .arg("--tokenizer")
        .arg(spiece)
        .arg("--out")
        .arg(dir.join(out));
    cmd
}

/// The corpus prepared into `dir/data` and the tiny config at `dir/tiny.json`.
fn prepared(dir: &Path, spiece: &Path) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join("c.txt"), CORPUS).unwrap();
    std::fs::write(dir.join("tiny.json"), TINY).unwrap();
    assert!(prepare(dir, spiece, "data").status().unwrap().success());
    (dir.join("data"), dir.join("tiny.json"))
}

fn run_args(data: &Path, config: &Path, out: &Path) -> Vec<String> {
    let mut v: Vec<String> = [
        "pretrain",
        "run",
        "--quiet",
        "--steps",
        "14",
        "--batch",
        "3",
        "--accumulate",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, p) in [("--data", data), ("--config", config), ("--out", out)] {
        v.push(k.into());
        v.push(p.display().to_string());
    }
    v.extend(
        [
            "--save-every",
            "1",
            "--eval-every",
            "5",
            "--lr",
            "5e-3",
            "--warmup",
            "3",
            "--seed",
            "5",
        ]
        .map(String::from),
    );
    v
}

/// The train records' losses, as bits.
fn losses(out: &Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                v["loss"].as_f64().unwrap().to_bits(),
            )
        })
        .collect()
}

#[test]
fn prepare_twice_is_a_no_op() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.txt"), CORPUS).unwrap();
    let prep = |out: &str| prepare(tmp.path(), &spiece, out).output().unwrap();
    let first = prep("data");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(!String::from_utf8_lossy(&first.stdout).contains("nothing to do"));
    let second = prep("data");
    assert!(String::from_utf8_lossy(&second.stdout).contains("nothing to do"));
}

#[test]
fn sigkilled_runs_resume_to_the_uninterrupted_result() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (data, config) = prepared(dir, &spiece);

    let whole = dir.join("whole");
    let started = Instant::now();
    let st = albert()
        .args(run_args(&data, &config, &whole))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let full_time = started.elapsed();

    let killed = dir.join("killed");
    // A fixed linear congruential sequence of kill times within one uninterrupted run's length.
    let mut x: u64 = 0x5eed;
    let (mut kills, mut attempts) = (0, 0);
    loop {
        attempts += 1;
        assert!(attempts < 200, "no progress after {kills} kills");
        let mut child = albert()
            .args(run_args(&data, &config, &killed))
            .arg("--resume")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((x >> 33) % (full_time.as_micros() as u64 / 4).max(1000));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let st = child.wait().unwrap();
            if !st.success() {
                kills += 1;
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        break;
    }
    assert!(
        kills >= 1,
        "no kill landed; the test did not exercise resuming"
    );
    assert_eq!(losses(&killed), losses(&whole));
    assert_eq!(losses(&whole).len(), 14);
    let read = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
    let tensors = |p: &Path| {
        let mut v: Vec<(String, Vec<f32>)> =
            albert::checkpoint::load_tensors(p, &candle_core::Device::Cpu, candle_core::DType::F32)
                .unwrap()
                .into_iter()
                .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
                .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert!(!read(&killed).is_empty());
    assert_eq!(tensors(&killed), tensors(&whole));
    eprintln!("{kills} kills in {attempts} attempts");
}

/// The files of a checkpoint directory, by name.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A disk that fills during a checkpoint write (the atomic writer's ENOSPC seam) stops the run with status 1 and a
/// message naming the file and the full disk, leaves the previous checkpoint byte for byte, and a later --resume
/// ends with the uninterrupted run's weights and losses.
#[test]
fn a_full_disk_during_a_checkpoint_keeps_the_previous_one() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (data, config) = prepared(dir, &spiece);
    let whole = dir.join("whole");
    assert!(albert().args(run_args(&data, &config, &whole)).stdout(Stdio::null()).status().unwrap().success());

    let out = dir.join("full");
    let first = albert().args(run_args(&data, &config, &out)).args(["--stop-after", "3"]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let checkpoint = out.join("checkpoint");
    let before = files(&checkpoint);
    // 1000 bytes: less than the next checkpoint's weights, so the disk fills in the middle of writing them.
    let full = albert()
        .args(run_args(&data, &config, &out))
        .arg("--resume")
        .env(albert::fsio::FAULT_ENOSPC_AFTER, "1000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device") && err.contains("model.safetensors"), "{err}");
    assert_eq!(files(&checkpoint), before);
    assert_eq!(albert_train::engine::EngineState::load(&checkpoint).unwrap().step, 3);

    let resumed = albert().args(run_args(&data, &config, &out)).arg("--resume").output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(losses(&out), losses(&whole));
    let weights = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert_eq!(weights(&out), weights(&whole));
}
