//! The read models the gateway hosts are exactly the typed [`Model`]s its queries name.

use fleetlog_projections::Model;

#[test]
fn every_typed_model_has_exactly_one_projection() {
    let hosted: Vec<&str> = crate::server::projections().iter().map(|p| p.name()).collect();
    for model in Model::ALL {
        assert_eq!(hosted.iter().filter(|n| **n == model.name()).count(), 1, "{model:?} hosted once");
    }
    assert_eq!(hosted.len(), Model::ALL.len(), "every hosted model is a Model: {hosted:?}");
}
