//! Training curves as a PNG: losses, accuracies and the learning rate of a pretraining run's `metrics.jsonl`.

mod raster;

use std::path::Path;

use crate::pretrain::{Record, TrainError};
pub use raster::{Canvas, Rgb};

/// One curve of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Line color.
    pub color: Rgb,
    /// (x, y) points in order of x.
    pub points: Vec<(f64, f64)>,
}

/// One chart: a title and its curves, sharing axes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// Curves, drawn in order.
    pub series: Vec<Series>,
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const BLUE: Rgb = [31, 119, 180];
const ORANGE: Rgb = [255, 127, 14];
const GREEN: Rgb = [44, 160, 44];
const RED: Rgb = [214, 39, 40];

const PANEL_W: i64 = 520;
const PANEL_H: i64 = 420;
const LEFT: i64 = 84;
const RIGHT: i64 = 16;
const TOP: i64 = 40;
const BOTTOM: i64 = 44;

/// Reads the records of a `metrics.jsonl`, naming the file and line of anything unreadable.
pub fn read_metrics(path: &Path) -> Result<Vec<Record>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| TrainError::InvalidConfig(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// The panels of a pretraining run: losses, accuracies (training values smoothed over a window of about 1% of the
/// run, held-out evaluations as they were measured) and the learning rate.
pub fn pretraining_panels(records: &[Record]) -> Vec<Panel> {
    let (mut train, mut eval) = (Vec::new(), Vec::new());
    for r in records {
        match r {
            Record::Train(s) => train.push(s),
            Record::Eval(e) => eval.push(e),
        }
    }
    let window = (train.len() / 100).max(1);
    let smooth = |f: &dyn Fn(&crate::pretrain::StepRecord) -> f64| -> Vec<(f64, f64)> {
        let values: Vec<f64> = train.iter().map(|s| f(s)).collect();
        let mut sum = 0.0;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                sum += v;
                if i >= window {
                    sum -= values[i - window];
                }
                (train[i].step as f64, sum / (i + 1).min(window) as f64)
            })
            .collect()
    };
    let held = |f: &dyn Fn(&crate::pretrain::EvalRecord) -> f64| -> Vec<(f64, f64)> {
        eval.iter().map(|e| (e.step as f64, f(e))).collect()
    };
    let series = |name: &str, color, points| Series { name: name.into(), color, points };
    vec![
        Panel {
            title: "Loss".into(),
            series: vec![
                series("train MLM", BLUE, smooth(&|s| s.mlm_loss)),
                series("held-out MLM", ORANGE, held(&|e| e.mlm_loss)),
                series("train SOP", GREEN, smooth(&|s| s.sop_loss)),
                series("held-out SOP", RED, held(&|e| e.sop_loss)),
            ],
        },
        Panel {
            title: "Accuracy".into(),
            series: vec![
                series("train MLM", BLUE, smooth(&|s| s.mlm_accuracy)),
                series("held-out MLM", ORANGE, held(&|e| e.mlm_accuracy)),
                series("train SOP", GREEN, smooth(&|s| s.sop_accuracy)),
                series("held-out SOP", RED, held(&|e| e.sop_accuracy)),
            ],
        },
        Panel { title: "Learning rate".into(), series: vec![series("lr", BLUE, train.iter().map(|s| (s.step as f64, s.lr)).collect())] },
    ]
}

/// Draws `panels` side by side, `x_label` under each, as a PNG.
pub fn render_png(panels: &[Panel], x_label: &str) -> Vec<u8> {
    let mut canvas = Canvas::new((PANEL_W * panels.len().max(1) as i64) as usize, PANEL_H as usize, WHITE);
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut canvas, i as i64 * PANEL_W, panel, x_label);
    }
    canvas.to_png()
}

/// Nice tick positions (1, 2 or 5 times a power of ten) covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    (first..).map(|k| k as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect()
}

fn label(v: f64, span: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() < 1e-2 || v.abs() >= 1e5 {
        return format!("{v:.1e}").replace("e-", "E-").replace('e', "E");
    }
    let decimals = (-(span / 5.0).log10().floor()).clamp(0.0, 4.0) as usize;
    format!("{v:.decimals$}")
}

fn draw_panel(c: &mut Canvas, x0: i64, panel: &Panel, x_label: &str) {
    let (px0, px1, py0, py1) = (x0 + LEFT, x0 + PANEL_W - RIGHT, TOP, PANEL_H - BOTTOM);
    c.text((x0 + (PANEL_W - Canvas::text_width(&panel.title, 2)) / 2, 12), &panel.title, 2, INK);
    let points = || panel.series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points() {
        (xlo, xhi, ylo, yhi) = (xlo.min(x), xhi.max(x), ylo.min(y), yhi.max(y));
    }
    if xlo > xhi {
        c.text((px0 + 10, (py0 + py1) / 2), "no data", 2, INK);
        return;
    }
    if xhi - xlo < 1e-12 {
        (xlo, xhi) = (xlo - 1.0, xhi + 1.0);
    }
    let pad = ((yhi - ylo) * 0.05).max(yhi.abs() * 1e-3).max(1e-12);
    (ylo, yhi) = (ylo - pad, yhi + pad);
    let sx = |x: f64| px0 + ((x - xlo) / (xhi - xlo) * (px1 - px0) as f64).round() as i64;
    let sy = |y: f64| py1 - ((y - ylo) / (yhi - ylo) * (py1 - py0) as f64).round() as i64;
    for t in ticks(ylo, yhi) {
        let y = sy(t);
        c.line((px0, y), (px1, y), 1, GRID);
        let text = label(t, yhi - ylo);
        c.text((px0 - 8 - Canvas::text_width(&text, 1) - 2, y - 3), &text, 1, INK);
    }
    for t in ticks(xlo, xhi) {
        let x = sx(t);
        c.line((x, py0), (x, py1), 1, GRID);
        let text = label(t, xhi - xlo);
        c.text((x - Canvas::text_width(&text, 1) / 2, py1 + 8), &text, 1, INK);
    }
    c.line((px0, py0), (px0, py1), 1, INK);
    c.line((px0, py1), (px1, py1), 1, INK);
    c.text((px0 + (px1 - px0 - Canvas::text_width(x_label, 2)) / 2, py1 + 22), x_label, 2, INK);
    for s in &panel.series {
        let pts: Vec<(i64, i64)> = s.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).map(|&(x, y)| (sx(x), sy(y))).collect();
        for w in pts.windows(2) {
            c.line(w[0], w[1], 2, s.color);
        }
        if pts.len() < 60 {
            for &(x, y) in &pts {
                c.fill((x - 3, y - 3), (x + 4, y + 4), s.color);
            }
        }
    }
    // The legend, on white, at the corner or side middle where it hides the fewest pixels of the curves (the
    // first of equals: top right, bottom right, middle right, then the left side).
    let widest = panel.series.iter().map(|s| Canvas::text_width(&s.name, 1)).max().unwrap_or(0);
    let (w, h) = (widest + 38, 8 + 14 * panel.series.len() as i64);
    let (right, mid) = (px1 - 2 - w, (py0 + py1 - h) / 2);
    let colors: Vec<Rgb> = panel.series.iter().map(|s| s.color).collect();
    let (bx, by) = [(right, py0 + 2), (right, py1 - 2 - h), (right, mid), (px0 + 2, py0 + 2), (px0 + 2, py1 - 2 - h), (px0 + 2, mid)]
        .into_iter()
        .min_by_key(|&(x, y)| c.count((x, y), (x + w, y + h), &colors))
        .expect("candidate places");
    c.fill((bx, by), (bx + w, by + h), WHITE);
    for (k, s) in panel.series.iter().enumerate() {
        let (lx, ly) = (bx + 6, by + 4 + 14 * k as i64);
        c.fill((lx, ly + 2), (lx + 18, ly + 5), s.color);
        c.text((lx + 24, ly), &s.name, 1, s.color);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        let close = |a: Vec<f64>, b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(ticks(0.0, 10.0), &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]));
        assert!(close(ticks(0.13, 0.61), &[0.2, 0.3, 0.4, 0.5, 0.6]));
    }

    #[test]
    fn labels_fit_the_span() {
        assert_eq!(label(0.25, 0.2), "0.25");
        assert_eq!(label(0.30000000000000004, 0.5), "0.3");
        assert_eq!(label(2000.0, 3000.0), "2000");
        assert_eq!(label(0.0005, 0.001), "5.0E-4");
    }

    #[test]
    fn the_legend_does_not_hide_the_curves() {
        // Flat curves along the top and the bottom of the plot: only the middle of a side is free.
        let flat = |name: &str, color, y| Series { name: name.into(), color, points: (0..=100).map(|i| (i as f64, y)).collect() };
        let panel = Panel { title: "t".into(), series: vec![flat("top", BLUE, 1.0), flat("bottom", GREEN, 0.0)] };
        let mut c = Canvas::new(PANEL_W as usize, PANEL_H as usize, WHITE);
        draw_panel(&mut c, 0, &panel, "step");
        let band = (PANEL_H - BOTTOM - TOP) / 10;
        for x in LEFT + 1..PANEL_W - RIGHT - 1 {
            assert!(c.count((x, TOP), (x + 1, TOP + band), &[BLUE]) > 0, "top curve hidden at x = {x}");
            assert!(c.count((x, PANEL_H - BOTTOM - band), (x + 1, PANEL_H - BOTTOM), &[GREEN]) > 0, "bottom curve hidden at x = {x}");
        }
    }

    #[test]
    fn pretraining_panels_split_train_and_eval_records() {
        let lines = [
            r#"{"kind":"train","step":1,"epoch":0,"loss":3.0,"mlm_loss":2.5,"sop_loss":0.5,"mlm_accuracy":0.1,"sop_accuracy":0.5,"lr":0.001,"grad_norm":1.0,"tokens":10,"tokens_per_second":5.0}"#,
            r#"{"kind":"train","step":2,"epoch":0,"loss":2.0,"mlm_loss":1.5,"sop_loss":0.5,"mlm_accuracy":0.3,"sop_accuracy":0.5,"lr":0.0005,"grad_norm":1.0,"tokens":10,"tokens_per_second":5.0}"#,
            r#"{"kind":"eval","step":2,"mlm_loss":1.7,"mlm_accuracy":0.2,"sop_loss":0.6,"sop_accuracy":0.4,"sequences":4}"#,
        ];
        let records: Vec<Record> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let panels = pretraining_panels(&records);
        assert_eq!(panels[0].series[0].points, [(1.0, 2.5), (2.0, 1.5)]);
        assert_eq!(panels[0].series[1].points, [(2.0, 1.7)]);
        assert_eq!(panels[1].series[3].points, [(2.0, 0.4)]);
        assert_eq!(panels[2].series[0].points, [(1.0, 0.001), (2.0, 0.0005)]);
        let png = render_png(&panels, "step");
        assert_eq!(&png[1..4], b"PNG");
    }
}
