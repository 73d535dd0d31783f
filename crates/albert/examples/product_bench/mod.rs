//! What the product microbenchmarks (`f32_kernel_bench`, `int8_linear_bench`) share: their arguments and the
//! process's CPU clock.

/// `[ROWS,...] [IN:OUT,...] [REPEATS]` from the command line, each defaulting to the given text.
pub struct Args {
    pub rows: Vec<usize>,
    pub shapes: Vec<(usize, usize)>,
    pub repeats: usize,
}

impl Args {
    pub fn parse(rows: &str, shapes: &str, repeats: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let list = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
        Ok(Self {
            rows: list(0, rows).split(',').map(str::parse).collect::<Result<_, _>>()?,
            shapes: list(1, shapes)
                .split(',')
                .map(|s| {
                    let (i, o) = s.split_once(':').ok_or("shapes are IN:OUT")?;
                    Ok::<_, Box<dyn std::error::Error>>((i.parse()?, o.parse()?))
                })
                .collect::<Result<_, _>>()?,
            repeats: list(2, repeats).parse()?,
        })
    }
}

/// Milliseconds of CPU time this process's threads have used (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn on_cpu_ms() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}
