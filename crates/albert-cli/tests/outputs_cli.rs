//! No command overwrites a file it did not write (defect 1 of issue 22), re-running or resuming into a command's own
//! output directory still works, and outputs get the umask's mode (defect 5).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn albert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert")).args(args).output().expect("run albert")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn builtin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `file` is a user's own; the command `args` must stop with status 1 before touching it, name it and suggest
/// --overwrite.
fn assert_refused(args: &[&str], file: &Path) {
    let before = std::fs::read(file).unwrap();
    let out = albert(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "albert {args:?}: {err}");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name) && err.contains("--overwrite"), "albert {args:?}: {err}");
    assert_eq!(std::fs::read(file).unwrap(), before, "albert {args:?} changed {}", file.display());
}

fn user_file(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "a user's own notes, not albert's\n").unwrap();
    path
}

#[test]
fn finetune_refuses_a_users_config_json_unless_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let Some(args) = common::tiny_finetune(tmp.path(), &out) else { return };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mine = user_file(&out, "config.json");
    assert_refused(&args, &mine);
    assert!(!out.join("checkpoint").exists() && !out.join("model.safetensors").exists());

    let forced = albert(&[&args[..], &["--overwrite"]].concat());
    assert!(forced.status.success(), "{}", stderr(&forced));
    albert::AlbertConfig::from_file(&mine).expect("replaced by the model's config");
}

#[test]
fn rerun_and_resume_into_a_commands_own_directory_work() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let Some(args) = common::tiny_finetune(tmp.path(), &out) else { return };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stopped = albert(&[&args[..], &["--stop-after", "2"]].concat());
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let resumed = albert(&[&args[..], &["--resume"]].concat());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(out.join("model.safetensors").is_file());

    // An export re-run into its own directory rewrites its files.
    let exported = tmp.path().join("exported");
    for _ in 0..2 {
        let o = albert(&["export", &s(&out), "--out", &s(&exported), "--dtype", "f32"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn pretrain_run_refuses_a_users_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mine = user_file(&out, "metrics.jsonl");
    let data = s(&tmp.path().join("data"));
    assert_refused(&["pretrain", "run", "--data", &data, "--config", "albert-base-v2", "--out", &s(&out)], &mine);
}

#[test]
fn pretrain_prepare_refuses_a_users_file() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corpus = user_file(tmp.path(), "c.txt");
    let out = tmp.path().join("data");
    let mine = user_file(&out, "train.00000.tokens");
    #[rustfmt::skip]
    assert_refused(&["pretrain", "prepare", "--corpus", &s(&corpus), "--tokenizer", &s(&spm), "--out", &s(&out)], &mine);
}

#[test]
fn export_refuses_a_users_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = user_file(&tmp.path().join("out"), "tokenizer.json");
    let model = s(&builtin("albert-small"));
    assert_refused(&["export", &model, "--out", &s(&tmp.path().join("out"))], &mine);
}

#[test]
fn vocab_train_refuses_a_users_file() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = user_file(tmp.path(), "c.txt");
    let mine = user_file(&tmp.path().join("vocab"), "spiece.model");
    #[rustfmt::skip]
    assert_refused(&["vocab", "train", "--corpus", &s(&corpus), "--vocab-size", "20", "--out", &s(&tmp.path().join("vocab"))], &mine);
}

#[test]
fn single_output_files_are_refused_unless_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = user_file(tmp.path(), "out.txt");
    let data = s(&user_file(tmp.path(), "data.tsv"));
    let model = s(&builtin("albert-small-sst2"));
    let out = s(&mine);
    assert_refused(&["predict", "--task", "sst2", "--data", &data, "--model", &model, "--out", &out], &mine);
    assert_refused(&["cloze-qa", "--corpus", &data, "--out", &out], &mine);
    let metrics = s(&user_file(tmp.path(), "metrics.jsonl"));
    assert_refused(&["plot", &metrics, "--out", &out], &mine);
    // With --overwrite the file is replaced: here by the cloze questions of a corpus.
    let corpus = tmp.path().join("corpus.txt");
    std::fs::write(&corpus, "Paris is the capital of France, a country in Europe with sixty million people.\n").unwrap();
    #[rustfmt::skip]
    let o = albert(&["cloze-qa", "--corpus", &s(&corpus), "--min-paragraph-words", "5", "--out", &out, "--overwrite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&mine).unwrap()).unwrap();
    assert!(written["data"].is_array(), "{written}");
}

/// Defect 5: config.json and model.safetensors were created 0600 whatever the umask, while tokenizer files got 0644.
#[cfg(unix)]
#[test]
fn exported_files_get_the_umask_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let st = Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" export \"$1\" --out \"$2\""])
        .args([env!("CARGO_BIN_EXE_albert"), &s(&builtin("albert-small")), &s(&out)])
        .status()
        .unwrap();
    assert!(st.success());
    for name in ["config.json", "model.safetensors", "tokenizer.json", "spiece.model", "tokenizer_config.json"] {
        let mode = std::fs::metadata(out.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{name}: {mode:o}");
    }
}
