//! Optimizers, schedule and clipping against reference values recorded by
//! scripts/reference/make_optim_fixtures.py (NumPy rendering of lamb_optimizer.py, torch.optim.AdamW,
//! transformers' get_linear_schedule_with_warmup, torch.nn.utils.clip_grad_norm_).

use albert_train::optim::{
    clip_grad_norm, AdamW, AdamWConfig, Lamb, LambConfig, LinearWarmupSchedule, Optimizer,
};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use serde_json::Value;

const TOLERANCE: f64 = 1e-5;

fn fixture() -> Value {
    let text = include_str!("fixtures/optim_reference.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn names(f: &Value) -> Vec<String> {
    f["shapes"].as_object().unwrap().keys().cloned().collect()
}

fn shape(f: &Value, name: &str) -> Vec<usize> {
    f["shapes"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn params(f: &Value) -> Vec<(String, Var)> {
    names(f)
        .into_iter()
        .map(|n| {
            let t = Tensor::from_vec(floats(&f["init"][&n]), shape(f, &n), &Device::Cpu).unwrap();
            (n, Var::from_tensor(&t).unwrap())
        })
        .collect()
}

fn grads(f: &Value, params: &[(String, Var)], step: usize) -> GradStore {
    let mut store = GradStore::default();
    for (n, var) in params {
        let g = Tensor::from_vec(floats(&f["grads"][step][n]), var.shape(), &Device::Cpu).unwrap();
        store.insert(var.as_tensor(), g);
    }
    store
}

/// max |a - b| / max |b|.
fn relative_error(actual: &[f32], expected: &[f32]) -> f64 {
    let scale = expected.iter().fold(0f64, |m, &e| m.max(e.abs() as f64));
    let diff = actual
        .iter()
        .zip(expected)
        .fold(0f64, |m, (&a, &e)| m.max((a as f64 - e as f64).abs()));
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

fn check_trajectory(opt: &mut dyn Optimizer, key: &str) {
    let f = fixture();
    let params = params(&f);
    let lrs = floats(&f["lrs"]);
    for (step, &lr) in lrs.iter().enumerate() {
        opt.step(&params, &grads(&f, &params, step), lr as f64)
            .unwrap();
        for (n, var) in &params {
            let actual = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let expected = floats(&f[key]["params_after_step"][step][n]);
            let err = relative_error(&actual, &expected);
            assert!(
                err <= TOLERANCE,
                "{key} step {step} {n}: relative error {err:e}"
            );
        }
    }
}

#[test]
fn lamb_matches_numpy_rendering_of_lamb_optimizer_py() {
    let mut lamb = Lamb::new(LambConfig::default()).unwrap();
    check_trajectory(&mut lamb, "lamb");
}

#[test]
fn lamb_without_weight_decay_matches_and_zero_update_keeps_weights() {
    let mut lamb = Lamb::new(LambConfig {
        weight_decay: 0.0,
        ..LambConfig::default()
    })
    .unwrap();
    check_trajectory(&mut lamb, "lamb_no_decay");
}

#[test]
fn adamw_matches_torch() {
    let mut adamw = AdamW::new(AdamWConfig::default()).unwrap();
    check_trajectory(&mut adamw, "adamw");
}

/// Runs `first_steps` of the fixture's steps, saves the state (twice more, to check the file is a function of the
/// state), loads it into a fresh optimizer and runs the remaining steps; checks the final parameters against the
/// reference's uninterrupted run `key`, and returns the saved file and the resumed optimizer.
fn save_resume_and_finish<O: Optimizer>(
    make: impl Fn() -> O,
    key: &str,
    first_steps: usize,
    dir: &std::path::Path,
) -> (std::path::PathBuf, O) {
    let f = fixture();
    let params = params(&f);
    let lrs = floats(&f["lrs"]);
    let path = dir.join(format!("{key}.safetensors"));
    let mut first = make();
    for (step, &lr) in lrs.iter().enumerate().take(first_steps) {
        first.step(&params, &grads(&f, &params, step), lr as f64).unwrap();
    }
    first.save_state(&path).unwrap();
    // The file is a function of the state: saved again, it is the same bytes (metadata in a fixed order).
    let again = dir.join("again.safetensors");
    for _ in 0..3 {
        first.save_state(&again).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    }
    let mut resumed = make();
    resumed.load_state(&path, &Device::Cpu).unwrap();
    assert!(resumed.state().params.values().all(|m| m.step == first_steps as u64));
    for (step, &lr) in lrs.iter().enumerate().skip(first_steps) {
        resumed.step(&params, &grads(&f, &params, step), lr as f64).unwrap();
    }
    let last = lrs.len() - 1;
    for (n, var) in &params {
        let actual = var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let err = relative_error(&actual, &floats(&f[key]["params_after_step"][last][n]));
        assert!(err <= TOLERANCE, "resumed {n}: relative error {err:e}");
    }
    (path, resumed)
}

#[test]
fn optimizer_state_round_trips_through_safetensors() {
    // Three steps, save, load into a fresh optimizer, three more: same as the reference's six.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = save_resume_and_finish(|| Lamb::new(LambConfig::default()).unwrap(), "lamb", 3, dir.path());
    // A LAMB state cannot resume AdamW.
    let mut adamw = AdamW::new(AdamWConfig::default()).unwrap();
    let err = adamw.load_state(&path, &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("cannot resume AdamW"), "{err}");
}

#[test]
fn adamw_state_resume_keeps_per_parameter_steps() {
    let dir = tempfile::tempdir().unwrap();
    save_resume_and_finish(|| AdamW::new(AdamWConfig::default()).unwrap(), "adamw", 2, dir.path());
}

#[test]
fn schedule_matches_transformers() {
    let f = fixture();
    for case in f["schedule"].as_array().unwrap() {
        let s = LinearWarmupSchedule {
            peak_lr: case["peak_lr"].as_f64().unwrap(),
            warmup_steps: case["warmup_steps"].as_u64().unwrap(),
            total_steps: case["total_steps"].as_u64().unwrap(),
        };
        for (step, expected) in case["lrs"].as_array().unwrap().iter().enumerate() {
            let expected = expected.as_f64().unwrap();
            let actual = s.lr(step as u64);
            assert!(
                (actual - expected).abs() <= 1e-12 * s.peak_lr,
                "{s:?} step {step}: {actual} vs {expected}"
            );
        }
    }
}

#[test]
fn clipping_matches_torch_clip_grad_norm() {
    let f = fixture();
    let params = params(&f);
    for case in f["clip"].as_array().unwrap() {
        let mut store = grads(&f, &params, 2);
        let total =
            clip_grad_norm(&params, &mut store, case["max_norm"].as_f64().unwrap()).unwrap();
        let expected_total = case["total_norm"].as_f64().unwrap();
        assert!(
            (total - expected_total).abs() <= TOLERANCE * expected_total,
            "{total} vs {expected_total}"
        );
        for (n, var) in &params {
            let actual = store
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let err = relative_error(&actual, &floats(&case["grads"][n]));
            assert!(
                err <= TOLERANCE,
                "max_norm {} {n}: relative error {err:e}",
                case["max_norm"]
            );
        }
    }
}
