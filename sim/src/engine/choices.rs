//! Random choices of a walk. By default each one is drawn from the world's seeded RNG, the
//! way the kernel draws (so a seed fixes the outcome). For "every possible outcome" the walk
//! is replayed with some choices forced: the engine explores the tree of choices depth-first
//! and weighs each outcome by the probabilities of the branches that led to it.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;
use serde::Serialize;

/// One random decision the walk met.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// What was decided (`KUBE-SVC-... rule 2: statistic 0.50000000000`).
    pub what: String,
    /// Probability of each option.
    pub options: Vec<f64>,
    pub chosen: usize,
    /// What each option is, when more than "the rule matched or not" (IPVS: the server).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl Choice {
    /// The option taken, in words.
    pub fn taken(&self) -> String {
        match self.labels.get(self.chosen) {
            Some(l) => l.clone(),
            None if self.chosen == 0 => "matched".to_string(),
            None => "not matched".to_string(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Choices {
    /// Options to take, in order, before drawing (or enumerating) freely.
    pub forced: Vec<usize>,
    /// Every choice made so far.
    pub log: Vec<Choice>,
    /// When set, unforced choices take the first possible option instead of drawing.
    pub enumerate: bool,
}

impl Choices {
    /// `-m statistic --mode random`: true with probability `stored / 2^31`, drawn as
    /// xt_statistic draws: `(get_random_u32() & 0x7FFFFFFF) < probability`.
    pub fn statistic(&mut self, rng: &mut ChaCha8Rng, stored: u32, what: String) -> bool {
        let p = (f64::from(stored) / 2147483648.0).min(1.0);
        let options = vec![p, 1.0 - p];
        let chosen = if let Some(&f) = self.forced.get(self.log.len()) {
            f
        } else if self.enumerate {
            usize::from(p <= 0.0)
        } else {
            usize::from((rng.next_u32() & 0x7FFF_FFFF) >= stored)
        };
        self.log.push(Choice {
            what,
            options,
            chosen,
            labels: Vec::new(),
        });
        chosen == 0
    }

    /// A choice among `options` (probabilities, in order) that the kernel makes from its
    /// own state rather than at random - IPVS round robin's next server is `default`.
    /// Enumeration still explores every option, weighed by its long-run share.
    pub fn pick(
        &mut self,
        options: Vec<f64>,
        labels: Vec<String>,
        default: usize,
        what: String,
    ) -> usize {
        let chosen = if let Some(&f) = self.forced.get(self.log.len()) {
            f
        } else if self.enumerate {
            options.iter().position(|p| *p > 0.0).unwrap_or(0)
        } else {
            default
        };
        self.log.push(Choice {
            what,
            options,
            chosen,
            labels,
        });
        chosen
    }

    /// The probability of the path taken.
    pub fn probability(&self) -> f64 {
        self.log.iter().map(|c| c.options[c.chosen]).product()
    }

    /// The forced prefixes that explore the alternatives of this run's unforced choices
    /// (depth-first enumeration), skipping impossible branches.
    pub fn alternatives(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        for i in self.forced.len()..self.log.len() {
            let prefix: Vec<usize> = self.log[..i].iter().map(|c| c.chosen).collect();
            for (j, p) in self.log[i].options.iter().enumerate() {
                if j != self.log[i].chosen && *p > 0.0 {
                    let mut f = prefix.clone();
                    f.push(j);
                    out.push(f);
                }
            }
        }
        out
    }
}
