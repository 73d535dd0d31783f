//! The int8 linear layer (quantize the input rows, the integer product, scale back with the bias) of ALBERT-base's
//! products on the int8 kernel in force (`ALBERT_INT8_KERNEL`), timed in CPU time (`CLOCK_PROCESS_CPUTIME_ID`, which
//! a busy machine does not inflate by time slicing) and wall-clock. Prints one JSON line per (rows, in, out): median
//! and best CPU ms, and the multiply-adds per CPU-nanosecond of the best.
//!
//! Usage: cargo run --release -p albert --example int8_linear_bench -- [ROWS,...] [IN:OUT,...] [REPEATS]
//! Defaults: rows 128,2048; 768:2304, 768:768, 768:3072, 3072:768; 11 repeats. Threads: RAYON_NUM_THREADS.
//! Kernels are chosen once per process: compare them in alternating processes.

mod product_bench;
use product_bench::on_cpu_ms;

use std::time::Instant;

use albert::ops::{int8_kernel, QuantizedLinear};
use candle_core::{Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let product_bench::Args { rows, shapes, repeats } =
        product_bench::Args::parse("128,2048", "768:2304,768:768,768:3072,3072:768", "11")?;
    let dev = Device::Cpu;
    for &(inner, out) in &shapes {
        let w = Tensor::randn(0f32, 0.05, (out, inner), &dev)?;
        let b = Tensor::randn(0f32, 0.05, out, &dev)?;
        let q = QuantizedLinear::new(&w)?;
        for &r in &rows {
            let x = Tensor::randn(0f32, 1.0, (r, inner), &dev)?;
            q.forward(&x, Some(&b))?;
            let (mut wall, mut cpu) = (Vec::new(), Vec::new());
            for _ in 0..repeats {
                let (t, c) = (Instant::now(), on_cpu_ms());
                q.forward(&x, Some(&b))?;
                cpu.push(on_cpu_ms() - c);
                wall.push(t.elapsed().as_secs_f64() * 1e3);
            }
            wall.sort_by(f64::total_cmp);
            cpu.sort_by(f64::total_cmp);
            let macs = (r * inner * out) as f64;
            println!(
                "{{\"kernel\":\"{}\",\"rows\":{r},\"in\":{inner},\"out\":{out},\"cpu_median_ms\":{:.3},\"cpu_best_ms\":{:.3},\"wall_median_ms\":{:.3},\"macs_per_cpu_ns\":{:.1}}}",
                int8_kernel().name(),
                cpu[repeats / 2],
                cpu[0],
                wall[repeats / 2],
                macs / cpu[0] / 1e6,
            );
        }
    }
    Ok(())
}
