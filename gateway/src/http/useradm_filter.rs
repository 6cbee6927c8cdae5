//! The filters of useradm's users list, as Mender's 4.1.3 spec documents them: `id` and
//! `email` (each may repeat), `created_after`, `created_before`, `updated_after`,
//! `updated_before` (Unix seconds). A bad time is a 400, as in Mender.

use fleetlog_projections::users::UserView;

use super::ApiError;

/// A parsed users filter.
#[derive(Debug, Default, PartialEq)]
pub struct UserFilter {
    ids: Vec<String>,
    emails: Vec<String>,
    created_after: Option<i64>,
    created_before: Option<i64>,
    updated_after: Option<i64>,
    updated_before: Option<i64>,
}

impl UserFilter {
    /// Reads the query pairs; unknown parameters are ignored, as Mender does.
    pub fn parse(params: &[(String, String)]) -> Result<UserFilter, ApiError> {
        let mut f = UserFilter::default();
        for (k, v) in params {
            // Mender reads the first value of a time parameter and ignores empty ones.
            let time = |slot: &mut Option<i64>| -> Result<(), ApiError> {
                if slot.is_some() || v.is_empty() {
                    return Ok(());
                }
                let secs = v.parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("api: invalid form values: invalid form parameter \"{k}\""))
                })?;
                // Microseconds, like the read model; clamped so that no value overflows.
                *slot = Some(secs.clamp(-(1 << 40), 1 << 40) * 1_000_000);
                Ok(())
            };
            match k.as_str() {
                "id" => f.ids.push(v.clone()),
                "email" => f.emails.push(v.to_lowercase()),
                "created_after" => time(&mut f.created_after)?,
                "created_before" => time(&mut f.created_before)?,
                "updated_after" => time(&mut f.updated_after)?,
                "updated_before" => time(&mut f.updated_before)?,
                _ => {}
            }
        }
        Ok(f)
    }

    /// Whether a user passes every given filter (strictly after / before the times).
    pub fn matches(&self, u: &UserView) -> bool {
        (self.ids.is_empty() || self.ids.contains(&u.id))
            && (self.emails.is_empty() || self.emails.contains(&u.email))
            && self.created_after.is_none_or(|t| u.created_ts > t)
            && self.created_before.is_none_or(|t| u.created_ts < t)
            && self.updated_after.is_none_or(|t| u.updated_ts > t)
            && self.updated_before.is_none_or(|t| u.updated_ts < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: &str, created: i64, updated: i64) -> UserView {
        UserView {
            id: id.into(),
            email: email.into(),
            created_ts: created * 1_000_000,
            updated_ts: updated * 1_000_000,
            password_hash: String::new(),
        }
    }

    fn parse(q: &[(&str, &str)]) -> Result<UserFilter, ApiError> {
        UserFilter::parse(&q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn ids_and_emails_repeat_and_times_are_strict() {
        let (a, b) = (user("a", "a@x.io", 100, 200), user("b", "b@x.io", 300, 400));
        let f = parse(&[("id", "a"), ("id", "b")]).unwrap();
        assert!(f.matches(&a) && f.matches(&b));
        let f = parse(&[("email", "B@X.io")]).unwrap();
        assert!(!f.matches(&a) && f.matches(&b));
        let f = parse(&[("created_after", "100")]).unwrap();
        assert!(!f.matches(&a) && f.matches(&b));
        let f = parse(&[("created_before", "300"), ("updated_after", "199")]).unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        let f = parse(&[("updated_before", "400")]).unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        assert_eq!(parse(&[("created_after", "")]).unwrap(), UserFilter::default());
    }

    #[test]
    fn bad_times_are_refused() {
        for k in ["created_after", "created_before", "updated_after", "updated_before"] {
            assert!(matches!(parse(&[(k, "yesterday")]), Err(ApiError::BadRequest(_))), "{k}");
        }
    }
}
