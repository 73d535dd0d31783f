//! Training curves as a PNG: losses, accuracies and the learning rate of a pretraining run's `metrics.jsonl`, drawn
//! with plotters into an RGB bitmap and encoded with png. Text is DejaVu Sans, embedded by the `dejavu` crate and
//! rendered through ab_glyph: no system font, fontconfig or freetype is needed.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::pretrain::{Record, TrainError};

/// An RGB color.
pub type Rgb = [u8; 3];

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

const PANEL_W: i32 = 520;
const PANEL_H: i32 = 420;
/// The plot area's margins in a panel: tick labels on the left, the title above, tick labels and the x label below.
const LEFT: i32 = 84;
const RIGHT: i32 = 16;
const TOP: i32 = 40;
const BOTTOM: i32 = 48;
/// Height of a legend row.
const LEGEND_ROW: i32 = 16;
/// The family name the embedded font is registered under for plotters.
const FONT: &str = "sans-serif";

/// Why the curves could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font was not accepted, or plotters failed to draw.
    #[error("drawing the curves: {0}")]
    Draw(String),
    /// The bitmap could not be encoded.
    #[error("encoding the curves as PNG: {0}")]
    Png(#[from] png::EncodingError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Draw(e.to_string())
    }
}

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
pub fn render_png(panels: &[Panel], x_label: &str) -> Result<Vec<u8>, PlotError> {
    let bitmap = draw(panels, x_label)?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, bitmap.width as u32, bitmap.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&bitmap.rgb)?;
    writer.finish()?;
    Ok(png)
}

/// An RGB image, row-major, origin at the top left.
struct Bitmap {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Bitmap {
    /// The drawing area over the whole image.
    fn area(&mut self) -> Result<DrawingArea<BitMapBackend<'_>, Shift>, PlotError> {
        let size = (self.width as u32, self.height as u32);
        let backend = BitMapBackend::with_buffer_and_format(&mut self.rgb, size).map_err(|e| PlotError::Draw(e.to_string()))?;
        Ok(backend.into_drawing_area())
    }

    /// Pixels of the rectangle [x0, x1) x [y0, y1) (clipped to the image) whose color is one of `colors`.
    fn count(&self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), colors: &[Rgb]) -> usize {
        let (w, h) = (self.width as i32, self.height as i32);
        (y0.max(0)..y1.min(h))
            .flat_map(|y| (x0.max(0)..x1.min(w)).map(move |x| 3 * (y * w + x) as usize))
            .filter(|&i| colors.iter().any(|c| self.rgb[i..i + 3] == *c))
            .count()
    }
}

/// Registers the embedded DejaVu Sans as [`FONT`], once per process.
fn embedded_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font was not accepted".to_string())
        })
        .clone()
        .map_err(PlotError::Draw)
}

/// Where a panel's curves were drawn, and the size of its legend.
struct Frame {
    x: Range<i32>,
    y: Range<i32>,
    legend: (i32, i32),
}

/// Draws `panels` side by side into a bitmap: first every panel's axes and curves, then each legend where it hides
/// the fewest pixels of that panel's curves (which needs the curves drawn).
fn draw(panels: &[Panel], x_label: &str) -> Result<Bitmap, PlotError> {
    embedded_font()?;
    let (width, height) = ((PANEL_W * panels.len().max(1) as i32) as usize, PANEL_H as usize);
    let mut bitmap = Bitmap { width, height, rgb: vec![255; 3 * width * height] };
    let frames = {
        let root = bitmap.area()?;
        let columns = root.split_evenly((1, panels.len().max(1)));
        let frames = columns.iter().zip(panels).map(|(area, panel)| draw_panel(area, panel, x_label)).collect::<Result<Vec<_>, _>>()?;
        root.present()?;
        frames
    };
    let places: Vec<Option<(i32, i32)>> = frames.iter().zip(panels).map(|(f, p)| f.as_ref().map(|f| legend_place(&bitmap, f, p))).collect();
    let root = bitmap.area()?;
    for ((frame, place), panel) in frames.iter().zip(places).zip(panels) {
        if let (Some(frame), Some(at)) = (frame, place) {
            draw_legend(&root, at, frame.legend, panel)?;
        }
    }
    root.present()?;
    drop(root);
    Ok(bitmap)
}

fn color(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn text_style(size: u32, c: Rgb) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color(c))
}

/// A linear axis whose grid lines and labels are at [`ticks`] (plotters' own f64 axis picks others, and takes no
/// label formatter with key points of our choosing).
struct Axis {
    linear: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(range: Range<f64>) -> Self {
        Self { ticks: ticks(range.start, range.end), linear: range.into() }
    }
}

impl Ranged for Axis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    /// The ticks as bold (labelled) points; no light grid lines between them.
    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
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

/// A panel's title, axes and curves; `None` for a panel without data (it says so instead).
fn draw_panel(area: &DrawingArea<BitMapBackend<'_>, Shift>, panel: &Panel, x_label: &str) -> Result<Option<Frame>, PlotError> {
    let title = text_style(18, INK).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw_text(&panel.title, &title, (PANEL_W / 2, 10))?;
    let points = || panel.series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points() {
        (xlo, xhi, ylo, yhi) = (xlo.min(x), xhi.max(x), ylo.min(y), yhi.max(y));
    }
    if xlo > xhi {
        area.draw_text("no data", &text_style(18, INK), (LEFT + 10, PANEL_H / 2))?;
        return Ok(None);
    }
    if xhi - xlo < 1e-12 {
        (xlo, xhi) = (xlo - 1.0, xhi + 1.0);
    }
    let pad = ((yhi - ylo) * 0.05).max(yhi.abs() * 1e-3).max(1e-12);
    (ylo, yhi) = (ylo - pad, yhi + pad);
    let mut chart = ChartBuilder::on(area)
        .margin_top(TOP)
        .margin_right(RIGHT)
        .y_label_area_size(LEFT)
        .x_label_area_size(BOTTOM)
        .build_cartesian_2d(Axis::new(xlo..xhi), Axis::new(ylo..yhi))?;
    let (x_label_of, y_label_of) = (|v: &f64| label(*v, xhi - xlo), |v: &f64| label(*v, yhi - ylo));
    chart
        .configure_mesh()
        .bold_line_style(color(GRID))
        .axis_style(color(INK))
        .label_style(text_style(13, INK))
        .axis_desc_style(text_style(15, INK))
        .x_label_formatter(&x_label_of)
        .y_label_formatter(&y_label_of)
        .x_desc(x_label)
        .draw()?;
    for s in &panel.series {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        chart.draw_series(LineSeries::new(pts.iter().copied(), color(s.color).stroke_width(2)))?;
        if pts.len() < 60 {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color(s.color).filled())))?;
        }
    }
    let (x, y) = chart.plotting_area().get_pixel_range();
    let widest = panel.series.iter().map(|s| area.estimate_text_size(&s.name, &text_style(13, INK)).map(|(w, _)| w as i32)).try_fold(0, |m, w| w.map(|w| m.max(w)))?;
    Ok(Some(Frame { x, y, legend: (widest + 38, 8 + LEGEND_ROW * panel.series.len() as i32) }))
}

/// The legend's top left corner: the corner or side middle of the plot area where it hides the fewest pixels of the
/// curves (the first of equals: top right, bottom right, middle right, then the left side).
fn legend_place(bitmap: &Bitmap, frame: &Frame, panel: &Panel) -> (i32, i32) {
    let ((px0, px1), (py0, py1), (w, h)) = ((frame.x.start, frame.x.end), (frame.y.start, frame.y.end), frame.legend);
    let (right, mid) = (px1 - 2 - w, (py0 + py1 - h) / 2);
    let colors: Vec<Rgb> = panel.series.iter().map(|s| s.color).collect();
    [(right, py0 + 2), (right, py1 - 2 - h), (right, mid), (px0 + 2, py0 + 2), (px0 + 2, py1 - 2 - h), (px0 + 2, mid)]
        .into_iter()
        .min_by_key(|&(x, y)| bitmap.count((x, y), (x + w, y + h), &colors))
        .expect("candidate places")
}

/// The legend, on white, at `(x, y)`: a swatch and the name of each curve, in its color.
fn draw_legend(root: &DrawingArea<BitMapBackend<'_>, Shift>, (x, y): (i32, i32), (w, h): (i32, i32), panel: &Panel) -> Result<(), PlotError> {
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], color(WHITE).filled()))?;
    for (k, s) in panel.series.iter().enumerate() {
        let (lx, ly) = (x + 6, y + 4 + LEGEND_ROW * k as i32);
        root.draw(&Rectangle::new([(lx, ly + 6), (lx + 18, ly + 9)], color(s.color).filled()))?;
        root.draw_text(&s.name, &text_style(13, s.color), (lx + 24, ly))?;
    }
    Ok(())
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
        let c = draw(&[panel], "step").unwrap();
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
        let png = render_png(&panels, "step").unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
