//! A `*.safetensors` file: header length, JSON header (dtypes, shapes, offsets), data.
#![no_main]

use candle_core::{DType, Device};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("model.safetensors", data);
    let _ = albert::checkpoint::load_tensors(&path, &Device::Cpu, DType::F32);
});
