//! Daily sales of products in stores (stores × products × days), the demand-forecasting case of
//! docs/design.md: each series has its own level, a weekly cycle (busy weekends), a yearly
//! cycle, promotions (+40 % for a few days) and public holidays (+60 %), with noise. Written as
//! a long CSV file, one row per series and day, with the promotion, holiday and weekday as
//! features that `burn-rnn train --task forecast` reads beside the past sales.

use std::f32::consts::PI;
use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Normal};

use crate::error::{DataError, Result};

/// Sales multipliers from Monday to Sunday.
pub const WEEKLY: [f32; 7] = [0.85, 0.8, 0.85, 0.95, 1.15, 1.45, 1.2];
/// The public holidays, as days of the year.
pub const HOLIDAYS: [usize; 8] = [0, 45, 104, 146, 185, 243, 327, 358];

/// The size of the generated data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandConfig {
    /// Stores.
    pub stores: usize,
    /// Products per store.
    pub products: usize,
    /// Days, from a Monday.
    pub days: usize,
    /// The chance that a promotion starts on a given day of a series (it lasts 3 days).
    pub promo_rate: f64,
    /// The noise's standard deviation, as a share of the expected sales.
    pub noise: f32,
    /// Random seed.
    pub seed: u64,
}

impl Default for DemandConfig {
    fn default() -> Self {
        Self {
            stores: 3,
            products: 4,
            days: 730,
            promo_rate: 0.03,
            noise: 0.08,
            seed: 42,
        }
    }
}

/// One series-day.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandRow {
    /// `store-<s>/product-<p>`.
    pub series: String,
    /// The store, `store-<s>`.
    pub store: String,
    /// The day number, 0 = the first Monday.
    pub day: usize,
    /// 1 during a promotion.
    pub promo: u8,
    /// 1 on a public holiday.
    pub holiday: u8,
    /// Units sold.
    pub sales: f32,
}

impl DemandConfig {
    /// Generates every series, rows ordered by series then day.
    pub fn generate(&self) -> Result<Vec<DemandRow>> {
        if self.stores == 0 || self.products == 0 || self.days == 0 {
            return Err(DataError::InvalidParameter(format!(
                "demand data needs stores, products and days (got {}, {}, {})",
                self.stores, self.products, self.days
            )));
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let noise = Normal::new(0.0f32, self.noise.max(0.0))
            .map_err(|e| DataError::InvalidParameter(e.to_string()))?;
        let mut rows = Vec::with_capacity(self.stores * self.products * self.days);
        for s in 1..=self.stores {
            for p in 1..=self.products {
                let level = rng.random_range(20.0f32..80.0);
                let phase = rng.random_range(0.0f32..2.0 * PI);
                let yearly = rng.random_range(0.1f32..0.35);
                let mut promo_left = 0u32;
                for day in 0..self.days {
                    if promo_left == 0 && rng.random_bool(self.promo_rate) {
                        promo_left = 3;
                    }
                    let promo = u8::from(promo_left > 0);
                    promo_left = promo_left.saturating_sub(1);
                    let holiday = u8::from(HOLIDAYS.contains(&(day % 365)));
                    let season = 1.0 + yearly * (2.0 * PI * day as f32 / 365.0 + phase).sin();
                    let lift = (1.0 + 0.4 * f32::from(promo)) * (1.0 + 0.6 * f32::from(holiday));
                    let expected = level * WEEKLY[day % 7] * season * lift;
                    let sales = (expected * (1.0 + noise.sample(&mut rng))).max(0.0).round();
                    rows.push(DemandRow {
                        series: format!("store-{s}/product-{p}"),
                        store: format!("store-{s}"),
                        day,
                        promo,
                        holiday,
                        sales,
                    });
                }
            }
        }
        Ok(rows)
    }
}

/// Writes the rows whose day is in `days` as a long CSV file:
/// `series,store,day,weekday_sin,weekday_cos,promo,holiday,sales` (the weekday as a point on a
/// circle, so Sunday is next to Monday).
pub fn write_demand_csv(
    path: &Path,
    rows: &[DemandRow],
    days: std::ops::Range<usize>,
) -> Result<()> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    writeln!(
        out,
        "series,store,day,weekday_sin,weekday_cos,promo,holiday,sales"
    )
    .map_err(io)?;
    for row in rows.iter().filter(|r| days.contains(&r.day)) {
        let angle = 2.0 * PI * (row.day % 7) as f32 / 7.0;
        writeln!(
            out,
            "{},{},{},{:.4},{:.4},{},{},{}",
            row.series,
            row.store,
            row.day,
            angle.sin(),
            angle.cos(),
            row.promo,
            row.holiday,
            row.sales
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_cycle_promotions_and_holidays_show_in_the_sales() {
        let rows = DemandConfig {
            days: 364,
            ..Default::default()
        }
        .generate()
        .unwrap();
        assert_eq!(rows.len(), 12 * 364);
        let mean = |f: &dyn Fn(&DemandRow) -> bool| {
            let picked: Vec<f32> = rows.iter().filter(|r| f(r)).map(|r| r.sales).collect();
            picked.iter().sum::<f32>() / picked.len() as f32
        };
        let plain = |r: &DemandRow| r.promo == 0 && r.holiday == 0;
        let saturday = mean(&|r| plain(r) && r.day % 7 == 5);
        let tuesday = mean(&|r| plain(r) && r.day % 7 == 1);
        assert!(saturday > 1.5 * tuesday, "{saturday} vs {tuesday}");
        assert!(mean(&|r| r.promo == 1 && r.holiday == 0) > 1.2 * mean(&plain));
        assert!(rows.iter().any(|r| r.holiday == 1));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        write_demand_csv(&path, &rows, 0..10).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1 + 12 * 10);
        assert!(
            DemandConfig {
                days: 0,
                ..Default::default()
            }
            .generate()
            .is_err()
        );
    }
}
