//! Turning timed samples into the figures we report: median, min, p90 (and the samples
//! themselves, so a reader of the JSON can recompute anything).

use std::time::Duration;

use serde::Serialize;

/// Timing of one phase on one server at one N.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// How many timed samples.
    pub samples: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub p90_s: f64,
    pub max_s: f64,
    pub mean_s: f64,
    /// Cards per second (upload and import): cards moved / median seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards_per_s: Option<f64>,
    /// Every sample, in seconds, in the order taken.
    pub samples_s: Vec<f64>,
}

impl Measurement {
    pub fn from_durations(samples: &[Duration]) -> Measurement {
        let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        let mut sorted = secs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        assert!(n > 0, "a measurement needs at least one sample");
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        // Nearest-rank percentile: the smallest sample with at least 90% at or below it.
        let p90 = sorted[((n as f64 * 0.9).ceil() as usize).clamp(1, n) - 1];
        Measurement {
            samples: n,
            median_s: median,
            min_s: sorted[0],
            p90_s: p90,
            max_s: sorted[n - 1],
            mean_s: secs.iter().sum::<f64>() / n as f64,
            cards_per_s: None,
            samples_s: secs,
        }
    }

    /// Also reports a throughput of `cards` per sample.
    pub fn with_cards(mut self, cards: usize) -> Measurement {
        self.cards_per_s = Some(cards as f64 / self.median_s);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_p90() {
        let samples: Vec<Duration> = (1..=10).rev().map(Duration::from_secs).collect();
        let m = Measurement::from_durations(&samples);
        assert_eq!(m.median_s, 5.5);
        assert_eq!(m.min_s, 1.0);
        assert_eq!(m.p90_s, 9.0);
        assert_eq!(m.samples, 10);
        let one = Measurement::from_durations(&[Duration::from_millis(500)]).with_cards(100);
        assert_eq!(one.p90_s, 0.5);
        assert_eq!(one.cards_per_s, Some(200.0));
    }
}
