//! A `pytorch_model.bin` as torch >= 1.6 writes it (a zip archive holding `data.pkl` and the storages), or any
//! other bytes given that name.
#![no_main]

use candle_core::{DType, Device};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("pytorch_model.bin", data);
    let _ = albert::checkpoint::load_tensors(&path, &Device::Cpu, DType::F32);
});
