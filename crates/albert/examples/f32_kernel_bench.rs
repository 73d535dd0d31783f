//! The f32 inference products of one layer, `gemm` (on a column-major weight, what f32 inference runs where no
//! packed kernel is chosen) against the packed kernel in force, alternating in one process so that both see the
//! same machine load. Each call is timed twice: wall-clock, and the time this process's threads spent on a CPU
//! (`CLOCK_PROCESS_CPUTIME_ID`), which a busy machine does not inflate by time slicing. Prints one JSON line per
//! (rows, in, out): best and median ms of each, GFLOP/s of the best CPU times, and the packed / gemm ratio of
//! median CPU times.
//!
//! Usage: ALBERT_F32_KERNEL=packed-avx2 cargo run --release -p albert --example f32_kernel_bench -- \
//!          [ROWS,...] [IN:OUT,...] [REPEATS]
//! Defaults: rows 12,32,64,96,128,256,2048; ALBERT-base's products 768:2304, 768:768, 768:3072, 3072:768; 15 repeats.
//! Threads: RAYON_NUM_THREADS.

mod product_bench;
use product_bench::on_cpu_ms;

use std::time::Instant;

use albert::ops::{column_major, f32_kernel, linear, PackedLinear};
use candle_core::{Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let product_bench::Args { rows, shapes, repeats } =
        product_bench::Args::parse("12,32,64,96,128,256,2048", "768:2304,768:768,768:3072,3072:768", "15")?;
    let dev = Device::Cpu;
    for &(inner, out) in &shapes {
        let w = Tensor::randn(0f32, 0.05, (out, inner), &dev)?;
        let b = Tensor::randn(0f32, 0.05, out, &dev)?;
        let packed = PackedLinear::new(&w)?.ok_or("no packed f32 kernel in force: set ALBERT_F32_KERNEL")?;
        let cm = column_major(&w)?;
        for &r in &rows {
            let x = Tensor::randn(0f32, 1.0, (r, inner), &dev)?;
            // Warm both, then alternate.
            packed.forward_act(&x, Some(&b), None)?;
            linear(&x, &cm, Some(&b))?;
            let (mut tp, mut tg, mut cp, mut cg) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..repeats {
                let (t, c) = (Instant::now(), on_cpu_ms());
                packed.forward_act(&x, Some(&b), None)?;
                cp.push(on_cpu_ms() - c);
                tp.push(t.elapsed().as_secs_f64() * 1e3);
                let (t, c) = (Instant::now(), on_cpu_ms());
                linear(&x, &cm, Some(&b))?;
                cg.push(on_cpu_ms() - c);
                tg.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let stats = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                (v[0], v[v.len() / 2])
            };
            let ((pb, pm), (gb, gm)) = (stats(&mut tp), stats(&mut tg));
            let ((pcb, pcm), (gcb, gcm)) = (stats(&mut cp), stats(&mut cg));
            let gflops = |ms: f64| 2.0 * (r * inner * out) as f64 / ms / 1e6;
            println!(
                "{{\"kernel\":\"{}\",\"rows\":{r},\"in\":{inner},\"out\":{out},\"packed_best_ms\":{pb:.3},\"packed_median_ms\":{pm:.3},\"gemm_best_ms\":{gb:.3},\"gemm_median_ms\":{gm:.3},\"packed_cpu_median_ms\":{pcm:.3},\"gemm_cpu_median_ms\":{gcm:.3},\"packed_gflops\":{:.1},\"gemm_gflops\":{:.1},\"packed_over_gemm\":{:.3}}}",
                f32_kernel().name(),
                gflops(pcb),
                gflops(gcb),
                pcm / gcm
            );
        }
    }
    Ok(())
}
