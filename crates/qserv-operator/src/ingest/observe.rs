//! What one reconcile of a CatalogIngest reads: its stored status, before it starts its source
//! (and, where the operator sees the Jobs' filesystem, the files and columns), its QservCluster,
//! its Jobs and the results ConfigMap. Everything is read from the API server, so an operator
//! restart resumes where the ingest is.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use super::decide::{Observed, ended, started};
use super::plan::{self, Step};
use super::report::{read_progress, read_reports};
use super::source::{self, SourceState};
use super::status::JobState;
use crate::api::catalog_ingest::{CatalogIngest, TableRole};
use crate::api::qserv_cluster::QservCluster;

/// What was read, or why nothing more needs to be.
pub enum Observation {
    /// The CatalogIngest is gone or being deleted.
    Gone,
    Observed(Box<Observed>),
}

/// Reads what [`super::decide::decide`] needs; `preflight_local_sources`: the operator sees the
/// Jobs' filesystem (see [`super::source`]).
pub async fn observe(
    client: &Client,
    ingest: &CatalogIngest,
    preflight_local_sources: bool,
) -> Result<Observation, (String, kube::Error)> {
    let name = ingest.name_any();
    let namespace = ingest.namespace().unwrap_or_default();
    let at = |action: String| move |e: kube::Error| (action, e);
    // The status as stored now, not the reflector's copy: a reconcile woken by a Job right after
    // our own status write would otherwise fold from the status before it, and record a phase
    // change (its event, the outcome in the metrics) twice.
    let api: Api<CatalogIngest> = Api::namespaced(client.clone(), &namespace);
    let previous = match api.get(&name).await {
        Ok(latest) => latest.status.unwrap_or_default(),
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Observation::Gone),
        Err(e) => return Err((format!("read status of CatalogIngest {name}"), e)),
    };
    if ingest.metadata.deletion_timestamp.is_some() {
        return Ok(Observation::Gone);
    }
    let mut observed = Observed {
        previous,
        ..Observed::default()
    };
    if ended(observed.previous.phase) {
        return Ok(Observation::Observed(Box::new(observed)));
    }
    if !started(&observed.previous) {
        preflight(
            client,
            &namespace,
            ingest,
            preflight_local_sources,
            &mut observed,
        )
        .await
        .map_err(at("read the source claim".into()))?;
    }
    observed.cluster = Api::<QservCluster>::namespaced(client.clone(), &namespace)
        .get_opt(&ingest.spec.cluster)
        .await
        .map_err(at("read the QservCluster".into()))?;
    if observed.cluster.is_none() {
        return Ok(Observation::Observed(Box::new(observed)));
    }
    observed.jobs = jobs(client, ingest, &namespace)
        .await
        .map_err(at("list the ingest Jobs".into()))?;
    let results = Api::<ConfigMap>::namespaced(client.clone(), &namespace)
        .get_opt(&plan::results_name(ingest))
        .await
        .map_err(at("read the results ConfigMap".into()))?;
    observed.reports = results.as_ref().map(read_reports).unwrap_or_default();
    observed.progress = results.as_ref().map(read_progress).unwrap_or_default();
    Ok(Observation::Observed(Box::new(observed)))
}

/// Before any Job: the spec's own problems, then the source, then (where the source is a
/// directory the operator sees) the tables' files and columns.
async fn preflight(
    client: &Client,
    namespace: &str,
    ingest: &CatalogIngest,
    local: bool,
    observed: &mut Observed,
) -> Result<(), kube::Error> {
    if let Some(problem) = spec_problem(ingest) {
        observed.preflight_problem = Some(problem);
        return Ok(());
    }
    let source = source::resolve(client, namespace, ingest, local).await?;
    if let SourceState::Visible { dir, what } = &source {
        observed.preflight_problem = files_problem(ingest, dir, what);
    }
    observed.source = Some(source);
    Ok(())
}

/// The spec's own problems and an unsupported source: what makes resolving the source moot.
fn spec_problem(ingest: &CatalogIngest) -> Option<String> {
    if let Err(problems) = ingest.spec.validate() {
        return Some(problems.to_string());
    }
    plan::plan_problem(ingest)
}

/// Missing files, columns or schema tables under the source directory `dir` (`what` names it).
fn files_problem(ingest: &CatalogIngest, dir: &Path, what: &str) -> Option<String> {
    if !dir.is_dir() {
        return Some(format!("{what}: {} is not a directory", dir.display()));
    }
    for (i, table) in ingest.spec.tables.iter().enumerate() {
        let result = if table.role == TableRole::Regular {
            crate::from_spec::catalog::table_files(table, dir)
                .map(drop)
                .map_err(|e| e.to_string())
        } else {
            crate::from_spec::partition::table_plan(
                &ingest.spec,
                table,
                dir,
                Path::new("/nonexistent"),
            )
            .map(drop)
            .map_err(|e| e.to_string())
        };
        // The schema file defines the reference table whatever the format: read it too.
        let result = result.and_then(|()| {
            crate::from_spec::catalog::schema_file(table, dir)
                .and_then(|file| file.map(|f| f.definition()).transpose())
                .map(drop)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            return Some(format!("spec.tables[{i}] ({}): {e}", table.name));
        }
    }
    None
}

/// The ingest's Jobs by step (labels `app.kubernetes.io/{name,instance,component}`).
async fn jobs(
    client: &Client,
    ingest: &CatalogIngest,
    namespace: &str,
) -> Result<BTreeMap<Step, JobState>, kube::Error> {
    let selector = format!(
        "app.kubernetes.io/name=qserv-ingest,app.kubernetes.io/instance={}",
        ingest.name_any()
    );
    let list = Api::<Job>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await?;
    Ok(list
        .items
        .iter()
        .filter_map(|job| {
            let step = Step::from_name(job.labels().get("app.kubernetes.io/component")?)?;
            Some((step, job_state(job)))
        })
        .collect())
}

/// A Job's conditions and counts as the status fold reads them.
pub fn job_state(job: &Job) -> JobState {
    let status = job.status.clone().unwrap_or_default();
    let condition = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };
    JobState {
        name: job.name_any(),
        complete: condition("Complete").is_some(),
        failed: condition("Failed").map(|c| {
            format!(
                "{}: {}",
                c.reason.unwrap_or_default(),
                c.message.unwrap_or_default()
            )
        }),
        succeeded: status.succeeded.unwrap_or(0),
        completions: job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1),
    }
}
