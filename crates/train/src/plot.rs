//! PNG line charts (plotters): loss curves, forecasts against actual values, gradient norms.
//! Charts of a run's history are in [`crate::history`].
//!
//! Text uses the DejaVu Sans font shipped in `assets/` (Bitstream Vera licence, beside it), so
//! plots render the same on any machine without system fonts.

use std::path::Path;
use std::sync::Once;

use burn_rnn_data::{SequenceDataset, Target, TargetKind};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Result, TrainError};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One named line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Draw as a dashed-looking line of points instead of a solid line.
    pub markers: bool,
    /// Join the points with a line (off for a scatter of points).
    pub joined: bool,
}

impl Series {
    /// A solid line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            markers: false,
            joined: true,
        }
    }

    /// A line with a marker at every point (e.g. predictions beside the actual values).
    pub fn marked(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            markers: true,
            joined: true,
        }
    }

    /// Points only, not joined (a scatter, e.g. predicted against actual values).
    pub fn dots(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            markers: true,
            joined: false,
        }
    }
}

/// One chart in a grid of charts.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Chart title.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Plot `log10(y)` (for quantities spanning many orders of magnitude); y must be > 0.
    pub log_y: bool,
}

impl Panel {
    /// A linear chart.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_y: false,
        }
    }

    /// Adds a line.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Switches the y axis to a log scale.
    pub fn log_scale(mut self) -> Self {
        self.log_y = true;
        self
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to be valid; a failure would only lose the text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A tick label: scientific notation for very large or small magnitudes, else 2–3 significant
/// digits.
fn format_tick(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude != 0.0 && !(0.01..1000.0).contains(&magnitude) {
        format!("{v:.1e}")
    } else if magnitude >= 10.0 {
        format!("{v:.1}")
    } else if magnitude >= 0.1 || magnitude == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Writes `panels` as a grid with `columns` columns to a PNG file at `path`, creating its
/// directory if needed.
pub fn write_png(path: &Path, title: &str, panels: &[Panel], columns: usize) -> Result<()> {
    register_font();
    let io = |message: String| TrainError::Io {
        path: path.to_path_buf(),
        message,
    };
    if panels.is_empty() {
        return Err(io("nothing to plot".into()));
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::artifacts::io_error(dir, e))?;
    }
    let columns = columns.clamp(1, panels.len());
    let rows = panels.len().div_ceil(columns);
    let size = (560 * columns as u32, 380 * rows as u32 + 50);
    // Drawn into a temporary file beside the target, then renamed over it.
    let file = burn_rnn_io::AtomicFile::new(path).map_err(|e| io(e.to_string()))?;
    draw_grid(file.path(), size, title, panels, (rows, columns)).map_err(io)?;
    file.commit()
        .map_err(|e| io(format!("cannot write the PNG: {e}")))
}

/// Draws the panels on a `rows × columns` grid into a PNG at `path`.
fn draw_grid(
    path: &Path,
    size: (u32, u32),
    title: &str,
    panels: &[Panel],
    (rows, columns): (usize, usize),
) -> std::result::Result<(), String> {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(title, ("sans-serif", 26))
        .map_err(|e| e.to_string())?;
    for (area, panel) in root.split_evenly((rows, columns)).iter().zip(panels) {
        draw_panel(area, panel).map_err(|e| e.to_string())?;
    }
    root.present()
        .map_err(|e| format!("cannot write the PNG: {e}"))
}

/// One chart per feature of sample `index` of a many-to-many forecasting dataset, whose target
/// at each step is the next step's features (K = D): the measured values at every valid step,
/// and the last step's target after them, as a line; `forecasts` (the model's forecast made
/// after each step, `[length][K]`, e.g. [`Predictor::predict_rows`](crate::Predictor) of that
/// sample) as marked points at the steps they forecast, named "forecast for the next
/// `<x_label>`". `labels` gives each feature's
/// `(name, unit)`: the charts are titled `"<id> — <name>"`, their y axes the unit.
pub fn next_step_forecast_panels(
    data: &SequenceDataset,
    index: usize,
    forecasts: &[Vec<f32>],
    x_label: &str,
    labels: &[(&str, &str)],
) -> Result<Vec<Panel>> {
    let steps = data.steps(index)?;
    let d = data.num_features();
    let sample = &data.samples()[index];
    let next = match (&sample.target, data.target_kind()) {
        (Target::PerStep(v), TargetKind::PerStep { outputs }) if outputs == d => {
            &v[(sample.length - 1) * d..sample.length * d]
        }
        _ => {
            return Err(TrainError::InvalidInput(format!(
                "a next-step forecast chart needs per-step targets with one value per feature; \
                 the data has {:?} targets and {d} features",
                data.target_kind()
            )));
        }
    };
    if labels.len() != d || forecasts.len() != steps.len() || forecasts.iter().any(|f| f.len() != d)
    {
        return Err(TrainError::InvalidInput(format!(
            "{} labels and {} forecasts for {d} features and {} steps",
            labels.len(),
            forecasts.len(),
            steps.len()
        )));
    }
    let panels = labels.iter().enumerate().map(|(j, (name, unit))| {
        let mut actual: Vec<(f64, f64)> = steps
            .iter()
            .enumerate()
            .map(|(t, v)| (t as f64, f64::from(v[j])))
            .collect();
        actual.push((steps.len() as f64, f64::from(next[j])));
        let predicted = forecasts
            .iter()
            .enumerate()
            .map(|(t, v)| ((t + 1) as f64, f64::from(v[j])))
            .collect();
        Panel::new(format!("{} — {name}", sample.id), x_label, *unit)
            .with(Series::line("measured", actual))
            .with(Series::marked(
                format!("forecast for the next {x_label}"),
                predicted,
            ))
    });
    Ok(panels.collect())
}

/// Writes a confusion matrix as a PNG heat map: rows are the true classes, columns the
/// predicted ones, each cell shaded by its share of its row and labelled with its count.
pub fn write_confusion_png(
    path: &Path,
    title: &str,
    names: &[String],
    confusion: &[Vec<usize>],
) -> Result<()> {
    register_font();
    let io = |message: String| TrainError::Io {
        path: path.to_path_buf(),
        message,
    };
    let n = confusion.len();
    if n == 0 || names.len() != n || confusion.iter().any(|row| row.len() != n) {
        return Err(io(format!(
            "a confusion matrix of {n} rows needs {n} columns per row and {n} class names"
        )));
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::artifacts::io_error(dir, e))?;
    }
    let cell = (480 / n as u32).clamp(28, 90);
    let label = 12
        + 8 * names
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(1)
            .min(24) as u32;
    let size = (label + cell * n as u32 + 40, cell * n as u32 + 120);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let draw = || -> std::result::Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>> {
        root.fill(&WHITE)?;
        let text = |size: u32| ("sans-serif", size).into_font().color(&BLACK);
        root.draw_text(title, &text(20), (10, 8))?;
        root.draw_text("predicted →, truth ↓", &text(14), (10, 36))?;
        let (x0, y0) = (label as i32, 100);
        let c = cell as i32;
        for (j, name) in names.iter().enumerate() {
            let short: String = name.chars().take(24).collect();
            // Column names written downwards would need rotation; they sit above, staggered.
            let y = 62 + (j % 2) as i32 * 16;
            root.draw_text(&short, &text(13), (x0 + j as i32 * c + 2, y))?;
            root.draw_text(&short, &text(13), (6, y0 + j as i32 * c + c / 2 - 7))?;
        }
        for (t, row) in confusion.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            for (p, &count) in row.iter().enumerate() {
                let share = count as f64 / total;
                let shade = (255.0 * (1.0 - 0.8 * share)) as u8;
                let color = if t == p { RGBColor(shade, 255, shade) } else { RGBColor(255, shade, shade) };
                let (x, y) = (x0 + p as i32 * c, y0 + t as i32 * c);
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], color.filled()))?;
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], BLACK.stroke_width(1)))?;
                root.draw_text(&count.to_string(), &text(14), (x + c / 2 - 8, y + c / 2 - 7))?;
            }
        }
        root.present()
    };
    draw().map_err(|e| io(format!("cannot write the PNG: {e}")))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_panel(
    area: &Area<'_>,
    panel: &Panel,
) -> std::result::Result<
    (),
    DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
> {
    let transform = |y: f64| {
        if panel.log_y {
            y.max(1e-300).log10()
        } else {
            y
        }
    };
    let points = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .map(|&(x, y)| (x, transform(y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);

    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let log_y = panel.log_y;
    // On a log axis the tick is log10 of the value: label the value itself.
    let y_format = move |v: &f64| format_tick(if log_y { 10f64.powf(*v) } else { *v });
    // Whole numbers (epochs, steps) when the axis spans more than a few units.
    let whole_x = x1 - x0 > 5.0;
    let x_format = move |v: &f64| {
        if whole_x {
            format!("{v:.0}")
        } else {
            format_tick(*v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .y_label_formatter(&y_format)
        .x_label_formatter(&x_format)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    for (i, series) in panel.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let data: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|&(x, y)| (x, transform(y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let line = if series.joined {
            data.clone()
        } else {
            Vec::new()
        };
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(series.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if series.markers {
            chart.draw_series(data.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_with_several_panels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.png");
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i * i) as f64 + 1.0)).collect();
        let panels = [
            Panel::new("linear", "step", "value").with(Series::line("a", line.clone())),
            Panel::new("log", "step", "value")
                .with(Series::marked("b", line))
                .log_scale(),
        ];
        write_png(&path, "test", &panels, 2).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }

    #[test]
    fn forecast_panels_draw_measured_values_and_forecasts_per_feature() {
        use burn_rnn_data::SequenceSample;
        let sample = SequenceSample {
            id: "p1".into(),
            values: vec![1.0, 10.0, 2.0, 20.0, 0.0, 0.0],
            length: 2,
            target: Target::PerStep(vec![2.0, 20.0, 3.0, 30.0, 0.0, 0.0]),
        };
        let data =
            SequenceDataset::new(vec![sample], 3, 2, TargetKind::PerStep { outputs: 2 }).unwrap();
        let forecasts = [vec![2.5, 19.0], vec![3.5, 31.0]];
        let labels = [("a", "u"), ("b", "v")];
        let panels = next_step_forecast_panels(&data, 0, &forecasts, "hour", &labels).unwrap();
        assert_eq!(panels.len(), 2);
        assert_eq!(
            (panels[1].title.as_str(), panels[1].y_label.as_str()),
            ("p1 — b", "v")
        );
        assert_eq!(
            panels[1].series[0].points,
            vec![(0.0, 10.0), (1.0, 20.0), (2.0, 30.0)]
        );
        assert_eq!(panels[1].series[1].points, vec![(1.0, 19.0), (2.0, 31.0)]);
        assert_eq!(panels[1].series[1].name, "forecast for the next hour");
        assert!(next_step_forecast_panels(&data, 0, &forecasts[..1], "hour", &labels).is_err());
        assert!(next_step_forecast_panels(&data, 1, &forecasts, "hour", &labels).is_err());
    }

    #[test]
    fn writes_into_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("plot.png");
        let panel = Panel::new("t", "x", "y").with(Series::line("a", vec![(0.0, 1.0)]));
        write_png(&path, "test", &[panel], 1).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn writes_a_confusion_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion.png");
        let names = ["yes".to_string(), "no".into(), "maybe".into()];
        let confusion = vec![vec![5, 1, 0], vec![0, 3, 2], vec![1, 0, 7]];
        write_confusion_png(&path, "Confusion", &names, &confusion).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[1..4], b"PNG");
        assert!(write_confusion_png(&path, "x", &names[..2], &confusion).is_err());
    }

    #[test]
    fn an_empty_plot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_png(&dir.path().join("x.png"), "t", &[], 1).is_err());
    }
}
