//! `albert info --kernels` under each CPU cap, the errors of invalid kernel variables, and `--int8` falling back to
//! f32 where no fast int8 kernel exists.

use std::process::{Command, Output};

fn albert(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_albert"));
    // The caller's own kernel variables (CI sets them per run) must not leak into these.
    for var in ["ALBERT_CPU", "ALBERT_F32_KERNEL", "ALBERT_INT8_KERNEL"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run albert");
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn kernels_json(env: &[(&str, &str)]) -> serde_json::Value {
    let out = albert(env, &["info", "--kernels", "--json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The portable cap holds on every CPU: scalar `gemm`, the portable int8 kernel, and `--int8` in f32. Each level
/// this CPU reaches caps the level in force to itself.
#[test]
fn every_cap_level_this_cpu_reaches_is_followed() {
    let here = kernels_json(&[]);
    let levels: Vec<String> = here["levels_here"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
    assert_eq!(levels.first().map(String::as_str), Some("portable"));
    for level in &levels {
        let k = kernels_json(&[("ALBERT_CPU", level)]);
        assert_eq!(k["level"], level.as_str(), "{k}");
        assert_eq!(k["cap"], level.as_str());
        let products = k["products"].as_array().unwrap();
        for product in ["f32 linear", "int8 linear", "--int8", "attention", "layer norm", "softmax", "GELU and other activations"] {
            assert!(products.iter().any(|p| p["product"] == product), "{product} missing");
        }
    }
    let portable = kernels_json(&[("ALBERT_CPU", "portable")]);
    assert_eq!((portable["f32_kernel"].as_str(), portable["int8_kernel"].as_str()), (Some("gemm"), Some("portable")));
    assert_eq!(portable["int8_runs_int8"], false);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(portable["gemm"], "scalar");
    }
    let forced = kernels_json(&[("ALBERT_CPU", "portable"), ("ALBERT_INT8_KERNEL", "portable")]);
    assert_eq!(forced["int8_runs_int8"], true, "asking for the portable kernel keeps --int8 in int8");
}

/// Unknown values and kernels above the cap are errors that name the variable, not panics.
#[test]
fn invalid_kernel_variables_are_clear_errors() {
    for (env, message) in [
        (("ALBERT_CPU", "avx3"), "ALBERT_CPU=avx3 is not a choice: use avx512, avx2 or portable"),
        (("ALBERT_F32_KERNEL", "mkl"), "ALBERT_F32_KERNEL=mkl is not a choice"),
        (("ALBERT_INT8_KERNEL", "vnni"), "ALBERT_INT8_KERNEL=vnni is not a choice"),
    ] {
        let out = albert(&[env], &["info", "--kernels"], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message) && !stderr.contains("panicked"), "{stderr}");
    }
    let out = albert(&[("ALBERT_CPU", "portable"), ("ALBERT_INT8_KERNEL", "avx2")], &["info", "--kernels"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Above the cap where the CPU has AVX2, missing where it does not: an error either way.
    assert!(stderr.contains("ALBERT_INT8_KERNEL=avx2"), "{stderr}");
    assert!(!out.status.success());
}

/// Under the portable cap, `classify --int8` says once that it runs f32, and answers as f32 does; its `--help`
/// says so too.
#[test]
fn int8_without_a_fast_kernel_runs_f32_and_says_so() {
    let portable = [("ALBERT_CPU", "portable")];
    let texts = "a gripping, beautiful film\nthe plot is a mess\n";
    let f32 = albert(&portable, &["classify", "--json"], Some(texts));
    let int8 = albert(&portable, &["classify", "--json", "--int8"], Some(texts));
    assert!(f32.status.success() && int8.status.success(), "{}", String::from_utf8_lossy(&int8.stderr));
    assert_eq!(int8.stdout, f32.stdout);
    let stderr = String::from_utf8_lossy(&int8.stderr);
    assert_eq!(stderr.matches("so --int8 runs f32 instead").count(), 1, "{stderr}");
    let help = albert(&portable, &["classify", "--help"], None);
    assert!(String::from_utf8_lossy(&help.stdout).contains("so --int8 runs f32 instead"));
}
