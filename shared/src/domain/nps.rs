//! Net Promoter Score: promoters (9-10) minus detractors (0-6), as a share of all answers.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NpsSummary {
    pub answers: u32,
    pub promoters: u32,
    pub passives: u32,
    pub detractors: u32,
}

impl NpsSummary {
    pub fn from_scores(scores: impl IntoIterator<Item = u8>) -> Self {
        scores.into_iter().fold(Self::default(), |mut summary, score| {
            summary.answers += 1;
            match score {
                9..=10 => summary.promoters += 1,
                7..=8 => summary.passives += 1,
                _ => summary.detractors += 1,
            }
            summary
        })
    }

    /// NPS in tenths of a point (-1000..=1000), rounded half away from zero; None without answers.
    pub fn score_tenths(&self) -> Option<i32> {
        if self.answers == 0 {
            return None;
        }
        let difference = i64::from(self.promoters) - i64::from(self.detractors);
        let answers = i64::from(self.answers);
        let scaled = difference * 1000;
        let rounded = (scaled.abs() * 2 + answers) / (answers * 2) * scaled.signum();
        Some(rounded as i32)
    }

    /// `+33.3`, `-100.0`, or `n/a`.
    pub fn display(&self) -> String {
        match self.score_tenths() {
            None => "n/a".to_owned(),
            Some(tenths) => {
                let sign = if tenths > 0 {
                    "+"
                } else if tenths < 0 {
                    "-"
                } else {
                    ""
                };
                format!("{sign}{}.{}", tenths.abs() / 10, tenths.abs() % 10)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_of_a_known_set() {
        // 4 promoters, 3 passives, 3 detractors: (4 - 3) / 10 = +10.0.
        let summary = NpsSummary::from_scores([10, 9, 9, 10, 8, 7, 8, 6, 0, 3]);
        assert_eq!((summary.promoters, summary.passives, summary.detractors), (4, 3, 3));
        assert_eq!(summary.score_tenths(), Some(100));
        assert_eq!(summary.display(), "+10.0");
    }

    #[test]
    fn edges_and_rounding() {
        assert_eq!(NpsSummary::from_scores([]).score_tenths(), None);
        assert_eq!(NpsSummary::from_scores([]).display(), "n/a");
        assert_eq!(NpsSummary::from_scores([10, 10]).display(), "+100.0");
        assert_eq!(NpsSummary::from_scores([0, 6]).display(), "-100.0");
        assert_eq!(NpsSummary::from_scores([7, 8]).display(), "0.0");
        // 1 of 3 promoters: 33.33.. -> +33.3; 2 of 3 detractors: -66.66.. -> -66.7.
        assert_eq!(NpsSummary::from_scores([9, 7, 8]).display(), "+33.3");
        assert_eq!(NpsSummary::from_scores([1, 2, 8]).display(), "-66.7");
    }
}
