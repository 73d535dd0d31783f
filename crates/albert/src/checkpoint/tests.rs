//! Tests against the fixtures written by scripts/reference/make_checkpoint_fixtures.py. Expected
//! values are derived by hand from the formulas in that script (aranges, exact binary fractions).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/checkpoint")
        .join(name)
}

fn load(path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    load_tensors(path, &Device::Cpu, DType::F32)
}

fn names(tensors: &[(String, Tensor)]) -> Vec<&str> {
    tensors.iter().map(|(n, _)| n.as_str()).collect()
}

fn get<'t>(tensors: &'t [(String, Tensor)], name: &str) -> &'t Tensor {
    &tensors
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .1
}

fn f32_matrix(t: &Tensor) -> Vec<Vec<f32>> {
    assert_eq!(t.dtype(), DType::F32);
    t.to_vec2::<f32>().unwrap()
}

/// rows x cols matrix with entries f(i, j).
fn matrix(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f32) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|i| (0..cols).map(|j| f(i, j)).collect())
        .collect()
}

/// The state_dict of make_checkpoint_fixtures.py, in its order, checked value by value.
fn assert_state_dict(tensors: &[(String, Tensor)]) {
    assert_eq!(
        names(tensors),
        [
            "position_ids",
            "embeddings.weight",
            "decoder.weight",
            "a",
            "t",
            "v",
            "e",
            "h",
            "b",
            "d",
            "p"
        ]
    );
    let pos = get(tensors, "position_ids");
    assert_eq!(pos.dtype(), DType::I64);
    assert_eq!(pos.to_vec2::<i64>().unwrap(), [[0, 1, 2, 3, 4]]);
    // Tied weights: both names, one storage, 100 + 2i + j.
    let emb = matrix(4, 2, |i, j| (100 + 2 * i + j) as f32);
    assert_eq!(f32_matrix(get(tensors, "embeddings.weight")), emb);
    assert_eq!(f32_matrix(get(tensors, "decoder.weight")), emb);
    assert_eq!(
        f32_matrix(get(tensors, "a")),
        matrix(2, 3, |i, j| (3 * i + j) as f32)
    );
    assert_eq!(
        f32_matrix(get(tensors, "t")),
        matrix(4, 3, |i, j| (4 * j + i) as f32)
    );
    assert_eq!(
        f32_matrix(get(tensors, "v")),
        matrix(3, 3, |i, j| (2 + 6 * i + 2 * j) as f32)
    );
    assert_eq!(f32_matrix(get(tensors, "e")), matrix(2, 3, |_, j| j as f32));
    for (name, want) in [
        ("h", vec![0., 0.25, 0.5, 0.75]),
        ("b", vec![0., 0.5, 1., 1.5]),
        ("d", vec![0., 0.25, 0.5]),
        ("p", vec![1.5, -2.]),
    ] {
        let t = get(tensors, name);
        assert_eq!(t.dtype(), DType::F32, "{name}");
        assert_eq!(t.to_vec1::<f32>().unwrap(), want, "{name}");
    }
}

#[test]
fn checkpoint_reads_torch_zip_state_dict() {
    assert_state_dict(&load(&fixture("pytorch_model.bin")).unwrap());
}

#[test]
fn checkpoint_reads_legacy_torch_format() {
    assert_state_dict(&load(&fixture("legacy_pytorch_model.bin")).unwrap());
}

#[test]
fn checkpoint_reads_safetensors_in_each_float_dtype() {
    let f32s = load(&fixture("f32.safetensors")).unwrap();
    let mut sorted = names(&f32s);
    sorted.sort();
    assert_eq!(sorted, ["a", "position_ids", "t"]);
    assert_eq!(
        f32_matrix(get(&f32s, "a")),
        matrix(2, 3, |i, j| (3 * i + j) as f32)
    );
    assert_eq!(
        f32_matrix(get(&f32s, "t")),
        matrix(4, 3, |i, j| (4 * j + i) as f32)
    );
    assert_eq!(
        get(&f32s, "position_ids").to_vec2::<i64>().unwrap(),
        [[0, 1, 2, 3, 4]]
    );

    let f16s = load(&fixture("f16.safetensors")).unwrap();
    assert_eq!(
        f32_matrix(get(&f16s, "a")),
        matrix(2, 3, |i, j| (3 * i + j) as f32)
    );
    let bf16s = load(&fixture("bf16.safetensors")).unwrap();
    assert_eq!(
        f32_matrix(get(&bf16s, "a")),
        matrix(2, 3, |i, j| (3 * i + j) as f32 * 0.5)
    );
}

#[test]
fn checkpoint_converts_floats_to_the_requested_dtype_only() {
    let tensors = load_tensors(&fixture("pytorch_model.bin"), &Device::Cpu, DType::BF16).unwrap();
    for (name, t) in &tensors {
        let want = if name == "position_ids" {
            DType::I64
        } else {
            DType::BF16
        };
        assert_eq!(t.dtype(), want, "{name}");
    }
    // 0.5 * (3i + j) are all exact in bf16.
    let a = load_tensors(&fixture("bf16.safetensors"), &Device::Cpu, DType::F64).unwrap();
    assert_eq!(
        a[0].1.to_vec2::<f64>().unwrap(),
        [[0., 0.5, 1.], [1.5, 2., 2.5]]
    );
    let err = load_tensors(&fixture("f32.safetensors"), &Device::Cpu, DType::I64).unwrap_err();
    assert!(
        matches!(err, CheckpointError::NonFloatTarget(DType::I64)),
        "{err}"
    );
}

#[test]
fn checkpoint_reads_sharded_checkpoints() {
    let st = load(&fixture("sharded_safetensors")).unwrap();
    // Shard order, then file order within a shard (safetensors puts the 8-byte I64 first).
    assert_eq!(names(&st), ["a", "position_ids", "t"]);
    assert_eq!(
        f32_matrix(get(&st, "t")),
        matrix(4, 3, |i, j| (4 * j + i) as f32)
    );
    let bin = load(&fixture("sharded_bin")).unwrap();
    assert_eq!(names(&bin), ["a", "t", "e"]);
    assert_eq!(f32_matrix(get(&bin, "e")), matrix(2, 3, |_, j| j as f32));
    // The index can also be named directly.
    let direct = load(&fixture("sharded_bin/pytorch_model.bin.index.json")).unwrap();
    assert_eq!(names(&direct), ["a", "t", "e"]);
}

#[test]
fn checkpoint_directory_prefers_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::NotFound { .. }));
    for file in CHECKPOINT_FILES {
        assert!(msg.contains(file), "{msg}");
    }
    std::fs::copy(
        fixture("pytorch_model.bin"),
        dir.path().join("pytorch_model.bin"),
    )
    .unwrap();
    assert_state_dict(&load(dir.path()).unwrap());
    std::fs::copy(
        fixture("f16.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    assert_eq!(names(&load(dir.path()).unwrap()), ["a"]);
}

#[test]
fn checkpoint_refuses_globals_outside_the_allow_list() {
    let err = load(&fixture("forbidden_global.bin")).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::ForbiddenGlobal { global, .. } if global == "__builtin__.print"),
        "{err}"
    );
    assert!(err.to_string().contains("forbidden_global.bin"), "{err}");
}

/// Writes an index mapping tensor names to shards into `dir`.
fn write_index(dir: &Path, weight_map: &[(&str, &str)]) -> PathBuf {
    let map: serde_json::Map<String, serde_json::Value> = weight_map
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string().into()))
        .collect();
    let path = dir.join("model.safetensors.index.json");
    std::fs::write(&path, serde_json::json!({ "weight_map": map }).to_string()).unwrap();
    path
}

#[test]
fn checkpoint_index_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("f16.safetensors"),
        dir.path().join("one.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        fixture("bf16.safetensors"),
        dir.path().join("two.safetensors"),
    )
    .unwrap();

    write_index(
        dir.path(),
        &[("a", "one.safetensors"), ("b", "missing.safetensors")],
    );
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::MissingShard { shard, .. } if shard == "missing.safetensors"),
        "{err}"
    );

    write_index(
        dir.path(),
        &[("a", "one.safetensors"), ("x", "two.safetensors")],
    );
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::DuplicateTensor { name, .. } if name == "a"),
        "{err}"
    );
    assert!(
        err.to_string().contains("one.safetensors") && err.to_string().contains("two.safetensors")
    );

    write_index(
        dir.path(),
        &[("a", "one.safetensors"), ("gone", "one.safetensors")],
    );
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(err, CheckpointError::BadIndex { .. }) && err.to_string().contains("'gone'"),
        "{err}"
    );

    write_index(dir.path(), &[("a", "../one.safetensors")]);
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, CheckpointError::BadIndex { .. }), "{err}");

    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        "{\"metadata\": {}}",
    )
    .unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("weight_map"), "{err}");
}

#[test]
fn checkpoint_unsupported_safetensors_dtype_names_the_tensor() {
    // A hand-written safetensors file: header length (LE u64), JSON header, 2 bytes of int8 data.
    let header = br#"{"q":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[1, 0xff]);
    let err = parse_as("f32.safetensors", &bytes).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::UnsupportedDtype { name, dtype, .. } if name == "q" && dtype == "I8"),
        "{err}"
    );
}

#[test]
fn checkpoint_unknown_extension_and_missing_file() {
    let err = load(&fixture("README.md")).unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnknownFormat { .. }),
        "{err}"
    );
    for absent in ["absent.safetensors", "absent_dir"] {
        let err = load(&fixture(absent)).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Io { .. }) && err.to_string().contains(absent),
            "{err}"
        );
    }
}

/// Every fixture file holding tensors (paths within tests/fixtures/checkpoint).
const FIXTURE_FILES: [&str; 10] = [
    "f32.safetensors",
    "f16.safetensors",
    "bf16.safetensors",
    "pytorch_model.bin",
    "legacy_pytorch_model.bin",
    "forbidden_global.bin",
    "sharded_safetensors/model-00001-of-00002.safetensors",
    "sharded_safetensors/model-00002-of-00002.safetensors",
    "sharded_bin/pytorch_model-00001-of-00002.bin",
    "sharded_bin/pytorch_model-00002-of-00002.bin",
];

/// Parses `bytes` as the fixture `name` (by its extension), in memory.
fn parse_as(name: &str, bytes: &[u8]) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let path = fixture(name);
    parser(&path).unwrap()(&path, &Source::in_memory(bytes))
}

#[test]
fn checkpoint_truncated_files_are_errors_not_panics() {
    for name in FIXTURE_FILES {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for len in 0..bytes.len() {
            assert!(
                parse_as(name, &bytes[..len]).is_err(),
                "{name} truncated to {len} bytes loaded"
            );
        }
    }
    // The same through the file (memory-map) path, at a few lengths.
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "f32.safetensors",
        "pytorch_model.bin",
        "legacy_pytorch_model.bin",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let copy = dir.path().join(name);
        for len in [0, 1, 8, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&copy, &bytes[..len]).unwrap();
            let err = load(&copy).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}

#[test]
fn checkpoint_corrupted_bytes_never_panic() {
    // Overwrite each byte in turn: loading may succeed (e.g. a changed value) or fail, but must
    // return.
    for name in [
        "pytorch_model.bin",
        "legacy_pytorch_model.bin",
        "f32.safetensors",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for i in 0..bytes.len() {
            for value in [0x00, 0xff, bytes[i] ^ 0x01] {
                let mut bad = bytes.clone();
                bad[i] = value;
                let _ = parse_as(name, &bad);
            }
        }
    }
}

#[test]
fn checkpoint_save_round_trips_every_dtype() {
    let dev = Device::Cpu;
    let base = Tensor::arange(0f32, 6., &dev)
        .unwrap()
        .reshape((2, 3))
        .unwrap();
    let mut tensors = Vec::new();
    for dtype in [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F64,
        DType::I64,
        DType::I32,
        DType::I16,
        DType::U32,
        DType::U8,
    ] {
        tensors.push((format!("{dtype:?}"), base.to_dtype(dtype).unwrap()));
    }
    // A non-contiguous input is written in logical order.
    tensors.push(("transposed".to_string(), base.t().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.safetensors");
    save_safetensors(&path, &tensors).unwrap();
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.len(), tensors.len());
    let want = matrix(2, 3, |i, j| (3 * i + j) as f32);
    for (name, t) in &loaded {
        match name.as_str() {
            "F32" | "F16" | "BF16" | "F64" => assert_eq!(f32_matrix(t), want, "{name}"),
            "transposed" => assert_eq!(f32_matrix(t), matrix(3, 2, |i, j| (3 * j + i) as f32)),
            _ => {
                assert_eq!(format!("{:?}", t.dtype()), *name);
                assert_eq!(f32_matrix(&t.to_dtype(DType::F32).unwrap()), want, "{name}");
            }
        }
    }
    // Overwriting works and leaves no temporary file behind.
    save_safetensors(&path, &tensors[..1]).unwrap();
    assert_eq!(names(&load(&path).unwrap()), ["F32"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let dup = [("x".to_string(), base.clone()), ("x".to_string(), base)];
    let err = save_safetensors(&path, &dup).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::DuplicateTensor { name, .. } if name == "x"),
        "{err}"
    );
}

#[test]
fn save_safetensors_reports_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = [("x".to_string(), Tensor::new(&[1f32], &Device::Cpu).unwrap())];
    let missing = dir.path().join("no/such/dir/model.safetensors");
    let err = save_safetensors(&missing, &tensors).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Io { .. }) && err.to_string().contains("no/such/dir"),
        "{err}"
    );
}

/// A tensor larger than a release block is copied out of the map block by block, each block's pages handed back
/// as it goes (`Source::tensor`): it comes out whole, every value in its place, as does the tensor after it.
#[test]
fn checkpoint_tensors_spanning_release_blocks_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    // 2.5 blocks and 3 values: the last block is partial. Integers below 2^24 are exact in f32.
    let n = RELEASE_BLOCK * 5 / 2 / 4 + 3;
    let big = Tensor::arange(0u32, n as u32, &Device::Cpu).unwrap().to_dtype(DType::F32).unwrap();
    let after = Tensor::new(&[-1f32, -2., -3.], &Device::Cpu).unwrap();
    save_safetensors(&path, &[("big".to_string(), big), ("small".to_string(), after)]).unwrap();
    let tensors = load(&path).unwrap();
    let values: Vec<f32> = get(&tensors, "big").to_vec1().unwrap();
    assert_eq!(values.len(), n);
    assert!(values.iter().enumerate().all(|(i, &v)| v == i as f32));
    assert_eq!(get(&tensors, "small").to_vec1::<f32>().unwrap(), [-1., -2., -3.]);
}
