//! The report's charts, drawn with plotters as SVG text for the page to
//! inline: venue shares of the week, off-exchange volume per week (ATS and
//! non-ATS stacked), and lines over the weeks (average trade size).
//!
//! plotters is built with its SVG backend only: text is written as SVG
//! `<text>` elements (escaped by plotters) and laid out by the browser, so no
//! font library is linked. Every chart is drawn in a fixed order from its
//! data, so the same data gives the same bytes.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use spine_plugin_api::{Error, Result};

/// The venue types' colours, as [`super::data::VENUE_TYPES`] orders them.
pub(super) const TYPE_COLOURS: [RGBColor; 2] = [RGBColor(43, 108, 176), RGBColor(221, 107, 32)];
/// The same, paler: a second line of one venue type.
pub(super) const PALE_COLOURS: [RGBColor; 2] = [RGBColor(144, 184, 224), RGBColor(240, 176, 128)];
const INK: RGBColor = RGBColor(45, 55, 72);
const GRID: RGBColor = RGBColor(226, 232, 240);
const FONT: &str = "sans-serif";
/// plotters writes an SVG font size of this ÷ 1.24: about 12 px.
const LABEL_SIZE: f64 = 15.0;
const WIDTH: u32 = 880;
/// The widest bar of a chart over the weeks, in px.
const MAX_BAR: u32 = 56;

/// One bar of a share chart.
pub(super) struct Bar {
    pub label: String,
    pub value: f64,
    pub value_label: String,
}

/// One line of a chart over the weeks: a value per week, `None` where the
/// week has none (the line breaks there).
pub(super) struct Line {
    pub name: String,
    pub colour: RGBColor,
    pub values: Vec<Option<f64>>,
}

/// A week on the time axis: its label, and whether it is complete (an
/// incomplete week is drawn pale and marked `*`).
pub(super) struct WeekTick {
    pub label: String,
    pub complete: bool,
}

/// Horizontal bars, largest first, labelled on the left with the bar's
/// label and on the right with its value.
pub(super) fn share_bars(bars: &[Bar], colour: RGBColor, x_desc: &str) -> Result<String> {
    let count = segments(bars.len());
    let height = 64 + 24 * count as u32;
    draw(WIDTH, height, |root| {
        let top = bars.iter().map(|bar| bar.value).fold(0.0, f64::max);
        // Room right of the longest bar for its value label.
        let x_max = if top > 0.0 { top * 1.3 } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(38)
            .y_label_area_size(240)
            .build_cartesian_2d(0.0..x_max, (0..count - 1).into_segmented())
            .map_err(chart_error)?;
        // The first bar at the top: bar i sits in segment count - 1 - i.
        let row = |index: usize| count - 1 - index as i32;
        let label_of = |value: &SegmentValue<i32>| match value {
            SegmentValue::CenterOf(segment) => bars
                .get((count - 1 - segment) as usize)
                .map(|bar| shorten(&bar.label, 32))
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(5)
            .y_labels(bars.len() + 1)
            .x_label_formatter(&|share| format!("{share:.0}%"))
            .y_label_formatter(&label_of)
            .label_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .x_desc(x_desc)
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                let mut rect = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row(index))),
                        (bar.value, segment_end(row(index), count)),
                    ],
                    colour.filled(),
                );
                rect.set_margin(4, 4, 0, 0);
                rect
            }))
            .map_err(chart_error)?;
        let value_style = (FONT, LABEL_SIZE)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                Text::new(
                    format!(" {}", bar.value_label),
                    (bar.value, SegmentValue::CenterOf(row(index))),
                    value_style.clone(),
                )
            }))
            .map_err(chart_error)?;
        Ok(())
    })
}

/// Bars per week, one stacked segment per series (bottom first), with a
/// legend; `format_y` writes the axis' values.
pub(super) fn stacked_weeks(
    weeks: &[WeekTick],
    series: &[(&str, RGBColor, Vec<f64>)],
    y_desc: &str,
    format_y: &dyn Fn(f64) -> String,
) -> Result<String> {
    draw(WIDTH, 320, |root| {
        let count = segments(weeks.len());
        let top = (0..weeks.len())
            .map(|week| series.iter().map(|(_, _, values)| values[week]).sum::<f64>())
            .fold(0.0, f64::max);
        let y_max = above_the_legend(top, series.len());
        let mut chart = week_axes(root, weeks, 0.0..y_max, y_desc, format_y)?;
        // Bars at most MAX_BAR px wide: a few weeks do not make slabs.
        let segment = chart.plotting_area().dim_in_pixel().0 / count as u32;
        let bar_margin = (segment.saturating_sub(MAX_BAR) / 2).max(6);
        for (name, colour, values) in series {
            let below: Vec<f64> = (0..weeks.len())
                .map(|week| {
                    series
                        .iter()
                        .take_while(|(other, _, _)| other != name)
                        .map(|(_, _, values)| values[week])
                        .sum()
                })
                .collect();
            chart
                .draw_series(weeks.iter().enumerate().map(|(week, tick)| {
                    let x = week as i32;
                    let fill = if tick.complete {
                        colour.filled()
                    } else {
                        colour.mix(0.4).filled()
                    };
                    let mut rect = Rectangle::new(
                        [
                            (SegmentValue::Exact(x), below[week]),
                            (segment_end(x, count), below[week] + values[week]),
                        ],
                        fill,
                    );
                    rect.set_margin(0, 0, bar_margin, bar_margin);
                    rect
                }))
                .map_err(chart_error)?
                .label(*name)
                .legend(legend_mark(*colour));
        }
        draw_legend(&mut chart)
    })
}

/// Lines over the weeks, with a dot at every value and a legend.
pub(super) fn week_lines(
    weeks: &[WeekTick],
    lines: &[Line],
    y_desc: &str,
    format_y: &dyn Fn(f64) -> String,
) -> Result<String> {
    draw(WIDTH, 300, |root| {
        let top = lines
            .iter()
            .flat_map(|line| line.values.iter().flatten())
            .fold(0.0, |top: f64, value| top.max(*value));
        let y_max = above_the_legend(top, lines.len());
        let mut chart = week_axes(root, weeks, 0.0..y_max, y_desc, format_y)?;
        for line in lines {
            let points: Vec<(usize, f64)> = line
                .values
                .iter()
                .enumerate()
                .filter_map(|(week, value)| value.map(|value| (week, value)))
                .collect();
            let at = |week: usize| SegmentValue::CenterOf(week as i32);
            // Runs of consecutive weeks: no line across a week without a value.
            for run in points.chunk_by(|a, b| b.0 == a.0 + 1).filter(|run| run.len() > 1) {
                chart
                    .draw_series(LineSeries::new(
                        run.iter().map(|(week, value)| (at(*week), *value)),
                        line.colour.stroke_width(2),
                    ))
                    .map_err(chart_error)?;
            }
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|(week, value)| Circle::new((at(*week), *value), 3, line.colour.filled())),
                )
                .map_err(chart_error)?
                .label(line.name.as_str())
                .legend(legend_mark(line.colour));
        }
        draw_legend(&mut chart)
    })
}

type WeekChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordi32>,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// A chart with one segment per week along x, labelled with the weeks.
fn week_axes<'a, 'b: 'a>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    weeks: &[WeekTick],
    y_range: std::ops::Range<f64>,
    y_desc: &str,
    format_y: &dyn Fn(f64) -> String,
) -> Result<WeekChart<'a, 'b>> {
    let count = segments(weeks.len());
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .margin_right(20)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((0..count - 1).into_segmented(), y_range)
        .map_err(chart_error)?;
    let week_label = |value: &SegmentValue<i32>| match value {
        SegmentValue::CenterOf(week) => weeks
            .get(*week as usize)
            .map(|tick| format!("{}{}", tick.label, if tick.complete { "" } else { "*" }))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let y_label = |value: &f64| format_y(*value);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK)
        .x_labels(weeks.len() + 1)
        .y_labels(6)
        .x_label_formatter(&week_label)
        .y_label_formatter(&y_label)
        .label_style((FONT, LABEL_SIZE).into_font().color(&INK))
        .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
        .y_desc(y_desc)
        .draw()
        .map_err(chart_error)?;
    Ok(chart)
}

/// The top of a y axis whose highest value is `top`, leaving the band the
/// legend of `entries` lines takes at the top of the plot free: 12% of the
/// plot's height for its frame and a gap below it, and 7.5% per line (18 px
/// lines in a plot about 240 px high).
fn above_the_legend(top: f64, entries: usize) -> f64 {
    if top <= 0.0 {
        return 1.0;
    }
    let legend = 0.12 + 0.075 * entries as f64;
    top / (1.0 - legend.min(0.6))
}

/// The legend's sample of a series' colour.
fn legend_mark(colour: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
}

fn draw_legend<'a, 'b: 'a>(chart: &mut WeekChart<'a, 'b>) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, LABEL_SIZE).into_font().color(&INK))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .draw()
        .map_err(chart_error)
}

/// How many segments an axis of `items` has: one each, and at least two,
/// because plotters places a lone segment's centre (its label) away from
/// the segment itself.
fn segments(items: usize) -> i32 {
    i32::try_from(items.max(2)).unwrap_or(i32::MAX)
}

/// The end of segment `x` of `count`: the next segment's start, or the axis' end.
fn segment_end(x: i32, count: i32) -> SegmentValue<i32> {
    if x + 1 < count {
        SegmentValue::Exact(x + 1)
    } else {
        SegmentValue::Last
    }
}

/// Draws one chart on a white `width` × `height` SVG; its text.
fn draw(
    width: u32,
    height: u32,
    paint: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        paint(&root)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// `text`, cut to `chars` characters with `…` when longer (the tables
/// beside the charts give it whole).
pub(super) fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(chars - 1).collect();
    short.push('…');
    short
}

fn chart_error(error: impl std::fmt::Display) -> Error {
    Error::new("otc.report.chart", format!("drawing a chart failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(labels: &[&str]) -> Vec<WeekTick> {
        labels
            .iter()
            .map(|label| WeekTick {
                label: label.to_string(),
                complete: !label.starts_with('p'),
            })
            .collect()
    }

    #[test]
    fn a_share_chart_escapes_its_labels_and_shows_every_bar() {
        let bars = [
            Bar {
                label: "<b>Evil</b> & \"Sons\"".into(),
                value: 60.0,
                value_label: "60.00%".into(),
            },
            Bar {
                label: "UBSA".into(),
                value: 40.0,
                value_label: "40.00%".into(),
            },
        ];
        let svg = share_bars(&bars, TYPE_COLOURS[0], "share").unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("&lt;b&gt;Evil&lt;/b&gt; &amp; &quot;Sons&quot;"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains(" 60.00%") && svg.contains(" 40.00%"), "{svg}");
        // The same data draws the same bytes.
        assert_eq!(svg, share_bars(&bars, TYPE_COLOURS[0], "share").unwrap());
    }

    #[test]
    fn charts_over_weeks_label_every_week_and_mark_the_partial_ones() {
        let weeks = ticks(&["Nov 14", "partial", "Nov 28"]);
        let series = [
            ("ATS", TYPE_COLOURS[0], vec![10.0, 5.0, 12.0]),
            ("Non-ATS", TYPE_COLOURS[1], vec![20.0, 0.0, 30.0]),
        ];
        let svg = stacked_weeks(&weeks, &series, "shares", &|v| format!("{v}")).unwrap();
        for label in ["Nov 14", "partial*", "Nov 28", "ATS", "Non-ATS"] {
            assert!(svg.contains(&format!("{label}\n</text>")), "{label}: {svg}");
        }
        let lines = [Line {
            name: "ATS".into(),
            colour: TYPE_COLOURS[0],
            values: vec![Some(100.0), None, Some(120.0)],
        }];
        let svg = week_lines(&weeks, &lines, "shares a trade", &|v| format!("{v}")).unwrap();
        assert!(svg.contains("partial*\n</text>"), "{svg}");
        // Two dots; no line across the week without a value.
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(!svg.contains("stroke=\"#2B6CB0\" stroke-width=\"2\""), "{svg}");
    }

    /// The first number of `attribute="…"` in `element`.
    fn number(element: &str, attribute: &str) -> f64 {
        let start = element.find(&format!(" {attribute}=\"")).unwrap() + attribute.len() + 3;
        element[start..].split('"').next().unwrap().parse().unwrap()
    }

    /// The element of `svg` that holds `text`, and the filled bars (rects
    /// in `colour`).
    fn label_and_bars(svg: &str, text: &str, colour: &str) -> (String, Vec<String>) {
        let label = svg
            .split("<text")
            .find(|element| element.contains(&format!(">\n{text}\n</text>")))
            .unwrap_or_else(|| panic!("no {text:?} in {svg}"))
            .to_owned();
        let bars = svg
            .split('<')
            .filter(|element| element.starts_with("rect") && element.contains(&format!("fill=\"{colour}\"")))
            .map(str::to_owned)
            .collect();
        (label, bars)
    }

    #[test]
    fn a_lone_bar_or_week_sits_at_its_label() {
        let bars = [Bar {
            label: "UBSA".into(),
            value: 100.0,
            value_label: "100.00%".into(),
        }];
        let svg = share_bars(&bars, TYPE_COLOURS[0], "share").unwrap();
        let (label, rects) = label_and_bars(&svg, "UBSA", "#2B6CB0");
        let middle = number(&rects[0], "y") + number(&rects[0], "height") / 2.0;
        assert!((number(&label, "y") - middle).abs() <= 2.0, "{svg}");

        let weeks = ticks(&["Nov 14"]);
        let series = [("ATS", TYPE_COLOURS[0], vec![10.0])];
        let svg = stacked_weeks(&weeks, &series, "shares", &|v| format!("{v}")).unwrap();
        let (label, rects) = label_and_bars(&svg, "Nov 14", "#2B6CB0");
        let bar = rects.iter().find(|rect| !rect.contains("width=\"14\"")).unwrap();
        let middle = number(bar, "x") + number(bar, "width") / 2.0;
        assert!((number(&label, "x") - middle).abs() <= 2.0, "{svg}");
    }

    #[test]
    fn long_labels_are_shortened_by_characters() {
        assert_eq!(shorten("Citadel Securities LLC", 30), "Citadel Securities LLC");
        assert_eq!(shorten("ÅÅÅÅÅ", 3), "ÅÅ…");
    }
}
