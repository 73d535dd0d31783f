// Multiply-adds per cycle of the AVX2 int8 kernels' inner loops, written out in assembly as the compiler emits them
// (loads, broadcasts and all; the operands stay in L1), against the f32 FMA's peak. One thread; cycles are taken
// from the wall clock at the nominal clock (CLOCK_GHZ), which a chain of dependent additions (1 cycle each) checks.
//   - i16 (`avx2`, int8_avx2.rs): 2 rows x 16 channels, 4 weight loads, 2 broadcasts, 8 x (vpmaddwd, vpaddd) = 128.
//   - 7-bit (`avx2-7bit`, int8_avx2_7bit.rs): 4 rows x 16 channels, 2 weight loads, 4 broadcasts,
//     8 x (vpmaddubsw, vpmaddwd by ones, vpaddd) = 256.
//   - 7x7 (`avx2-7x7`, int8_avx2_7x7.rs): 4 rows x 16 channels, 8 broadcasts, 16 x vpmaddubsw on weights in
//     memory, 8 x (vpaddw, vpmaddwd by ones, vpaddd) = 512; and the same widened by vpsrld + vpand instead of
//     vpmaddwd (8 x (vpaddw, vpsrld, vpand, 2 vpaddd)), to see whether a loop without the second multiplier pays.
//   - f32: 8 independent 256-bit FMAs = 64.
// Zen 1 (family 23) runs 256-bit operations as two 128-bit halves and its integer multiplies on one pipe; there the
// ratio to the FMA loop, not the cycles, is the figure to read.
// Build and run by hand (never by tests), on an AVX2 CPU:
//     rustc -O -C target-cpu=native scripts/bench/avx2_int8_loops.rs -o /tmp/avx2_int8_loops && /tmp/avx2_int8_loops
use std::arch::asm;
use std::time::Instant;

const CLOCK_GHZ: f64 = 2.45;
const ITERATIONS: u64 = 20_000_000;

/// Best of 7 passes of `body(ITERATIONS)`, in cycles per iteration.
fn cycles(body: impl Fn(u64)) -> f64 {
    let best = (0..7)
        .map(|_| {
            let t = Instant::now();
            body(ITERATIONS);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    best * CLOCK_GHZ * 1e9 / ITERATIONS as f64
}

fn dependent_adds(n: u64) {
    // SAFETY: register arithmetic only.
    unsafe {
        asm!("2:", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
             "add {x}, 1", "dec {n}", "jnz 2b", n = inout(reg) n => _, x = inout(reg) 0u64 => _);
    }
}

#[target_feature(enable = "avx2")]
unsafe fn i16_tile(n: u64, p: *const u8) {
    asm!("vpxor ymm0,ymm0,ymm0", "vpxor ymm1,ymm1,ymm1", "vpxor ymm2,ymm2,ymm2", "vpxor ymm3,ymm3,ymm3",
    "vpxor ymm4,ymm4,ymm4", "vpxor ymm5,ymm5,ymm5", "vpxor ymm6,ymm6,ymm6", "vpxor ymm7,ymm7,ymm7", "2:",
    "vmovdqu ymm12, [{p}]", "vmovdqu ymm13, [{p}+32]", "vmovdqu ymm14, [{p}+64]", "vmovdqu ymm15, [{p}+96]",
    "vpbroadcastq ymm8, [{p}+128]",
    "vpmaddwd ymm9, ymm8, ymm12", "vpaddd ymm0,ymm0,ymm9", "vpmaddwd ymm10, ymm8, ymm13", "vpaddd ymm1,ymm1,ymm10",
    "vpmaddwd ymm9, ymm8, ymm14", "vpaddd ymm2,ymm2,ymm9", "vpmaddwd ymm10, ymm8, ymm15", "vpaddd ymm3,ymm3,ymm10",
    "vpbroadcastq ymm8, [{p}+136]",
    "vpmaddwd ymm9, ymm8, ymm12", "vpaddd ymm4,ymm4,ymm9", "vpmaddwd ymm10, ymm8, ymm13", "vpaddd ymm5,ymm5,ymm10",
    "vpmaddwd ymm9, ymm8, ymm14", "vpaddd ymm6,ymm6,ymm9", "vpmaddwd ymm10, ymm8, ymm15", "vpaddd ymm7,ymm7,ymm10",
    "dec {n}", "jnz 2b", n = inout(reg) n => _, p = in(reg) p, out("ymm0") _, out("ymm1") _, out("ymm2") _,
    out("ymm3") _, out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
    out("ymm10") _, out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _);
}

#[target_feature(enable = "avx2")]
unsafe fn seven_bit_tile(n: u64, p: *const u8) {
    asm!("vpxor ymm0,ymm0,ymm0", "vpxor ymm1,ymm1,ymm1", "vpxor ymm2,ymm2,ymm2", "vpxor ymm3,ymm3,ymm3",
    "vpxor ymm4,ymm4,ymm4", "vpxor ymm5,ymm5,ymm5", "vpxor ymm6,ymm6,ymm6", "vpxor ymm7,ymm7,ymm7",
    "vpcmpeqw ymm15, ymm15, ymm15", "vpsrlw ymm15, ymm15, 15", "2:",
    "vmovdqu ymm12, [{p}]", "vmovdqu ymm13, [{p}+32]",
    "vpbroadcastd ymm14, [{p}+64]",
    "vpmaddubsw ymm8, ymm14, ymm12", "vpmaddwd ymm8, ymm8, ymm15", "vpaddd ymm0,ymm0,ymm8",
    "vpmaddubsw ymm9, ymm14, ymm13", "vpmaddwd ymm9, ymm9, ymm15", "vpaddd ymm1,ymm1,ymm9",
    "vpbroadcastd ymm14, [{p}+68]",
    "vpmaddubsw ymm10, ymm14, ymm12", "vpmaddwd ymm10, ymm10, ymm15", "vpaddd ymm2,ymm2,ymm10",
    "vpmaddubsw ymm11, ymm14, ymm13", "vpmaddwd ymm11, ymm11, ymm15", "vpaddd ymm3,ymm3,ymm11",
    "vpbroadcastd ymm14, [{p}+72]",
    "vpmaddubsw ymm8, ymm14, ymm12", "vpmaddwd ymm8, ymm8, ymm15", "vpaddd ymm4,ymm4,ymm8",
    "vpmaddubsw ymm9, ymm14, ymm13", "vpmaddwd ymm9, ymm9, ymm15", "vpaddd ymm5,ymm5,ymm9",
    "vpbroadcastd ymm14, [{p}+76]",
    "vpmaddubsw ymm10, ymm14, ymm12", "vpmaddwd ymm10, ymm10, ymm15", "vpaddd ymm6,ymm6,ymm10",
    "vpmaddubsw ymm11, ymm14, ymm13", "vpmaddwd ymm11, ymm11, ymm15", "vpaddd ymm7,ymm7,ymm11",
    "dec {n}", "jnz 2b", n = inout(reg) n => _, p = in(reg) p, out("ymm0") _, out("ymm1") _, out("ymm2") _,
    out("ymm3") _, out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
    out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _);
}

/// One step of a 4-row x 16-channel 7x7 tile: for each row, two broadcasts of 4 activation bytes, and for each half
/// of the 16 channels, two `vpmaddubsw` (weights as memory operands) added in i16, widened into ymm10 by `$widen`
/// (which may use ymm11 and the constant in ymm15), and added into that row's accumulator.
macro_rules! seven_by_seven_step {
    ($($widen:literal),*) => {
        concat!(
            seven_by_seven_step!(@row 128, 132, 0, 1; $($widen),*),
            seven_by_seven_step!(@row 136, 140, 2, 3; $($widen),*),
            seven_by_seven_step!(@row 144, 148, 4, 5; $($widen),*),
            seven_by_seven_step!(@row 152, 156, 6, 7; $($widen),*),
        )
    };
    (@row $x0:literal, $x1:literal, $acc0:literal, $acc1:literal; $($widen:literal),*) => {
        concat!(
            "vpbroadcastd ymm14, [{p}+", $x0, "]\n",
            "vpbroadcastd ymm13, [{p}+", $x1, "]\n",
            seven_by_seven_step!(@half 0, 64, $acc0; $($widen),*),
            seven_by_seven_step!(@half 32, 96, $acc1; $($widen),*),
        )
    };
    (@half $w0:literal, $w1:literal, $acc:literal; $($widen:literal),*) => {
        concat!(
            "vpmaddubsw ymm10, ymm14, [{p}+", $w0, "]\n",
            "vpmaddubsw ymm11, ymm13, [{p}+", $w1, "]\n",
            "vpaddw ymm10, ymm10, ymm11\n",
            $($widen, "\n",)*
            "vpaddd ymm", $acc, ", ymm", $acc, ", ymm10\n",
        )
    };
}

/// A loop of [`seven_by_seven_step`]s, the accumulators zeroed and ymm15 set by `$init` first.
macro_rules! seven_by_seven_loop {
    ($name:ident, [$($init:literal),*], [$($widen:literal),*]) => {
        #[target_feature(enable = "avx2")]
        unsafe fn $name(n: u64, p: *const u8) {
            asm!("vpxor ymm0,ymm0,ymm0", "vpxor ymm1,ymm1,ymm1", "vpxor ymm2,ymm2,ymm2", "vpxor ymm3,ymm3,ymm3",
            "vpxor ymm4,ymm4,ymm4", "vpxor ymm5,ymm5,ymm5", "vpxor ymm6,ymm6,ymm6", "vpxor ymm7,ymm7,ymm7",
            $($init,)* "2:", seven_by_seven_step!($($widen),*), "dec {n}", "jnz 2b",
            n = inout(reg) n => _, p = in(reg) p, out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm10") _, out("ymm11") _,
            out("ymm13") _, out("ymm14") _, out("ymm15") _);
        }
    };
}

// `avx2-7x7`'s 4-row tile as int8_avx2_7x7.rs writes it: the i16 sums widened by `vpmaddwd` by ones.
seven_by_seven_loop!(seven_by_seven_tile, ["vpcmpeqw ymm15, ymm15, ymm15", "vpsrlw ymm15, ymm15, 15"],
    ["vpmaddwd ymm10, ymm10, ymm15"]);
// The same widened without a multiplier: the high i16 by `vpsrld` 16, the low by `vpand` 0xffff, their sum added
// (exact only on non-negative pair sums, i.e. weights stored offset by 64; timed to see whether leaving `vpmaddwd`
// out pays).
seven_by_seven_loop!(seven_by_seven_shift, ["vpcmpeqd ymm15, ymm15, ymm15", "vpsrld ymm15, ymm15, 16"],
    ["vpsrld ymm11, ymm10, 16", "vpand ymm10, ymm10, ymm15", "vpaddd ymm10, ymm10, ymm11"]);

#[target_feature(enable = "avx2,fma")]
unsafe fn fma(n: u64) {
    asm!("2:", "vfmadd231ps ymm0, ymm12, ymm13", "vfmadd231ps ymm1, ymm12, ymm14", "vfmadd231ps ymm2, ymm13, ymm14",
    "vfmadd231ps ymm3, ymm14, ymm13", "vfmadd231ps ymm4, ymm12, ymm12", "vfmadd231ps ymm5, ymm13, ymm13",
    "vfmadd231ps ymm6, ymm14, ymm12", "vfmadd231ps ymm7, ymm13, ymm12", "dec {n}", "jnz 2b",
    n = inout(reg) n => _, out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
    out("ymm5") _, out("ymm6") _, out("ymm7") _);
}

fn main() {
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"), "needs AVX2 and FMA");
    let operands = vec![1u8; 256];
    let p = operands.as_ptr();
    println!("8 dependent additions: {:.2} cycles (8 if the clock is {CLOCK_GHZ} GHz)", cycles(dependent_adds));
    // SAFETY: the CPU has AVX2 and FMA (asserted); the loops read at most 160 bytes from `p`, which holds 256.
    let loops: [(&str, f64, Box<dyn Fn(u64)>); 5] = [
        ("int8 avx2 (i16, vpmaddwd)", 128.0, Box::new(|n| unsafe { i16_tile(n, p) })),
        ("int8 avx2-7bit (vpmaddubsw)", 256.0, Box::new(|n| unsafe { seven_bit_tile(n, p) })),
        ("int8 avx2-7x7 (2 per vpmaddwd)", 512.0, Box::new(|n| unsafe { seven_by_seven_tile(n, p) })),
        ("int8 7x7 widened by shift+and", 512.0, Box::new(|n| unsafe { seven_by_seven_shift(n, p) })),
        ("f32 FMA", 64.0, Box::new(|n| unsafe { fma(n) })),
    ];
    // The clock is the same for every loop of one run, whatever it is: the ratio to the FMA loop does not need it.
    let rates: Vec<(&str, f64)> = IntoIterator::into_iter(loops).map(|(name, macs, body)| (name, macs / cycles(body))).collect();
    let fma_rate = rates.last().expect("the FMA loop").1;
    for (name, rate) in &rates {
        println!("{name:32} {rate:5.1} multiply-adds a cycle, {:.2}x the f32 FMA loop's", rate / fma_rate);
    }
}
