//! The campaign lifecycle: draft -> scheduled -> active <-> paused -> ended -> archived.

/// States.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Being written.
    Draft,
    /// Waiting for its start.
    Scheduled,
    /// Running.
    Active,
    /// Stopped for now.
    Paused,
    /// Over.
    Ended,
    /// Over and read-only.
    Archived,
}

/// Transitions, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Draft -> scheduled.
    Schedule,
    /// Scheduled -> active (the start job, or schedule after the start).
    Activate,
    /// Active -> paused.
    Pause,
    /// Paused -> active.
    Resume,
    /// Scheduled, active or paused -> ended.
    End,
    /// Draft or ended -> archived.
    Archive,
}

impl Status {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::Archived => "archived",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Scheduled,
            Self::Active,
            Self::Paused,
            Self::Ended,
            Self::Archived,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The state after `t`, or why not.
    pub fn apply(self, t: Transition) -> Result<Self, String> {
        use Status::*;
        let next = match (self, t) {
            (Draft, Transition::Schedule) => Scheduled,
            (Scheduled, Transition::Activate) => Active,
            (Active, Transition::Pause) => Paused,
            (Paused, Transition::Resume) => Active,
            (Scheduled | Active | Paused, Transition::End) => Ended,
            (Draft | Ended, Transition::Archive) => Archived,
            _ => {
                return Err(format!(
                    "a {} campaign cannot be {}",
                    self.as_str(),
                    t.past_tense()
                ));
            }
        };
        Ok(next)
    }

    /// Whether an edit replaces the version in place (drafts) or creates a new one.
    pub fn edits_in_place(self) -> bool {
        self == Self::Draft
    }

    /// Whether it may still be edited.
    pub fn editable(self) -> bool {
        matches!(
            self,
            Self::Draft | Self::Scheduled | Self::Active | Self::Paused
        )
    }
}

impl Transition {
    fn past_tense(self) -> &'static str {
        match self {
            Self::Schedule => "scheduled",
            Self::Activate => "activated",
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::End => "ended",
            Self::Archive => "archived",
        }
    }

    /// Audit name.
    pub fn action(self) -> &'static str {
        self.past_tense()
    }
}

#[cfg(test)]
mod tests {
    use super::{Status::*, Transition::*};

    #[test]
    fn legal_and_illegal_transitions() {
        assert_eq!(Draft.apply(Schedule), Ok(Scheduled));
        assert_eq!(Scheduled.apply(Activate), Ok(Active));
        assert_eq!(Active.apply(Pause), Ok(Paused));
        assert_eq!(Paused.apply(Resume), Ok(Active));
        assert_eq!(Paused.apply(End), Ok(Ended));
        assert_eq!(Ended.apply(Archive), Ok(Archived));
        assert!(Draft.apply(Pause).is_err());
        assert!(Archived.apply(Resume).is_err());
        assert!(Ended.apply(Resume).is_err());
        assert!(Active.apply(Archive).is_err());
    }
}
