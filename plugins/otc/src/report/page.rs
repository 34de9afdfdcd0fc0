//! The report's page: what [`super::data`] read, written out as numbers a
//! person reads (`1,234,567`, `12.34%`, `+0.75`), the charts drawn by
//! [`super::charts`], and the template `page.html` rendered by minijinja with
//! HTML escaping on, so a venue or issue name from FINRA's files (`<`, `&`,
//! quotes) shows as text and never as markup.

use super::charts::{self, Bar, Line, WeekTick, PALE_COLOURS, TYPE_COLOURS};
use super::coverage_view::{coverage_view, CoverageView};
use super::data::{
    Concentration, Coverage, League, Provenance, Symbol, Week, WeekTotals, LEAGUE_VENUES, VENUE_TYPES,
};
use super::format::{axis_quantity, grouped, grouped_decimal, short_date, signed, type_title};
use crate::decimal::{self, Hundredths};
use chrono::{Days, NaiveDate};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use spine_plugin_api::{Error, Result};

/// How many venues of each type the share chart draws.
const CHART_VENUES: usize = 10;

/// Everything the page shows.
pub(super) struct Inputs<'a> {
    pub week: &'a Week,
    pub leagues: &'a [League],
    pub symbols: &'a [Symbol],
    pub symbol_count: i64,
    pub history: &'a [WeekTotals],
    pub provenance: &'a Provenance,
    /// Weeks charted that `otc.analytics` has not computed since they were summarized.
    pub awaiting_analytics: &'a [String],
    pub coverage: Option<&'a Coverage>,
    pub execution_id: &'a str,
    pub today: &'a str,
}

/// The page as HTML.
pub(super) fn render(inputs: &Inputs<'_>) -> Result<String> {
    let page = Page::new(inputs)?;
    let mut env = Environment::new();
    // Everything is escaped, whatever the template's name says.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("page.html", include_str!("page.html"))
        .map_err(template_error)?;
    env.get_template("page.html")
        .and_then(|template| template.render(minijinja::Value::from(minijinja::value::Serde(&page))))
        .map_err(template_error)
}

fn template_error(error: minijinja::Error) -> Error {
    Error::new(
        "otc.report.template",
        format!("rendering the report's page failed: {error:#}"),
    )
}

#[derive(Serialize)]
struct Page {
    week_ending: String,
    week_start: String,
    missing: String,
    missing_count: usize,
    stale: bool,
    figures: Vec<Figure>,
    venue_charts: Vec<Chart>,
    leagues: Vec<LeagueView>,
    symbols: Vec<SymbolView>,
    symbol_count: String,
    charted_weeks: usize,
    charted_from: String,
    partial_weeks: bool,
    volume_chart: String,
    trade_size_chart: String,
    /// `None` when `otc.analytics` computed none of the weeks charted.
    hhi_chart: Option<String>,
    awaiting_analytics: String,
    coverage: Option<CoverageView>,
    files: Vec<FileView>,
    normalize_runs: Vec<RunView>,
    summarized_at: String,
    execution_id: String,
    today: String,
}

#[derive(Serialize)]
struct Figure {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct Chart {
    svg: String,
    caption: String,
}

#[derive(Serialize)]
struct LeagueView {
    venue_type: &'static str,
    title: &'static str,
    tiers: String,
    venue_count: usize,
    volume: String,
    trades: String,
    previous_week: Option<String>,
    /// The previous week's tiers, when they differ from this week's.
    previous_tiers: Option<String>,
    venues: Vec<VenueView>,
    others: Option<OthersView>,
    left: String,
    /// The week's concentration, as a sentence.
    concentration: String,
}

#[derive(Serialize)]
struct VenueView {
    rank: i64,
    label: String,
    detail: Option<String>,
    volume: String,
    trades: String,
    symbols: String,
    share: String,
    change: String,
    change_class: &'static str,
}

#[derive(Serialize)]
struct OthersView {
    label: String,
    volume: String,
    trades: String,
    share: String,
}

#[derive(Serialize)]
struct SymbolView {
    symbol: String,
    issue_name: String,
    tiers: String,
    ats_volume: String,
    non_ats_volume: String,
    ats_share: String,
    ats_avg_trade_size: String,
    non_ats_avg_trade_size: String,
}

#[derive(Serialize)]
struct FileView {
    file: String,
    tier: String,
    venue_type: &'static str,
    last_update_date: String,
    rows: String,
    execution_id: String,
    ingested_at: String,
}

#[derive(Serialize)]
struct RunView {
    execution_id: String,
    normalized_at: String,
    rows: String,
}

impl Page {
    fn new(inputs: &Inputs<'_>) -> Result<Page> {
        let week = inputs.week;
        let week_date = NaiveDate::parse_from_str(&week.week_ending, "%Y-%m-%d").map_err(|_| {
            Error::new(
                "otc.report.week",
                format!(
                    "expected week_ending as YYYY-MM-DD in the tables, found {:?}",
                    week.week_ending
                ),
            )
        })?;
        let ticks: Vec<WeekTick> = inputs
            .history
            .iter()
            .map(|totals| WeekTick {
                label: short_date(&totals.week_ending),
                complete: totals.complete,
            })
            .collect();
        Ok(Page {
            week_ending: week.week_ending.clone(),
            week_start: (week_date - Days::new(4)).to_string(),
            missing: super::data::pair_list(&week.missing),
            missing_count: week.missing.len(),
            stale: week.stale,
            figures: figures(inputs),
            venue_charts: inputs.leagues.iter().map(venue_chart).collect::<Result<_>>()?,
            leagues: inputs
                .leagues
                .iter()
                .map(|league| league_view(league, inputs.history))
                .collect(),
            symbols: inputs.symbols.iter().map(symbol_view).collect(),
            symbol_count: grouped(inputs.symbol_count.into()),
            charted_weeks: inputs.history.len(),
            charted_from: inputs
                .history
                .first()
                .map_or_else(String::new, |first| first.week_ending.clone()),
            partial_weeks: inputs.history.iter().any(|totals| !totals.complete),
            volume_chart: volume_chart(&ticks, inputs.history)?,
            trade_size_chart: trade_size_chart(&ticks, inputs.history)?,
            hhi_chart: hhi_chart(&ticks, inputs.history)?,
            awaiting_analytics: inputs.awaiting_analytics.join(", "),
            coverage: inputs
                .coverage
                .map(|coverage| coverage_view(coverage, &week.week_ending)),
            files: inputs
                .provenance
                .files
                .iter()
                .map(|file| FileView {
                    file: file.file.clone(),
                    tier: file.tier.clone(),
                    venue_type: type_title(&file.venue_type),
                    last_update_date: file.last_update_date.clone(),
                    rows: grouped(file.rows.into()),
                    execution_id: file.execution_id.clone(),
                    ingested_at: file.ingested_at.clone(),
                })
                .collect(),
            normalize_runs: inputs
                .provenance
                .normalize_runs
                .iter()
                .map(|run| RunView {
                    execution_id: run.execution_id.clone(),
                    normalized_at: run.normalized_at.clone(),
                    rows: grouped(run.rows.into()),
                })
                .collect(),
            summarized_at: match &inputs.provenance.summarized_at {
                (first, last) if first == last => first.clone(),
                (first, last) => format!("{first} to {last}"),
            },
            execution_id: inputs.execution_id.to_owned(),
            today: inputs.today.to_owned(),
        })
    }
}

/// The week's headline figures.
fn figures(inputs: &Inputs<'_>) -> Vec<Figure> {
    let volume_of = |venue_type: &str| {
        inputs
            .leagues
            .iter()
            .find(|league| league.venue_type == venue_type)
            .map(|league| (league.volume, league.trades))
    };
    let mut figures = Vec::new();
    for venue_type in VENUE_TYPES {
        if let Some((volume, trades)) = volume_of(venue_type) {
            figures.push(Figure {
                value: grouped(volume),
                label: format!("{} shares", type_title(venue_type)),
            });
            if let Some(average) = decimal::average(volume, trades) {
                figures.push(Figure {
                    value: grouped_decimal(average),
                    label: format!("{} shares a trade", type_title(venue_type)),
                });
            }
        }
    }
    if let (Some((ats, _)), Some((non_ats, _))) = (volume_of("ATS"), volume_of("NON_ATS")) {
        figures.push(Figure {
            value: format!("{}%", decimal::percent(ats, ats + non_ats)),
            label: "ATS share of off-exchange volume".to_owned(),
        });
    }
    figures.push(Figure {
        value: grouped(inputs.symbol_count.into()),
        label: "symbols traded off-exchange".to_owned(),
    });
    figures
}

fn league_view(league: &League, history: &[WeekTotals]) -> LeagueView {
    let shown = &league.venues[..league.venues.len().min(LEAGUE_VENUES)];
    let rest = &league.venues[shown.len()..];
    let others = (!rest.is_empty()).then(|| {
        let volume: i128 = rest.iter().map(|venue| i128::from(venue.volume)).sum();
        let trades: i128 = rest.iter().map(|venue| i128::from(venue.trades)).sum();
        OthersView {
            label: format!("{} other venues", rest.len()),
            volume: grouped(volume),
            trades: grouped(trades),
            share: decimal::percent(volume, league.volume).to_string(),
        }
    });
    LeagueView {
        venue_type: league.venue_type,
        title: type_title(league.venue_type),
        tiers: league.tiers.replace(',', ", "),
        venue_count: league.venues.len(),
        volume: grouped(league.volume),
        trades: grouped(league.trades),
        previous_week: league.previous.as_ref().map(|p| p.week_ending.clone()),
        previous_tiers: league
            .previous
            .as_ref()
            .filter(|p| p.tiers != league.tiers)
            .map(|p| p.tiers.replace(',', ", ")),
        venues: shown
            .iter()
            .map(|venue| {
                let (change, change_class) = match venue.previous_share {
                    None if league.previous.is_some() => ("new".to_owned(), ""),
                    None => (String::new(), ""),
                    Some(before) => signed(venue.share - before),
                };
                let (label, detail) = match (&venue.mpid, &venue.name) {
                    (Some(mpid), Some(name)) => (name.clone(), Some(format!("MPID {mpid}"))),
                    _ if venue.is_aggregate => {
                        (venue.venue.clone(), Some("the small firms, together".to_owned()))
                    }
                    _ => (venue.venue.clone(), None),
                };
                VenueView {
                    rank: venue.rank,
                    label,
                    detail,
                    volume: grouped(venue.volume.into()),
                    trades: grouped(venue.trades.into()),
                    symbols: grouped(venue.symbols.into()),
                    share: venue.share.to_string(),
                    change,
                    change_class,
                }
            })
            .collect(),
        others,
        left: league
            .left
            .iter()
            .map(|(venue, share)| format!("{venue} ({share}%)"))
            .collect::<Vec<_>>()
            .join(", "),
        // The report's week is the last one charted.
        concentration: concentration_sentence(
            history
                .last()
                .and_then(|week| week.concentration[type_index(league.venue_type)].as_ref()),
        ),
    }
}

/// `HHI 5,918.37 (1.69 effective venues); +1,868.78 since 2025-11-21: …`.
fn concentration_sentence(concentration: Option<&Concentration>) -> String {
    let Some(concentration) = concentration else {
        return "Concentration: not computed for this week yet (run otc.analytics).".to_owned();
    };
    let (Some(low), Some(high)) = (concentration.hhi_low, concentration.hhi_high) else {
        return "Concentration: no volume.".to_owned();
    };
    let effective = concentration.effective_venues.map_or_else(String::new, |venues| {
        format!("{} effective venues", grouped_decimal(venues))
    });
    let index = if low == high {
        format!("HHI {} ({effective})", grouped_decimal(high))
    } else {
        format!(
            "HHI {} to {} (De Minimis Firms as many small firms, or as one venue; {effective})",
            grouped_decimal(low),
            grouped_decimal(high)
        )
    };
    let change = match (
        &concentration.previous_week,
        concentration.hhi_change,
        concentration.hhi_change_common,
        concentration.hhi_change_entry_exit,
    ) {
        (Some(previous), Some(change), Some(common), Some(entry_exit)) => format!(
            "; {} since {previous}: {} among venues in both weeks, {} from venues entering or leaving",
            signed(change).0,
            signed(common).0,
            signed(entry_exit).0
        ),
        _ => "; the first loaded week, nothing to compare with".to_owned(),
    };
    format!("Concentration: {index}{change}.")
}

/// The position of a venue type in [`VENUE_TYPES`] (and the colours).
fn type_index(venue_type: &str) -> usize {
    VENUE_TYPES.iter().position(|t| *t == venue_type).unwrap_or(0)
}

fn venue_chart(league: &League) -> Result<Chart> {
    let bars: Vec<Bar> = league
        .venues
        .iter()
        .take(CHART_VENUES)
        .map(|venue| Bar {
            label: venue.name.clone().unwrap_or_else(|| venue.venue.clone()),
            value: venue.share.to_real(),
            value_label: format!("{}%", venue.share),
        })
        .collect();
    let index = type_index(league.venue_type);
    let title = type_title(league.venue_type);
    Ok(Chart {
        svg: charts::share_bars(&bars, TYPE_COLOURS[index], &format!("share of {title} volume"))?,
        caption: format!(
            "{title}: the {} largest of {} venues by share of the week's {title} volume.",
            bars.len(),
            league.venues.len()
        ),
    })
}

fn volume_chart(ticks: &[WeekTick], history: &[WeekTotals]) -> Result<String> {
    let series: Vec<(&str, _, Vec<f64>)> = VENUE_TYPES
        .iter()
        .enumerate()
        .map(|(index, venue_type)| {
            (
                type_title(venue_type),
                TYPE_COLOURS[index],
                history
                    .iter()
                    .map(|week| week.totals[index].volume as f64)
                    .collect(),
            )
        })
        .collect();
    charts::stacked_weeks(ticks, &series, "shares", &axis_quantity)
}

fn trade_size_chart(ticks: &[WeekTick], history: &[WeekTotals]) -> Result<String> {
    let lines: Vec<Line> = VENUE_TYPES
        .iter()
        .enumerate()
        .map(|(index, venue_type)| Line {
            name: type_title(venue_type).to_owned(),
            colour: TYPE_COLOURS[index],
            values: history
                .iter()
                .map(|week| {
                    let totals = week.totals[index];
                    decimal::average(totals.volume, totals.trades).map(Hundredths::to_real)
                })
                .collect(),
        })
        .collect();
    charts::week_lines(ticks, &lines, "shares a trade", &|value| format!("{value:.0}"))
}

/// The HHI of each venue type over the weeks charted: ATS, and non-ATS with
/// De Minimis Firms as one venue and (where that differs) as many small
/// firms; `None` when no week charted has it.
fn hhi_chart(ticks: &[WeekTick], history: &[WeekTotals]) -> Result<Option<String>> {
    let series = |index: usize, pick: fn(&Concentration) -> Option<Hundredths>| -> Vec<Option<f64>> {
        history
            .iter()
            .map(|week| {
                week.concentration[index]
                    .as_ref()
                    .and_then(pick)
                    .map(Hundredths::to_real)
            })
            .collect()
    };
    let mut lines = vec![
        Line {
            name: "ATS".to_owned(),
            colour: TYPE_COLOURS[0],
            values: series(0, |c| c.hhi_high),
        },
        Line {
            name: "Non-ATS, De Minimis Firms as one venue".to_owned(),
            colour: TYPE_COLOURS[1],
            values: series(1, |c| c.hhi_high),
        },
    ];
    let low = series(1, |c| c.hhi_low);
    if low != lines[1].values {
        lines.push(Line {
            name: "Non-ATS, as many small firms".to_owned(),
            colour: PALE_COLOURS[1],
            values: low,
        });
    }
    if lines.iter().all(|line| line.values.iter().all(Option::is_none)) {
        return Ok(None);
    }
    let axis = |value: f64| grouped(value.round() as i128);
    charts::week_lines(ticks, &lines, "HHI (0 to 10,000)", &axis).map(Some)
}

fn symbol_view(symbol: &Symbol) -> SymbolView {
    let or_dash = |value: Option<Hundredths>, suffix: &str| {
        value.map_or_else(
            || "–".to_owned(),
            |value| format!("{}{suffix}", grouped_decimal(value)),
        )
    };
    SymbolView {
        symbol: symbol.symbol.clone(),
        issue_name: symbol.issue_name.clone().unwrap_or_default(),
        tiers: symbol.tiers.clone(),
        ats_volume: grouped(symbol.ats_volume.into()),
        non_ats_volume: grouped(symbol.non_ats_volume.into()),
        ats_share: or_dash(symbol.ats_share, "%"),
        ats_avg_trade_size: or_dash(symbol.ats_avg_trade_size, ""),
        non_ats_avg_trade_size: or_dash(symbol.non_ats_avg_trade_size, ""),
    }
}
