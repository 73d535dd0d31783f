//! The tensor-only unpickler, through torch's legacy format: the target prepends the legacy magic pickle, so the
//! input is the rest of the file (protocol version, sys_info, state_dict and storage-key pickles, then the raw
//! storages) and every mutation reaches the pickle machine.
#![no_main]

use candle_core::{DType, Device};
use libfuzzer_sys::fuzz_target;

/// Protocol-2 pickle of torch's magic number, the start of every legacy file.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("legacy.bin", &[LEGACY_MAGIC, data].concat());
    let _ = albert::checkpoint::load_tensors(&path, &Device::Cpu, DType::F32);
});
