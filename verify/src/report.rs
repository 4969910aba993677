//! Findings and the report that collects them.

use std::fmt;

use serde::Serialize;

/// One problem: which check found it, where, and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable code naming the check (docs/JSON.md lists them), e.g.
    /// `checksum-mismatch`; the words in `problem` may change, the code
    /// does not.
    pub code: &'static str,
    /// The file, and inside it the entry and line, e.g.
    /// `packages/2024/03/p-….zip: data/records.jsonl line 3`.
    pub place: String,
    /// What is wrong, in lower case, specific enough to act on.
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.problem)
    }
}

/// What was checked and every problem found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Packages checked.
    pub packages: u64,
    /// Record lines checked.
    pub records: u64,
    /// Blobs checked.
    pub blobs: u64,
    /// Intake receipts checked.
    pub receipts: u64,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// Every problem found.
    pub findings: Vec<Finding>,
    /// Facts worth telling that are not problems.
    pub notes: Vec<String>,
}

impl Report {
    /// True when no problem was found.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }

    pub(crate) fn problem(
        &mut self,
        code: &'static str,
        place: impl Into<String>,
        problem: impl Into<String>,
    ) {
        self.findings.push(Finding {
            code,
            place: place.into(),
            problem: problem.into(),
        });
    }

    pub(crate) fn absorb(&mut self, prefix: &str, other: Report) {
        self.packages += other.packages;
        self.records += other.records;
        self.blobs += other.blobs;
        self.receipts += other.receipts;
        self.bytes += other.bytes;
        for f in other.findings {
            self.findings.push(Finding {
                code: f.code,
                place: format!("{prefix}: {}", f.place),
                problem: f.problem,
            });
        }
        self.notes.extend(other.notes);
    }
}
