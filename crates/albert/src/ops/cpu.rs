//! Which kernel each product runs on in this process: the CPU's features, the cap [`CPU_ENV`] puts on every kernel
//! family, and the per-family variables that choose within the cap ([`F32_KERNEL_ENV`], [`INT8_KERNEL_ENV`]).
//! Chosen once, at the first use; [`kernels`] returns the choice, or the error naming an invalid variable.
//!
//! The cap reaches every family: the f32 kernels on packed weights, the int8 kernels, the vectorized elementwise
//! loops ([`super::simd`]: layer norm, softmax, the activations, the int8 input quantization) and the `gemm` crate.
//! `gemm` has no cap of its own: it picks AVX-512, AVX2 + FMA or scalar code once, from `is_x86_feature_detected!`,
//! into a private function pointer, and no variable, cargo feature or call changes that. So our products call its
//! generic driver with the micro-kernels of the capped level where the cap binds ([`super::matmul`]). candle's own
//! matrix products (`Tensor::matmul`: training's backward passes, attention maps asked for with
//! `output_attentions`) call `gemm` directly and stay uncapped.

use serde::Serialize;

use super::int8::Int8Kernel;
use super::packed::F32Kernel;

/// Environment variable that caps every kernel family at a level: `avx512`, `avx2` or `portable` ([`CpuLevel`]).
/// Unset, each family uses the best the CPU has.
pub const CPU_ENV: &str = "ALBERT_CPU";
/// Environment variable that chooses the f32 kernel of the prepared projections within the cap: `packed-avx512`,
/// `packed-avx2` or `gemm` ([`F32Kernel`]).
pub const F32_KERNEL_ENV: &str = "ALBERT_F32_KERNEL";
/// Environment variable that chooses the int8 kernel within the cap: `amx`, `avx512-vnni`, `avx2-7x7` (7-bit
/// weights and activations), `avx2-7bit` (7-bit weights), `avx2` (exact on 8-bit weights) or `portable` ([`Int8Kernel`]). Naming `portable` also keeps `--int8` in
/// int8 where it would otherwise run f32.
pub const INT8_KERNEL_ENV: &str = "ALBERT_INT8_KERNEL";

/// Instruction-set levels, lowest first. Each kernel family has kernels for some of them, and runs the best one at
/// or below the level in force (the CPU's, or the cap's where that is lower).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuLevel {
    /// Baseline code: SSE2 on x86-64 (what the crate is compiled for), plain Rust elsewhere.
    Portable,
    /// AVX2 and FMA (x86-64-v3: Intel Haswell, AMD Zen and later).
    Avx2,
    /// AVX-512 F, BW, VL and DQ, with AVX-512 VNNI and AMX where the CPU has them (Intel Skylake-SP and later
    /// servers, AMD Zen 4 and later).
    Avx512,
}

impl CpuLevel {
    /// Every level, lowest first.
    pub const ALL: [CpuLevel; 3] = [CpuLevel::Portable, CpuLevel::Avx2, CpuLevel::Avx512];

    /// The name [`CPU_ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Portable => "portable",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
        }
    }

    /// What the level's vectorized loops compile to.
    pub fn vector_code(self) -> &'static str {
        if cfg!(not(target_arch = "x86_64")) {
            return "portable Rust (auto-vectorized for the target's baseline)";
        }
        match self {
            CpuLevel::Portable => "SSE2 (4 f32 lanes)",
            CpuLevel::Avx2 => "AVX2 + FMA (8 f32 lanes)",
            CpuLevel::Avx512 => "AVX-512 (16 f32 lanes)",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == value)
    }
}

/// The CPU features the kernels need, as detected (or, in tests, as written out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CpuFeatures {
    /// AVX2 and FMA: the avx2 level.
    pub avx2_fma: bool,
    /// AVX-512 F, BW, VL and DQ: the avx512 level.
    pub avx512: bool,
    /// AVX-512 VNNI: the avx512-vnni int8 kernel.
    pub avx512_vnni: bool,
    /// AMX-TILE and AMX-INT8, with the operating system's leave to use the tile registers: the amx int8 kernel.
    pub amx: bool,
    /// AVX-VNNI (256-bit VNNI of Intel client CPUs): reported only, no kernel uses it yet.
    pub avx_vnni: bool,
}

impl CpuFeatures {
    /// The features of this CPU. Asks Linux for the AMX tile registers (once per process, as the AMX kernel needs).
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            let avx512 = has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq");
            CpuFeatures {
                avx2_fma: has!("avx2") && has!("fma"),
                avx512,
                avx512_vnni: avx512 && has!("avx512vnni"),
                amx: super::int8::amx_available(),
                avx_vnni: has!("avxvnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        CpuFeatures::default()
    }

    /// The highest level these features reach.
    pub fn level(self) -> CpuLevel {
        match (self.avx512 && self.avx2_fma, self.avx2_fma) {
            (true, _) => CpuLevel::Avx512,
            (false, true) => CpuLevel::Avx2,
            _ => CpuLevel::Portable,
        }
    }

    /// The names of the features present, as `albert info --kernels` lists them.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.avx2_fma, "avx2+fma"),
            (self.avx512, "avx512f/bw/vl/dq"),
            (self.avx512_vnni, "avx512-vnni"),
            (self.amx, "amx-int8"),
            (self.avx_vnni, "avx-vnni"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect()
    }
}

/// The kernel variables as set (empty values count as unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelEnv {
    /// [`CPU_ENV`].
    pub cpu: Option<String>,
    /// [`F32_KERNEL_ENV`].
    pub f32: Option<String>,
    /// [`INT8_KERNEL_ENV`].
    pub int8: Option<String>,
}

impl KernelEnv {
    /// The variables of this process.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        KernelEnv { cpu: var(CPU_ENV), f32: var(F32_KERNEL_ENV), int8: var(INT8_KERNEL_ENV) }
    }
}

/// A kernel variable that cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelEnvError {
    /// The value names no level or kernel.
    #[error("{variable}={value} is not a choice: use {choices}")]
    Unknown {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// The values it takes.
        choices: &'static str,
    },
    /// The kernel named needs a feature this CPU lacks.
    #[error("{variable}={value}: this CPU lacks {needs}, which the {value} kernel needs (see `albert info --kernels`)")]
    Missing {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// The feature missing.
        needs: &'static str,
    },
    /// The kernel named is above the level [`CPU_ENV`] caps the kernels at.
    #[error("{variable}={value} is above the cap {CPU_ENV}={cap}: the {value} kernel needs the {needs} level")]
    AboveCap {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// The cap.
        cap: &'static str,
        /// The level the kernel needs.
        needs: &'static str,
    },
}

/// The instruction set `gemm`'s products run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GemmIsa {
    /// Scalar code (one value per instruction).
    Scalar,
    /// AVX2 + FMA micro-kernels.
    Avx2,
    /// AVX-512 micro-kernels.
    Avx512,
    /// Whatever `gemm` picks on a CPU other than x86-64 (NEON on ARM), uncapped.
    Native,
}

impl GemmIsa {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            GemmIsa::Scalar => "scalar",
            GemmIsa::Avx2 => "avx2",
            GemmIsa::Avx512 => "avx512",
            GemmIsa::Native => "native",
        }
    }

    fn at(level: CpuLevel) -> Self {
        if cfg!(not(target_arch = "x86_64")) {
            return GemmIsa::Native;
        }
        match level {
            CpuLevel::Portable => GemmIsa::Scalar,
            CpuLevel::Avx2 => GemmIsa::Avx2,
            CpuLevel::Avx512 => GemmIsa::Avx512,
        }
    }
}

/// One product and the kernel it runs on, with the reason: a row of `albert info --kernels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductKernel {
    /// The product (f32 linear, int8 linear, attention, layer norm, ...).
    pub product: &'static str,
    /// The kernel it runs on.
    pub kernel: String,
    /// Why that one.
    pub why: String,
}

/// The kernels of this process: what [`kernels`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernels {
    /// The CPU's features.
    pub features: CpuFeatures,
    /// The cap [`CPU_ENV`] sets, if any.
    pub cap: Option<CpuLevel>,
    /// The level in force: the CPU's, or the cap where that is lower.
    pub level: CpuLevel,
    /// The f32 kernel of the prepared projections.
    pub f32: F32Kernel,
    /// Whether [`F32_KERNEL_ENV`] chose it.
    pub f32_forced: bool,
    /// The int8 kernel.
    pub int8: Int8Kernel,
    /// Whether [`INT8_KERNEL_ENV`] chose it.
    pub int8_forced: bool,
    /// The instruction set of our `gemm` products.
    pub gemm: GemmIsa,
}

impl Kernels {
    /// The kernels for a CPU with `features` under the variables `env`, or the error naming a variable that
    /// cannot be followed (an unknown value, a kernel the CPU lacks or one above the cap).
    pub fn choose(features: CpuFeatures, env: &KernelEnv) -> Result<Self, KernelEnvError> {
        let cap = env
            .cpu
            .as_deref()
            .map(|v| {
                CpuLevel::parse(v).ok_or_else(|| KernelEnvError::Unknown {
                    variable: CPU_ENV,
                    value: v.into(),
                    choices: "avx512, avx2 or portable",
                })
            })
            .transpose()?;
        let level = cap.map_or(features.level(), |c| c.min(features.level()));
        // A kernel runs where the CPU has its features and its level is within the cap.
        let allowed = |variable, value: &str, has: bool, needs_feature, needs: CpuLevel| {
            if !has {
                Err(KernelEnvError::Missing { variable, value: value.into(), needs: needs_feature })
            } else if needs > level {
                Err(KernelEnvError::AboveCap { variable, value: value.into(), cap: level.name(), needs: needs.name() })
            } else {
                Ok(())
            }
        };
        let f32 = match env.f32.as_deref() {
            None if level == CpuLevel::Avx512 => F32Kernel::Packed,
            // On AVX2 the packed kernel: 0.7-0.8 of `gemm`'s time on a few dozen rows (gemm packs the weight on
            // every call), level with it on thousands (docs/speed).
            None if level == CpuLevel::Avx2 => F32Kernel::PackedAvx2,
            None => F32Kernel::Gemm,
            Some(v) => {
                let kernel = F32Kernel::ALL.into_iter().find(|k| k.name() == v).ok_or_else(|| KernelEnvError::Unknown {
                    variable: F32_KERNEL_ENV,
                    value: v.into(),
                    choices: "packed-avx512, packed-avx2 or gemm",
                })?;
                let (has, feature) = f32_needs(kernel, features);
                allowed(F32_KERNEL_ENV, v, has, feature, f32_level(kernel))?;
                kernel
            }
        };
        let int8 = match env.int8.as_deref() {
            None => Int8Kernel::ALL
                .into_iter()
                .find(|&k| int8_needs(k, features).0 && int8_level(k) <= level)
                .unwrap_or(Int8Kernel::Portable),
            Some(v) => {
                let kernel = Int8Kernel::ALL.into_iter().find(|k| k.name() == v).ok_or_else(|| KernelEnvError::Unknown {
                    variable: INT8_KERNEL_ENV,
                    value: v.into(),
                    choices: "amx, avx512-vnni, avx2-7x7, avx2-7bit, avx2 or portable",
                })?;
                let (has, feature) = int8_needs(kernel, features);
                allowed(INT8_KERNEL_ENV, v, has, feature, int8_level(kernel))?;
                kernel
            }
        };
        Ok(Kernels {
            features,
            cap,
            level,
            f32,
            f32_forced: env.f32.is_some(),
            int8,
            int8_forced: env.int8.is_some(),
            gemm: GemmIsa::at(level),
        })
    }

    /// The portable kernels, on which the elementwise loops run where the variables are invalid (every product and
    /// every prepared layer returns the error; the loops between them cannot).
    fn portable() -> Self {
        Kernels {
            features: CpuFeatures::default(),
            cap: None,
            level: CpuLevel::Portable,
            f32: F32Kernel::Gemm,
            f32_forced: false,
            int8: Int8Kernel::Portable,
            int8_forced: false,
            gemm: GemmIsa::at(CpuLevel::Portable),
        }
    }

    /// Whether a command's `--int8` runs int8: on a fast integer kernel, or on the portable one where
    /// [`INT8_KERNEL_ENV`] asks for it. The portable kernel is 13 to 18 times slower than f32 (docs/speed), so
    /// without a fast kernel `--int8` runs f32 ([`crate::Precision::from_int8`]).
    pub fn int8_pays(&self) -> bool {
        self.int8 != Int8Kernel::Portable || self.int8_forced
    }

    /// What `--int8` gets here, in one sentence for `--help` and the note a falling-back command prints.
    pub fn int8_summary(&self) -> String {
        match (self.int8_pays(), self.int8_forced) {
            (true, true) => format!("here it runs on the {} int8 kernel ({INT8_KERNEL_ENV}){}", self.int8.name(), self.int8_weights()),
            (true, false) => format!("this CPU runs it on the {} int8 kernel{}", self.int8.name(), self.int8_weights()),
            (false, _) => format!(
                "there is no fast int8 kernel at {}, so --int8 runs f32 instead; {INT8_KERNEL_ENV}=portable forces \
                 the portable int8 kernel (13-18x slower)",
                self.level_phrase()
            ),
        }
    }

    /// The note on the weights (and activations) where the int8 kernel quantizes them to 7 bits, naming the finer
    /// alternatives.
    fn int8_weights(&self) -> String {
        if self.int8.weight_max() == 127 {
            return String::new();
        }
        if self.int8.activation_range().0 < 127 {
            return format!(
                ", with weights and activations quantized to 7 bits ({INT8_KERNEL_ENV}=avx2-7bit: 8-bit activations, \
                 slower; avx2: exact 8-bit weights, slower still)"
            );
        }
        format!(
            ", with weights quantized to 7 bits as ONNX Runtime's reduce_range does ({INT8_KERNEL_ENV}=avx2: exact 8-bit \
             weights, slower)"
        )
    }

    /// "the avx2 level (the CPU's best)", or with the cap that set it.
    fn level_phrase(&self) -> String {
        match self.cap {
            Some(cap) if cap < self.features.level() => format!("the {} level ({CPU_ENV}={})", self.level.name(), cap.name()),
            _ => format!("the {} level (the CPU's best)", self.level.name()),
        }
    }

    /// Each product, the kernel it runs on and why.
    pub fn products(&self) -> Vec<ProductKernel> {
        let at = self.level_phrase();
        let gemm = format!("gemm ({})", self.gemm.name());
        let row = |product, kernel: String, why: String| ProductKernel { product, kernel, why };
        let f32_why = match (self.f32_forced, self.f32) {
            (true, k) => format!("{F32_KERNEL_ENV}={}", k.name()),
            (false, F32Kernel::Packed) => format!("{at}: weights packed once for the AVX-512 micro-kernel"),
            (false, F32Kernel::PackedAvx2) => format!("{at}: weights packed once for the AVX2 + FMA micro-kernel"),
            (false, _) => format!("{at}: `gemm` on column-major weights"),
        };
        // The faster int8 kernels passed over: those the CPU lacks, and whether the cap excluded any.
        let faster = Int8Kernel::ALL.into_iter().take_while(|&k| k != self.int8);
        let lacks: Vec<&str> = faster.clone().filter(|&k| !int8_needs(k, self.features).0).map(|k| int8_needs(k, self.features).1).collect();
        let capped = faster.clone().any(|k| int8_needs(k, self.features).0);
        let int8_why = match (self.int8_forced, capped, lacks.is_empty()) {
            (true, ..) => format!("{INT8_KERNEL_ENV}={}", self.int8.name()),
            (false, true, _) => format!("{at}: the fastest int8 kernel within the cap"),
            (false, false, true) => format!("{at}: the fastest int8 kernel"),
            (false, false, false) => format!("{at}: the fastest int8 kernel this CPU has (it lacks {})", lacks.join(", ")),
        };
        let flag = if self.int8_pays() {
            row("--int8", format!("int8 ({})", self.int8.name()), "an integer kernel faster than f32, or one asked for".into())
        } else {
            row(
                "--int8",
                format!("f32 ({})", f32_kernel_name(self)),
                format!("no fast int8 kernel at {at}; {INT8_KERNEL_ENV}=portable forces the portable one (13-18x slower)"),
            )
        };
        let vector = |product| row(product, self.level.name().into(), format!("{at}: {}", self.level.vector_code()));
        vec![
            row("f32 linear", f32_kernel_name(self), f32_why),
            row("int8 linear", self.int8.name().into(), int8_why),
            flag,
            row("attention", format!("{gemm} products, {} softmax", self.level.name()), format!("{at}: one task per (sequence, head)")),
            row("other f32 products", gemm.clone(), format!("{at}: `gemm`'s own micro-kernels of that level (training, heads)")),
            vector("layer norm"),
            vector("softmax"),
            vector("GELU and other activations"),
            vector("int8 input quantization"),
            row(
                "candle's products",
                "gemm (uncapped)".into(),
                "`Tensor::matmul` calls `gemm` directly, which has no cap (backward passes, output_attentions)".into(),
            ),
        ]
    }
}

/// The f32 linear kernel's name, with `gemm`'s instruction set.
fn f32_kernel_name(k: &Kernels) -> String {
    match k.f32 {
        F32Kernel::Gemm => format!("gemm ({})", k.gemm.name()),
        other => other.name().into(),
    }
}

/// The level an f32 kernel needs.
fn f32_level(kernel: F32Kernel) -> CpuLevel {
    match kernel {
        F32Kernel::Packed => CpuLevel::Avx512,
        F32Kernel::PackedAvx2 => CpuLevel::Avx2,
        F32Kernel::Gemm => CpuLevel::Portable,
    }
}

/// Whether the CPU has what an f32 kernel needs, and what that is.
fn f32_needs(kernel: F32Kernel, f: CpuFeatures) -> (bool, &'static str) {
    match kernel {
        F32Kernel::Packed => (f.avx512, "AVX-512"),
        F32Kernel::PackedAvx2 => (f.avx2_fma, "AVX2 and FMA"),
        F32Kernel::Gemm => (true, "nothing"),
    }
}

/// The level an int8 kernel needs.
fn int8_level(kernel: Int8Kernel) -> CpuLevel {
    match kernel {
        Int8Kernel::Amx | Int8Kernel::Vnni => CpuLevel::Avx512,
        Int8Kernel::Avx2SevenBit | Int8Kernel::Avx2SevenBySeven | Int8Kernel::Avx2 => CpuLevel::Avx2,
        Int8Kernel::Portable => CpuLevel::Portable,
    }
}

/// Whether the CPU has what an int8 kernel needs, and what that is.
fn int8_needs(kernel: Int8Kernel, f: CpuFeatures) -> (bool, &'static str) {
    match kernel {
        Int8Kernel::Amx => (f.amx, "AMX-INT8 (or the OS's leave to use it)"),
        Int8Kernel::Vnni => (f.avx512_vnni, "AVX-512 VNNI"),
        Int8Kernel::Avx2SevenBit | Int8Kernel::Avx2SevenBySeven | Int8Kernel::Avx2 => (f.avx2_fma, "AVX2"),
        Int8Kernel::Portable => (true, "nothing"),
    }
}

static CHOICE: std::sync::OnceLock<Result<Kernels, KernelEnvError>> = std::sync::OnceLock::new();

/// The kernels of this process (this CPU under this process's variables, read once), or the error naming a
/// variable that cannot be followed.
pub fn kernels() -> Result<&'static Kernels, KernelEnvError> {
    CHOICE.get_or_init(|| Kernels::choose(CpuFeatures::detect(), &KernelEnv::from_env())).as_ref().map_err(Clone::clone)
}

/// [`kernels`], or where the variables are invalid the portable kernels: for the loops that cannot return the
/// error, which every product and prepared layer around them returns.
pub(super) fn chosen() -> &'static Kernels {
    static PORTABLE: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
    kernels().unwrap_or_else(|_| PORTABLE.get_or_init(Kernels::portable))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sapphire Rapids (AMX), Ice Lake (VNNI), Zen 3 (this development machine) and an x86-64 without AVX2.
    const SAPPHIRE_RAPIDS: CpuFeatures = CpuFeatures { avx2_fma: true, avx512: true, avx512_vnni: true, amx: true, avx_vnni: true };
    const ICE_LAKE: CpuFeatures = CpuFeatures { amx: false, avx_vnni: false, ..SAPPHIRE_RAPIDS };
    const ZEN3: CpuFeatures = CpuFeatures { avx2_fma: true, avx512: false, avx512_vnni: false, amx: false, avx_vnni: false };
    const SSE2: CpuFeatures = CpuFeatures { avx2_fma: false, ..ZEN3 };

    fn env(cpu: Option<&str>, f32: Option<&str>, int8: Option<&str>) -> KernelEnv {
        KernelEnv { cpu: cpu.map(Into::into), f32: f32.map(Into::into), int8: int8.map(Into::into) }
    }

    /// (f32 linear, int8 linear, gemm, vector level, --int8 runs int8) under `cap`.
    fn picks(features: CpuFeatures, cap: Option<&str>) -> (&'static str, &'static str, &'static str, CpuLevel, bool) {
        let k = Kernels::choose(features, &env(cap, None, None)).unwrap();
        (k.f32.name(), k.int8.name(), k.gemm.name(), k.level, k.int8_pays())
    }

    /// What each product picks at each cap level, on four CPUs (the kernels written out from the design: the best
    /// kernel whose features the CPU has and whose level is within the cap).
    #[test]
    fn each_cap_level_picks_each_products_kernel() {
        if cfg!(not(target_arch = "x86_64")) {
            albert_testkit::skip("the levels are x86-64's");
            return;
        }
        use CpuLevel::*;
        let avx512 = ("packed-avx512", "amx", "avx512", Avx512, true);
        let avx2 = ("packed-avx2", "avx2-7x7", "avx2", Avx2, true);
        let portable = ("gemm", "portable", "scalar", Portable, false);
        for cpu in [None, Some("avx512")] {
            assert_eq!(picks(SAPPHIRE_RAPIDS, cpu), avx512);
            assert_eq!(picks(ICE_LAKE, cpu), ("packed-avx512", "avx512-vnni", "avx512", Avx512, true));
            assert_eq!(picks(ZEN3, cpu), avx2, "a cap above the CPU changes nothing");
            assert_eq!(picks(SSE2, cpu), portable);
        }
        for cpu in [SAPPHIRE_RAPIDS, ICE_LAKE, ZEN3] {
            assert_eq!(picks(cpu, Some("avx2")), avx2);
        }
        assert_eq!(picks(SSE2, Some("avx2")), portable);
        for cpu in [SAPPHIRE_RAPIDS, ICE_LAKE, ZEN3, SSE2] {
            assert_eq!(picks(cpu, Some("portable")), portable);
        }
    }

    /// The per-family variables choose within the cap; a kernel above it, one the CPU lacks and an unknown value
    /// are errors that name the variable.
    #[test]
    fn family_variables_choose_within_the_cap() {
        let k = Kernels::choose(SAPPHIRE_RAPIDS, &env(Some("avx512"), Some("packed-avx2"), Some("avx512-vnni"))).unwrap();
        assert_eq!((k.f32, k.int8, k.f32_forced, k.int8_forced), (F32Kernel::PackedAvx2, Int8Kernel::Vnni, true, true));
        let k = Kernels::choose(ZEN3, &env(Some("avx2"), Some("gemm"), Some("portable"))).unwrap();
        assert_eq!((k.f32, k.int8, k.int8_pays()), (F32Kernel::Gemm, Int8Kernel::Portable, true), "a forced portable kernel runs int8");
        let err = |e| Kernels::choose(SAPPHIRE_RAPIDS, &e).unwrap_err().to_string();
        assert_eq!(err(env(Some("avx2"), Some("packed-avx512"), None)), "ALBERT_F32_KERNEL=packed-avx512 is above the cap ALBERT_CPU=avx2: the packed-avx512 kernel needs the avx512 level");
        assert_eq!(err(env(Some("portable"), None, Some("avx2"))), "ALBERT_INT8_KERNEL=avx2 is above the cap ALBERT_CPU=portable: the avx2 kernel needs the avx2 level");
        assert_eq!(err(env(Some("avx3"), None, None)), "ALBERT_CPU=avx3 is not a choice: use avx512, avx2 or portable");
        assert_eq!(err(env(None, Some("mkl"), None)), "ALBERT_F32_KERNEL=mkl is not a choice: use packed-avx512, packed-avx2 or gemm");
        assert_eq!(err(env(None, None, Some("vnni"))), "ALBERT_INT8_KERNEL=vnni is not a choice: use amx, avx512-vnni, avx2-7x7, avx2-7bit, avx2 or portable");
        let lacks = Kernels::choose(ZEN3, &env(None, None, Some("amx"))).unwrap_err().to_string();
        assert!(lacks.starts_with("ALBERT_INT8_KERNEL=amx: this CPU lacks AMX-INT8"), "{lacks}");
        let lacks = Kernels::choose(ZEN3, &env(None, Some("packed-avx512"), None)).unwrap_err().to_string();
        assert!(lacks.starts_with("ALBERT_F32_KERNEL=packed-avx512: this CPU lacks AVX-512"), "{lacks}");
    }

    /// `albert info --kernels` names every product, and says why --int8 runs f32 where it does.
    #[test]
    fn products_name_the_kernel_and_the_reason() {
        let k = Kernels::choose(SAPPHIRE_RAPIDS, &env(Some("portable"), None, None)).unwrap();
        let rows = k.products();
        let names: Vec<&str> = rows.iter().map(|r| r.product).collect();
        for product in ["f32 linear", "int8 linear", "--int8", "attention", "layer norm", "softmax", "GELU and other activations"] {
            assert!(names.contains(&product), "{product} missing from {names:?}");
        }
        let flag = rows.iter().find(|r| r.product == "--int8").unwrap();
        assert_eq!(flag.kernel, "f32 (gemm (scalar))");
        assert!(flag.why.contains("ALBERT_CPU=portable"), "{}", flag.why);
        assert!(k.int8_summary().contains("runs f32 instead"));
        let k = Kernels::choose(ZEN3, &env(None, None, None)).unwrap();
        let int8 = k.products().into_iter().find(|r| r.product == "int8 linear").unwrap();
        assert_eq!(int8.kernel, "avx2-7x7");
        assert!(int8.why.contains("it lacks AMX-INT8"), "{}", int8.why);
        assert!(k.int8_summary().contains("weights and activations quantized to 7 bits"), "{}", k.int8_summary());
        let k = Kernels::choose(ZEN3, &env(None, None, Some("avx2-7bit"))).unwrap();
        assert!(k.int8_summary().contains("weights quantized to 7 bits"), "{}", k.int8_summary());
        let k = Kernels::choose(ZEN3, &env(None, None, Some("avx2"))).unwrap();
        assert!(!k.int8_summary().contains("7 bits"), "{}", k.int8_summary());
    }

    /// The process's own choice agrees with the CPU and the variables it was started with: CI runs the kernel
    /// tests under each cap, and the KERNEL line says which level this run had.
    #[test]
    fn this_process_follows_its_variables() {
        let k = kernels().expect("CI sets only valid kernel variables");
        let want = Kernels::choose(CpuFeatures::detect(), &KernelEnv::from_env()).unwrap();
        assert_eq!(*k, want);
        if let Some(cap) = k.cap {
            assert!(k.level <= cap);
        }
        albert_testkit::ran_on(&format!("level {}, f32 {}, int8 {}, gemm {}", k.level.name(), k.f32.name(), k.int8.name(), k.gemm.name()));
    }
}
