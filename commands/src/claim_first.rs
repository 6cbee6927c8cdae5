//! Creating an aggregate that needs a unique value (a new device and its identity) without an
//! atomic batch: the claim is one guarded append on the claim's subject, the aggregate's events
//! a second on its own. nats-server stages every atomic batch in a throwaway store of its own,
//! which capped first auth requests near 300/s; two single appends cost two plain writes.
//!
//! # Why one device per identity still holds
//!
//! - The claim subject is the arbiter. A take is appended with the claim subject's
//!   `Nats-Expected-Last-Subject-Sequence`, so of concurrent takers exactly one lands; the others
//!   reload and find the claim held ([`CommandError::Taken`]), and join that holder.
//! - An aggregate's first event is appended only after the claim names it as holder (claim
//!   first, then events), so no aggregate exists for a value someone else holds.
//! - The new aggregate's id is fresh (a new UUID, never used before), so nobody but the
//!   claimant and those who read the claim can write to it, and a value is never taken again
//!   for an id that released it (`ClaimCommand::TakeNew`): a slow or retried claimant cannot
//!   bring a finished holder (a decommissioned device) back.
//!
//! # A claim without its aggregate
//!
//! A crash between the two appends leaves a claim whose holder has no events yet. That is not
//! a second device but a creation cut short, and it is completed by whoever needs the value
//! next: an auth request for the identity reads the holder and runs its command on it, whose
//! first event creates the device with the id the claim already names. Until then the value
//! stays held, as it would have been had the creation finished.

use fleetlog_events::claim::{Claim, ClaimCommand, ClaimError};
use fleetlog_events::{Aggregate, AggregateRef};

use crate::error::{CommandError, StoreError};
use crate::handler::{CommandMeta, CommandService, MAX_ATTEMPTS, Outcome, envelope};
use crate::load::fold;
use crate::ride_out::RideOut;
use crate::store::SubjectAppend;

impl CommandService {
    /// Takes claim `claim_id` for the new aggregate `A` with the fresh id `id` (one guarded
    /// append), then runs `command` on it as [`CommandService::execute`] does (a second).
    /// [`CommandError::Taken`] names the holder when another aggregate holds the value: the
    /// caller then runs its command on that holder instead, which also completes a creation cut
    /// short (see the module's doc). `id` must never have been used: for existing aggregates
    /// use [`CommandService::execute_with_claims`].
    pub async fn execute_claim_first<A: Aggregate>(
        &self,
        meta: &CommandMeta,
        id: &str,
        command: &A::Command,
        claim_id: &str,
    ) -> Result<Outcome, CommandError<A::Error>> {
        self.take_claim(meta, id, claim_id).await?;
        // A fresh id has no history: decide on the initial state rather than ask the log (the
        // append is still guarded on an empty subject, and a surprise there reloads).
        let agg = AggregateRef { tenant: meta.tenant.clone(), kind: A::TYPE.to_owned(), id: id.to_owned() };
        let subject = self.store().subject(&agg)?;
        self.cache().put(&subject, A::initial(), 0, Vec::new(), 0);
        self.execute::<A>(meta, id, command).await
    }

    /// Appends `ClaimTaken` for `holder` unless it already holds the claim.
    async fn take_claim<E: std::error::Error + 'static>(
        &self,
        meta: &CommandMeta,
        holder: &str,
        claim_id: &str,
    ) -> Result<(), CommandError<E>> {
        let agg = AggregateRef {
            tenant: meta.tenant.clone(),
            kind: Claim::TYPE.to_owned(),
            id: claim_id.to_owned(),
        };
        let subject = self.store().subject(&agg)?;
        // The aggregate's own first event carries the command id as its message id: the claim's
        // must differ, or the store would take the event for a repeat of the claim.
        let msg_id = format!("{}:claim", meta.command_id);
        let (mut ride, mut conflicts) = (RideOut::new(), 0);
        // The first try takes the claim as free without reading it: callers come here for a
        // value they just found unclaimed, and a held claim fails the guarded append, after
        // which the reload tells who holds it.
        let mut assume_free = true;
        loop {
            let (state, expected) = if std::mem::take(&mut assume_free) {
                (Claim::initial(), 0)
            } else {
                let history = match self.store().load(&subject).await {
                    Ok(h) => h,
                    Err(e) if ride.retry(&e).await => continue,
                    Err(e) => return Err(e.into()),
                };
                fold::<Claim>(&history)?
            };
            let events = Claim::decide(&state, &ClaimCommand::TakeNew { holder: holder.to_owned() })
                .map_err(|e| match e {
                    ClaimError::Taken(holder) => CommandError::Taken { holder },
                    // This id held the value and gave it up: it is finished, not new.
                    ClaimError::Released(_) => CommandError::Conflict,
                })?;
            if events.is_empty() {
                return Ok(());
            }
            let envelopes: Vec<_> = events.into_iter().map(|e| envelope(meta, &agg, e.into())).collect();
            let append =
                [SubjectAppend { subject: subject.clone(), expected_last_seq: expected, events: &envelopes }];
            match self.store().append(&msg_id, &append).await {
                Ok(_) => return Ok(()),
                // Another claimant, or our own earlier try, wrote first: the reload tells which.
                Err(StoreError::Conflict { .. } | StoreError::Duplicate) => {
                    conflicts += 1;
                    if conflicts >= MAX_ATTEMPTS {
                        return Err(CommandError::Conflict);
                    }
                }
                Err(e) if ride.retry(&e).await => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
