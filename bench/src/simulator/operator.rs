//! The operator's side of the simulator: logging in and accepting the simulated devices through
//! the management API, as a person clicking "accept" would.

use std::collections::HashMap;

use anyhow::{bail, ensure};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Sim, SimDevice};

/// Devices listed per management page (the API's maximum).
const PAGE: usize = 500;

impl Sim {
    /// Logs in as an operator (Basic auth) and returns the user token.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let url = format!("{}/api/management/v1/useradm/auth/login", self.base);
        let res = self.http.post(url).basic_auth(email, Some(password)).send().await?;
        ensure!(res.status() == StatusCode::OK, "login: {} {}", res.status(), res.text().await?);
        Ok(res.text().await?)
    }

    /// The operator's part: finds each of `devices` among the pending devices and accepts its
    /// auth set. Other pending devices (not ours) are left alone.
    pub(super) async fn accept(&self, operator: &str, devices: &mut [SimDevice]) -> anyhow::Result<()> {
        let index: HashMap<String, usize> =
            devices.iter().enumerate().map(|(i, d)| (d.mac.clone(), i)).collect();
        // The whole pending list first: accepting while paging would shift the pages.
        let mut found: Vec<(usize, String, String)> = Vec::new();
        for page in 1.. {
            let url = format!(
                "{}/api/management/v2/devauth/devices?status=pending&page={page}&per_page={PAGE}",
                self.base
            );
            let res = self.http.get(url).bearer_auth(operator).send().await?;
            ensure!(res.status() == StatusCode::OK, "pending list: {}", res.status());
            let listed: Vec<Value> = res.json().await?;
            for d in &listed {
                let mac = d["identity_data"]["mac"].as_str().unwrap_or_default();
                let (Some(&i), Some(id), Some(set)) =
                    (index.get(mac), d["id"].as_str(), d["auth_sets"][0]["id"].as_str())
                else {
                    continue;
                };
                found.push((i, id.to_owned(), set.to_owned()));
            }
            if listed.len() < PAGE {
                break;
            }
        }
        if found.len() != devices.len() {
            bail!("{} of {} devices are pending on the server", found.len(), devices.len());
        }
        futures::stream::iter(found.iter())
            .map(|(_, id, set)| async move {
                let url = format!("{}/api/management/v2/devauth/devices/{id}/auth/{set}/status", self.base);
                let body = json!({ "status": "accepted" });
                let res = self.http.put(url).bearer_auth(operator).json(&body).send().await?;
                ensure!(res.status() == StatusCode::NO_CONTENT, "accept {id}: {}", res.status());
                Ok(())
            })
            .buffer_unordered(self.in_flight)
            .try_collect::<()>()
            .await?;
        for (i, id, _) in found {
            devices[i].id = id;
        }
        Ok(())
    }
}
