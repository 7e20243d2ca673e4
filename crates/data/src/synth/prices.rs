//! Synthetic daily stock prices: a geometric random walk with drift whose volatility switches
//! between a calm and a turbulent regime (a two-state Markov chain), the notes' "yesterday's
//! price → today's price" example.
//!
//! With `dt = 1/252` (trading days per year), the log price moves each day by
//! `(drift − σ²/2)·dt + σ·√dt·z`, `z ~ N(0, 1)`, where `σ` is the annualised volatility of the
//! day's regime. Each day the regime switches with probability `switch_probability`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Trading days per year: one daily step is `1/252` of a year.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// The volatility regime in force on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Regime {
    /// Low volatility ([`PriceConfig::calm_volatility`]).
    Calm,
    /// High volatility ([`PriceConfig::turbulent_volatility`]).
    Turbulent,
}

/// Settings of the price generator. Defaults: 1000 days from 100.0, 5 % annual drift,
/// 15 % / 45 % annualised volatility in the calm / turbulent regime, a 2 % chance per day of
/// switching regime, seed 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceConfig {
    /// Number of daily prices, ≥ 2 (default 1000).
    pub days: usize,
    /// Price on day 0, > 0, in currency units (default 100.0).
    pub start_price: f32,
    /// Annualised drift μ of the log price, e.g. 0.05 for 5 % a year (default 0.05).
    pub drift: f32,
    /// Annualised volatility σ in the calm regime, ≥ 0 (default 0.15).
    pub calm_volatility: f32,
    /// Annualised volatility σ in the turbulent regime, ≥ 0 (default 0.45).
    pub turbulent_volatility: f32,
    /// Probability in [0, 1] of switching regime from one day to the next (default 0.02: a
    /// regime lasts 50 days on average).
    pub switch_probability: f32,
    /// Seed of the random generator; the same config always gives the same series (default 42).
    pub seed: u64,
}

impl Default for PriceConfig {
    fn default() -> Self {
        Self {
            days: 1000,
            start_price: 100.0,
            drift: 0.05,
            calm_volatility: 0.15,
            turbulent_volatility: 0.45,
            switch_probability: 0.02,
            seed: 42,
        }
    }
}

impl PriceConfig {
    /// Checks every setting; the error names the one at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(DataError::InvalidParameter(message));
        if self.days < 2 {
            return invalid(format!(
                "prices: `days` must be at least 2 (one return), got {}",
                self.days
            ));
        }
        if !self.start_price.is_finite() || self.start_price <= 0.0 {
            return invalid(format!(
                "prices: `start_price` must be finite and > 0, got {}",
                self.start_price
            ));
        }
        if !self.drift.is_finite() {
            return invalid(format!(
                "prices: `drift` must be finite, got {}",
                self.drift
            ));
        }
        for (name, value) in [
            ("calm_volatility", self.calm_volatility),
            ("turbulent_volatility", self.turbulent_volatility),
        ] {
            if !value.is_finite() || value < 0.0 {
                return invalid(format!(
                    "prices: `{name}` must be finite and ≥ 0, got {value}"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.switch_probability) {
            return invalid(format!(
                "prices: `switch_probability` must be in [0, 1], got {}",
                self.switch_probability
            ));
        }
        Ok(())
    }

    /// The annualised volatility of a regime.
    pub fn volatility(&self, regime: Regime) -> f32 {
        match regime {
            Regime::Calm => self.calm_volatility,
            Regime::Turbulent => self.turbulent_volatility,
        }
    }

    /// Generates the series (see [`PriceSeries::generate`]).
    pub fn generate(&self) -> Result<PriceSeries> {
        PriceSeries::generate(self)
    }
}

/// A generated daily price series with the regime of each day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceSeries {
    /// `days` prices, all > 0; `prices[0]` is the start price.
    pub prices: Vec<f32>,
    /// `days` regimes; `regimes[t]` (t ≥ 1) governed the move from day `t − 1` to day `t`.
    /// `regimes[0]` is always [`Regime::Calm`].
    pub regimes: Vec<Regime>,
}

impl PriceSeries {
    /// Generates `config.days` prices, deterministically from `config.seed`, starting calm.
    pub fn generate(config: &PriceConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let dt = 1.0 / TRADING_DAYS_PER_YEAR;
        let drift = f64::from(config.drift);
        let switch = f64::from(config.switch_probability);

        let mut regime = Regime::Calm;
        let mut log_price = f64::from(config.start_price).ln();
        let mut prices = Vec::with_capacity(config.days);
        let mut regimes = Vec::with_capacity(config.days);
        prices.push(config.start_price);
        regimes.push(regime);
        for _ in 1..config.days {
            if rng.random::<f64>() < switch {
                regime = match regime {
                    Regime::Calm => Regime::Turbulent,
                    Regime::Turbulent => Regime::Calm,
                };
            }
            let sigma = f64::from(config.volatility(regime));
            let z: f64 = rng.sample(StandardNormal);
            log_price += (drift - 0.5 * sigma * sigma) * dt + sigma * dt.sqrt() * z;
            // Clamped to f32's positive range so that extreme configs cannot give 0 or ∞.
            prices.push((log_price.exp() as f32).clamp(f32::MIN_POSITIVE, f32::MAX));
            regimes.push(regime);
        }
        Ok(Self { prices, regimes })
    }

    /// The number of days.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether there are no days (never true for a generated series).
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The `days − 1` daily log returns `ln(p[t] / p[t − 1])`, t = 1..days.
    pub fn log_returns(&self) -> Vec<f32> {
        log_returns(&self.prices)
    }

    /// The annualised realised volatility of the daily log returns made in `regime`
    /// (standard deviation × √252); `None` with fewer than two such returns.
    pub fn realised_volatility(&self, regime: Regime) -> Option<f32> {
        let returns: Vec<f64> = self
            .log_returns()
            .iter()
            .zip(&self.regimes[1..])
            .filter(|&(_, &r)| r == regime)
            .map(|(&x, _)| f64::from(x))
            .collect();
        if returns.len() < 2 {
            return None;
        }
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some((var.sqrt() * TRADING_DAYS_PER_YEAR.sqrt()) as f32)
    }
}

/// Daily log returns `ln(p[t] / p[t − 1])` of a price series (one fewer than the prices; empty
/// for fewer than two prices). Prices are expected to be > 0.
pub fn log_returns(prices: &[f32]) -> Vec<f32> {
    prices
        .windows(2)
        .map(|w| (f64::from(w[1]) / f64::from(w[0])).ln() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_prices_of_the_right_length() {
        let series = PriceSeries::generate(&PriceConfig::default()).unwrap();
        assert_eq!(series.len(), 1000);
        assert_eq!(series.regimes.len(), 1000);
        assert_eq!(series.prices[0], 100.0);
        assert!(series.prices.iter().all(|&p| p > 0.0 && p.is_finite()));
        assert_eq!(series.log_returns().len(), 999);
        assert!(series.regimes.contains(&Regime::Turbulent));
    }

    #[test]
    fn deterministic_per_seed() {
        let config = PriceConfig::default();
        assert_eq!(
            PriceSeries::generate(&config).unwrap(),
            PriceSeries::generate(&config).unwrap()
        );
        let other = PriceSeries::generate(&PriceConfig {
            seed: 1,
            ..config.clone()
        })
        .unwrap();
        assert_ne!(other.prices, PriceSeries::generate(&config).unwrap().prices);
    }

    #[test]
    fn turbulent_regime_is_more_volatile() {
        let series = PriceSeries::generate(&PriceConfig {
            days: 20_000,
            ..Default::default()
        })
        .unwrap();
        let calm = series.realised_volatility(Regime::Calm).unwrap();
        let turbulent = series.realised_volatility(Regime::Turbulent).unwrap();
        assert!((calm - 0.15).abs() < 0.02, "calm {calm}");
        assert!((turbulent - 0.45).abs() < 0.05, "turbulent {turbulent}");
    }

    #[test]
    fn log_returns_of_known_prices() {
        let r = log_returns(&[100.0, 110.0, 99.0]);
        assert!((r[0] - 1.1f32.ln()).abs() < 1e-6);
        assert!((r[1] - 0.9f32.ln()).abs() < 1e-6);
        assert!(log_returns(&[1.0]).is_empty());
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = [
            PriceConfig {
                days: 1,
                ..Default::default()
            },
            PriceConfig {
                start_price: 0.0,
                ..Default::default()
            },
            PriceConfig {
                calm_volatility: -0.1,
                ..Default::default()
            },
            PriceConfig {
                switch_probability: 1.5,
                ..Default::default()
            },
            PriceConfig {
                drift: f32::INFINITY,
                ..Default::default()
            },
        ];
        for config in bad {
            let err = PriceSeries::generate(&config).unwrap_err();
            assert!(matches!(err, DataError::InvalidParameter(_)), "{err}");
        }
    }
}
