//! A campaign file's `status`: the lifecycle state wanted, and the calls
//! (schedule, pause, resume, end, archive) that take the live campaign
//! there. Absent, the lifecycle is left as it is (a new campaign is a
//! draft).
use boomerang_proto::campaign::v1::CampaignStatus as S;

/// One lifecycle call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Schedule,
    Pause,
    Resume,
    End,
    Archive,
}

impl Move {
    /// What it did: "scheduled".
    pub fn done(self) -> &'static str {
        match self {
            Move::Schedule => "scheduled",
            Move::Pause => "paused",
            Move::Resume => "resumed",
            Move::End => "ended",
            Move::Archive => "archived",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Move::Schedule => "schedule",
            Move::Pause => "pause",
            Move::Resume => "resume",
            Move::End => "end",
            Move::Archive => "archive",
        }
    }
}

/// Running on its schedule: SCHEDULED or ACTIVE.
pub fn running(s: S) -> bool {
    matches!(s, S::Scheduled | S::Active)
}

/// A live status as a plan pins it: running is one state (the start
/// timer moving a campaign from scheduled to active is not a change).
pub fn as_pinned(s: S) -> S {
    if running(s) { S::Scheduled } else { s }
}

/// The calls from `live` to `want`, or why it cannot get there. SCHEDULED
/// and ACTIVE are one wish: running on its schedule (a scheduled campaign
/// becomes active at its start).
pub fn moves(live: S, want: S) -> Result<Vec<Move>, String> {
    use Move::*;
    let found = match (live, want) {
        (live, want) if live == want => vec![],
        (live, want) if running(live) && running(want) => vec![],
        (S::Draft, want) if running(want) => vec![Schedule],
        (S::Paused, want) if running(want) => vec![Resume],
        (S::Active, S::Paused) => vec![Pause],
        (S::Scheduled | S::Active | S::Paused, S::Ended) => vec![End],
        (S::Draft | S::Ended, S::Archived) => vec![Archive],
        (S::Scheduled | S::Active | S::Paused, S::Archived) => vec![End, Archive],
        (S::Scheduled, S::Paused) => {
            return Err("a scheduled campaign cannot be paused before it starts".into());
        }
        (live, want) => {
            return Err(format!(
                "a campaign cannot go from {} to {}",
                word(live),
                word(want)
            ));
        }
    };
    Ok(found)
}

/// The status as people say it: "draft", "active".
pub fn word(s: S) -> &'static str {
    match s {
        S::Unspecified => "unspecified",
        S::Draft => "draft",
        S::Scheduled => "scheduled",
        S::Active => "active",
        S::Paused => "paused",
        S::Ended => "ended",
        S::Archived => "archived",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wish_is_reached_by_the_calls_the_lifecycle_allows() {
        assert_eq!(moves(S::Draft, S::Scheduled), Ok(vec![Move::Schedule]));
        assert_eq!(moves(S::Draft, S::Active), Ok(vec![Move::Schedule]));
        assert_eq!(moves(S::Active, S::Scheduled), Ok(vec![]));
        assert_eq!(moves(S::Paused, S::Active), Ok(vec![Move::Resume]));
        assert_eq!(moves(S::Active, S::Paused), Ok(vec![Move::Pause]));
        assert_eq!(
            moves(S::Active, S::Archived),
            Ok(vec![Move::End, Move::Archive])
        );
        assert!(moves(S::Scheduled, S::Draft).is_err());
        assert!(moves(S::Ended, S::Active).is_err());
        assert!(moves(S::Scheduled, S::Paused).is_err());
        assert!(moves(S::Draft, S::Ended).is_err());
    }
}
