//! Wall-clock time in the two shapes Lambda events carry: epoch milliseconds (`timeEpoch`) and the
//! access-log date API Gateway writes into `requestContext.time` (`04/Mar/2020:19:03:58 +0000`).
//!
//! The calendar arithmetic is the usual days-to-civil conversion, so no date crate is needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn epoch_ms_now() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `dd/Mon/yyyy:HH:MM:SS +0000` (UTC), the format of API Gateway's `requestContext.time`.
pub fn access_log_time(epoch_ms: u64) -> String {
    let seconds = epoch_ms / 1000;
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    format!(
        "{day:02}/{}/{year:04}:{:02}:{:02}:{:02} +0000",
        MONTHS[usize::from(month - 1)],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u8, u8) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    // Both fit: day <= 31 and month <= 12 by construction.
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_format() {
        assert_eq!(access_log_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(
            access_log_time(1_583_348_638_390),
            "04/Mar/2020:19:03:58 +0000"
        );
        // A leap day, and the last second of a year.
        assert_eq!(
            access_log_time(1_709_164_800_000),
            "29/Feb/2024:00:00:00 +0000"
        );
        assert_eq!(
            access_log_time(1_735_689_599_999),
            "31/Dec/2024:23:59:59 +0000"
        );
    }

    #[test]
    fn now_is_after_2020() {
        assert!(epoch_ms_now() > 1_577_836_800_000);
    }
}
