//! Writes a freshly initialized ALBERT checkpoint (config.json + model.safetensors) that transformers loads.
//!
//! `cargo run -p albert --example init_checkpoint -- CONFIG_OR_PRESET CLASS SEED OUT_DIR`, e.g.
//! `cargo run -p albert --example init_checkpoint -- tests/fixtures/models/qa/config.json AlbertForQuestionAnswering 7 /tmp/qa`

use albert::{AlbertConfig, Architecture, Pretrained};

fn main() -> albert::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, class, seed, out] = args.as_slice() else {
        eprintln!("usage: init_checkpoint CONFIG_OR_PRESET CLASS SEED OUT_DIR");
        std::process::exit(2);
    };
    let cfg = if config.ends_with(".json") { AlbertConfig::from_file(config)? } else { AlbertConfig::preset(config)? };
    let arch: Architecture = class.parse()?;
    let seed: u64 = seed.parse().map_err(|_| albert::Error::Input(format!("seed `{seed}` is not a number")))?;
    let m = Pretrained::init(&cfg, arch, seed, candle_core::DType::F32, &candle_core::Device::Cpu)?;
    m.save(out)?;
    println!("{} ({} parameters) -> {out}", arch.hf_name(), m.parameter_count());
    Ok(())
}
